"""What callers met during a run, computed from its record alone: shares per time window against
the alias's weight, errors per version and reason (injected apart from natural), latency per
version, the deployment's timings (shifts, alarm, rollback), the blast radius, a statistical check
of the routing, why paced starts were late (simulator.report.lateness), and the verdict against the
scenario's expectations (simulator.report.verdict). No I/O but reading the record.

Time is emulated, in seconds from the deployment's creation (or from the first invocation when there
was no deployment). The alias weight at each invocation is CodeDeploy's plan for the configuration
from the moment AllowTraffic began, cut at the rollback or stop (the routing the watcher observed is
dated up to one poll late, so it is only the fallback, for a configuration it cannot read).
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.deployment.plan import traffic_plan
from simulator.report.judge import judge
from simulator.report.lateness import late_summary
from simulator.report.record import Record
from simulator.report.verdict import MIN_JUDGED_INVOCATIONS, Expectations, verdict
from simulator.scenario.day_profile import Profile
from simulator.scenario.spec import TrafficRouting

Z99 = 2.5758293035489004  # two-sided 99 % normal quantile, for the per-window bands
ROUTING_ALPHA = 0.001      # the routing check fails below this p-value
LATE_CONTACTS_ALLOWED = 0.05  # share of contacts that may start late before the generator counts as behind
# (and never a single one: in a night-time run of a dozen contacts, one start 20 ms late is a hiccup)
LAG_WINDOW_SHARE = 0.1  # a start later than this share of a window moves load out of the window it was due in
DELIVERED_SHARE_MIN = 1 - LATE_CONTACTS_ALLOWED  # of the contacts due during the deployment, started in it



@dataclass
class Timeline:
    """The deployment's events, in emulated time relative to its creation."""

    origin: float
    deployment: dict[str, Any] = field(default_factory=dict)
    weights: list[tuple[float, str, dict[str, float]]] = field(default_factory=list)  # (t, primary, extra)
    alarms: list[tuple[float, str, str]] = field(default_factory=list)  # (t, alarm, state)
    status: list[tuple[float, str]] = field(default_factory=list)
    rollback: float | None = None
    error: dict[str, Any] | None = None
    hooks_failed: list[dict[str, str]] = field(default_factory=list)  # a lifecycle hook's failure, where known

    @property
    def end(self) -> float | None:
        done = [t for t, s in self.status if s in ("Succeeded", "Failed", "Stopped")]
        return done[0] if done else None

    @property
    def outcome(self) -> str:
        final = self.status[-1][1] if self.status else "none"
        if final == "Succeeded":
            return "succeeded"
        if self.rollback is not None:
            return "rolled_back"
        return {"Stopped": "stopped", "Failed": "failed"}.get(final, "in_progress" if self.deployment else "none")


def build_timeline(events: list[dict[str, Any]], fallback_origin: float) -> Timeline:
    deployment = next((e for e in events if e["kind"] == "deployment"), None)
    origin = deployment["t"] if deployment else fallback_origin
    timeline = Timeline(origin, deployment or {})
    for e in events:
        t = e["t"] - origin
        if e["kind"] == "weight":
            timeline.weights.append((t, e["primary"], {k: float(v) for k, v in (e.get("additional") or {}).items()}))
        elif e["kind"] == "alarm":
            timeline.alarms.append((t, e["alarm"], e["state"]))
        elif e["kind"] == "status":
            timeline.status.append((t, e["status"]))
        elif e["kind"] == "rollback":
            timeline.rollback = t
        elif e["kind"] == "error":
            timeline.error = {"code": e.get("code"), "message": e.get("message"), "t": t}
        elif e["kind"] == "lifecycle" and e.get("diagnostics"):
            timeline.hooks_failed.append({"event": e.get("event", ""), "diagnostics": e["diagnostics"]})
    timeline.weights.sort(key=lambda w: w[0])
    planned = _planned_weights(events, timeline)
    if planned is not None:
        timeline.weights = planned
    current = timeline.deployment.get("current_version")
    if current:  # before the deployment, the current version had all the traffic
        timeline.weights.insert(0, (-math.inf, current, {}))
    return timeline


def _planned_weights(events: list[dict[str, Any]], timeline: Timeline) -> list[tuple[float, str, dict[str, float]]] | None:
    d = timeline.deployment
    routing, current, target = d.get("routing") or {}, d.get("current_version"), d.get("target_version")
    allow = next((e for e in events if e["kind"] == "lifecycle" and e.get("event") == "AllowTraffic"
                  and e.get("status") == "InProgress"), None)
    kind = routing.get("type")
    if not (kind and current and target and allow):
        return None
    spec = routing.get("timeBasedCanary") or routing.get("timeBasedLinear") or {}
    traffic = TrafficRouting(kind, int(spec.get("canaryPercentage") or spec.get("linearPercentage") or 0),
                             int(spec.get("canaryInterval") or spec.get("linearInterval") or 0))
    start = allow["t"] - timeline.origin
    cut = timeline.rollback if timeline.rollback is not None else (
        timeline.end if timeline.outcome in ("stopped", "failed") else None)
    steps = []
    for shift in traffic_plan(traffic):
        at = start + shift.offset
        if cut is not None and at >= cut:
            break
        steps.append((at, current, {target: shift.weight}) if shift.weight is not None else (at, target, {}))
    if cut is not None and steps and timeline.weights and _routing_key(steps[-1]) not in map(_routing_key, timeline.weights):
        # due just before the stop, and never seen on the alias: CodeDeploy stopped first (it looks at
        # its alarms before it shifts; the stop's time is when its timer woke, a little after the plan's)
        steps.pop()
    if timeline.rollback is not None:
        steps.append((timeline.rollback, current, {}))
    return steps


def _routing_key(weights: tuple[float, str, dict[str, float]]) -> tuple[str, tuple[tuple[str, float], ...]]:
    """A routing without its time: the primary version and the extra weights (rounded)."""
    return weights[1], tuple(sorted((v, round(w, 6)) for v, w in weights[2].items()))


RACE_REAL_S = 0.05  # real seconds around a weight change in which the routing check counts nothing


def race_window(times: np.ndarray, timeline: Timeline, time_scale: float) -> np.ndarray:
    """Which invocations were stamped within RACE_REAL_S (real) of a change of the alias's weights."""
    near = np.zeros(len(times), dtype=bool)
    tolerance = RACE_REAL_S * time_scale
    for change, _, _ in timeline.weights:
        if math.isfinite(change):
            near |= np.abs(times - change) < tolerance
    return near


def weight_of(version: str, timeline: Timeline, times: np.ndarray) -> np.ndarray:
    """The alias's weight for `version` at each time (step function of the observed routing)."""
    weights = np.zeros(len(times))
    if not timeline.weights:
        return weights
    change_times = np.array([w[0] for w in timeline.weights])
    values = np.array([(1.0 - sum(extra.values())) if primary == version else extra.get(version, 0.0)
                       for _, primary, extra in timeline.weights])
    index = np.searchsorted(change_times, times, side="right") - 1
    known = index >= 0
    weights[known] = values[index[known]]
    weights[~known] = values[0]  # no deployment: before the first observation, the first routing seen
    return weights


def routing_check(served_target: np.ndarray, weight: np.ndarray) -> dict[str, Any]:
    """Does the count of invocations served by the target version follow the weights? A normal
    approximation of the sum of independent Bernoulli draws (one per invocation)."""
    mixed = (weight > 0) & (weight < 1)
    n = int(mixed.sum())
    if n == 0:
        return {"invocations_while_split": 0, "p_value": None, "follows": True}
    observed = int(served_target[mixed].sum())
    expected = float(weight[mixed].sum())
    variance = float((weight[mixed] * (1 - weight[mixed])).sum())
    z = (observed - expected) / math.sqrt(variance) if variance > 0 else 0.0
    p_value = math.erfc(abs(z) / math.sqrt(2))
    pure = (weight == 0) | (weight == 1)
    mismatched = int((served_target[pure] != (weight[pure] == 1)).sum())
    return {"invocations_while_split": n, "observed": observed, "expected": round(expected, 2),
            "z": round(z, 3), "p_value": p_value, "unsplit_mismatches": mismatched,
            "follows": p_value >= ROUTING_ALPHA and mismatched == 0}


def default_window(timeline: Timeline) -> float:
    routing = (timeline.deployment or {}).get("routing") or {}
    spec = routing.get("timeBasedLinear") or routing.get("timeBasedCanary") or {}
    minutes = spec.get("linearInterval") or spec.get("canaryInterval")
    return max(10.0, min(60.0, minutes * 30.0)) if minutes else 30.0


def percentiles(values: np.ndarray) -> dict[str, float | None]:
    if len(values) == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "p99": round(float(p99), 2),
            "max": round(float(values.max()), 2)}


def analyse(record: Record, window: float | None = None,
            expectations: Expectations | None = None) -> dict[str, Any]:
    rows = record.rows
    if len(rows) == 0:
        first = 0.0
    else:
        first = float(rows["emulated"].min())
    timeline = build_timeline(record.timeline, first)
    window = window or default_window(timeline)
    deployment = timeline.deployment
    qualifiers = record.text("qualifier")
    deployed = deployed_qualifier(deployment, record.info)
    functions = function_breakdown(record, qualifiers, deployed)
    # The deployment's statistics (versions, windows, routing, its first error) are the deployed
    # function's rows; what callers met (errors, contacts hurt) is every function's.
    own = np.isin(rows["qualifier"], [code for code, q in enumerate([*record.strings, ""])
                                      if q == deployed or ":" not in q])
    all_t = rows["emulated"] - timeline.origin
    all_ok, contacts = record.ok, rows["contact"]
    t = all_t[own]
    versions = record.text("version")[own]
    reasons = record.text("reason")[own]
    injected = record.text("injected")[own]
    ok = all_ok[own]
    latency_ms = ((rows["end"] - rows["start"]) * 1000.0)[own]
    target = deployment.get("target_version")
    current = deployment.get("current_version")
    known_versions = sorted({v for v in versions if v} | {v for v in (target, current) if v},
                            key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))

    per_version = {}
    for version in known_versions:
        mine = versions == version
        errors = mine & ~ok
        by_reason: dict[str, dict[str, int]] = {}
        for reason in sorted(set(reasons[errors])):
            hit = errors & (reasons == reason)
            by_reason[reason] = {"injected": int((hit & (injected != "")).sum()),
                                 "natural": int((hit & (injected == "")).sum())}
        per_version[version] = {
            "invocations": int(mine.sum()), "errors": int(errors.sum()),
            "error_rate": round(float(errors.sum() / mine.sum()), 4) if mine.any() else 0.0,
            "errors_by_reason": by_reason, "latency_ms": percentiles(latency_ms[mine])}
        if deployment and version == current:  # what production's version did before anything shifted
            before = mine & (t < 0)
            failed = before & ~ok & (injected == "")
            per_version[version]["before_deployment"] = {
                "invocations": int(before.sum()), "natural_errors": int(failed.sum()),
                "reasons": {r: int((failed & (reasons == r)).sum()) for r in sorted(set(reasons[failed]))}}
    said: dict[str, list[list[Any]]] = next((e["by_name"] for e in reversed(record.timeline) if e["kind"] == "errors_said"), {})
    provisioned: dict[str, Any] = next((e for e in reversed(record.timeline) if e["kind"] == "provisioned"), {})
    for version, usage in provisioned.get("by_version", {}).items():  # CloudWatch's counts, when the alias had it
        if version in per_version:
            per_version[version]["provisioned"] = {**usage, "requested": provisioned["requested"]}
    for version, stats in per_version.items():  # Locust names the deployed function's versions "invoke vN"
        if said.get(f"invoke v{version}"):
            stats["errors_said"] = said[f"invoke v{version}"]
    for qualifier, stats in functions.items():  # and another function's "invoke Name:qualifier vN"
        texts: collections.Counter[str] = collections.Counter()
        for name, top in said.items():
            if not stats["deployed"] and name.startswith(f"invoke {qualifier} v"):
                texts.update({text: count for text, count in top})
        if texts:
            stats["errors_said"] = [list(pair) for pair in texts.most_common(3)]
    unserved = versions == ""
    if unserved.any():
        unserved_by_reason = {r: int((unserved & (reasons == r)).sum()) for r in sorted(set(reasons[unserved]))}
        per_version["none"] = {"invocations": int(unserved.sum()), "errors": int(unserved.sum()),
                               "errors_by_reason": unserved_by_reason}

    windows = []
    if len(t):
        start = math.floor(t.min() / window) * window
        stop = t.max()
        weight_target = weight_of(target, timeline, t) if target else np.zeros(len(t))
        edge = start
        while edge <= stop:
            inside = (t >= edge) & (t < edge + window)
            n = int(inside.sum())
            entry: dict[str, Any] = {"start": round(edge, 3), "end": round(edge + window, 3), "invocations": n,
                                     "errors": int((inside & ~ok).sum()), "versions": {}}
            for version in known_versions:
                mine = inside & (versions == version)
                if mine.any():
                    mine_n, mine_errors = int(mine.sum()), int((mine & ~ok).sum())
                    entry["versions"][version] = {
                        "invocations": mine_n, "errors": mine_errors,
                        "error_rate_95": [round(x, 4) for x in rate_interval(mine_errors, mine_n)],
                        "injected_errors": int((mine & ~ok & (injected != "")).sum()),
                        "p50_ms": round(float(np.percentile(latency_ms[mine], 50)), 2),
                        "p95_ms": round(float(np.percentile(latency_ms[mine], 95)), 2)}
            if n and target:
                served = inside & (versions == target)
                planned = float(weight_target[inside].mean())
                half = Z99 * math.sqrt(planned * (1 - planned) / n)
                share = float(served.sum() / n)
                entry.update({"target_share": round(share, 4), "planned_weight": round(planned, 4),
                              "band": [round(max(0.0, planned - half), 4), round(min(1.0, planned + half), 4)],
                              "within_band": bool(planned - half - 1e-9 <= share <= planned + half + 1e-9),
                              "target_errors": int((served & ~ok).sum())})
            windows.append(entry)
            edge += window

    routing = {"follows": True, "invocations_while_split": 0}
    if target and len(t):
        # an invocation stamped (by the caller) within a moment of a weight change may have been routed on
        # either side of it (the stamp and the alias's flip race): left out of the check
        near = race_window(t, timeline, float((record.info or {}).get("time_scale") or 1.0))
        judged = (versions != "") & ~near
        routing = routing_check((versions == target)[judged], weight_of(target, timeline, t)[judged])
        routing["left_out_near_changes"] = int(((versions != "") & near).sum())

    end = timeline.end
    if not deployment:
        during = np.zeros(len(rows), bool)
    else:  # from its creation to its end (to the last invocation if it never ended); every function's
        during = (all_t >= 0) & (all_t <= end) if end is not None else all_t >= 0
    target_errors = (versions == target) & ~ok & (t >= 0) if target else np.zeros(len(t), bool)
    first_error = float(t[target_errors].min()) if target_errors.any() else None
    alarm_fired = next((a for a in timeline.alarms if a[2] == "ALARM" and a[0] >= -1e-9), None)
    per_contact_versions: dict[int, set[str]] = {}
    for contact, version in zip(contacts[own].tolist(), versions.tolist(), strict=True):
        if version:
            per_contact_versions.setdefault(contact, set()).add(version)
    deployment_summary = {
        "deployment_id": deployment.get("deployment_id"), "config": deployment.get("config"),
        "current_version": current, "target_version": target, "outcome": timeline.outcome,
        "shifts": [{"t": round(w[0], 3), "primary": w[1], "additional": w[2]} for w in timeline.weights
                   if math.isfinite(w[0])],
        "alarm_transitions": [{"t": round(a[0], 3), "alarm": a[1], "state": a[2]} for a in timeline.alarms],
        "alarm_fired_at": round(alarm_fired[0], 3) if alarm_fired else None,
        "rollback_at": round(timeline.rollback, 3) if timeline.rollback is not None else None,
        "ended_at": round(end, 3) if end is not None else None,
        "error": timeline.error,
        "hooks_failed": timeline.hooks_failed,
        "first_target_error_at": round(first_error, 3) if first_error is not None else None,
        "first_error_to_alarm_s": round(alarm_fired[0] - first_error, 3) if alarm_fired and first_error is not None else None,
        "first_error_to_rollback_s": round(timeline.rollback - first_error, 3)
        if timeline.rollback is not None and first_error is not None else None,
        "invocations_during": int(during.sum()),
        "failed_invocations_during": int((during & ~all_ok).sum()),
        "failed_contacts_during": int(len(set(contacts[during & ~all_ok].tolist()))),
        "failed_invocations_after": int(((all_t > end) & ~all_ok).sum()) if end is not None else 0,
        "failed_contacts_after": int(len(set(contacts[(all_t > end) & ~all_ok].tolist()))) if end is not None else 0,
    }
    total = len(rows)
    summary = {
        "run": record.folder.name, "invocations": total, "errors": int((~all_ok).sum()),
        "error_rate": round(float((~all_ok).sum() / total), 4) if total else 0.0,
        # every contact: those that invoked (in the rows) and those that ended without invoking anything
        "contacts": int(len(set(contacts.tolist()))) + sum(1 for e in record.contact_ends if e.get("invocations") == 0),
        "failed_contacts": int(len(set(contacts[~all_ok].tolist()))),
        "deployed_function": deployed, "functions": functions,
        **contact_endings(record.contact_ends, deployed, timeline.origin),
        "contacts_meeting_both_versions": sum(1 for vs in per_contact_versions.values() if len(vs) > 1),
        "late_invocations": int(rows["late"].sum()) if total else 0,
        "late": late_summary(rows, record.info),  # why they were late; None without any
        "retried_invocations": int((rows["retries"] > 0).sum()) if total else 0,
        "window_s": window, "run_info": record.info, "versions": per_version, "windows": windows, "routing": routing,
        "deployment": deployment_summary, "time_origin_emulated": timeline.origin,
        "deployed_not_called": bool(deployment.get("deployment_id")) and len(rows) > 0 and not own.any(),
        "deployed_bypassed": bypassing_calls(qualifiers, deployed),
    }
    delivered = delivered_load(all_t, contacts, deployment_summary, record.info, record.contact_ends,
                               timeline.origin, record.contacts)
    summary["production"] = production_terms(summary, record.info, delivered)
    summary["judge"] = _judged(record, t, versions, ok, latency_ms, injected, windows, target, current, all_t, contacts, all_ok,
                               deployment_summary, summary["production"])
    late_rows = rows["late"] > 0 if total else np.zeros(0, bool)
    late_contact_lags = contact_lags(record.contact_ends)
    lags_s = [float(x) for x in (rows["start"] - rows["intended"])[late_rows]] + (late_contact_lags or [])
    max_lag_ms = max(lags_s) * 1000 if lags_s else None
    summary["generator"] = generator_summary(summary, windows, deployment_summary, max_lag_ms, late_contact_lags)
    if delivered is not None:
        summary["generator"]["delivered"] = delivered
    if expectations is not None:
        summary["verdict"] = verdict(summary, expectations)
    return summary


def contact_lags(ends: list[dict[str, Any]]) -> list[float] | None:
    """How late each late contact started (real seconds); None when the record does not say (a
    record from before contacts kept their lag: each late start then counts as moving load)."""
    late = [end for end in ends if end.get("late")]
    if any("lag_s" not in end for end in late):
        return None
    return [float(end["lag_s"]) for end in late]


def delivered_load(t: np.ndarray, contacts: np.ndarray, d: dict[str, Any], info: dict[str, Any],
                   ends: list[dict[str, Any]], origin: float, names: list[str]) -> dict[str, Any] | None:
    """Of the contacts production's traffic had due during the deployment (its arrival rate over the
    deployment's emulated span, at the sample's weight), how many started in it (each contact's start,
    as it ended; one still in progress when the run stopped, or in a record from before contacts kept
    their start, by its first invocation; `names`: the contacts' ids by code); with an invocation
    rate instead (Locust's --rate), of the invocations due, how many started; from the deployment's
    start, or the run's when that came later (a deployment watched). A generator far behind
    starts fewer: every count of the deployment (contacts hurt, errors, an alarm's sums) is then short
    of production's by that share. None with neither, or without a deployment."""
    traffic, rate = info.get("traffic"), float(info.get("rate") or 0.0)
    if not (traffic or rate > 0) or not d.get("deployment_id") or not len(t):
        return None
    end = d["ended_at"] if d["ended_at"] is not None else float(t.max())
    # from the deployment's start, or the run's if it began later (a deployment it watched, started before)
    run_start = float(info["emulated_start"]) - origin if info.get("emulated_start") is not None else 0.0
    begin = max(0.0, run_start)
    if end <= begin:
        return None
    if not traffic:  # the invocations' own rate, for the whole test, in real seconds
        due = rate * (end - begin) / float(info.get("time_scale") or 1.0)
        started, unit = int(((t >= begin) & (t <= end)).sum()), "invocations"
    else:
        if info.get("traffic_profile"):  # the day's arrivals from the run's start: by the minute
            if info.get("emulated_start") is None:
                return None  # (a record from before runs kept where their emulated clock started)
            due = Profile.from_dict(info["traffic_profile"]).contacts_between(
                str(info.get("start_time") or "12:00"), begin - run_start, end - run_start) / float(traffic["weight"])
        else:
            due = float(traffic["contacts_per_minute"]) / 60.0 * (end - begin) / float(traffic["weight"])
        # each contact's first invocation, then the start its end says (contacts that invoke nothing too)
        order = np.argsort(t, kind="stable")
        codes, first = np.unique(contacts[order], return_index=True)
        starts = {names[code] if code < len(names) else code: at
                  for code, at in zip(codes.tolist(), t[order][first].tolist(), strict=True)}
        starts.update({e["contact"]: float(e["started"]) - origin for e in ends if "started" in e})
        firsts = np.array(list(starts.values()))
        started, unit = int(((firsts >= begin) & (firsts <= end)).sum()), "contacts"
    if due < 1:
        return None
    return {"unit": unit, "started": started, "due": round(due, 1), "share": round(min(1.0, started / due), 4),
            "enough": started >= DELIVERED_SHARE_MIN * due - 1}  # (one at the deployment's edges: a hair late)


def generator_summary(summary: dict[str, Any], windows: list[dict[str, Any]], d: dict[str, Any],
                      max_lag_ms: float | None, late_lags_s: list[float] | None = None) -> dict[str, Any]:
    """Whether the load generator kept production's schedule (a fact about the machine, never a verdict
    on the deployment), and, if it fell behind, whether the deployment's windows still held the load
    the scenario put in them.

    A start late by a small share of a window (`LAG_WINDOW_SHARE`) moves next to nothing out of the
    window it was due in: a window thin by the scenario's design (a night-time canary) is as thin as
    planned, and judged. Only when enough contacts started later than that (`displaced`), and a
    window of the deployment is thin, is the verdict withheld: that window may be thin because of
    the machine. `late_lags_s` are the late contacts' lags in real seconds (None: unknown, each late
    start counts as displacing)."""
    ended = summary.get("contact_outcomes", {}).get("ended", 0)
    late = summary.get("contact_outcomes", {}).get("late", 0)
    allowed = max(LATE_CONTACTS_ALLOWED * ended, 1)
    behind = bool(ended) and late > allowed
    scale = float((summary.get("run_info") or {}).get("time_scale") or 1.0)
    window_s = summary.get("window_s") or (windows[0]["end"] - windows[0]["start"] if windows else 0.0)
    tolerated_s = LAG_WINDOW_SHARE * window_s / scale  # real seconds
    displaced = late if late_lags_s is None else sum(1 for lag in late_lags_s if lag > tolerated_s)
    starved = behind and displaced > allowed
    end = d.get("ended_at")
    thin = [w for w in windows if w["end"] > 0 and (end is None or w["start"] <= end)
            and w["invocations"] < MIN_JUDGED_INVOCATIONS]
    result = {"late_contacts": late, "contacts_ended": ended, "fell_behind": behind,
              "max_lag_ms": None if max_lag_ms is None else round(max_lag_ms, 1),
              "displaced_contacts": displaced, "tolerated_lag_s": round(tolerated_s, 3),
              "thin_windows": len(thin) if starved else 0, "judgeable": not (starved and thin)}
    callers = (summary.get("run_info") or {}).get("callers") or {}
    if behind and callers.get("contact_s"):  # arrivals waiting for a caller are the users' count, not the machine
        most = callers["users"] / callers["contact_s"]
        if most < callers["driven_per_second"]:
            result["users_short"] = {**callers, "most_per_second": round(most, 2),
                                     "needed": math.ceil(callers["driven_per_second"] * callers["contact_s"]) + 1}
    return result


def _judged(record: Record, t: np.ndarray, versions: np.ndarray, ok: np.ndarray, latency_ms: np.ndarray,
            injected: np.ndarray, windows: list[dict[str, Any]], target: str | None, current: str | None, all_t: np.ndarray,
            contacts: np.ndarray, all_ok: np.ndarray, d: dict[str, Any], production: dict[str, Any]) -> dict[str, Any]:
    """The statistical judge's verdict per window, when it would have flagged the new version, and the
    contacts hurt between that moment and the rollback (or the deployment's end): what it would have spared."""
    settings = dict((record.info or {}).get("judge") or {})
    result = judge(t, versions, ok, latency_ms, [(w["start"], w["end"]) for w in windows], target, current,
                   **{"confidence": 0.99, **settings})
    flagged = result["flagged_at"]
    differs = (versions == target) & (t >= 0) & (~ok | (injected != "")) if target else np.zeros(len(t), bool)
    first_difference = float(t[differs].min()) if differs.any() else None  # a real one: an error, a fault
    result["first_difference_at"] = first_difference
    if flagged is not None and (first_difference is None or flagged < first_difference):
        result["early"] = True  # before anything differed: a false flag, nothing spared to claim
    elif flagged is not None:
        until = d["rollback_at"] if d["rollback_at"] is not None else d["ended_at"]
        later = (all_t >= flagged) & (all_t <= until) & ~all_ok if until is not None else np.zeros(len(all_t), bool)
        spared = len(set(contacts[later].tolist()))
        weight = production.get("weight", 1.0) if production.get("sampled") else 1.0
        result["alarm_at"] = d["alarm_fired_at"]
        result["spared_contacts"] = spared
        result["spared_contacts_production"] = round(spared * weight, 1)
    return result


def count_interval(count: int, weight: float, z: float = 1.959963984540054) -> tuple[float, float]:
    """A 95 % interval for the production count a sampled `count` stands for (each sampled event one
    of `weight`): Byar's approximation of the Poisson interval, scaled; exact when not sampled."""
    if weight <= 1.0:
        return float(count), float(count)
    low = 0.0 if count == 0 else count * (1 - 1 / (9 * count) - z / (3 * math.sqrt(count))) ** 3
    high = (count + 1) * (1 - 1 / (9 * (count + 1)) + z / (3 * math.sqrt(count + 1))) ** 3
    return weight * low, weight * high


def rate_interval(events: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """A 95 % interval for a rate seen as `events` of `trials` (Wilson's score interval: unlike the
    normal approximation it stays inside [0, 1] and is not a point at 0 or 1 of a handful)."""
    if trials <= 0:
        return 0.0, 1.0
    p, z2 = events / trials, z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def production_terms(summary: dict[str, Any], info: dict[str, Any],
                     delivered: dict[str, Any] | None = None) -> dict[str, Any]:
    """The counts a user reads, in production's terms: with production's traffic stated, each counted
    event times the weight its sample stands for, with a 95 % interval; without it, said as the
    run's own counts (on a compressed clock, a fraction of what production would meet). A generator
    that started too few of the contacts due during the deployment (`delivered`): the deployment's
    counts are scaled to the load due, the missing contacts taken to fare as the ones that ran."""
    traffic = info.get("traffic")
    if not traffic:
        scale = info.get("time_scale") or 1.0
        return {"stated": False, "time_scale": scale,
                "note": None if scale == 1 else (
                    f"the load was given in real time: at x{scale:g} each alarm period and the deployment saw "
                    f"1/{scale:g} of what production would at the same rate; give [load] contacts_per_minute "
                    "to rehearse in production's terms")}
    weight = float(traffic["weight"])
    d = summary["deployment"]

    def scaled(count: int, weight: float = weight) -> dict[str, float]:
        low, high = count_interval(count, weight)
        return {"estimate": round(count * weight, 1), "low": round(low, 1), "high": round(high, 1)}

    short = delivered is not None and not delivered["enough"] and delivered["started"] > 0  # (contacts: traffic)
    during = weight / delivered["share"] if short and delivered is not None else weight

    late = summary["contact_outcomes"]["late"]
    return {"stated": True, "contacts_per_minute": traffic["contacts_per_minute"], "weight": weight,
            "sampled": weight > 1, "invocations": scaled(summary["invocations"]),
            "errors": scaled(summary["errors"]), "failed_contacts": scaled(summary["failed_contacts"]),
            "failed_contacts_during": scaled(d["failed_contacts_during"], during),
            "failed_invocations_during": scaled(d["failed_invocations_during"], during), "late_contacts": late,
            **({"during_weight": round(during, 3)} if short else {})}


def deployed_qualifier(deployment: dict[str, Any], info: dict[str, Any]) -> str:
    """`Function:alias` of the alias the deployment shifts (the run's alias without a deployment)."""
    if deployment.get("function") and deployment.get("alias"):
        return f"{deployment['function']}:{deployment['alias']}"
    arn = str(info.get("alias_arn") or "")
    parts = arn.split(":")
    return f"{parts[-2]}:{parts[-1]}" if len(parts) >= 8 else ""


def bypassing_calls(qualifiers: np.ndarray, deployed: str) -> dict[str, int]:
    """The deployed function's invocations other than through the alias its deployment shifts, by
    the qualifier they named ($LATEST, a version): the shift never reached them."""
    name = deployed.partition(":")[0]
    found = {}
    for qualified, count in zip(*np.unique(qualifiers, return_counts=True), strict=True):
        function, _, qualifier = str(qualified).partition(":")
        if function == name and qualifier and str(qualified) != deployed:
            found[qualifier] = int(count)
    return found


def contact_endings(ends: list[dict[str, Any]], deployed: str, origin: float = 0.0) -> dict[str, Any]:
    """How the contacts that ended ended, overall and by the deployed function's versions they met;
    what went wrong in which block (each took the block's error branch); the runaways."""
    by_outcome: dict[str, int] = {}
    by_versions: dict[str, dict[str, int]] = {}
    flow_errors: dict[tuple[str, str, str], int] = {}
    runaways: dict[tuple[str, str], int] = {}
    for end in ends:
        outcome = end["outcome"]
        by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
        met = "+".join(sorted(end.get("met", {}).get(deployed, []), key=_version_order)) or "none"
        versions = by_versions.setdefault(met, {})
        versions[outcome] = versions.get(outcome, 0) + 1
        for flow, block, what in end.get("flow_errors", []):
            flow_errors[(flow, block, what)] = flow_errors.get((flow, block, what), 0) + 1
        if outcome == "runaway":
            where = (end["last"][0], end["last"][1])
            runaways[where] = runaways.get(where, 0) + 1
    return {
        "contact_outcomes": {"ended": len(ends), "late": sum(1 for end in ends if end.get("late")),
                             "by_outcome": dict(sorted(by_outcome.items())),
                             "by_versions_met": dict(sorted(by_versions.items()))},
        "flow_errors": [{"flow": f, "block": b, "what": w, "count": n} for (f, b, w), n in sorted(flow_errors.items())],
        "flow_errors_total": sum(flow_errors.values()),
        "runaway_contacts": [{"flow": f, "block": b, "count": n} for (f, b), n in sorted(runaways.items())],
        **contact_results(ends, origin),
    }


def contact_results(ends: list[dict[str, Any]], origin: float) -> dict[str, Any]:
    """Time to result (the flow's result attribute), per value of it (e.g. the version that produced
    it), and the contacts that ended without one (a contact the run stopped is not counted)."""
    if not any("result" in end for end in ends):
        return {}
    seconds: dict[str, list[float]] = {}
    without = 0
    for end in ends:
        if end.get("result") is not None:
            seconds.setdefault(str(end["result"]), []).append(float(end["result_s"]))
        elif end["outcome"] != "stopped":
            without += 1
    every = np.array([x for values in seconds.values() for x in values])
    return {"results": {
        "by_value": {value: {"contacts": len(values), **percentiles(np.array(values))}
                     for value, values in sorted(seconds.items(), key=lambda kv: _version_order(kv[0]))},
        "all": {"contacts": len(every), **percentiles(every)}, "without_result": without,
        # (contact start, result or None, seconds to it or to the end): emulated, from the deployment's start
        "points": [(round(end["started"] - origin, 3), end["result"],
                    end["result_s"] if end.get("result") is not None else round(end["t"] - end["started"], 3))
                   for end in ends if "started" in end and (end.get("result") is not None or end["outcome"] != "stopped")],
    }}


def _version_order(version: str) -> tuple[bool, int, str]:
    return (not version.isdigit(), int(version) if version.isdigit() else 0, version)


def function_breakdown(record: Record, qualifiers: np.ndarray, deployed: str) -> dict[str, Any]:
    """Per function (the record's `Function:qualifier`): invocations, errors by reason, versions that
    served, and the blocks that called it."""
    rows, ok = record.rows, record.ok
    versions, reasons, actions = record.text("version"), record.text("reason"), record.text("action")
    made: dict[str, Any] = {}
    for qualifier in sorted(set(qualifiers.tolist()), key=lambda q: (q != deployed, q)):
        mine = qualifiers == qualifier
        failed = mine & ~ok
        made[qualifier or "-"] = {
            "deployed": qualifier == deployed or ":" not in qualifier,
            "invocations": int(mine.sum()), "errors": int(failed.sum()),
            "errors_by_reason": {r: int((failed & (reasons == r)).sum()) for r in sorted(set(reasons[failed]))},
            "versions": {v or "none": int((mine & (versions == v)).sum()) for v in sorted(set(versions[mine]))},
            "blocks": sorted(set(actions[mine].tolist())),
            "latency_ms": percentiles(((rows["end"] - rows["start"]) * 1000.0)[mine])}
    return made
