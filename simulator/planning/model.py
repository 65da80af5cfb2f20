"""The planner's model of a deployment: many deployments of one configuration at once, as numpy
arrays (simulations x time steps), from production's traffic, a failure model of the new version,
CodeDeploy's traffic plan (`deployment_plan`, the emulator's) and the group's alarms as CloudWatch
evaluates them (`alarm_rule`, the emulator's rule, vectorised here and tested against it).

Each simulated deployment: invocations per step (Poisson), each routed to the new version with the
plan's weight (binomial), failing with the new version's error rate once its onset has passed;
alarm periods aligned to the clock with a random phase against the deployment's start; CodeDeploy's
alarm poll at fixed instants from the start; a contact hurt when one of its invocations fails
(its invocations spread over its length). What it leaves out is in docs/plan.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.deployment.alarm_rule import COMPARISONS
from simulator.deployment.plan import traffic_plan
from simulator.scenario.spec import TrafficRouting

PRE_PERIODS = 5  # alarm periods of old-only traffic before the start, so windows have their history


class PlanError(ValueError):
    """Something the planner cannot model; the message says what."""


@dataclass(frozen=True)
class Traffic:
    contacts_per_minute: float
    invocations_per_contact: float  # of the deployed function
    contact_seconds: float  # how long a contact's invocations are spread over (emulated)
    sampling_weight: float = 1.0  # a measurement that samples contacts, each standing for this many


@dataclass(frozen=True)
class FailureModel:
    error_rate: float  # the new version's, once its onset has passed
    onset_s: float = 0.0  # after the new version's first traffic
    latency_shift_ms: float = 0.0  # added to the new version's latency
    baseline_error_rate: float = 0.0  # the current version's
    rejected_rate: float = 0.0  # answers Connect rejects (STRING_MAP): a success to Lambda, an error branch to callers
    latency_median_ms: float = 20.0
    latency_p99_ms: float = 80.0


@dataclass(frozen=True)
class AlarmModel:
    """One alarm of the group, as the model evaluates it."""

    name: str
    metric: str  # Errors | Invocations | Duration
    scope: str  # alias (both versions) | new (the new version's ExecutedVersion) | connect (error branches
    # taken: Lambda's errors and answers Connect rejects) | never (matches nothing)
    statistic: str  # Sum | Average | SampleCount | Minimum | Maximum | pNN (Duration)
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str = "missing"


@dataclass
class Outcomes:
    """Per simulated deployment (arrays of length `n`); times in seconds from the start, NaN for never."""

    detection_s: np.ndarray
    rollback_s: np.ndarray
    failed_invocations: np.ndarray
    failed_contacts: np.ndarray  # hurt during the deployment
    reached_full: np.ndarray  # the new version got all traffic (CodeDeploy succeeded)
    duration_s: np.ndarray  # the deployment's length (to the rollback, or the final shift)


def plan_steps(routing: TrafficRouting, final_flip_after_intervals: int = 1) -> tuple[float, list[tuple[float, float]]]:
    """(the deployment's length in seconds, the new version's weight from each shift on)."""
    shifts = traffic_plan(routing, final_flip_after_intervals)
    steps = [(shift.offset, 1.0 if shift.weight is None else shift.weight) for shift in shifts]
    return shifts[-1].offset, steps


def _binomial(rng: np.random.Generator, counts: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Binomial draws per column with probability p[column]: drawn only where 0 < p < 1."""
    out = np.zeros_like(counts) if not (p >= 1).any() else np.where(p[None, :] >= 1, counts, 0).astype(counts.dtype)
    columns = np.nonzero((p > 0) & (p < 1))[0]
    if len(columns):
        out[:, columns] = rng.binomial(counts[:, columns], p[columns]).astype(counts.dtype)
    return out


def _step_seconds(alarms: list[AlarmModel], poll_s: float) -> int:
    step = 60
    for value in [a.period for a in alarms] + [int(poll_s)]:
        step = math.gcd(step, int(value)) if value else step
    return max(step, 10)


def _lognormal_sigma(median: float, p99: float) -> float:
    return math.log(max(p99, median * 1.0001) / median) / 2.3263478740408408


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function (Abramowitz and Stegun 7.1.26, within 1.5e-7), on arrays."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _mixture_quantile(q: float, new: np.ndarray, old: np.ndarray, failure: FailureModel) -> np.ndarray:
    """The q-quantile of a period's latencies: `old` from the current lognormal, `new` shifted."""
    sigma = _lognormal_sigma(failure.latency_median_ms, failure.latency_p99_ms)
    mu = math.log(failure.latency_median_ms)
    total = new + old
    share = np.divide(new, total, out=np.zeros_like(new, dtype=float), where=total > 0)
    low = np.full(new.shape, 0.0)
    high = np.full(new.shape, failure.latency_median_ms * 1000 + failure.latency_shift_ms * 10 + 1000)
    erf = _erf

    def cdf(x: np.ndarray) -> np.ndarray:
        def one(y: np.ndarray) -> np.ndarray:
            z = (np.log(np.maximum(y, 1e-9)) - mu) / (sigma * math.sqrt(2))
            return 0.5 * (1 + erf(z))
        return (1 - share) * one(x) + share * one(x - failure.latency_shift_ms)

    for _ in range(40):
        mid = (low + high) / 2
        below = cdf(mid) < q
        low = np.where(below, mid, low)
        high = np.where(below, high, mid)
    return np.where(total > 0, (low + high) / 2, np.nan)


CHUNK = 8_192  # deployments simulated together: arrays small enough to stay in cache


def simulate(routing: TrafficRouting, traffic: Traffic, failure: FailureModel, alarms: list[AlarmModel],
             n: int, rng: np.random.Generator, *, poll_s: float = 60.0,
             final_flip_after_intervals: int = 1) -> Outcomes:
    """`n` deployments of one configuration."""
    parts = [_simulate(routing, traffic, failure, alarms, min(CHUNK, n - start), rng, poll_s=poll_s,
                       final_flip_after_intervals=final_flip_after_intervals) for start in range(0, n, CHUNK)]
    return Outcomes(*(np.concatenate([getattr(p, f) for p in parts]) for f in Outcomes.__dataclass_fields__))


def _simulate(routing: TrafficRouting, traffic: Traffic, failure: FailureModel, alarms: list[AlarmModel],
              n: int, rng: np.random.Generator, *, poll_s: float, final_flip_after_intervals: int) -> Outcomes:
    length, shifts = plan_steps(routing, final_flip_after_intervals)
    step = _step_seconds(alarms, poll_s)
    pre = PRE_PERIODS * max((a.period * a.evaluation_periods for a in alarms), default=60) // step
    steps = max(1, math.ceil(length / step))
    total = pre + steps
    starts = (np.arange(total) - pre) * step  # each step's start, from the deployment's start
    weight = np.zeros(total)
    for offset, w in shifts:
        weight[starts >= offset] = w
    weight[starts < 0] = 0.0
    rate = traffic.contacts_per_minute / 60.0 * traffic.invocations_per_contact  # invocations a second
    onset = failure.onset_s
    failing = np.where(starts + step / 2 >= onset, failure.error_rate, 0.0)
    failing[starts < 0] = 0.0
    rejecting = np.where(failing > 0, failure.rejected_rate, 0.0) if failure.error_rate else \
        np.where((starts + step / 2 >= onset) & (starts >= 0), failure.rejected_rate, 0.0)

    invocations = rng.poisson(rate * step, size=(n, total)).astype(np.int32)
    new = _binomial(rng, invocations, weight)
    old = invocations - new
    new_errors = _binomial(rng, new, failing)
    new_rejected = _binomial(rng, new - new_errors, rejecting)
    old_errors = _binomial(rng, old, np.full(total, failure.baseline_error_rate))

    state_alarm = np.zeros((n, total + 1), dtype=bool)  # ALARM at each step boundary (index: boundary after step)
    detection = np.full(n, np.nan)
    for alarm in alarms:
        in_alarm = _alarm_states(alarm, new, old, new_errors, new_rejected, old_errors, failure, step, pre, rng)
        state_alarm |= in_alarm
    # CodeDeploy's polls: every poll_s from the start, up to and including the final shift's instant
    poll_steps = [pre + int(round(k * poll_s / step)) for k in range(1, int(length // poll_s) + 1)]
    rollback = np.full(n, np.nan)
    for index in poll_steps:
        hit = np.isnan(rollback) & state_alarm[:, index]
        rollback[hit] = (index - pre) * step
    alarmed = state_alarm[:, pre + 1:]
    any_alarm = alarmed.any(axis=1)
    detection[any_alarm] = (np.argmax(alarmed[any_alarm], axis=1) + 1) * step

    # what the new version's errors cost until the rollback (or the end)
    live = starts[None, :] < np.where(np.isnan(rollback), length if steps else 0.0, rollback)[:, None]
    live &= starts[None, :] >= 0
    failed_invocations = ((new_errors + new_rejected) * live).sum(axis=1)
    failed_contacts = _hurt_contacts(rollback, length, shifts, failure, traffic, rng)
    reached = np.isnan(rollback)
    duration = np.where(reached, length, rollback)
    return Outcomes(detection, rollback, failed_invocations.astype(float), failed_contacts.astype(float),
                    reached, duration)


def _alarm_states(alarm: AlarmModel, new: np.ndarray, old: np.ndarray, new_errors: np.ndarray,
                  new_rejected: np.ndarray, old_errors: np.ndarray, failure: FailureModel, step: int, pre: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Whether `alarm` is in ALARM at each step boundary (n x total+1: index i is the instant after
    step i-1), its periods aligned to the clock with a random phase against the deployment's start."""
    n, total = new.shape
    if alarm.scope == "never":
        return np.zeros((n, total + 1), dtype=bool)
    per = alarm.period // step
    if per < 1 or alarm.period % step:
        raise PlanError(f"alarm {alarm.name}: period {alarm.period} s is not a multiple of the model's step")
    counts = new if alarm.scope == "new" else new + old
    errors = {"new": new_errors, "alias": new_errors + old_errors,
              "connect": new_errors + new_rejected + old_errors}[alarm.scope]
    phase = np.asarray(rng.integers(0, per, size=n))  # where the deployment's start falls inside a period
    zero = np.zeros((n, 1))
    cum_counts = np.concatenate([zero, np.cumsum(counts, axis=1)], axis=1)
    cum_errors = np.concatenate([zero, np.cumsum(errors, axis=1)], axis=1)
    cum_new = np.concatenate([zero, np.cumsum(new, axis=1)], axis=1)
    periods = max(1, total // per)
    ends = (np.arange(periods)[None, :] + 2) * per - phase[:, None]  # boundaries with a whole period behind
    valid = ends <= total
    ends = np.minimum(ends, total)
    begins = ends - per
    rows = np.arange(n)[:, None]
    period_counts = cum_counts[rows, ends] - cum_counts[rows, begins]
    period_errors = cum_errors[rows, ends] - cum_errors[rows, begins]
    values = _statistic(alarm, period_counts, period_errors, cum_new[rows, ends] - cum_new[rows, begins], failure)
    alarm_at = window_decisions(np.where(period_counts == 0, np.nan, values), alarm) & valid
    # the state decided at a boundary holds until the next one
    instants = np.arange(total + 1)
    latest = (instants[None, :] + phase[:, None]) // per - 2
    known = (latest >= 0) & (latest < periods)
    return np.where(known, alarm_at[rows, np.clip(latest, 0, periods - 1)], False)


def window_decisions(values: np.ndarray, alarm: AlarmModel) -> np.ndarray:
    """Whether each evaluation (at the end of each period; rows are deployments) puts the alarm in
    ALARM: the emulator's rule (`alarm_rule.next_state`) on the last EvaluationPeriods values, NaN for
    a missing datapoint."""
    missing = np.isnan(values)
    compare: Any = COMPARISONS[alarm.comparison]  # the emulator's rule, elementwise on arrays
    with np.errstate(invalid="ignore"):
        breach = np.asarray(compare(np.nan_to_num(values), alarm.threshold)) & ~missing
    if alarm.treat_missing_data == "breaching":
        breach |= missing
    window_breaches = np.zeros(breach.shape, dtype=int)
    for k in range(alarm.evaluation_periods):
        window_breaches[:, k:] += breach[:, : breach.shape[1] - k]
    return window_breaches >= alarm.datapoints_to_alarm


def _statistic(alarm: AlarmModel, counts: np.ndarray, errors: np.ndarray, new: np.ndarray,
               failure: FailureModel) -> np.ndarray:
    if alarm.metric == "Duration":
        if not alarm.statistic.startswith("p"):
            raise PlanError(f"alarm {alarm.name}: Duration is modelled by percentile (pNN), not {alarm.statistic}")
        return _mixture_quantile(float(alarm.statistic[1:]) / 100, new.astype(float), (counts - new).astype(float),
                                 failure)
    metric = errors if alarm.metric == "Errors" else counts
    if alarm.statistic == "Sum":
        return metric.astype(float)
    if alarm.statistic == "SampleCount":
        return counts.astype(float)
    if alarm.statistic == "Average":
        return np.divide(metric, counts, out=np.zeros(metric.shape), where=counts > 0)
    if alarm.statistic in ("Maximum", "Minimum") and alarm.metric == "Errors":
        if alarm.statistic == "Maximum":
            return (metric > 0).astype(float)
        return (metric == counts).astype(float)
    raise PlanError(f"alarm {alarm.name}: {alarm.statistic} of {alarm.metric} is not modelled")


def _hurt_contacts(rollback: np.ndarray, length: float, shifts: list[tuple[float, float]], failure: FailureModel,
                   traffic: Traffic, rng: np.random.Generator) -> np.ndarray:
    """Contacts with at least one failed invocation while the deployment runs. Contacts arrive as a
    Poisson process and each is hurt independently, so given the rollback instant their number is
    Poisson, with a mean computed on a one-second grid (a contact's invocations spread evenly over its
    length; contacts in progress at the start count). Only the rollback instant varies between
    deployments: one mean per distinct instant."""
    k = max(1, int(round(traffic.invocations_per_contact)))
    span = traffic.contact_seconds
    ends = np.where(np.isnan(rollback), length, rollback)
    means = {}
    for end in np.unique(ends):
        grid = np.arange(-math.ceil(span), max(1, math.ceil(end)) + 1, 1.0)  # arrival instants
        log_ok = np.zeros(len(grid))
        for j in range(k):
            t = grid + j * span / k
            log_ok += np.log1p(-np.clip(_fail_probability(t, end, shifts, failure), 0.0, 0.999999))
        means[end] = traffic.contacts_per_minute / 60.0 * float((-np.expm1(log_ok)).sum())
    mean = np.vectorize(means.__getitem__, otypes=[float])(ends)
    weight = max(1.0, traffic.sampling_weight)
    return rng.poisson(mean / weight) * weight


def _fail_probability(t: np.ndarray, end: float, shifts: list[tuple[float, float]], failure: FailureModel) -> np.ndarray:
    """An invocation's chance of failing at time t (from the start) while the deployment runs to `end`."""
    weight = np.zeros(len(t))
    for offset, w in shifts:
        weight[t >= offset] = w
    live = (t >= 0) & (t < end)
    failing = 1 - (1 - failure.error_rate) * (1 - failure.rejected_rate)  # for the caller, either is an error branch
    return np.where(live & (t >= failure.onset_s), weight * failing, 0.0)
