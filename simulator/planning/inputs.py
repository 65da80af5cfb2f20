"""What the planner models, read from a scenario (its traffic, the new version's faults, the group's
alarms) or fitted from a rehearsal's run folder (`--from RUN_DIR`). Whatever it cannot model is a
PlanError naming it, never left out silently."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from simulator.deployment.error_rate import EXPRESSION, error_rate_dimensions
from simulator.loadgen.pacing import mean_duration
from simulator.planning.model import AlarmModel, FailureModel, PlanError, Traffic
from simulator.scenario.day_profile import Profile
from simulator.scenario.spec import AlarmSpec, FunctionSpec, Scenario


@dataclass(frozen=True)
class PlanInputs:
    traffic: Traffic
    failure: FailureModel
    alarms: list[AlarmModel]
    poll_s: float
    final_flip_after_intervals: int
    new_version: str


# The bad versions a plan guards against when neither the scenario's change nor the options name a
# failure: a few errors, many, every call, and many that start only after a while on the new version.
DEFAULT_BAD_VERSIONS = (FailureModel(0.02), FailureModel(0.10), FailureModel(1.0), FailureModel(0.10, onset_s=300.0))


def describe_failure(failure: FailureModel) -> str:
    words = f"{100 * failure.error_rate:g} % errors"
    if failure.rejected_rate:
        words += f" + {100 * failure.rejected_rate:g} % answers Connect rejects"
    if failure.latency_shift_ms:
        words += f" + {failure.latency_shift_ms:g} ms"
    return words + (f" after {failure.onset_s:g} s" if failure.onset_s else " from the start")


def healthy(failure: FailureModel) -> bool:
    """Whether a failure model is no failure at all: nothing to plan a rollback for."""
    return not (failure.error_rate or failure.rejected_rate or failure.latency_shift_ms)


def from_scenario(scenario: Scenario, contacts_per_minute: float | None = None) -> PlanInputs:
    if scenario.deployment is None:
        raise PlanError(f"{scenario.source}: the scenario has no deployment to plan")
    load = scenario.load
    per_minute = contacts_per_minute or (
        Profile.parse(load.traffic_profile, load.contacts_per_minute).peak if load.traffic_profile
        else load.contacts_per_minute)
    if not per_minute:
        raise PlanError(f"{scenario.source}: [load] contacts_per_minute (production's traffic) is what the plan "
                        "is for: give it, or --contacts-per-minute")
    deployed = next(f for f in scenario.functions if f.name == scenario.deployment.function)
    new_version = str(len(deployed.versions) + 1)
    traffic = Traffic(per_minute, float(load.loops_per_contact),
                      load.loops_per_contact * mean_duration(load.prompt_time))
    faults = (deployed.staged or deployed.versions[-1]).faults
    error_rate, onset = 0.0, 0.0
    for fault in (faults.error, faults.timeout):
        if fault is not None:
            error_rate = 1 - (1 - error_rate) * (1 - fault.rate)
            onset = fault.after if error_rate == fault.rate else min(onset, fault.after)
    latency = faults.latency
    shift = 0.0
    if latency is not None:
        p = latency.params
        shift = p.get("ms") or p.get("mean_ms") or p.get("median_ms") or (p.get("min_ms", 0) + p.get("max_ms", 0)) / 2
    rejected = faults.malformed.rate if faults.malformed is not None else 0.0
    if faults.malformed is not None and not error_rate:
        onset = faults.malformed.after
    failure = FailureModel(error_rate, onset, float(shift), rejected_rate=rejected)
    _refuse_throttling(scenario, deployed, traffic, failure)
    alarms = [alarm_model(a, scenario, new_version) for a in scenario.alarms if a.name in scenario.deployment.alarms]
    return PlanInputs(traffic, failure, alarms, scenario.emulator.alarm_poll_interval,
                      scenario.emulator.final_flip_after_intervals, new_version)


def _refuse_throttling(scenario: Scenario, deployed: FunctionSpec, traffic: Traffic, failure: FailureModel) -> None:
    """Throttles are retried by Connect's block (up to 3 times, each routed anew by the alias's
    weights), which the model does not follow: a scenario that throttles is refused, not planned wrong."""
    faults = (deployed.staged or deployed.versions[-1]).faults
    if faults.throttle is not None:
        raise PlanError(f"{scenario.source}: {deployed.name}'s new version throttles ({faults.throttle.rate:g} of its "
                        "calls): Connect retries a throttled call, which the planner does not model; rehearse it "
                        "for its blast radius")
    per_second = traffic.contacts_per_minute / 60.0 * traffic.invocations_per_contact
    seconds = (failure.latency_p99_ms + failure.latency_shift_ms) / 1000.0
    concurrent = per_second * seconds  # Little's law, at the slow end of the latency
    for limit, what in ((deployed.reserved_concurrency, f"{deployed.name}'s reserved concurrency"),
                        (scenario.account_concurrency, "the account's concurrency")):
        if limit is not None and concurrent >= limit / 2:
            raise PlanError(f"{scenario.source}: about {concurrent:,.0f} concurrent executions at production's rate "
                            f"against {what} of {limit:,}: throttling (and Connect's retries of it) is not "
                            "modelled by the planner; rehearse it for its blast radius")


def alarm_model(alarm: AlarmSpec, scenario: Scenario, new_version: str) -> AlarmModel:
    """An alarm as the model evaluates it: which invocations its dimensions see."""
    assert scenario.deployment is not None
    function, alias = scenario.deployment.function, scenario.deployment.alias
    if alarm.rule is not None:
        raise PlanError(f"alarm {alarm.name} is a composite alarm ({alarm.rule}): the planner models metric alarms "
                        "only; `shiftsim rehearse` runs it")
    params = alarm.parameters or {}
    dims = alarm.dimensions
    metric_name, namespace, period = alarm.metric, alarm.namespace, alarm.period
    if params.get("Metrics"):
        rate = error_rate_dimensions(params["Metrics"])
        if rate is None:
            raise PlanError(f"alarm {alarm.name}: metric math is not modelled by the planner (but for "
                            f"its error rate, {EXPRESSION})")
        dims, period = rate
        metric_name, namespace = "ErrorRate", "AWS/Lambda"
    if namespace == "AWS/Connect" and metric_name == "ContactFlowErrors":
        metric, scope = "Errors", "connect"  # every failed call, and every rejected answer, takes an error branch
    elif namespace != "AWS/Lambda" or metric_name not in ("Errors", "Invocations", "Duration", "ErrorRate"):
        raise PlanError(f"alarm {alarm.name}: {namespace} {metric_name} is not modelled by the planner "
                        "(AWS/Lambda Errors, Invocations, Duration and AWS/Connect ContactFlowErrors are)")
    else:
        metric = metric_name
        scope = "alias"
        if dims.get("FunctionName", function) != function:
            scope = "never"
        elif "Resource" in dims and dims["Resource"] not in (function, f"{function}:{alias}"):
            scope = "never"
        elif "Resource" in dims and dims["Resource"] == function and "ExecutedVersion" not in dims:
            scope = "never"  # Lambda publishes {FunctionName, Resource=fn} for unqualified calls only
        if "ExecutedVersion" in dims:
            scope = "new" if dims["ExecutedVersion"] == new_version else "never"
    statistic = str(params.get("ExtendedStatistic") or alarm.statistic)
    return AlarmModel(alarm.name, metric, scope, statistic, period, alarm.evaluation_periods,
                      alarm.datapoints_to_alarm or alarm.evaluation_periods, alarm.threshold, alarm.comparison,
                      alarm.treat_missing_data)


def fitted(inputs: PlanInputs, run: Path) -> PlanInputs:
    """The failure model and traffic a rehearsal measured: the new version's error rate from its first
    error on, that error's delay after its first traffic, its latency against the old version's."""
    from simulator.report.record import load_record

    record = load_record(run)
    summary_file = run / "summary.json"
    if not summary_file.exists():
        raise PlanError(f"--from {run}: no summary.json (run `shiftsim plot {run}` first)")
    import json

    summary: dict[str, Any] = json.loads(summary_file.read_text(encoding="utf-8"))
    deployment = summary.get("deployment") or {}
    target, current = deployment.get("target_version"), deployment.get("current_version")
    if not target:
        raise PlanError(f"--from {run}: the run has no deployment to fit a new version from")
    rows = record.rows
    versions = record.text("version")
    emulated = rows["emulated"]
    new = versions == target
    if not new.any():
        raise PlanError(f"--from {run}: version {target} served no invocation in the run")
    failed = new & ~record.ok
    rejected = failed & (record.text("reason") == "invalid_response")  # Connect's refusal, a success to Lambda
    first_traffic = float(emulated[new].min())
    onset = float(emulated[failed].min()) - first_traffic if failed.any() else 0.0
    after = new & (emulated >= first_traffic + onset)
    error_rate = float((failed & ~rejected).sum() / max(1, after.sum()))
    rejected_rate = float(rejected.sum() / max(1, (after & ~(failed & ~rejected)).sum()))
    latency = (rows["end"] - rows["start"]) * 1000.0
    old = versions == current
    shift = float(np.median(latency[new]) - np.median(latency[old])) if old.any() else 0.0
    contacts = len(np.unique(rows["contact"]))
    traffic = inputs.traffic
    info = record.info or {}
    per_minute = ((info.get("traffic") or {}).get("contacts_per_minute") or traffic.contacts_per_minute)
    traffic = replace(traffic, contacts_per_minute=float(per_minute),
                      invocations_per_contact=float(len(rows) / max(1, contacts)))
    failure = replace(inputs.failure, error_rate=round(error_rate, 4), rejected_rate=round(rejected_rate, 4),
                      onset_s=round(max(0.0, onset), 1), latency_shift_ms=round(max(0.0, shift), 1))
    return replace(inputs, traffic=traffic, failure=failure)


def plan_inputs(scenario: Scenario, run: Path | None = None, *, error_rate: float | None = None,
                onset_s: float | None = None, latency_shift_ms: float | None = None,
                contacts_per_minute: float | None = None) -> PlanInputs:
    """The scenario's inputs, fitted to a run if one is given, with the options the user set over them."""
    if contacts_per_minute is not None and not contacts_per_minute > 0:
        raise PlanError(f"--contacts-per-minute: must be > 0, got {contacts_per_minute:g}")
    inputs = from_scenario(scenario, contacts_per_minute)
    if run is not None:
        inputs = fitted(inputs, run)
    given = {"error_rate": error_rate, "onset_s": onset_s, "latency_shift_ms": latency_shift_ms}
    failure = replace(inputs.failure, **{k: v for k, v in given.items() if v is not None})
    if not 0 <= failure.error_rate <= 1:
        raise PlanError(f"--error-rate: must be from 0 to 1, got {failure.error_rate}")
    if error_rate is not None and healthy(failure):
        raise PlanError("--error-rate 0: a version that never fails has no blast radius to plan (leave the option "
                        "out to plan over the default bad versions)")
    traffic = inputs.traffic if contacts_per_minute is None else replace(inputs.traffic,
                                                                          contacts_per_minute=contacts_per_minute)
    return replace(inputs, failure=failure, traffic=traffic)
