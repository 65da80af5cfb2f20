"""`shiftsim plan --alarms`: the alarms to give a deployment group, searched for the user's traffic.

For each deployment configuration, over 1,000 alarm definitions (Lambda's Errors on the alias, its
error rate as metric math, Duration percentiles, AWS/Connect ContactFlowErrors; each with periods,
evaluation windows, datapoints to alarm, thresholds and missing-data treatments) are evaluated on the
same simulated deployments: bad versions (the scenario's failure, else a stated default set that
includes answers Connect rejects) and a healthy one at the day's peak and quietest traffic with the
stack's baseline errors. The set chosen per configuration (greedily, at most three alarms, any of
which rolls back) has the lowest 95th-percentile blast radius over the bad versions among the sets
that roll a healthy version back at most `false_rollback` of the time. The group rolls back on the
first CodeDeploy poll at which any of its alarms is in ALARM, so a set's rollback is the earliest of
its members' on the same simulated deployments.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from simulator.deployment.plan import predefined_configs
from simulator.planning.inputs import DEFAULT_BAD_VERSIONS, PlanInputs, describe_failure, healthy
from simulator.planning.model import (
    AlarmModel,
    Draws,
    FailureModel,
    Traffic,
    _hurt_contacts,
    draw,
    period_values,
    window_decisions,
)
from simulator.scenario.spec import TrafficRouting

PERIODS = (60, 120, 180, 300)
WINDOWS = ((1, 1), (2, 1), (2, 2), (3, 2), (3, 3), (5, 3))  # (evaluation periods, datapoints to alarm)
TREATMENTS = ("notBreaching", "missing")
THRESHOLDS = {"errors": (0, 1, 2, 4, 9, 19), "error-rate": (0.5, 1, 2, 5, 10, 20),
              "duration": (1.25, 1.5, 2.0, 3.0),  # times the healthy p99
              "connect": (0, 1, 2, 4, 9, 19)}
REJECTS = FailureModel(0.0, rejected_rate=0.5)  # a version whose answers Connect rejects half the time
DEFAULT_BASELINE = 0.001  # the healthy version's error rate when the stack states none
MAX_SET = 3


@dataclass(frozen=True)
class Candidate:
    """One alarm definition the search tries."""

    kind: str  # errors | error-rate | duration | connect
    model: AlarmModel
    factor: float = 0.0  # duration: the threshold as a multiple of the healthy p99

    @property
    def label(self) -> str:
        m = self.model
        what = {"errors": f"Errors Sum > {m.threshold:g}", "error-rate": f"error rate > {m.threshold:g} %",
                "duration": f"Duration {m.statistic} > {m.threshold:.0f} ms", "connect":
                f"ContactFlowErrors Sum > {m.threshold:g}"}[self.kind]
        return (f"{what}, {m.datapoints_to_alarm} of {m.evaluation_periods} x {m.period} s, "
                f"missing data {m.treat_missing_data}")


def candidates(baseline_p99_ms: float) -> list[Candidate]:
    made = []
    for kind, period, (evaluation, datapoints), missing in itertools.product(
            THRESHOLDS, PERIODS, WINDOWS, TREATMENTS):
        for threshold in THRESHOLDS[kind]:
            metric, scope, statistic, value = {
                "errors": ("Errors", "alias", "Sum", threshold),
                "error-rate": ("ErrorRate", "alias", "Sum", threshold),
                "duration": ("Duration", "alias", "p99", threshold * baseline_p99_ms),
                "connect": ("Errors", "connect", "Sum", threshold)}[kind]
            name = f"shiftsim-{kind}-{period}s-{datapoints}of{evaluation}-{threshold:g}-{missing}"
            model = AlarmModel(name, metric, scope, statistic, period, evaluation, datapoints, float(value),
                               "GreaterThanThreshold", missing)
            made.append(Candidate(kind, model, threshold if kind == "duration" else 0.0))
    return made


@dataclass
class _Trial:
    """One simulated situation (a bad version, or the healthy one at a traffic level) of one
    configuration: its draws and each candidate's rollback instants on them."""

    failure: FailureModel
    traffic: Traffic
    draws: Draws
    rollback: np.ndarray  # candidates x n (s from the start; NaN: never)


def _rollbacks(cands: list[Candidate], draws: Draws, failure: FailureModel, rng: np.random.Generator,
               poll_s: float) -> np.ndarray:
    """Each candidate's rollback instant on the same draws: the first CodeDeploy poll at which it is
    in ALARM (periods and values computed once per metric and period)."""
    n = draws.new.shape[0]
    polls = np.array([draws.pre + int(round(k * poll_s / draws.step))
                      for k in range(1, int(draws.length // poll_s) + 1)], dtype=int)
    out = np.full((len(cands), n), np.nan)
    if not len(polls):
        return out
    groups: dict[tuple[str, str, str, int], list[int]] = {}
    for index, cand in enumerate(cands):
        m = cand.model
        groups.setdefault((m.metric, m.scope, m.statistic, m.period), []).append(index)
    for indices in groups.values():
        values = period_values(cands[indices[0]].model, draws, failure, rng)
        for index in indices:
            model = cands[index].model
            alarm_at = window_decisions(values.values, model) & values.valid
            at_polls = values.states(alarm_at, polls)
            hit = at_polls.any(axis=1)
            first = np.argmax(at_polls, axis=1)
            out[index, hit] = (polls[first[hit]] - draws.pre) * draws.step
    return out


def _blast(rollback: np.ndarray, trial: _Trial, inputs: PlanInputs, exposure_minutes: float,
           rng: np.random.Generator) -> np.ndarray:
    failure, traffic = trial.failure, trial.traffic
    hurt = _hurt_contacts(rollback, trial.draws.length, trial.draws.shifts, failure, traffic, rng)
    k = max(1.0, traffic.invocations_per_contact)
    failing = 1 - (1 - failure.error_rate) * (1 - failure.rejected_rate)
    full = traffic.contacts_per_minute * (1 - (1 - failing) ** k) * exposure_minutes
    return hurt + np.isnan(rollback) * full


def failure_modes(inputs: PlanInputs) -> tuple[FailureModel, ...]:
    """The bad versions to guard against: the inputs' failure, else the default set and a version
    whose answers Connect rejects."""
    keep = {"baseline_error_rate": inputs.failure.baseline_error_rate,
            "latency_median_ms": inputs.failure.latency_median_ms, "latency_p99_ms": inputs.failure.latency_p99_ms}
    if not healthy(inputs.failure):
        return (inputs.failure,)
    return tuple(replace(f, **keep) for f in (*DEFAULT_BAD_VERSIONS, REJECTS))


def search(inputs: PlanInputs, *, quietest_per_minute: float, n: int = 1000, seed: int = 1,
           false_rollback: float = 0.01, exposure_minutes: float = 60.0,
           own: tuple[str, TrafficRouting] | None = None,
           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Per configuration, the best set of alarms; the recommendation; what was searched."""
    failure = inputs.failure
    if not failure.baseline_error_rate:
        inputs = replace(inputs, failure=replace(failure, baseline_error_rate=DEFAULT_BASELINE))
    cands = candidates(inputs.failure.latency_p99_ms)
    modes = failure_modes(inputs)
    configs = dict(predefined_configs())
    if own is not None and own[0] not in configs:
        configs[own[0]] = own[1]
    good = replace(inputs.failure, error_rate=inputs.failure.baseline_error_rate, onset_s=0.0, latency_shift_ms=0.0,
                   rejected_rate=0.0)
    levels = sorted({inputs.traffic.contacts_per_minute, quietest_per_minute or inputs.traffic.contacts_per_minute})
    history = max(c.model.period * c.model.evaluation_periods for c in cands)
    rows = []
    for number, (name, routing) in enumerate(configs.items()):
        if progress is not None:
            progress(f"alarm search: {name.removeprefix('CodeDeployDefault.Lambda')} ({number + 1} of {len(configs)})")
        rng = np.random.default_rng(seed + number)
        trials = []
        for mode in modes:
            draws = draw(routing, inputs.traffic, mode, n, rng, step=60, history_s=history,
                         final_flip_after_intervals=inputs.final_flip_after_intervals)
            trials.append(_Trial(mode, inputs.traffic, draws, _rollbacks(cands, draws, mode, rng, inputs.poll_s)))
        healthy_rolled = np.zeros((len(cands), n), dtype=bool)
        for per_minute in levels:
            traffic = replace(inputs.traffic, contacts_per_minute=per_minute)
            draws = draw(routing, traffic, good, n, rng, step=60, history_s=history,
                         final_flip_after_intervals=inputs.final_flip_after_intervals)
            healthy_rolled |= ~np.isnan(_rollbacks(cands, draws, good, rng, inputs.poll_s))
        rows.append(_best_set(name, cands, trials, healthy_rolled, inputs, exposure_minutes, false_rollback, rng))
    lowest = min(r["blast_radius_p95"] for r in rows)  # within the simulation's noise of it, the shortest
    best = min((r for r in rows if r["blast_radius_p95"] <= lowest * 1.02 + 1), key=lambda r: r["good_minutes"])
    return {"candidates": len(cands), "configurations": len(configs), "simulations": n,
            "bad_versions": [describe_failure(m) for m in modes], "default_bad_versions": healthy(failure),
            "baseline_error_rate": inputs.failure.baseline_error_rate, "false_rollback_limit": false_rollback,
            "traffic_levels": levels, "rows": rows, "recommendation": best}


def _best_set(config: str, cands: list[Candidate], trials: list[_Trial], healthy_rolled: np.ndarray,
              inputs: PlanInputs, exposure_minutes: float, false_rollback: float,
              rng: np.random.Generator) -> dict[str, Any]:
    """The set (greedy, at most MAX_SET) with the lowest worst-case p95 blast radius among those whose
    healthy rollback rate is within the limit."""
    allowed = healthy_rolled.mean(axis=1) <= false_rollback
    n = healthy_rolled.shape[1]

    def score(members: list[int]) -> tuple[float, list[float]]:
        per_mode = []
        for trial in trials:
            rollback = np.fmin.reduce(trial.rollback[members], axis=0) if members else np.full(n, np.nan)
            per_mode.append(float(np.percentile(_blast(rollback, trial, inputs, exposure_minutes, rng), 95)))
        return max(per_mode), per_mode

    # the shortlist: the allowed candidates that roll back earliest on average, over all the bad
    # versions and under each one (an alarm that alone sees one failure, Connect's rejects say)
    early = np.stack([np.where(np.isnan(t.rollback), 1e9, t.rollback).mean(axis=1) for t in trials])
    early[:, ~allowed] = np.inf
    shortlist = [int(i) for i in np.argsort(early.max(axis=0))[:30]]
    for row in early:
        shortlist += [int(i) for i in np.argsort(row)[:5]]
    shortlist = [i for i in dict.fromkeys(shortlist) if allowed[i]]
    members: list[int] = []
    current, per_mode = score(members)
    while len(members) < MAX_SET:
        tried: list[tuple[float, list[float], int]] = []
        for index in shortlist:
            if index in members:
                continue
            trial_set = [*members, index]
            if healthy_rolled[trial_set].any(axis=0).mean() > false_rollback:
                continue
            value, modes = score(trial_set)
            tried.append((value, modes, index))
        if not tried:
            break
        lowest = min(t[0] for t in tried)
        # within the simulation's noise of the lowest, the plainest alarm: what teams already have
        # (Lambda's Errors), the shortest window, missing data read as no errors
        best = min((t for t in tried if t[0] <= lowest * 1.02 + 1), key=lambda t: _plainness(cands[t[2]]))
        if best[0] >= current * 0.98 - 1:
            break
        current, per_mode, members = best[0], best[1], [*members, best[2]]
    length = trials[0].draws.length
    rolled = healthy_rolled[members].any(axis=0).mean() if members else 0.0
    return {"config": config, "alarms": [_describe(cands[i]) for i in members],
            "blast_radius_p95": round(current, 1), "by_bad_version": [round(v, 1) for v in per_mode],
            "healthy_rolled_back": round(float(rolled), 4), "good_minutes": round(length / 60, 1)}


KIND_ORDER = ("errors", "error-rate", "connect", "duration")


def _plainness(cand: Candidate) -> tuple[Any, ...]:
    m = cand.model
    return (KIND_ORDER.index(cand.kind), m.period * m.evaluation_periods, m.datapoints_to_alarm,
            m.treat_missing_data != "notBreaching", -m.threshold)


def _describe(cand: Candidate) -> dict[str, Any]:
    m = cand.model
    return {"kind": cand.kind, "label": cand.label, "name": m.name, "metric": m.metric, "scope": m.scope,
            "statistic": m.statistic, "period": m.period, "evaluation_periods": m.evaluation_periods,
            "datapoints_to_alarm": m.datapoints_to_alarm, "threshold": round(m.threshold, 3),
            "treat_missing_data": m.treat_missing_data}


def table(result: dict[str, Any]) -> str:
    lines = [f"alarm search: {result['candidates']:,} alarm definitions x {result['configurations']} configurations, "
             f"{result['simulations']:,} deployments each, bad versions: {'; '.join(result['bad_versions'])}"
             + (" (the default set: the scenario names no failure)" if result["default_bad_versions"] else "")
             + f"; a healthy version (baseline errors {100 * result['baseline_error_rate']:g} %, at "
             f"{' and '.join(f'{v:g}' for v in result['traffic_levels'])} contacts/min) rolled back at most "
             f"{100 * result['false_rollback_limit']:g} % of the time"]
    head = f"{'configuration':32} {'blast radius p95':>16} {'healthy rolled back':>19}  alarms"
    lines += [head, "-" * len(head)]
    for row in result["rows"]:
        alarms = "; ".join(a["label"] for a in row["alarms"]) or "none within the false-rollback limit"
        lines.append(f"{row['config'].removeprefix('CodeDeployDefault.Lambda'):32} {row['blast_radius_p95']:>16,.0f} "
                     f"{100 * row['healthy_rolled_back']:>18.1f}%  {alarms}")
    best = result["recommendation"]
    lines.append(f"recommended: {best['config'].removeprefix('CodeDeployDefault.Lambda')} with "
                 f"{len(best['alarms'])} alarm(s): blast radius p95 {best['blast_radius_p95']:,.0f} contacts")
    return "\n".join(lines)

