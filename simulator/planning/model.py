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
    metric: str  # Errors | Invocations | Duration | ErrorRate (metric math: 100 * Errors / Invocations)
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
    """Binomial draws of `counts` (deployments x steps) with probability `p`, per step or per cell:
    drawn only in the columns where some 0 < p < 1."""
    p = np.broadcast_to(p, counts.shape)
    out = np.where(p >= 1, counts, 0).astype(counts.dtype)
    columns = np.nonzero(((p > 0) & (p < 1)).any(axis=0))[0]
    if len(columns):
        part = p[:, columns]
        drawn = rng.binomial(counts[:, columns], np.clip(part, 0.0, 1.0)).astype(counts.dtype)
        out[:, columns] = np.where(part >= 1, counts[:, columns], drawn)
    return out


def _after(starts: np.ndarray, instant: np.ndarray, step: int) -> np.ndarray:
    """The share of each step (columns) after `instant` (one per deployment, rows)."""
    return np.clip((starts[None, :] + step - instant[:, None]) / step, 0.0, 1.0)


def _step_seconds(alarms: list[AlarmModel], poll_s: float) -> int:
    """The model's step: the periods' and polls' common divisor, 10 s at least."""
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
    shares = np.divide(new, total, out=np.zeros_like(new, dtype=float), where=total > 0)
    # the quantile depends on the new version's share alone, and counts take few distinct shares:
    # solved once for each distinct share, not once per deployment and period
    share, where = np.unique(shares, return_inverse=True)
    low = np.full(share.shape, 0.0)
    high = np.full(share.shape, failure.latency_median_ms * 1000 + failure.latency_shift_ms * 10 + 1000)
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
    return np.where(total > 0, ((low + high) / 2)[where.reshape(shares.shape)], np.nan)


CHUNK = 8_192  # deployments simulated together: arrays small enough to stay in cache


def simulate(routing: TrafficRouting, traffic: Traffic, failure: FailureModel, alarms: list[AlarmModel],
             n: int, rng: np.random.Generator, *, poll_s: float = 60.0,
             final_flip_after_intervals: int = 1, aligned: bool = False) -> Outcomes:
    """`n` deployments of one configuration. The alarms' periods end anywhere against the deployment's
    start (the clock's minute marks fall anywhere in it), so an alarm whose period ends just after a
    CodeDeploy poll is seen at the next; `aligned`: on the start and the polls (the alarm search's
    model, and the case a chain computes by hand)."""
    parts = [_simulate(routing, traffic, failure, alarms, min(CHUNK, n - start), rng, poll_s=poll_s,
                       final_flip_after_intervals=final_flip_after_intervals, aligned=aligned)
             for start in range(0, n, CHUNK)]
    return Outcomes(*(np.concatenate([getattr(p, f) for p in parts]) for f in Outcomes.__dataclass_fields__))


@dataclass
class Draws:
    """One configuration's simulated traffic for `n` deployments (n x steps), before any alarm:
    what every alarm of a plan, or every candidate of an alarm search, is evaluated on."""

    length: float
    shifts: list[tuple[float, float]]
    step: int
    pre: int
    new: np.ndarray
    old: np.ndarray
    new_errors: np.ndarray
    new_rejected: np.ndarray
    old_errors: np.ndarray
    stands_for: float = 1.0  # the production invocations each drawn one stands for (metrics count it so)
    between_grid: bool = False  # the deployment starts a fraction of a step before the alarms' grid (draw)


def draw(routing: TrafficRouting, traffic: Traffic, failure: FailureModel, n: int, rng: np.random.Generator, *,
         step: int, history_s: int, final_flip_after_intervals: int = 1, between_grid: bool = False) -> Draws:
    """Invocations per step of `n` deployments, routed and failing as the failure model says, with
    `history_s` of old-only traffic before the start (the alarms' windows' history). `between_grid`:
    the periods' boundaries fall a uniform fraction of a step after the grid's instants; the grid is
    theirs, so the deployment (its shifts, its fault, its polls) starts that fraction before a grid
    instant, a step straddling a change has it for its part, and a decision at a grid instant is seen
    by the polls after it (PeriodValues.states)."""
    length, shifts = plan_steps(routing, final_flip_after_intervals)
    pre = PRE_PERIODS * history_s // step
    steps = max(1, math.ceil(length / step))
    total = pre + steps
    starts = (np.arange(total) - pre) * step  # each step's start, from the deployment's start
    early = rng.uniform(0.0, step, size=n) if between_grid else np.zeros(n)  # the deployment's start before the grid's
    weight = np.zeros((n, total))  # the new version's weight, averaged over each step
    previous = 0.0
    for offset, w in shifts:
        weight += (w - previous) * _after(starts, offset - early, step)
        previous = w
    sampled = max(1.0, traffic.sampling_weight)  # a sampled rehearsal: fewer invocations, each counted as many
    rate = traffic.contacts_per_minute / 60.0 * traffic.invocations_per_contact / sampled  # invocations a second
    # A fault with an onset starts `onset_s` after the new version's first call (as the emulator's faults
    # do), which comes after the start by an exponential wait at the first weight's rate: seconds when
    # sampled. Without an onset every call of the new version fails alike, the first one too.
    first = shifts[0][1] if shifts else 1.0
    first_call = rng.exponential(1.0 / (rate * first), size=n) if failure.onset_s and rate * first > 0 else \
        np.zeros(n)
    # of each step, the share after the fault's start; without an onset every new call fails alike, the
    # first step's too (its new calls all come after the start)
    share = _after(starts, failure.onset_s + first_call - early, step) if failure.onset_s else np.ones((n, total))
    invocations = rng.poisson(rate * step, size=(n, total)).astype(np.int32)
    new = _binomial(rng, invocations, weight)
    old = invocations - new
    new_errors = _binomial(rng, new, failure.error_rate * share)
    if failure.error_rate:
        new_rejected = _binomial(rng, new - new_errors, np.where(share > 0, failure.rejected_rate, 0.0))
    else:
        new_rejected = _binomial(rng, new, failure.rejected_rate * share)
    old_errors = _binomial(rng, old, np.full(total, failure.baseline_error_rate))
    return Draws(length, shifts, step, pre, new, old, new_errors, new_rejected, old_errors, sampled, between_grid)


def alarm_states(alarm: AlarmModel, draws: Draws, failure: FailureModel, rng: np.random.Generator) -> np.ndarray:
    """Whether `alarm` is in ALARM at each step boundary of the draws (n x total+1: index i is the
    instant after step i-1), its periods aligned to the clock with a random phase against the start."""
    n, total = draws.new.shape
    if alarm.scope == "never":
        return np.zeros((n, total + 1), dtype=bool)
    periods = period_values(alarm, draws, failure, rng)
    alarm_at = window_decisions(periods.values, alarm) & periods.valid
    return periods.states(alarm_at, np.arange(total + 1))


def rollbacks(draws: Draws, state_alarm: np.ndarray, poll_s: float) -> np.ndarray:
    """When CodeDeploy rolls back (s from the start; NaN: never), polling every `poll_s` from the
    start up to and including the final shift's instant, given the group's ALARM states."""
    n = state_alarm.shape[0]
    poll_steps = [draws.pre + int(round(k * poll_s / draws.step)) for k in range(1, int(draws.length // poll_s) + 1)]
    rollback = np.full(n, np.nan)
    for index in poll_steps:
        hit = np.isnan(rollback) & state_alarm[:, index]
        rollback[hit] = (index - draws.pre) * draws.step
    return rollback


def _simulate(routing: TrafficRouting, traffic: Traffic, failure: FailureModel, alarms: list[AlarmModel],
              n: int, rng: np.random.Generator, *, poll_s: float, final_flip_after_intervals: int,
              aligned: bool) -> Outcomes:
    step = _step_seconds(alarms, poll_s)
    history = max((a.period * a.evaluation_periods for a in alarms), default=60)
    draws = draw(routing, traffic, failure, n, rng, step=step, history_s=history,
                 final_flip_after_intervals=final_flip_after_intervals, between_grid=not aligned)
    total = draws.new.shape[1]
    state_alarm = np.zeros((n, total + 1), dtype=bool)  # ALARM at each step boundary (index: boundary after step)
    for alarm in alarms:
        state_alarm |= alarm_states(alarm, draws, failure, rng)
    return outcomes(draws, state_alarm, failure, traffic, rng, poll_s)


def outcomes(draws: Draws, state_alarm: np.ndarray, failure: FailureModel, traffic: Traffic,
             rng: np.random.Generator, poll_s: float) -> Outcomes:
    """What the deployments cost, given the group's ALARM states."""
    n = state_alarm.shape[0]
    rollback = rollbacks(draws, state_alarm, poll_s)
    detection = np.full(n, np.nan)
    alarmed = state_alarm[:, draws.pre + 1:]
    any_alarm = alarmed.any(axis=1)
    detection[any_alarm] = (np.argmax(alarmed[any_alarm], axis=1) + 1) * draws.step
    total = draws.new.shape[1]
    starts = (np.arange(total) - draws.pre) * draws.step
    steps = total - draws.pre
    # what the new version's errors cost until the rollback (or the end)
    live = starts[None, :] < np.where(np.isnan(rollback), draws.length if steps else 0.0, rollback)[:, None]
    live &= starts[None, :] >= 0
    failed_invocations = ((draws.new_errors + draws.new_rejected) * live).sum(axis=1) * draws.stands_for
    failed_contacts = _hurt_contacts(rollback, draws.length, draws.shifts, failure, traffic, rng)
    reached = np.isnan(rollback)
    duration = np.where(reached, draws.length, rollback)
    return Outcomes(detection, rollback, failed_invocations.astype(float), failed_contacts.astype(float),
                    reached, duration)


@dataclass
class PeriodValues:
    """An alarm metric's value in each of its periods (n x periods; NaN: no datapoint), the periods
    aligned to the clock with a random phase per deployment; what an alarm's rule decides on."""

    values: np.ndarray
    valid: np.ndarray  # the period ends inside the simulated time
    phase: np.ndarray
    per: int  # steps a period
    between_grid: bool = False  # polls fall just before their grid instant: a decision there is seen by the next

    def states(self, alarm_at: np.ndarray, instants: np.ndarray) -> np.ndarray:
        """The ALARM state at each instant (step boundaries), from each period's decision: the state
        decided at a period's end holds until the next one."""
        n, periods = alarm_at.shape
        rows = np.arange(n)[:, None]
        seen = instants[None, :] - (1 if self.between_grid else 0)
        latest = (seen + self.phase[:, None]) // self.per - 2
        known = (latest >= 0) & (latest < periods)
        return np.where(known, alarm_at[rows, np.clip(latest, 0, periods - 1)], False)


def period_values(alarm: AlarmModel, draws: Draws, failure: FailureModel, rng: np.random.Generator) -> PeriodValues:
    """The values `alarm`'s metric (its metric, scope, statistic and period) takes in each period."""
    new, old = draws.new, draws.old
    n, total = new.shape
    per = alarm.period // draws.step
    if per < 1 or alarm.period % draws.step:
        raise PlanError(f"alarm {alarm.name}: period {alarm.period} s is not a multiple of the model's step")
    counts = new if alarm.scope == "new" else new + old
    errors = {"new": draws.new_errors, "alias": draws.new_errors + draws.old_errors,
              "connect": draws.new_errors + draws.new_rejected + draws.old_errors,
              "never": np.zeros_like(new)}[alarm.scope]
    if draws.stands_for != 1.0:  # each drawn invocation counted as the production ones it stands for
        new, counts, errors = (np.rint(a * draws.stands_for).astype(np.int64) for a in (new, counts, errors))
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
    return PeriodValues(np.where(period_counts == 0, np.nan, values), valid, phase, per, draws.between_grid)


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
    if alarm.metric == "ErrorRate":  # metric math: 100 * Errors / Invocations, per period
        return np.divide(100.0 * errors, counts, out=np.zeros(errors.shape), where=counts > 0)
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
