"""A scenario's `[[alarms]]` (metric alarms, metric math, composite alarms) and the alarm fragment
`shiftsim plan --alarms` writes (alarms.toml), which `--alarms` puts in place of a deployment group's."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

from simulator.deployment.composite_rule import RuleError, parse_rule
from simulator.deployment.vocabulary import TREATMENTS, statistics, threshold_comparisons
from simulator.scenario.section import Section
from simulator.scenario.spec import AlarmSpec, Scenario, ScenarioError


def read_alarm(s: Section) -> AlarmSpec:
    name = s.string("name")
    if not name:
        s.fail("missing key 'name'")
    rule = s.string("rule", None)
    if rule is not None:  # a composite alarm: its state is its rule's over other alarms
        return _composite_alarm(s, name, rule)
    dims = s.table("dimensions")
    dimensions: dict[str, str] = {}
    if dims is not None:
        for key in list(dims.data):
            dimensions[key] = dims.string(key)
        dims.done()
    evaluation = s.number("evaluation_periods", 2, low=1, integer=True)
    spec = AlarmSpec(
        name=name, metric=s.string("metric", "Errors"), namespace=s.string("namespace", "AWS/Lambda"),
        dimensions=dimensions, statistic=_statistic(s),
        period=s.number("period", 60, low=10, integer=True), evaluation_periods=evaluation,
        datapoints_to_alarm=s.number("datapoints_to_alarm", None, low=1, high=evaluation, integer=True),
        threshold=float(s.number("threshold", 0.0)),
        comparison=s.string("comparison", "GreaterThanThreshold", choices=threshold_comparisons()),
        treat_missing_data=s.string("treat_missing_data", "missing", choices=TREATMENTS),
    )
    if spec.period % 60 and spec.period not in (10, 20, 30):
        s.fail(f"must be 10, 20, 30 or a multiple of 60, got {spec.period}", "period")
    metrics = s.raw("metrics")
    if metrics is not None:  # metric math: PutMetricAlarm's Metrics, as they are
        if not isinstance(metrics, list) or not metrics or not all(isinstance(m, dict) and "Id" in m for m in metrics):
            s.fail("must be a list of PutMetricAlarm's Metrics (tables with Id, and Expression or MetricStat)",
                   "metrics")
        for key in ("metric", "namespace", "dimensions", "statistic", "period"):
            if s.has(key):
                s.fail("metric math takes its metrics from `metrics`: no place for it beside them", key)
        parameters = {"AlarmName": name, "Metrics": metrics, "EvaluationPeriods": spec.evaluation_periods,
                      "Threshold": spec.threshold, "ComparisonOperator": spec.comparison,
                      "TreatMissingData": spec.treat_missing_data}
        if spec.datapoints_to_alarm is not None:
            parameters["DatapointsToAlarm"] = spec.datapoints_to_alarm
        spec = replace(spec, parameters=parameters)
    s.done()
    return spec


_METRIC_ALARM_KEYS = ("metric", "namespace", "dimensions", "statistic", "period", "evaluation_periods",
                      "datapoints_to_alarm", "threshold", "comparison", "treat_missing_data", "metrics")


def _composite_alarm(s: Section, name: str, rule: str) -> AlarmSpec:
    for key in _METRIC_ALARM_KEYS:
        if s.has(key):
            s.fail("a composite alarm's state is its rule's over the alarms it names: no place for it beside `rule`", key)
    try:
        parse_rule(rule)
    except RuleError as exc:
        s.fail(str(exc), "rule")
    s.done()
    return AlarmSpec(name=name, metric="", namespace="", statistic="", comparison="", rule=rule)


def _statistic(s: Section) -> str:
    """An alarm's statistic: one of CloudWatch's, or a percentile (`p99`, `p99.9`: ExtendedStatistic)."""
    statistic = s.string("statistic", "Sum")
    if statistic not in statistics() and not re.fullmatch(r"p(\d{1,2}(\.\d{1,2})?|100)", statistic):
        s.fail(f"must be one of {', '.join(statistics())} or a percentile pNN, got {statistic!r}", "statistic")
    return statistic


def load_alarm_fragment(path: str | Path) -> tuple[AlarmSpec, ...]:
    """The `[[alarms]]` of a scenario fragment (`shiftsim plan --alarms` writes one: alarms.toml),
    which `rehearse --alarms` puts in place of the deployment group's alarms."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"--alarms {source}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"--alarms {source}: not valid TOML: {exc}") from None
    top = Section(source, "", data)
    alarms = tuple(read_alarm(a) for a in top.tables("alarms"))
    if not alarms:
        raise ScenarioError(f"--alarms {source}: no [[alarms]] table: give the alarms.toml `shiftsim plan --alarms` wrote")
    deployment = top.table("deployment")
    if deployment is not None:
        deployment.raw("alarms")
        deployment.raw("config")  # the configuration the search chose them for: the scenario's own stays
        deployment.done()
    top.done()
    return alarms


def with_alarms_file(scenario: Scenario, path: str | None) -> Scenario:
    """The scenario with the alarms of `path` (`--alarms`) in place of its group's; as it is without one."""
    if not path:
        return scenario
    return replace(with_group_alarms(scenario, load_alarm_fragment(path)), alarms_file=str(Path(path).resolve()))


def with_group_alarms(scenario: Scenario, alarms: tuple[AlarmSpec, ...]) -> Scenario:
    """The scenario with `alarms` in place of its deployment group's alarms."""
    if scenario.deployment is None:
        raise ScenarioError(f"--alarms: {scenario.source} has no deployment group to give alarms to")
    group = set(scenario.deployment.alarms)
    kept = tuple(a for a in scenario.alarms if a.name not in group and a.name not in {n.name for n in alarms})
    return replace(scenario, alarms=kept + alarms,
                   deployment=replace(scenario.deployment, alarms=tuple(a.name for a in alarms)))
