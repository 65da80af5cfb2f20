"""A finished run's results from its folder alone: the analysis, summary.json and the figure, as a
rehearsal or a Locust run writes them when it ends, or `shiftsim plot` redraws them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simulator.report.analysis import analyse
from simulator.report.plot import draw_timeline
from simulator.report.record import RESULT_FILES, load_record
from simulator.report.verdict import Expectations


def write_results(folder: Path, expect: dict[str, Any]) -> dict[str, Any]:
    """Analyse a run folder against the scenario's expectations; write summary.json and the figure."""
    summary = analyse(load_record(folder), expectations=Expectations(**expect))  # a runaway fails any run
    draw_timeline(summary, folder)
    # last: a summary.json (the verdict CI reads) is there only once the folder is whole
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return summary


def results_line(folder: Path) -> str:
    """Where the run's results are, naming the files a user reads that this run wrote."""
    named = [name for name in RESULT_FILES if (folder / name).exists()]
    if any(folder.glob("locust_*.csv")):
        named.append("locust_*.csv")
    return f"results: {folder} ({', '.join(named)})"


def verdict_exit_code(summary: dict[str, Any]) -> int:
    """The exit code of a run's verdict, the same from `rehearse` and from Locust: 0 the expectations
    held, 1 they did not, 3 they could not be judged (the rehearsal was not able to say)."""
    verdict = summary.get("verdict") or {}
    if verdict.get("judged") is False:
        return 3
    return 0 if verdict.get("passed", True) else 1


def redraw(folder: Path) -> dict[str, Any]:
    previous = folder / "summary.json"
    expect = None
    if previous.exists():  # keep the verdict's expectations if the rehearsal had them
        checks = json.loads(previous.read_text(encoding="utf-8")).get("verdict")
        expect = _expectations_from(checks) if checks else None
    summary = analyse(load_record(folder), expectations=expect)
    draw_timeline(summary, folder)
    previous.write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return summary


_BY_CHECK = {
    "outcome": "outcome",
    "rollback within (emulated minutes from the start)": "rollback_within_minutes",
    "alarm within (emulated minutes from the new version's first error)": "detect_within_minutes",
    "contacts that took an error branch during the deployment, at most": "max_failed_contacts",
    "error rate, at most": "max_error_rate",
    "alarm fires": "alarm_fires",
    "routing follows the alias weights": "routing_follows_weights",
    "invocations, at least": "min_invocations",
    "flow errors (error branches taken for what went wrong in a block), at most": "max_flow_errors",
    "contacts that ended without their result, at most": "max_contacts_without_result",
    "time to result, p95 (emulated seconds), at most": "max_time_to_result_seconds",
    "the statistical judge flags the new version within (emulated minutes from the start)": "judge_flags_within_minutes",
}


def _expectations_from(verdict: dict[str, Any]) -> Expectations:
    return Expectations(**{_BY_CHECK[c["check"]]: c["expected"] for c in verdict["checks"]
                           if c["check"] in _BY_CHECK and not c.get("implicit")})
