"""What callers met during a run, computed from its record alone: shares per time window against
the alias's weight, errors per version and reason (injected apart from natural), latency per
version, the deployment's timings (shifts, alarm, rollback), the blast radius, a statistical check
of the routing, why paced starts were late (simulator.report.lateness), and the verdict against the
scenario's expectations. No I/O but reading the record.

Time is emulated, in seconds from the deployment's creation (or from the first invocation when there
was no deployment). The alias weight at each invocation is CodeDeploy's plan for the configuration
from the moment AllowTraffic began, cut at the rollback or stop (the routing the watcher observed is
dated up to one poll late, so it is only the fallback, for a configuration it cannot read).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.deployment.plan import traffic_plan
from simulator.report.judge import MIN_INVOCATIONS, fisher_greater, judge
from simulator.report.lateness import describe_late, late_summary
from simulator.report.record import Record
from simulator.report.words import counted
from simulator.scenario.spec import TrafficRouting

Z99 = 2.5758293035489004  # two-sided 99 % normal quantile, for the per-window bands
ROUTING_ALPHA = 0.001      # the routing check fails below this p-value
LATE_CONTACTS_ALLOWED = 0.05  # share of contacts that may start late before the generator counts as behind
# (and never a single one: in a night-time run of a dozen contacts, one start 20 ms late is a hiccup)
# The default gate, when a scenario states no [expect]: what a release engineer means by "safe".
DEFAULT_MAX_ERROR_RATE = 0.05  # no version may fail more than this share of its invocations
DEFAULT_WORSE_P = 0.001        # the new version's errors against the old's: one-sided Fisher, at this level
DEFAULT_WORSE_BY = 0.01        # and at least this much higher an error rate (a practical difference)
MIN_JUDGED_INVOCATIONS = 20    # per window of the deployment: fewer, and a behind generator left it unjudged
CODE_DID_NOT_LOAD = ("Runtime.ImportModuleError", "Runtime.HandlerNotFound")


@dataclass(frozen=True)
class Expectations:
    """What a scenario expects of its rehearsal; None means not checked."""

    outcome: str | None = None  # succeeded | rolled_back | stopped | failed
    rollback_within_minutes: float | None = None
    detect_within_minutes: float | None = None
    max_failed_contacts: int | None = None
    max_error_rate: float | None = None
    alarm_fires: bool | None = None
    routing_follows_weights: bool | None = None
    min_invocations: int | None = None
    max_flow_errors: int | None = None
    max_contacts_without_result: int | None = None
    max_time_to_result_seconds: float | None = None
    judge_flags_within_minutes: float | None = None


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
                    entry["versions"][version] = {
                        "invocations": int(mine.sum()), "errors": int((mine & ~ok).sum()),
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
    summary["production"] = production_terms(summary, record.info)
    summary["judge"] = _judged(record, t, versions, ok, latency_ms, injected, windows, target, current, all_t, contacts, all_ok,
                               deployment_summary, summary["production"])
    late_rows = rows["late"] > 0 if total else np.zeros(0, bool)
    max_lag_ms = float(((rows["start"] - rows["intended"])[late_rows]).max() * 1000) if late_rows.any() else None
    summary["generator"] = generator_summary(summary, windows, deployment_summary, max_lag_ms)
    if expectations is not None:
        summary["verdict"] = verdict(summary, expectations)
    return summary


def generator_summary(summary: dict[str, Any], windows: list[dict[str, Any]], d: dict[str, Any],
                      max_lag_ms: float | None) -> dict[str, Any]:
    """Whether the load generator kept production's schedule (a fact about the machine, never a verdict
    on the deployment), and, if it fell behind, whether every window of the deployment still had the
    invocations to judge it."""
    ended = summary.get("contact_outcomes", {}).get("ended", 0)
    late = summary.get("contact_outcomes", {}).get("late", 0)
    behind = bool(ended) and late > max(LATE_CONTACTS_ALLOWED * ended, 1)
    end = d.get("ended_at")
    thin = [w for w in windows if w["end"] > 0 and (end is None or w["start"] <= end)
            and w["invocations"] < MIN_JUDGED_INVOCATIONS]
    result = {"late_contacts": late, "contacts_ended": ended, "fell_behind": behind,
              "max_lag_ms": None if max_lag_ms is None else round(max_lag_ms, 1),
              "thin_windows": len(thin) if behind else 0, "judgeable": not (behind and thin)}
    callers = (summary.get("run_info") or {}).get("callers") or {}
    if behind and callers.get("contact_s"):  # arrivals waiting for a caller are the users' count, not the machine
        most = callers["users"] / callers["contact_s"]
        if most < callers["driven_per_second"]:
            result["users_short"] = {**callers, "most_per_second": round(most, 2),
                                     "needed": math.ceil(callers["driven_per_second"] * callers["contact_s"]) + 1}
    return result


def _behind_because(generator: dict[str, Any]) -> str:
    """Why the generator fell behind: too few users for contacts this long, else the machine."""
    short = generator.get("users_short")
    if not short:
        return "this machine could not rehearse production's load"
    return (f"its {short['users']} users start at most {short['most_per_second']:,.1f} contacts/s with contacts of "
            f"{short['contact_s']:.2f} s, fewer than the {short['driven_per_second']:,.1f}/s asked: add users (at "
            f"least {short['needed']}); a rehearsal adds them itself")


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


def production_terms(summary: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """The counts a user reads, in production's terms: with production's traffic stated, each counted
    event times the weight its sample stands for, with a 95 % interval; without it, said as the
    run's own counts (on a compressed clock, a fraction of what production would meet)."""
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

    def scaled(count: int) -> dict[str, float]:
        low, high = count_interval(count, weight)
        return {"estimate": round(count * weight, 1), "low": round(low, 1), "high": round(high, 1)}

    late = summary["contact_outcomes"]["late"]
    return {"stated": True, "contacts_per_minute": traffic["contacts_per_minute"], "weight": weight,
            "sampled": weight > 1, "invocations": scaled(summary["invocations"]),
            "errors": scaled(summary["errors"]), "failed_contacts": scaled(summary["failed_contacts"]),
            "failed_contacts_during": scaled(d["failed_contacts_during"]),
            "failed_invocations_during": scaled(d["failed_invocations_during"]), "late_contacts": late}


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


def verdict(summary: dict[str, Any], expect: Expectations) -> dict[str, Any]:
    """Each expectation with what was measured; `passed` only if all hold. With no expectation stated,
    the default gate's (marked `implicit`): the deployment succeeded, the new version fails no more
    than the old, no version fails more than a small share of its calls, the deployed function was
    called. Whatever made the rehearsal unfaithful fails it either way; a generator that fell behind
    so far that a window of the deployment had too few invocations leaves it unjudged (`judged`)."""
    d = summary["deployment"]
    checks: list[dict[str, Any]] = []
    implicit = expect == Expectations()

    def check(name: str, expected: Any, actual: Any, holds: bool, default: bool = False) -> None:
        checks.append({"check": name, "expected": expected, "actual": actual, "passed": bool(holds),
                       **({"implicit": True} if default else {})})

    if implicit:
        _default_gate(summary, lambda name, expected, actual, holds: check(name, expected, actual, holds, True))

    if expect.outcome is not None:
        check("outcome", expect.outcome, d["outcome"], d["outcome"] == expect.outcome)
    if expect.rollback_within_minutes is not None:
        at = d["rollback_at"]
        check("rollback within (emulated minutes from the start)", expect.rollback_within_minutes,
              None if at is None else round(at / 60, 2), at is not None and at <= expect.rollback_within_minutes * 60)
    if expect.detect_within_minutes is not None:
        gap = d["first_error_to_alarm_s"]
        check("alarm within (emulated minutes from the new version's first error)", expect.detect_within_minutes,
              None if gap is None else round(gap / 60, 2), gap is not None and gap <= expect.detect_within_minutes * 60)
    if expect.max_failed_contacts is not None:  # in production's terms when its traffic was stated
        production = summary.get("production") or {}
        failed = (production["failed_contacts_during"]["estimate"] if production.get("stated")
                  else d["failed_contacts_during"])
        check("contacts that took an error branch during the deployment, at most", expect.max_failed_contacts,
              failed, failed <= expect.max_failed_contacts)
    if expect.max_error_rate is not None:
        check("error rate, at most", expect.max_error_rate, summary["error_rate"],
              summary["error_rate"] <= expect.max_error_rate)
    if expect.alarm_fires is not None:
        fired = d["alarm_fired_at"] is not None
        check("alarm fires", expect.alarm_fires, fired, fired == expect.alarm_fires)
    if expect.routing_follows_weights is not None:
        follows = summary["routing"]["follows"]
        check("routing follows the alias weights", expect.routing_follows_weights, follows,
              follows == expect.routing_follows_weights)
    if expect.min_invocations is not None:
        check("invocations, at least", expect.min_invocations, summary["invocations"],
              summary["invocations"] >= expect.min_invocations)
    if expect.max_flow_errors is not None:
        check("flow errors (error branches taken for what went wrong in a block), at most",
              expect.max_flow_errors, summary.get("flow_errors_total", 0),
              summary.get("flow_errors_total", 0) <= expect.max_flow_errors)
    if expect.judge_flags_within_minutes is not None:
        at = (summary.get("judge") or {}).get("flagged_at")
        check("the statistical judge flags the new version within (emulated minutes from the start)",
              expect.judge_flags_within_minutes, None if at is None else round(at / 60, 2),
              at is not None and at <= expect.judge_flags_within_minutes * 60)
    results = summary.get("results") or {}
    if expect.max_contacts_without_result is not None:
        check("contacts that ended without their result, at most", expect.max_contacts_without_result,
              results.get("without_result"), results.get("without_result", 0) <= expect.max_contacts_without_result
              and bool(results))
    if expect.max_time_to_result_seconds is not None:
        p95 = (results.get("all") or {}).get("p95")
        check("time to result, p95 (emulated seconds), at most", expect.max_time_to_result_seconds, p95,
              p95 is not None and p95 <= expect.max_time_to_result_seconds)
    for why in (summary.get("run_info") or {}).get("unfaithful") or ():  # never a green run that did not rehearse
        check(f"rehearsed faithfully: {why}", True, False, False)
    for why in unfaithful_by_record(summary):
        check(f"rehearsed faithfully: {why}", True, False, False)
    latest = (summary.get("deployed_bypassed") or {}).get("$LATEST")
    if latest:  # never green: in production these callers meet new code the moment it is deployed
        function, _, alias = str(summary.get("deployed_function")).partition(":")
        check(f"contacts call {function} through the alias the deployment shifts ({alias}), never its $LATEST (an ARN "
              "without a qualifier: no canary and no rollback protect those callers)", 0, latest, False)
    runaway = sum(r["count"] for r in summary.get("runaway_contacts", []))
    if runaway:  # never a silent pass: a flow that did not end is not what production would see
        check("contacts stopped as runaways (past the invocation or time limit per contact)", 0, runaway, False)
    why_not = why_not_judged(summary)
    judged = not why_not
    result: dict[str, Any] = {"passed": all(c["passed"] for c in checks) and judged, "checks": checks,
                              "implicit": implicit, "judged": judged}
    if not judged:
        result["why_not_judged"] = "; ".join(why_not)
    return result


def why_not_judged(summary: dict[str, Any]) -> list[str]:
    """What kept this run from being the scenario's on AWS, whatever it recorded: a generator too far
    behind, the load breaking off, a lost worker, the emulator's own ceilings. Each withholds the verdict."""
    generator, run_info = summary.get("generator") or {}, summary.get("run_info") or {}
    why_not: list[str] = []
    if not generator.get("judgeable", True):
        why_not.append(
            f"the load generator fell behind ({generator['late_contacts']} of {generator['contacts_ended']} contacts "
            f"started late) and {generator['thin_windows']} window(s) of the deployment had fewer than "
            f"{MIN_JUDGED_INVOCATIONS} invocations: {_behind_because(generator)}")
    errors = run_info.get("load_errors") or []
    if errors:  # a contact loop that broke off is not the load the scenario asks for, whatever it recorded
        why_not.append(
            f"the load itself failed {sum(e['count'] for e in errors)} time(s), not the deployment (first: "
            f"{errors[0]['error']}): contacts broke off, so the record is not the scenario's load; the "
            "first traceback of each is in the log, and every one in Locust's Exceptions")
    lost = run_info.get("workers_lost") or {}
    if lost:  # from then on the load was short of the scenario's by that worker's share
        why_not.append(
            f"{counted(len(lost), 'Locust worker')} disappeared during the run ({', '.join(sorted(lost))}): the "
            "load from then on was short of the scenario's, and its counts in production's terms too")
    refused = run_info.get("emulator_refused") or {}
    if refused:  # the emulator's own limits, not AWS's: what was refused would have been taken
        why_not.append(
            "the emulator refused requests at its own ceilings, which AWS would have taken ("
            + ", ".join(f"{kind}: {counted(r['requests'], 'request')} past {r['ceiling']:,}"
                        for kind, r in sorted(refused.items()))
            + "): raise them with $SHIFTSIM_EMULATOR_CEILINGS (docs/emulator.md)")
    deployed = bool((summary.get("deployment") or {}).get("deployment_id"))
    unreached = run_info.get("alarms_not_reached") or {}
    if unreached and deployed:  # on AWS: the simulator is not Connect, and publishes nothing there
        why_not.append(
            f"on AWS the simulator is not Connect and publishes none of the instance's reports, so the deployment "
            f"group's alarm(s) {', '.join(sorted(unreached))}, which read them, never saw the simulated contacts: "
            "what they would have done (roll back) was not rehearsed; rehearse it on the emulator")
    for what, noted in sorted((run_info.get("reports_unpublished") or {}).items()):
        if noted.get("read_by") and deployed:  # those alarms missed it: their part, the rollback, was not rehearsed
            why_not.append(
                f"{_unpublished(what, noted)}: the deployment group's alarm(s) {', '.join(noted['read_by'])} read "
                "them, so what they would have done (roll back) was not rehearsed")
    return why_not


def _unpublished(what: str, noted: dict[str, Any]) -> str:
    said = {"flow_logs": "flow logs", "metrics": "AWS/Connect metrics"}.get(what, what)
    return (f"the simulated Connect instance's {said} could not all be published to the emulator "
            f"({counted(noted['failed_flushes'], 'failed flush', 'failed flushes')}; first: {noted['first_error']})")


def _default_gate(summary: dict[str, Any], check: Any) -> None:
    """The expectations of a scenario that states none."""
    d = summary["deployment"]
    if summary["invocations"] == 0:
        check("invocations, at least (nothing was rehearsed without them)", 1, 0, False)
    if d.get("deployment_id") and d["outcome"] != "none":  # a deployment the run started or watched
        check("outcome", "succeeded", d["outcome"], d["outcome"] == "succeeded")
    if summary.get("deployed_not_called"):
        check(f"the deployed function ({summary['deployed_function']}) is called by the contacts", True, False, False)
    for version, stats in summary["versions"].items():
        if version == "none" or not stats["invocations"]:
            continue
        check(f"version {version}'s error rate, at most", DEFAULT_MAX_ERROR_RATE, stats["error_rate"],
              stats["error_rate"] <= DEFAULT_MAX_ERROR_RATE)
    new, old = (summary["versions"].get(v or "") for v in (d.get("target_version"), d.get("current_version")))
    if new and old and new["invocations"] and old["invocations"]:
        p = fisher_greater(new["errors"], new["invocations"], old["errors"], old["invocations"])
        worse_by = new["errors"] / new["invocations"] - old["errors"] / old["invocations"]
        check(f"the new version fails no more than the old (one-sided p < {DEFAULT_WORSE_P:g} and at least "
              f"{100 * DEFAULT_WORSE_BY:g} points worse would fail)", "no worse",
              f"{100 * worse_by:+.2f} points, p = {p:.3g}", not (p < DEFAULT_WORSE_P and worse_by >= DEFAULT_WORSE_BY))


def unfaithful_by_record(summary: dict[str, Any]) -> list[str]:
    """What the record shows the rehearsal could not rehearse: code that did not load, alarms already
    in ALARM when the deployment began (CodeDeploy stops it before any traffic shifts)."""
    found = []
    for version, stats in (summary.get("versions") or {}).items():
        broken = {r: c["injected"] + c["natural"] for r, c in stats.get("errors_by_reason", {}).items()
                  if r in CODE_DID_NOT_LOAD}
        for reason, count in broken.items():
            found.append(f"version {version}'s code did not load ({reason}, {count} invocations): a dependency "
                         "missing (requirements.txt) or a wrong Handler")
    d = summary.get("deployment") or {}
    before = sorted({a["alarm"] for a in d.get("alarm_transitions", []) if a["t"] <= 0})
    in_alarm = [name for name in before if _state_at(d, name, 0.0) == "ALARM"]
    if in_alarm and d.get("deployment_id"):
        found.append(f"alarm(s) {', '.join(in_alarm)} already in ALARM when the deployment started: CodeDeploy "
                     "stops it at once, and nothing of the new version is rehearsed")
    return found


def _state_at(d: dict[str, Any], alarm: str, t: float) -> str | None:
    state = None
    for transition in d.get("alarm_transitions", []):
        if transition["alarm"] == alarm and transition["t"] <= t:
            state = transition["state"]
    return state


def format_summary(summary: dict[str, Any]) -> str:
    """The short text printed at the end of every run."""
    d = summary["deployment"]
    lines = [f"{counted(summary['invocations'], 'invocation')} in {counted(summary['contacts'], 'contact')}; "
             f"{counted(summary['errors'], 'error')} ({100 * summary['error_rate']:.1f} %), "
             f"{counted(summary['failed_contacts'], 'contact')} took an error branch; "
             f"{summary['late_invocations']} late"]
    if summary.get("late"):
        lines.append(f"  {describe_late(summary['late'])}")
    production = summary.get("production") or {}
    if production.get("stated"):
        def terms(value: dict[str, float]) -> str:
            shown = f"{value['estimate']:,.0f}"
            return shown + (f" (95 % {value['low']:,.0f} to {value['high']:,.0f})" if production["sampled"] else "")
        lines.append(f"  in production's terms ({production['contacts_per_minute']:g} contacts/min"
                     + (f"; each contact here stood for {production['weight']:.3g}" if production["sampled"] else
                        "; driven for real") + f"): {terms(production['invocations'])} invocations, "
                     f"{terms(production['errors'])} errors; contacts that took an error branch during the "
                     f"deployment: {terms(production['failed_contacts_during'])}")
        if production["sampled"]:
            lines.append("  a sample does not reproduce what depends on full density: concurrency limits and "
                         "throttling, how many other contacts each one meets, and how soon a fault's first errors "
                         "come (sparser calls: an alarm may fire, and CodeDeploy roll back, a poll later)")
        if production["late_contacts"]:
            lines.append(f"  {production['late_contacts']} contacts started late: the generator fell behind "
                         "production's arrival rate (add users, or set max_contacts_per_second to sample)")
    elif production.get("note"):
        lines.append(f"  NOTE: {production['note']}")
    for version, stats in summary["versions"].items():
        reasons = ", ".join(f"{r} {v['injected'] + v['natural'] if isinstance(v, dict) else v}"
                            for r, v in stats.get("errors_by_reason", {}).items()) or "no errors"
        latency = stats.get("latency_ms", {})
        p95 = f", p95 {latency['p95']:.0f} ms" if latency.get("p95") is not None else ""
        lines.append(f"  version {version}: {counted(stats['invocations'], 'invocation')}, {reasons}{p95}")
    for qualifier, stats in summary.get("functions", {}).items():
        if not stats["deployed"]:
            reasons = ", ".join(f"{r} {n}" for r, n in stats["errors_by_reason"].items()) or "no errors"
            lines.append(f"  {qualifier} (blocks {', '.join(stats['blocks'])}): "
                         f"{counted(stats['invocations'], 'invocation')}, {reasons}")
    ended = summary.get("contact_outcomes", {})
    if ended.get("ended"):
        lines.append(f"  contacts ended: {ended['ended']:,} ("
                     + ", ".join(f"{o} {n:,}" for o, n in ended["by_outcome"].items()) + ")")
        if len(ended["by_versions_met"]) > 1:
            lines.append("  by the versions they met: " + "; ".join(
                f"{'v' + met if met != 'none' else 'none'}: " + ", ".join(f"{o} {n:,}" for o, n in outcomes.items())
                for met, outcomes in ended["by_versions_met"].items()))
    results = summary.get("results")
    if results:
        attribute = (summary.get("run_info") or {}).get("result_attribute") or "result"
        parts = [f"{value}: {r['contacts']} contacts, median {r['p50']:.1f} s, p95 {r['p95']:.1f} s"
                 for value, r in results["by_value"].items()]
        lines.append(f"  time to result ({attribute}, emulated seconds from the contact's start): "
                     + ("; ".join(parts) or "no contact got one")
                     + f"; without a result: {results['without_result']} contacts")
    if summary.get("flow_errors"):
        lines.append(f"  flow errors (each took its block's error branch): {summary['flow_errors_total']}: "
                     + "; ".join(f"{e['flow']}/{e['block']} {e['what']} x{e['count']}" for e in summary["flow_errors"]))
    for runaway in summary.get("runaway_contacts", []):
        lines.append(f"  RUNAWAY: {runaway['count']} contacts stopped past the per-contact limits, last in "
                     f"{runaway['flow']}/{runaway['block']}")
    judged = summary.get("judge") or {}
    if (judged.get("tested") or judged.get("too_few")) and not summary.get("deployed_not_called"):
        level = f"{100 * judged['confidence']:g} %"
        if judged.get("flagged_at") is not None:
            flag = judged["flag"]
            alarm = d.get("alarm_fired_at")
            said = (f"; flagging then would have spared {judged['spared_contacts_production']:,.0f} contacts "
                    "(production's terms) before the deployment ended") if "spared_contacts" in judged else (
                "; before the new version's first error or injected fault: a false flag, no contacts spared are claimed")
            lines.append(f"  statistical judge ({level}): version {d.get('target_version')} worse on {', '.join(flag['on'])} "
                         f"by {judged['flagged_at'] / 60:+.1f} min (errors p = {flag['errors_p']:.2g}, latency p = "
                         f"{flag['latency_p']:.2g}); the alarm "
                         + (f"at {alarm / 60:+.1f} min" if alarm is not None else "never fired") + said)
        elif not judged.get("tested"):
            lines.append(f"  statistical judge ({level}): no verdict: too few invocations of each version in every "
                         f"window (at least {MIN_INVOCATIONS} each)")
        else:
            lines.append(f"  statistical judge ({level}): no difference found in {judged['tested']} windows"
                         + (f"; {judged['too_few']} had too few invocations to judge" if judged.get("too_few") else ""))
    for qualifier, count in sorted((summary.get("deployed_bypassed") or {}).items()):
        lines.append(f"  NOTE: {counted(count, 'invocation')} called {summary.get('deployed_function', '').partition(':')[0]}:"
                     f"{qualifier}, not the alias the deployment shifts: the shift never reached those callers"
                     + (" (an ARN without a qualifier calls $LATEST)" if qualifier == "$LATEST" else ""))
    if summary.get("deployed_not_called") and not summary.get("deployed_bypassed"):
        lines.append(f"  NOTE: no contact invoked {summary.get('deployed_function')} (the deployed function) itself: "
                     "something else calls it (an event source, another function), so its versions' shares and errors "
                     "are not in the record; the deployment, its alarms and what callers met are")
    if d["deployment_id"]:
        def minutes(value: float | None) -> str:
            return "-" if value is None else f"{value / 60:+.1f} min"
        lines.append(f"deployment {d['deployment_id']} ({d['config']}) {d['current_version']} -> "
                     f"{d['target_version']}: {d['outcome']}")
        if d.get("error"):  # why CodeDeploy stopped it: a hook that never reported, an alarm, ...
            lines.append(f"  CodeDeploy: {d['error'].get('message')} ({d['error'].get('code')})")
        for hook in d.get("hooks_failed") or ():
            lines.append(f"  {hook['event']}: {hook['diagnostics']}")
        lines.append(f"  first error of version {d['target_version']} {minutes(d['first_target_error_at'])}, "
                     f"alarm {minutes(d['alarm_fired_at'])}, rollback {minutes(d['rollback_at'])}, "
                     f"end {minutes(d['ended_at'])} (emulated, from the deployment's start)")
        length = f" ({d['ended_at'] / 60:.1f} min)" if d.get("ended_at") is not None else ""
        lines.append(f"  during the deployment{length}: {counted(d['failed_invocations_during'], 'failed invocation')}, "
                     f"{counted(d['failed_contacts_during'], 'contact')} took an error branch; "
                     f"{counted(summary['contacts_meeting_both_versions'], 'contact')} met both versions")
        if d.get("failed_invocations_after"):
            lines.append(f"  after it ended: {d['failed_invocations_after']} failed invocations, "
                         f"{d['failed_contacts_after']} contacts took an error branch (no deployment left to stop)")
    routing = summary["routing"]
    if routing.get("p_value") is not None:
        left_out = routing.get("left_out_near_changes") or 0
        lines.append(f"  routing vs weights: of {routing['invocations_while_split']:,} invocations while the alias was "
                     f"split, {routing['observed']:,} on the new version, {routing['expected']:,} expected "
                     f"(p = {routing['p_value']:.3g}): {'consistent' if routing['follows'] else 'NOT consistent'}"
                     + (f"; {left_out:,} within {RACE_REAL_S * 1000:g} ms of a weight change not counted" if left_out else ""))
    for note in (summary.get("run_info") or {}).get("notes") or ():
        lines.append(f"  NOTE: {note}")
    for what, noted in sorted(((summary.get("run_info") or {}).get("reports_unpublished") or {}).items()):
        if not noted.get("read_by") or not d.get("deployment_id"):
            lines.append(f"  NOTE: {_unpublished(what, noted)}; " + (
                f"the deployment group's alarm(s) {', '.join(noted['read_by'])} read them (no deployment ran)"
                if noted.get("read_by") else "no alarm of the deployment group reads them"))
    lost = (summary.get("run_info") or {}).get("workers_lost")
    if lost:
        lines.append("  workers that disappeared (their rows up to then are kept): "
                     + ", ".join(f"{w} ({n} invocations)" for w, n in lost.items()))
    generator = summary.get("generator") or {}
    if generator.get("fell_behind"):
        lag = f", up to {generator['max_lag_ms'] / 1000:.1f} s" if generator.get("max_lag_ms") is not None else ""
        lines.append(f"the load generator fell behind: {generator['late_contacts']} of {generator['contacts_ended']} "
                     f"contacts started late{lag} (" + (_behind_because(generator) if generator.get("users_short")
                                                          else "a fact about this machine") + ", not the deployment; "
                     f"the verdict {'still judges every window' if generator['judgeable'] else 'could not judge'})")
    if "verdict" in summary:
        v = summary["verdict"]
        said = "PASS" if v["passed"] else ("COULD NOT JUDGE" if v.get("judged") is False else "FAIL")
        lines.append(f"verdict: {said}" + (" (default expectations: the scenario states no [expect])"
                                           if v.get("implicit") else ""))
        if v.get("judged") is False:
            lines.append(f"  {v['why_not_judged']}")
        for c in v["checks"]:
            lines.append(f"  [{'ok' if c['passed'] else 'FAIL'}] {c['check']}: expected {c['expected']}, got {c['actual']}")
    return "\n".join(lines)
