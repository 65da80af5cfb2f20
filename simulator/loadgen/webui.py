"""The shiftsim tab of Locust's web UI (`extended_tabs`/`extended_tables` fed by `extended_stats`):
per version invocations, share and errors by reason; the alias's weights; the deployment; the alarms.
And `/shiftsim/timeline`, a page that draws the live traffic-shift chart from `/shiftsim/state`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.loadgen.session import LoadSession

PAGE = Path(__file__).with_name("static") / "timeline.html"
TABS = [{"title": "Traffic shift", "key": "shiftsim-versions"},
        {"title": "Deployment", "key": "shiftsim-state"}]
TABLES = [
    {"key": "shiftsim-versions", "structure": [
        {"key": "version", "title": "Version"}, {"key": "invocations", "title": "Invocations"},
        {"key": "share", "title": "Observed share"}, {"key": "weight", "title": "Alias weight now"},
        {"key": "errors", "title": "Errors"}, {"key": "reasons", "title": "Errors by reason"}]},
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
    versions = sorted(set(totals["counts"]) | set(coordination.weights), key=lambda v: (not v.isdigit(), v))
    rows = []
    for version in versions:
        count = totals["counts"].get(version, 0)
        weight = coordination.weights.get(version)
        rows.append({
            "version": version, "invocations": count, "share": f"{100 * count / total:.1f} %",
            "weight": f"{100 * (weight or 0.0):.0f} %",
            "errors": totals["failures"].get(version, 0),
            "reasons": ", ".join(f"{r} {n}" for r, n in sorted(reasons.get(version, {}).items())) or "-"})
    return rows


def state_rows(session: LoadSession) -> list[dict[str, Any]]:
    coordination = session.coordination
    rows = [{"what": "alias", "value": session.options.alias_arn},
            {"what": "live chart", "value": "/shiftsim/timeline"},
            {"what": "invocations recorded (late)", "value": f"{session.recorded} ({session.recorded_late})"}]
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
