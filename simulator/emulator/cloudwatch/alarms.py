"""CloudWatch's alarms as it holds them: metric alarms (on one metric, or metric math), composite
alarms, their state changes, and a metric math alarm's `Metrics` checked. How they are evaluated is the
backend's (models.py). No wire protocol here.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from simulator.deployment.composite_rule import Rule
from simulator.emulator.cloudwatch.expressions import Expression, ExpressionError
from simulator.emulator.cloudwatch.metric_data import (
    PERCENTILE,
    CloudWatchError,
    MetricKey,
    invalid,
    metric_key,
)


def alarm_queries(metrics: Any) -> tuple[list[dict[str, Any]] | None, Expression | None]:
    """A metric math alarm's `Metrics`, checked: ids, each a MetricStat or an Expression over the
    others, exactly one returning data."""
    if metrics is None:
        return None, None
    if not isinstance(metrics, list) or not metrics or not all(isinstance(q, dict) for q in metrics):
        raise invalid("The parameter Metrics must be a non-empty list of MetricDataQuery.")
    ids = {str(q.get("Id")) for q in metrics}
    for query in metrics:
        if not re.fullmatch(r"[a-z][a-zA-Z0-9_]*", str(query.get("Id", ""))):
            raise invalid(f"The value {query.get('Id')} for parameter Metrics.member.Id is not valid: it must "
                           "start with a lowercase letter and hold only letters, numbers and underscores.")
        stat = query.get("MetricStat")
        if (stat is None) == (query.get("Expression") is None):
            raise invalid(f"Metrics.member {query['Id']} needs exactly one of MetricStat and Expression.")
        if stat is not None and not (isinstance(stat, dict) and stat.get("Stat") and stat.get("Period")
                                     and isinstance(stat.get("Metric"), dict)):
            raise CloudWatchError(400, "MissingParameter", f"Metrics.member {query['Id']}: MetricStat needs "
                                  "Metric, Period and Stat.")
    returning = [q for q in metrics if q.get("ReturnData", True)]
    if len(returning) != 1:
        raise invalid("Exactly one element of the metrics list should return data.")
    text = returning[0].get("Expression")
    try:
        expression = Expression(str(text), ids - {returning[0]["Id"]}) if text is not None else None
    except ExpressionError as exc:
        raise invalid(str(exc)) from None
    return [dict(q) for q in metrics], expression


def queries_period(queries: list[dict[str, Any]]) -> int:
    periods = {int(q["MetricStat"]["Period"]) for q in queries if q.get("MetricStat")}
    if len(periods) != 1:
        raise invalid("The metrics of an alarm must share one Period.")
    return periods.pop()


@dataclass
class AlarmTransition:
    """A state change of an alarm, at an emulated time."""

    alarm: str
    old: str
    new: str
    timestamp: float
    reason: str


@dataclass
class Alarm:
    name: str
    namespace: str
    metric_name: str
    dimensions: list[dict[str, str]]
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str
    description: str
    actions_enabled: bool
    created: float
    arn: str
    actions: dict[str, list[str]] = field(default_factory=dict)  # OKActions, AlarmActions, InsufficientDataActions
    unit: str | None = None
    low_sample_percentiles: str | None = None  # EvaluateLowSampleCountPercentile, kept and described
    queries: list[dict[str, Any]] | None = None  # a metric math alarm's Metrics
    expression: Expression | None = None  # the query that returns data, when it is an expression
    state: str = "INSUFFICIENT_DATA"
    state_reason: str = "Unchecked: Initial alarm creation"
    state_reason_data: str | None = None
    state_updated: float = 0.0
    last_evaluated_boundary: float | None = None
    task: asyncio.Task[Any] | None = field(default=None, repr=False)

    @property
    def key(self) -> MetricKey:
        return metric_key(self.namespace, self.metric_name, self.dimensions)

    @property
    def extended(self) -> bool:
        return bool(PERCENTILE.fullmatch(self.statistic))


@dataclass
class CompositeAlarm:
    """A composite alarm: ALARM while its rule over other alarms' states holds, OK otherwise; judged
    again whenever an alarm it names changes state."""

    name: str
    arn: str
    rule_text: str
    rule: Rule
    description: str
    actions_enabled: bool
    created: float
    actions: dict[str, list[str]] = field(default_factory=dict)
    state: str = "INSUFFICIENT_DATA"
    state_reason: str = "Unchecked: Initial alarm creation"
    state_reason_data: str | None = None
    state_updated: float = 0.0


def comparison_words(comparison: str) -> str:
    return {"GreaterThanOrEqualToThreshold": "greater than or equal to",
            "GreaterThanThreshold": "greater than", "LessThanThreshold": "less than",
            "LessThanOrEqualToThreshold": "less than or equal to"}[comparison]
