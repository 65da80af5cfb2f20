"""The plan: every configuration (the nine predefined, the scenario's own) with the group's alarms and
a faster variant of them, simulated many times with a bad version and with a good one; per candidate
the distribution of time to detection and to rollback, failed invocations and contacts, the chance
the bad version reaches 100 %, the deployment's length when the version is good; and the
recommendation: the lowest blast radius within the deployment-time budget."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from simulator.deployment.plan import predefined_configs
from simulator.planning.inputs import DEFAULT_BAD_VERSIONS, PlanInputs, describe_failure, healthy
from simulator.planning.model import AlarmModel, FailureModel, Outcomes, simulate
from simulator.scenario.spec import Scenario, TrafficRouting


@dataclass(frozen=True)
class Candidate:
    config: str
    routing: TrafficRouting
    alarms: str  # "as configured" | "one period"
    alarm_models: tuple[AlarmModel, ...]


def candidates(inputs: PlanInputs, own: tuple[str, TrafficRouting] | None) -> list[Candidate]:
    configs = dict(predefined_configs())
    if own is not None and own[0] not in configs:
        configs[own[0]] = own[1]
    faster = tuple(replace(a, evaluation_periods=1, datapoints_to_alarm=1) for a in inputs.alarms)
    made = []
    for name, routing in configs.items():
        made.append(Candidate(name, routing, "as configured", tuple(inputs.alarms)))
        if any(a.evaluation_periods > 1 or a.datapoints_to_alarm > 1 for a in inputs.alarms):
            made.append(Candidate(name, routing, "one period", faster))
    return made


def _stats(values: np.ndarray) -> dict[str, float | None]:
    finite = values[~np.isnan(values)]
    if not len(finite):
        return {"median": None, "p95": None, "p99": None, "share": 0.0}
    p50, p95, p99 = np.percentile(finite, [50, 95, 99])
    return {"median": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1),
            "share": round(len(finite) / len(values), 4)}


def blast_radius(bad: Outcomes, inputs: PlanInputs, exposure_minutes: float) -> np.ndarray:
    """Contacts hurt: during the deployment, and when the bad version reached 100 %, for the
    `exposure_minutes` after (until someone notices) at the full failure rate."""
    k = max(1.0, inputs.traffic.invocations_per_contact)
    failing = 1 - (1 - inputs.failure.error_rate) * (1 - inputs.failure.rejected_rate)
    per_minute_full = inputs.traffic.contacts_per_minute * (1 - (1 - failing) ** k)
    return bad.failed_contacts + bad.reached_full * per_minute_full * exposure_minutes


def evaluate(candidate: Candidate, inputs: PlanInputs, n: int, seed: int, exposure_minutes: float,
             bad_versions: tuple[FailureModel, ...]) -> dict[str, Any]:
    """One candidate against each bad version (its row is its worst: the largest blast radius p95)
    and against a good one."""
    rng = np.random.default_rng(seed)
    poll, flip = inputs.poll_s, inputs.final_flip_after_intervals
    rows: list[dict[str, Any]] = []
    for failure in bad_versions:
        bad = simulate(candidate.routing, inputs.traffic, failure, list(candidate.alarm_models), n, rng,
                       poll_s=poll, final_flip_after_intervals=flip)
        rows.append({
            "bad_version": describe_failure(failure),
            "detection_s": _stats(bad.detection_s), "rollback_s": _stats(bad.rollback_s),
            "failed_invocations": _stats(bad.failed_invocations), "failed_contacts": _stats(bad.failed_contacts),
            "blast_radius": _stats(blast_radius(bad, replace(inputs, failure=failure), exposure_minutes)),
            "reaches_full": round(float(bad.reached_full.mean()), 4)})
    good_failure = replace(inputs.failure, error_rate=inputs.failure.baseline_error_rate, onset_s=0.0,
                           latency_shift_ms=0.0, rejected_rate=0.0)
    good = simulate(candidate.routing, inputs.traffic, good_failure, list(candidate.alarm_models), max(1000, n // 10),
                    rng, poll_s=poll, final_flip_after_intervals=flip)
    worst = max(rows, key=lambda r: r["blast_radius"]["p95"] or 0.0)
    row = {"config": candidate.config, "alarms": candidate.alarms, **worst,
           "good_duration_minutes": round(float(np.median(good.duration_s)) / 60, 1),
           "good_rolled_back": round(float(1 - good.reached_full.mean()), 4)}
    if len(rows) > 1:
        row["by_bad_version"] = rows
    return row


def recommend(rows: list[dict[str, Any]], budget_minutes: float | None) -> dict[str, Any] | None:
    """The lowest 95th-percentile blast radius among candidates whose good deployment fits the budget
    and that a good version does not roll back more than 1 % of the time; among those within 2 % of it
    (the simulation's own noise), the shortest."""
    fitting = [r for r in rows if (budget_minutes is None or r["good_duration_minutes"] <= budget_minutes)
               and r["good_rolled_back"] <= 0.01]
    if not fitting:
        return None
    lowest = min(r["blast_radius"]["p95"] or 0.0 for r in fitting)
    near = [r for r in fitting if (r["blast_radius"]["p95"] or 0.0) <= lowest * 1.02 + 1]
    return min(near, key=lambda r: (r["good_duration_minutes"], r["blast_radius"]["p95"] or 0.0))


def _short(config: str) -> str:
    return config.removeprefix("CodeDeployDefault.Lambda")


def table(plan: dict[str, Any]) -> str:
    head = (f"{'configuration':32} {'alarms':13} {'rollback p50/p95 (min)':>26} {'contacts hurt p50/p95':>22} "
            f"{'reaches 100 %':>13} {'blast radius p95':>16} {'good (min)':>10}")
    lines = [head, "-" * len(head)]
    if plan.get("default_bad_versions"):
        lines.insert(0, "the change has no failure to model (no fault, no --error-rate, no --from run): planned over "
                     f"the default bad versions ({'; '.join(plan['bad_versions'])}); each row is its worst of them")

    def pair(stats: dict[str, Any], scale: float = 1.0, digits: int = 1) -> str:
        if stats["median"] is None:
            return "never"
        shown = f"{stats['median'] / scale:,.{digits}f} / {stats['p95'] / scale:,.{digits}f}"
        return shown if stats["share"] >= 0.995 else f"{shown} in {100 * stats['share']:.0f}%"

    for row in plan["candidates"]:
        lines.append(f"{_short(row['config']):32} {row['alarms']:13} {pair(row['rollback_s'], 60):>26} "
                     f"{pair(row['failed_contacts'], 1, 0):>22} {100 * row['reaches_full']:>12.1f}% "
                     f"{row['blast_radius']['p95']:>16,.0f} {row['good_duration_minutes']:>10.1f}"
                     + (f"  worst: {row['bad_version']}" if "by_bad_version" in row else ""))
    best = plan.get("recommendation")
    if best:
        alarms = "as configured" if best["alarms"] == "as configured" else f"evaluated over {best['alarms']}"
        lines.append(f"recommended: {_short(best['config'])}, alarms {alarms}: blast radius p95 "
                     f"{best['blast_radius']['p95']:,.0f} contacts, {best['good_duration_minutes']:.1f} min when the "
                     "version is good" + (f" (budget {plan['budget_minutes']:g} min)" if plan.get("budget_minutes") else ""))
    else:
        lines.append("recommended: none fits the budget (or every candidate rolls a good version back)")
    return "\n".join(lines)


def write(plan: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plan.json").write_text(json.dumps(plan, indent=1, default=str), encoding="utf-8")
    return [folder / "plan.json", *draw(plan, folder)]


def draw(plan: dict[str, Any], folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = plan["candidates"]
    labels = [f"{_short(r['config'])}\n({r['alarms']})" for r in rows]
    fig, (radius_ax, reach_ax) = plt.subplots(2, 1, figsize=(max(10, 0.75 * len(rows)), 8), sharex=True,
                                              gridspec_kw={"height_ratios": [3, 1]})
    x = np.arange(len(rows))
    medians = [r["blast_radius"]["median"] or 0 for r in rows]
    p95 = [r["blast_radius"]["p95"] or 0 for r in rows]
    p99 = [r["blast_radius"]["p99"] or 0 for r in rows]
    best = plan.get("recommendation")
    colors = ["#2ca02c" if best and r["config"] == best["config"] and r["alarms"] == best["alarms"] else "#1f77b4"
              for r in rows]
    radius_ax.bar(x, p95, color=colors, alpha=0.35, label="95th percentile")
    radius_ax.scatter(x, medians, color=colors, zorder=3, label="median")
    radius_ax.scatter(x, p99, color="black", marker="_", s=120, zorder=3, label="99th percentile")
    radius_ax.set_ylabel("contacts hurt (blast radius)")
    radius_ax.legend(fontsize=8, frameon=False)
    radius_ax.grid(axis="y", alpha=0.3)
    reach_ax.bar(x, [100 * r["reaches_full"] for r in rows], color="#d62728", alpha=0.7)
    reach_ax.set_ylabel("bad version\nreaches 100 % (%)")
    reach_ax.set_ylim(0, 105)
    reach_ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    t = plan["inputs"]["traffic"]
    bad = (f"each candidate's worst of {len(plan['bad_versions'])} default bad versions"
           if plan.get("default_bad_versions") else f"bad version: {plan['bad_versions'][0]} of its first traffic")
    fig.suptitle(f"{plan['scenario']}: {plan['simulations']:,} deployments per candidate; {bad}; "
                 f"{t['contacts_per_minute']:g} contacts/min", fontsize=11, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    paths = [folder / "plan.png"]
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)
    return paths


def bad_versions(inputs: PlanInputs) -> tuple[FailureModel, ...]:
    """The failure the inputs model, or, when they model none (the change's faults are none and no
    option or run names one), the default set, each with the inputs' baseline and latencies."""
    if not healthy(inputs.failure):
        return (inputs.failure,)
    keep = {"baseline_error_rate": inputs.failure.baseline_error_rate,
            "latency_median_ms": inputs.failure.latency_median_ms, "latency_p99_ms": inputs.failure.latency_p99_ms}
    return tuple(replace(f, **keep) for f in DEFAULT_BAD_VERSIONS)


def make_plan(inputs: PlanInputs, *, scenario: Scenario, n: int, seed: int, budget_minutes: float | None,
              exposure_minutes: float) -> dict[str, Any]:
    deployment = scenario.deployment
    own = (deployment.config, deployment.custom_config) if deployment and deployment.custom_config else None
    failures = bad_versions(inputs)
    rows = [evaluate(c, inputs, n, seed + i, exposure_minutes, failures)
            for i, c in enumerate(candidates(inputs, own))]
    return {"scenario": scenario.name, "simulations": n, "seed": seed, "budget_minutes": budget_minutes,
            "exposure_minutes": exposure_minutes,
            "inputs": {"traffic": asdict(inputs.traffic), "failure": asdict(inputs.failure),
                       "alarms": [asdict(a) for a in inputs.alarms], "poll_s": inputs.poll_s},
            "bad_versions": [describe_failure(f) for f in failures],
            "default_bad_versions": healthy(inputs.failure),
            "candidates": rows, "recommendation": recommend(rows, budget_minutes)}
