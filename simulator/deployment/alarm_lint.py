"""The deployment group's alarms checked against what the stack publishes and the traffic they will
see, before anything runs: dimensions no metric carries, a namespace nothing publishes to, a window
longer than the canary's or the linear step's, a threshold the quietest hour's traffic cannot reach
in a period, TreatMissingData that keeps the alarm silent at low traffic, a configuration that leaves
no window at all, a group that cannot see the answers Connect rejects. One line each, with the fix.
Pure: the scenario and the flows' names in, lines out (validate prints them, a rehearsal says them).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from simulator.deployment.alarm_inputs import metric_alarms_behind, named_by_arn
from simulator.deployment.plan import predefined_configs
from simulator.deployment.vocabulary import LAMBDA_METRICS, LAMBDA_METRICS_EMULATED, lambda_dimension_sets
from simulator.scenario.day_profile import Profile
from simulator.scenario.spec import AlarmSpec, Scenario, TrafficRouting

# an alarm the group reads that the stack lacks: made elsewhere, its definition is the user's to give
_UNDECLARED_FIX = ("declare the alarm in the stack, give its definition with --alarms FILE (docs/plan.md), "
                   "or remove it from the group")
EMPTY_PERIODS_FLAGGED = 0.25  # the share of periods without a datapoint past which missing data is said


@dataclass(frozen=True)
class FlowFacts:
    """What the loaded flows tell the lint: their names (AWS/Connect's ContactFlowName) and how many
    Invoke blocks validate answers as STRING_MAP (an answer they reject is a success to Lambda)."""

    names: tuple[str, ...] = ()
    string_map_blocks: int = 0


def _shown(dimensions: dict[str, str] | frozenset[tuple[str, str]]) -> str:
    pairs = sorted(dimensions.items() if isinstance(dimensions, dict) else dimensions)
    return "{" + ", ".join(f"{k}={v}" for k, v in pairs) + "}" if pairs else "{} (no dimensions)"


def _published_lambda(scenario: Scenario) -> set[frozenset[tuple[str, str]]]:
    """Every dimension set Lambda publishes for the stack's functions: each alias and each version,
    the one the deployment will publish included."""
    sets: set[frozenset[tuple[str, str]]] = set()
    for fn in scenario.functions:
        versions = [str(n) for n in range(1, len(fn.versions) + 2)]
        for alias in (None, *(a.name for a in fn.aliases)):
            for version in versions:
                sets.update(lambda_dimension_sets(fn.name, alias, version))
    return sets


def _routing(scenario: Scenario) -> TrafficRouting | None:
    spec = scenario.deployment
    if spec is None:
        return None
    return spec.custom_config or predefined_configs().get(spec.config)


def _quietest(scenario: Scenario) -> float:
    """Production's contacts a minute at the quietest hour (0: the scenario gives no production rate)."""
    load = scenario.load
    if not load.traffic_profile:
        return float(load.contacts_per_minute)
    return Profile.parse(load.traffic_profile, load.contacts_per_minute).quietest


def flow_facts(flows: Any, deployed_alias_arn: str) -> FlowFacts:
    """The lint's view of a loaded flow set (`simulator.connect.flow.FlowSet`)."""
    blocks = [block for flow in flows.flows.values() for block in flow.blocks.values()]
    return FlowFacts(tuple(flow.name for flow in flows.flows.values()),
                     sum(1 for b in blocks if b.response_validation == "STRING_MAP" and b.function_arn == deployed_alias_arn))


def lint_alarms(scenario: Scenario, flows: FlowFacts = FlowFacts(), on_emulator: bool = True) -> list[str]:
    """One line per problem of the deployment group's alarms, each with its fix (`on_emulator`: the
    run's target is the emulator, which has the stack's alarms only; on AWS, CodeDeploy reads AWS's)."""
    spec = scenario.deployment
    if spec is None:
        return []
    routing = _routing(scenario)
    lines: list[str] = []
    if routing is not None and routing.type == "AllAtOnce":
        lines.append(f"{spec.config}: all traffic moves to the new version at once: no alarm can roll it back before "
                     "every caller meets it; fix: a canary or linear configuration (shiftsim plan compares them)")
    declared = {a.name: a for a in scenario.alarms}
    missing = [name for name in spec.alarms if name not in declared]
    for name in missing:
        short = named_by_arn(name)
        if short is not None:
            lines.append(f"alarm {name}: the deployment group names an alarm by its ARN, and CodeDeploy reads alarms by "
                         f"name: it finds none, so what it then does (stop the deployment, or go on unguarded) is not "
                         f"rehearsed and the verdict is withheld; fix: the alarm's name, {short}"
                         + (" (a template's !Ref of the alarm gives it)" if short in declared else ""))
            continue
        if not on_emulator:  # AWS's CodeDeploy reads AWS's alarms, wherever they were made
            lines.append(f"alarm {name}: the deployment group names it, and the stack does not declare it: CodeDeploy "
                         "reads it only if it is made elsewhere (another stack, by hand)")
            continue
        lines.append(f"alarm {name}: the deployment group names it, and the stack does not declare it: CodeDeploy "
                     f"reads it only if it is made elsewhere (another stack, by hand); the emulator has the stack's "
                     f"alarms only, so there its part is not rehearsed and the verdict is withheld; fix: {_UNDECLARED_FIX}")
    alarms, unknown = metric_alarms_behind(spec.alarms, declared)
    for composite, name in unknown:
        lines.append(f"composite alarm {composite}: its rule names alarm {name}, which the stack does not declare: "
                     f"on the emulator ALARM({name}) is never true, so the verdict is withheld; fix: {_UNDECLARED_FIX}")
    if not alarms:
        if missing or unknown:  # it has alarms, made elsewhere: said above
            return lines
        lines.append("the deployment group has no alarm: nothing rolls a bad version back; fix: an alarm on the "
                     f"alias's errors ({_shown({'FunctionName': spec.function, 'Resource': f'{spec.function}:{spec.alias}'})})")
        return lines
    published = _published_lambda(scenario)
    namespaces = {"AWS/Lambda", *(f.namespace for f in scenario.metric_filters  # the instance's logs only if it writes them
                                  if scenario.connect.flow_logs or f.log_group != scenario.connect.log_group)}
    if scenario.connect.metrics:
        namespaces.add("AWS/Connect")
    namespaces.update(_powertools_namespaces(scenario))
    per_minute = _quietest(scenario)
    invocations_per_minute = per_minute * scenario.load.loops_per_contact  # each contact's loops
    for alarm in alarms:
        lines.extend(_one(alarm, scenario, published, namespaces, flows, routing))
        if per_minute > 0:
            lines.extend(_traffic(alarm, scenario, invocations_per_minute, per_minute, routing))
    lambda_only = all(a.namespace == "AWS/Lambda" for a in alarms)
    if lambda_only and flows.string_map_blocks:
        flow = flows.names[0] if flows.names else "<the flow>"
        lines.append(f"the group's alarms watch Lambda's metrics only: an answer Connect rejects ({flows.string_map_blocks} "
                     "Invoke block(s) validate STRING_MAP) is a success to Lambda and an error branch to the caller; "
                     "fix: add an alarm on AWS/Connect ContactFlowErrors "
                     f"{_shown({'InstanceId': scenario.connect.instance_id, 'MetricGroup': 'ContactFlow', 'ContactFlowName': flow})}")
    return lines


def _powertools_namespaces(scenario: Scenario) -> set[str]:
    """The namespaces the functions' environments name for Powertools' Metrics (POWERTOOLS_METRICS_NAMESPACE),
    whose metrics their log lines embed."""
    return {code.environment["POWERTOOLS_METRICS_NAMESPACE"]
            for function in scenario.functions for version in (*function.versions, function.staged)
            if version is not None and (code := version.code) is not None
            and code.environment.get("POWERTOOLS_METRICS_NAMESPACE")}


def _one(alarm: AlarmSpec, scenario: Scenario, published: set[frozenset[tuple[str, str]]], namespaces: set[str],
         flows: FlowFacts, routing: TrafficRouting | None) -> list[str]:
    """What is wrong with one alarm whatever the traffic: what it watches, and its window."""
    lines: list[str] = []
    spec = scenario.deployment
    assert spec is not None
    if (alarm.parameters or {}).get("Metrics"):
        return lines  # metric math: its queries are the user's (the planner refuses it; a rehearsal runs it)
    if alarm.namespace not in namespaces:
        lines.append(f"alarm {alarm.name}: namespace {alarm.namespace}: nothing the stack runs publishes there (it "
                     f"publishes {', '.join(sorted(namespaces))}; its code may, with PutMetricData or metrics embedded "
                     "in its log lines, EMF, which a rehearsal reads as CloudWatch does): unless the code does, the "
                     "alarm stays INSUFFICIENT_DATA; fix: watch one of those")
    elif alarm.namespace == "AWS/Lambda":
        if alarm.metric not in LAMBDA_METRICS_EMULATED:
            lines.append(_lambda_metric(alarm))
        elif alarm.metric.startswith("ProvisionedConcurrency") and not _provisioned(scenario, spec.function, spec.alias):
            lines.append(f"alarm {alarm.name}: metric {alarm.metric}: alias {spec.function}:{spec.alias} has no "
                         "provisioned concurrency, so Lambda publishes no data for it and the alarm stays "
                         "INSUFFICIENT_DATA; fix: a ProvisionedConcurrencyConfig on the function (provisioned_concurrency "
                         "on the alias), or an alarm on Errors or Duration")
        if frozenset(alarm.dimensions.items()) not in published:
            lines.append(_lambda_dimensions(alarm, f"{spec.function}:{spec.alias}", spec.function))
    elif alarm.namespace == "AWS/Connect" and flows.names:
        expected = {"InstanceId": scenario.connect.instance_id, "MetricGroup": "ContactFlow"}
        name = alarm.dimensions.get("ContactFlowName")
        if any(alarm.dimensions.get(k) != v for k, v in expected.items()) or name not in flows.names:
            lines.append(f"alarm {alarm.name}: dimensions {_shown(alarm.dimensions)}: the instance publishes "
                         f"{alarm.metric} under {_shown({**expected, 'ContactFlowName': flows.names[0]})} (one per "
                         f"flow: {', '.join(flows.names)}); fix: those dimensions")
    if routing is not None and routing.type != "AllAtOnce":
        needs = (alarm.datapoints_to_alarm or alarm.evaluation_periods) * alarm.period
        steps = 1 if routing.type == "TimeBasedCanary" else math.ceil(100 / routing.percentage) - 1
        window = routing.interval_minutes * 60 * steps
        if needs > window:
            what = "canary" if routing.type == "TimeBasedCanary" else "linear shift"
            lines.append(f"alarm {alarm.name}: it needs {alarm.datapoints_to_alarm or alarm.evaluation_periods} "
                         f"breaching period(s) of {alarm.period} s ({needs / 60:g} min) to fire, longer than the "
                         f"{what} ({window / 60:g} min): CodeDeploy shifts all traffic before it can; fix: a Period "
                         f"and DatapointsToAlarm whose product is under {window / 60:g} min (Period 60, "
                         "DatapointsToAlarm 1)")
    return lines


def _provisioned(scenario: Scenario, function: str, alias: str) -> int:
    return next((a.provisioned_concurrency or 0 for f in scenario.functions if f.name == function
                 for a in f.aliases if a.name == alias), 0)


def _lambda_dimensions(alarm: AlarmSpec, alias: str, function: str) -> str:
    """An alarm on Lambda dimensions no invocation is published under."""
    fix = "" if alarm.dimensions.get("FunctionName") == function else f"FunctionName = {function}, "
    return (f"alarm {alarm.name}: dimensions {_shown(alarm.dimensions)}: Lambda publishes no metric with them, so "
            "the alarm stays INSUFFICIENT_DATA and never rolls back; invocations through the alias are published "
            f"under {_shown({'FunctionName': function, 'Resource': alias})} and, per version, "
            f"{_shown({'FunctionName': function, 'Resource': alias, 'ExecutedVersion': 'N'})}; fix: {fix}Resource = {alias}")


def _lambda_metric(alarm: AlarmSpec) -> str:
    """An alarm on a metric name Lambda never publishes, or one this rehearsal does not."""
    if alarm.metric in LAMBDA_METRICS:
        return (f"alarm {alarm.name}: metric {alarm.metric}: Lambda publishes it, and this rehearsal does not (it "
                f"publishes {', '.join(LAMBDA_METRICS_EMULATED)}): the alarm stays INSUFFICIENT_DATA here and "
                "cannot roll back, as it might in production; fix: rehearse it on AWS (--target aws), or watch "
                "one of those")
    close = difflib.get_close_matches(alarm.metric, LAMBDA_METRICS, n=1)
    return (f"alarm {alarm.name}: metric {alarm.metric}: Lambda publishes no metric of that name, so the alarm stays "
            f"INSUFFICIENT_DATA and never rolls back; fix: MetricName {close[0] if close else 'Errors'}")


def _traffic(alarm: AlarmSpec, scenario: Scenario, calls_per_minute: float, contacts_per_minute: float,
             routing: TrafficRouting | None) -> list[str]:
    """What the quietest hour's traffic does to an alarm on the deployed function's errors: a
    threshold it cannot cross, periods with no datapoint at all."""
    if alarm.namespace != "AWS/Lambda" or alarm.metric not in ("Errors", "Invocations") or alarm.statistic != "Sum":
        return []
    spec = scenario.deployment
    assert spec is not None
    dims = alarm.dimensions
    if dims.get("FunctionName", spec.function) != spec.function:
        return []
    lines = []
    first = routing.percentage if routing is not None and routing.type != "AllAtOnce" else 100
    all_per_period = calls_per_minute * alarm.period / 60  # the alias's calls a period
    per_period = all_per_period * first / 100  # the new version's, in the first step
    if alarm.comparison in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold"):
        crosses = per_period > alarm.threshold if alarm.comparison == "GreaterThanThreshold" else per_period >= alarm.threshold
        if not crosses:
            step = f"the first {first} % step" if first < 100 else "the deployment"
            lines.append(f"alarm {alarm.name}: threshold {alarm.threshold:g} {alarm.metric} a {alarm.period}-s period: "
                         f"at the quietest hour ({contacts_per_minute:g} contacts/min) the new version meets about "
                         f"{per_period:.1f} calls a period in {step}, so even failing every one it cannot cross; "
                         "fix: Threshold 0 (any error), or an error-rate alarm (metric math 100*Errors/Invocations)")
    seen_per_period = per_period if "ExecutedVersion" in dims else all_per_period  # the calls its metric counts
    empty = math.exp(-seen_per_period) if seen_per_period < 50 else 0.0
    if alarm.treat_missing_data in ("missing", "ignore") and empty > EMPTY_PERIODS_FLAGGED:
        lines.append(f"alarm {alarm.name}: at the quietest hour about {100 * empty:.0f} % of its {alarm.period}-s "
                     f"periods have no datapoint (about {seen_per_period:.1f} calls a period), and TreatMissingData "
                     f"{alarm.treat_missing_data} leaves them out: it can sit in INSUFFICIENT_DATA or its last state; "
                     "fix: TreatMissingData notBreaching (no calls: no errors), or a longer Period")
    return lines
