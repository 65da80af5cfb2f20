"""The shiftsim tab of Locust's web UI (`extended_tabs`/`extended_tables` fed by `extended_stats`):
per version invocations, share and errors by reason, over the run and over the last seconds; the
alias's weights; the deployment; the alarms. And `/shiftsim/timeline`, the run's figure as it will be
at the end (the same panels, in deployment time), drawn from the live record every few seconds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.loadgen.traffic import delivered_line

if TYPE_CHECKING:
    from simulator.loadgen.session import LoadSession

PAGE = Path(__file__).with_name("static") / "timeline.html"
RECENT_S = 10  # the recent window of the Traffic shift tab, real seconds
TABS = [{"title": "Traffic shift", "key": "shiftsim-versions"},
        {"title": "Deployment", "key": "shiftsim-state"}]
TABLES = [
    {"key": "shiftsim-versions", "structure": [
        {"key": "version", "title": "Version"}, {"key": "invocations", "title": "Invocations"},
        {"key": "share", "title": "Observed share"}, {"key": "recent_share", "title": f"Share, last {RECENT_S} s"},
        {"key": "weight", "title": "Alias weight now"}, {"key": "errors", "title": "Errors"},
        {"key": "recent_errors", "title": f"Errors, last {RECENT_S} s"}, {"key": "reasons", "title": "Errors by reason"}]},
    {"key": "shiftsim-state", "structure": [
        {"key": "what", "title": "What"}, {"key": "value", "title": "Now"}]},
]


def version_rows(session: LoadSession) -> list[dict[str, Any]]:
    coordination = session.coordination
    if coordination is None:
        return []
    totals = coordination.version_totals()
    reasons = coordination.errors_by_reason()
    total = sum(totals["counts"].values()) or 1
    recent = _recent(coordination.history, totals)
    recent_total = sum(recent["counts"].values()) or 1
    versions = sorted(set(totals["counts"]) | set(coordination.weights), key=lambda v: (not v.isdigit(), v))
    rows = []
    for version in versions:
        count = totals["counts"].get(version, 0)
        weight = coordination.weights.get(version)
        rows.append({
            "version": version, "invocations": count, "share": f"{100 * count / total:.1f} %",
            "recent_share": f"{100 * recent['counts'].get(version, 0) / recent_total:.1f} %",
            "recent_errors": recent["failures"].get(version, 0),
            "weight": f"{100 * (weight or 0.0):.0f} %",
            "errors": totals["failures"].get(version, 0),
            "reasons": ", ".join(f"{r} {n}" for r, n in sorted(reasons.get(version, {}).items())) or "-"})
    return rows


def _recent(history: list[dict[str, Any]], totals: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Invocations and failures per version since the sample RECENT_S seconds ago."""
    now = history[-1]["t"] if history else 0.0
    then = next((h for h in reversed(history) if h["t"] <= now - RECENT_S), history[0] if history else None)
    if then is None:
        return totals
    return {key: {v: n - then[key].get(v, 0) for v, n in totals[key].items()} for key in ("counts", "failures")}


def state_rows(session: LoadSession) -> list[dict[str, Any]]:
    coordination = session.coordination
    rows = [{"what": "alias", "value": session.options.alias_arn},
            {"what": "live chart", "value": "/shiftsim/timeline"},
            {"what": "invocations recorded (late)", "value": f"{session.reporter.recorded} ({session.reporter.recorded_late})"}]
    delivered = delivered_line(session.delivered_so_far())
    if delivered:  # below about 95 %, the deployment's counts fall short of production's and may not be judged
        rows.append({"what": "since the users were all there", "value": delivered})
    if coordination is None:
        return rows
    weights = ", ".join(f"v{v} {100 * w:.0f} %" for v, w in sorted(coordination.weights.items()))
    rows.append({"what": "alias weights", "value": weights or "-"})
    deployment = coordination.deployment
    rows.append({"what": "deployment", "value": " ".join(str(v) for v in deployment.values() if v)})
    for name, state in sorted(coordination.alarms.items()):
        rows.append({"what": f"alarm {name}", "value": state})
    return rows


def install_web_ui(environment: Any, session: LoadSession) -> None:
    web_ui = environment.web_ui
    if web_ui is None:
        return
    from flask import Response, request

    web_ui.template_args["extended_tabs"] = TABS
    web_ui.template_args["extended_tables"] = TABLES
    web_ui.template_args["extended_csv_files"] = [
        {"href": "/shiftsim/timeline", "title": "shiftsim: live traffic-shift chart (page)"},
        {"href": "/shiftsim/state", "title": "shiftsim: current state and history (JSON)"}]

    @web_ui.app.after_request
    def add_extended_stats(response: Any) -> Any:
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        body = response.get_json(silent=True) or {}
        body["extended_stats"] = [{"key": "shiftsim-versions", "data": version_rows(session)},
                                  {"key": "shiftsim-state", "data": state_rows(session)}]
        response.set_data(json.dumps(body))
        return response

    @web_ui.app.route("/shiftsim/state")
    def shiftsim_state() -> Any:
        coordination = session.coordination
        body = {"alias": session.options.alias_arn, "versions": version_rows(session),
                "history": coordination.history if coordination else [],
                "timeline": coordination.timeline if coordination else [],
                "deployment": coordination.deployment if coordination else {}}
        return Response(json.dumps(body), mimetype="application/json")

    @web_ui.app.route("/shiftsim/timeline")
    def shiftsim_timeline() -> Any:
        return Response(PAGE.read_text(encoding="utf-8"), mimetype="text/html")

    @web_ui.app.route("/shiftsim/timeline.png")
    def shiftsim_timeline_png() -> Any:
        figure = live_figure(session)
        if figure is None:
            return Response("no invocation recorded yet", status=404, mimetype="text/plain")
        return Response(figure, mimetype="image/png", headers={"Cache-Control": "no-store"})


_drawn: dict[str, Any] = {"at": 0.0, "png": None}


def live_figure(session: LoadSession, every_s: float = 3.0) -> bytes | None:
    """The run's figure from its record as it stands, redrawn at most every `every_s` (in a native
    thread: analysing and drawing would hold up Locust's greenlets)."""
    import time

    record = session.record
    if record is None or not session.reporter.recorded:
        return None
    if time.monotonic() - _drawn["at"] >= every_s or _drawn["png"] is None:
        import gevent

        _drawn["png"] = gevent.get_hub().threadpool.apply(_draw, (record.path.parent,))
        _drawn["at"] = time.monotonic()
    return _drawn["png"]


def _draw(folder: Path) -> bytes | None:
    import tempfile

    from simulator.report.analysis import analyse
    from simulator.report.plot import draw_timeline
    from simulator.report.record import load_record

    summary = analyse(load_record(folder))
    with tempfile.TemporaryDirectory() as scratch:
        draw_timeline(summary, Path(scratch))
        return (Path(scratch) / "timeline.png").read_bytes()
