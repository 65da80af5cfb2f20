"""What the deployment group's alarms read: the metric alarms behind its alarms (through composite
rules), and which of them read what the simulated Connect instance publishes (its AWS/Connect
metrics, or a metric filter's metric on its flow log group). A run whose instance could not publish
that did not rehearse those alarms, nor the rollback they guard. Pure: the scenario in, names out.
"""

from __future__ import annotations

import re
from typing import Any

from simulator.deployment.composite_rule import RuleError, parse_rule
from simulator.scenario.spec import AlarmSpec, Scenario

FLOW_LOGS, METRICS = "flow_logs", "metrics"  # what the instance publishes, as ConnectTelemetry names it
SAID = {FLOW_LOGS: "flow logs", METRICS: "AWS/Connect metrics"}  # as a user reads them
READ_AS = {**SAID, FLOW_LOGS: "flow logs (through a metric filter)"}  # as an alarm reads them


def metric_alarms_behind(names: tuple[str, ...] | list[str], declared: dict[str, AlarmSpec],
                         ) -> tuple[list[AlarmSpec], list[tuple[str, str]]]:
    """The metric alarms the group's alarms watch: its own, and those its composite alarms' rules
    name (through composites too); and each (composite, name) whose name the stack does not declare."""
    found: dict[str, AlarmSpec] = {}
    unknown: list[tuple[str, str]] = []
    seen: set[str] = set()
    todo: list[tuple[str | None, str]] = [(None, name) for name in names]
    while todo:
        composite, name = todo.pop(0)
        alarm = declared.get(name)
        if alarm is None:
            if composite is not None:
                unknown.append((composite, name))
            continue
        if name in seen:
            continue
        seen.add(name)
        if alarm.rule is None:
            found[name] = alarm
            continue
        try:
            named = sorted(parse_rule(alarm.rule).alarms)
        except RuleError:  # said when the emulator puts it (bad input, exit 2)
            continue
        todo.extend((name, n) for n in named)
    return list(found.values()), unknown


_ALARM_ARN = re.compile(r"arn:aws[a-z-]*:cloudwatch:[^:]*:[^:]*:alarm:(.+)")


def named_by_arn(name: str) -> str | None:
    """The alarm's name when a deployment group's "name" is an alarm's ARN (CodeDeploy reads the group's
    alarms by name: an ARN there names no alarm), else None."""
    match = _ALARM_ARN.fullmatch(name)
    return match.group(1) if match else None


def undeclared_alarms(scenario: Scenario) -> list[str]:
    """The alarms CodeDeploy would read that the stack does not declare, in the order met: those the
    group names, and those its composite alarms' rules name. In production they may well exist (made
    in another stack or by hand); the emulator, which has only the stack's, has none of them."""
    if scenario.deployment is None:
        return []
    declared = {alarm.name: alarm for alarm in scenario.alarms}
    _, behind = metric_alarms_behind(scenario.deployment.alarms, declared)
    named = [name for name in scenario.deployment.alarms if name not in declared] + [name for _, name in behind]
    return list(dict.fromkeys(named))


def alarms_reading_the_instance(scenario: Scenario, described: list[dict[str, Any]] | None = None,
                                log_metrics: list[tuple[str, str]] | None = None) -> dict[str, list[str]]:
    """The group's metric alarms that read what the Connect instance publishes, each with what it
    reads ("metrics", "flow_logs"): the scenario's, or on AWS those `described` (DescribeAlarms'
    MetricAlarms of the real group, which CodeDeploy reads whatever the scenario declares), with the
    `log_metrics` of the real metric filters on the instance's log group (DescribeMetricFilters')."""
    if scenario.deployment is None:
        return {}
    sources: dict[tuple[str, str], str] = {}
    if scenario.connect.flow_logs:
        sources.update({(f.namespace, f.metric): FLOW_LOGS for f in scenario.metric_filters
                        if f.log_group == scenario.connect.log_group})
    sources.update({metric: FLOW_LOGS for metric in log_metrics or ()})
    if described is None:
        alarms, _ = metric_alarms_behind(scenario.deployment.alarms, {a.name: a for a in scenario.alarms})
        read = [(a.name, _metrics(a.parameters) if a.parameters else [(a.namespace, a.metric)]) for a in alarms]
    else:
        read = [(str(a.get("AlarmName")), _metrics(a)) for a in described]
    reading: dict[str, list[str]] = {}
    for name, metrics in read:
        kinds = {kind for namespace, metric in metrics
                 if (kind := _source(namespace, metric, sources, scenario.connect.metrics)) is not None}
        if kinds:
            reading[name] = sorted(kinds)
    return reading


def _metrics(alarm: dict[str, Any]) -> list[tuple[str, str]]:
    """The (namespace, metric name) pairs a metric alarm reads (PutMetricAlarm's parameters, or
    DescribeAlarms' alarm): its metric, or its metric math's metrics."""
    queries: Any = alarm.get("Metrics")
    if not queries:
        return [(str(alarm.get("Namespace") or ""), str(alarm.get("MetricName") or ""))]
    found = []
    for query in queries if isinstance(queries, list) else ():
        stat = query.get("MetricStat") if isinstance(query, dict) else None
        metric = stat.get("Metric") if isinstance(stat, dict) else None
        if isinstance(metric, dict) and metric.get("Namespace") and metric.get("MetricName"):
            found.append((str(metric["Namespace"]), str(metric["MetricName"])))
    return found


def _source(namespace: str, metric: str, filtered: dict[tuple[str, str], str], metrics_on: bool) -> str | None:
    if namespace == "AWS/Connect":
        return METRICS if metrics_on else None
    return filtered.get((namespace, metric))


def unreached_alarm_lines(reading: dict[str, list[str]]) -> list[tuple[str, str]]:
    """For a run on AWS, where the simulator is not Connect and publishes nothing: (alarm, why its part
    is not rehearsed, with the fix), for each of the group's alarms that reads the instance's reports."""
    return [(name, f"reads the Connect instance's {' and '.join(READ_AS[k] for k in kinds)}: on AWS the simulator "
                   "is not Connect and publishes none, so the simulated contacts never reach it and the rollback "
                   "it guards is not rehearsed (a run that deploys is not judged); fix: rehearse on the emulator, "
                   "where the simulated instance publishes them")
            for name, kinds in sorted(reading.items())]
