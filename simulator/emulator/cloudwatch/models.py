"""CloudWatch's state and behaviour: the metric store fed by Lambda invocations and PutMetricData
(metric_data.py), metric and composite alarms (alarms.py) evaluated at each period boundary of the
emulated clock, dashboards and tags. No wire protocol here.

Metrics are kept per (namespace, name, exact dimension set) in one-second buckets of emulated time
(count, sum, min, max), which is all the statistics alarms and GetMetricStatistics need. Dimension
matching is exact, as on AWS: an alarm whose dimensions match no published set never gets data.
Lambda's invocations are tallied per function, alias, version and second as they come, and published
under their metrics and dimension sets (twelve buckets for an invocation through an alias) when
metrics are next read: the same data, one update per invocation instead of twelve.

Missing data: with `missing` (the default) an alarm whose evaluation range holds no datapoint goes to
INSUFFICIENT_DATA; otherwise the periods that have data are judged, `breaching`/`notBreaching` fill
empty periods as bad/good, and `ignore` keeps the current state when there is no data at all.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import deque
from collections.abc import Callable
from typing import Any

from simulator.deployment.alarm_rule import next_state
from simulator.deployment.clock import Clock
from simulator.deployment.composite_rule import Rule, RuleError, parse_rule
from simulator.deployment.vocabulary import TREATMENTS, cloudwatch_enum, threshold_comparisons
from simulator.deployment.vocabulary import statistics as known_statistics
from simulator.emulator.cloudwatch.alarms import (
    Alarm,
    AlarmTransition,
    CompositeAlarm,
    alarm_queries,
    comparison_words,
    queries_period,
)
from simulator.emulator.cloudwatch.expressions import Expression, ExpressionError
from simulator.emulator.cloudwatch.metric_data import (
    PERCENTILE,
    Bucket,
    CloudWatchError,
    LambdaTally,
    MetricKey,
    MetricStore,
    check_data_range,
    check_limits,
    check_range,
    datum_bucket,
    default_unit,
    invalid,
    lambda_keys,
    metric_key,
    with_unit,
)
from simulator.emulator.holdings import Full, Holdings
from simulator.emulator.lambda_.models import InvocationObserved
from simulator.emulator.regions import partition_of

HISTORY_KEPT = 100_000  # alarm state transitions DescribeAlarmHistory can show, newest kept
ACTION_KEYS = ("OKActions", "AlarmActions", "InsufficientDataActions")
MAX_DATAPOINTS = 1440  # GetMetricStatistics answers at most this many per call
MAX_DATA_DATAPOINTS = 100_800  # GetMetricData, per call


class CloudWatchBackend:
    """Metrics and alarms of the emulated account, evaluated on the shared clock."""

    def __init__(self, clock: Clock, *, region: str, account: str, holdings: Holdings | None = None) -> None:
        self.clock, self.region, self.account = clock, region, account
        self.holdings = holdings or Holdings()
        self.metrics = MetricStore()
        self._lambda_tallies: dict[tuple[str, str | None, str | None, int], LambdaTally] = {}
        self.alarms: dict[str, Alarm] = {}
        self.units: dict[MetricKey, str] = {}  # the Unit PutMetricData last gave a metric
        # PutMetricData's datapoints that came with a Unit, again per unit: a Get that names a Unit
        # reads only the data published with it. Keyed (namespace, name + "\0" + unit, dimensions).
        self.by_unit = MetricStore()
        self.dashboards: dict[str, tuple[str, float]] = {}  # name -> (body, last modified)
        self.composites: dict[str, CompositeAlarm] = {}
        self.tags: dict[str, dict[str, str]] = {}  # an alarm's ARN -> its tags
        self.transitions: deque[AlarmTransition] = deque(maxlen=HISTORY_KEPT)
        self.listeners: list[Callable[[AlarmTransition], None]] = []

    def close(self) -> None:
        for alarm in self.alarms.values():
            if alarm.task is not None:
                alarm.task.cancel()

    # ---- metrics -------------------------------------------------------------------------------

    def record_lambda(self, event: InvocationObserved) -> None:
        """Count one invocation (published under every dimension set Lambda would publish it under
        when metrics are next read)."""
        key = (event.function, event.alias, event.executed_version, int(event.start))
        tally = self._lambda_tallies.get(key)
        if tally is None:
            tally = self._lambda_tallies[key] = LambdaTally()
        weight = event.weight
        if event.kind == "throttled":
            tally.throttles += weight
        else:
            tally.invocations += weight
            if event.kind == "function_error":
                tally.errors += weight
            tally.duration.add(event.duration_ms, weight)
            if event.provisioned is not None:
                if event.provisioned:
                    tally.provisioned += weight
                else:
                    tally.spillover += weight

    def _publish_lambda(self) -> None:
        tallies, self._lambda_tallies = self._lambda_tallies, {}
        merge = self.metrics.merge
        for (function, alias, version, second), tally in tallies.items():
            for name, bucket in tally.buckets():
                for key in lambda_keys(function, alias, version, name):
                    merge(key, second, bucket)

    def put_metric_data(self, namespace: str, data: list[dict[str, Any]]) -> None:
        """PutMetricData: a Value, Values with their Counts, or StatisticValues (a set of datapoints
        already summarised), each checked as CloudWatch checks them; the Unit is kept per metric."""
        now = self.clock.now()
        check_limits(data, now)
        made = []
        for index, datum in enumerate(data, 1):
            key = metric_key(namespace, datum["MetricName"], datum.get("Dimensions"))
            made.append((key, float(datum.get("Timestamp") or now), datum_bucket(datum, index), datum.get("Unit")))
        self._hold_datapoints(made)
        for key, timestamp, bucket, unit in made:  # all or none: nothing stored from a refused call
            self.metrics.merge(key, int(timestamp), bucket)
            if unit:
                self.units[key] = unit
                self.by_unit.merge(with_unit(key, unit), int(timestamp), bucket)

    def _hold(self, kind: str, amount: int = 1) -> None:
        try:
            self.holdings.take(kind, amount)
        except Full as full:
            raise CloudWatchError(400, "LimitExceeded", full.sentence) from None

    def _hold_datapoints(self, made: list[tuple[MetricKey, float, Bucket, str | None]]) -> None:
        """Count the metrics and one-second buckets a PutMetricData would add against the emulator's
        ceilings (Lambda's own metrics, bounded by the run, are not counted); refuse it past them."""
        new_keys: set[MetricKey] = set()
        new_buckets: set[tuple[MetricKey, int]] = set()
        for key, timestamp, _, unit in made:
            for store, held in ((self.metrics, key), (self.by_unit, with_unit(key, unit) if unit else None)):
                if held is None:
                    continue
                series = store.series.get(held)
                if series is None:
                    new_keys.add(held)
                if series is None or int(timestamp) not in series:
                    new_buckets.add((held, int(timestamp)))
        self._hold("metrics", len(new_keys))
        try:
            self._hold("metric datapoints", len(new_buckets))
        except CloudWatchError:
            self.holdings.give("metrics", len(new_keys))
            raise

    def get_metric_statistics(self, namespace: str, metric_name: str,
                              dimensions: list[dict[str, str]] | None, start: float, end: float,
                              period: int, statistics: list[str],
                              max_datapoints: int = MAX_DATAPOINTS, unit: str | None = None) -> list[dict[str, Any]]:
        if period <= 0:
            raise invalid("The parameter Period must be greater than 0.")
        check_range(start, end)
        if not statistics:
            raise CloudWatchError(400, "InvalidParameterCombination",
                                  "Must specify either Statistics or ExtendedStatistics")
        first = math.floor(start / period) * period
        requested = math.ceil((end - first) / period)
        if requested > max_datapoints:
            raise CloudWatchError(
                400, "InvalidParameterCombination",
                f"You have requested up to {requested} datapoints, which exceeds the limit of "
                f"{max_datapoints}. You may reduce the datapoints requested by increasing Period, or "
                "decreasing the time range.")
        for statistic in statistics:
            if statistic not in known_statistics() and not PERCENTILE.fullmatch(statistic):
                raise invalid(f"The parameter Statistics must be one of {', '.join(known_statistics())} "
                               "(or ExtendedStatistics a percentile p0 to p100).")
        key = metric_key(namespace, metric_name, dimensions)
        self._publish_lambda()
        held_unit = self.units.get(key) or default_unit(metric_name)
        store = self.metrics
        if unit is not None:
            if with_unit(key, unit) in self.by_unit.series:
                store, key, held_unit = self.by_unit, with_unit(key, unit), unit
            elif key in self.units or unit != held_unit:
                return []  # no datapoint was published in the unit asked for
        points = []
        t = first
        while t < end:
            bucket = store.aggregate(key, t, t + period)
            if bucket is not None:
                point: dict[str, Any] = {"Timestamp": float(t), "Unit": held_unit}
                point.update({s: bucket.statistic(s) for s in statistics if not PERCENTILE.fullmatch(s)})
                extended = {s: bucket.statistic(s) for s in statistics if PERCENTILE.fullmatch(s)}
                if extended:
                    point["ExtendedStatistics"] = extended
                points.append(point)
            t += period
        return points

    def get_metric_data(self, queries: list[dict[str, Any]], start: float, end: float,
                        scan_by: str | None = None) -> list[dict[str, Any]]:
        """GetMetricData: MetricStat queries, then Expressions over their ids (per timestamp), in the
        order asked; queries with ReturnData false are inputs, not results. Newest first, unless
        `scan_by` is TimestampAscending."""
        if scan_by not in (None, "TimestampDescending", "TimestampAscending"):
            raise invalid(f"The value {scan_by} for parameter ScanBy is not valid.")
        if len(queries) > 500:
            raise invalid("The collection MetricDataQueries must not have a size greater than 500.")
        check_data_range(start, end)
        series: dict[str, dict[float, float]] = {}  # id -> timestamp -> value
        budget = MAX_DATA_DATAPOINTS
        for index, query in enumerate(queries, 1):
            stat = query.get("MetricStat")
            if stat is None:
                if query.get("Expression") is None:  # CloudWatch's words, its newline included
                    raise CloudWatchError(400, "ValidationError",
                                          f"The parameter MetricDataQueries.member.{index}.MetricStat is required.\n")
                continue
            if not stat.get("Stat"):
                raise CloudWatchError(400, "MissingParameter", "The parameter MetricDataQueries.member.MetricStat.Stat "
                                      "is required.")
            metric, period, name = stat["Metric"], int(stat["Period"]), stat["Stat"]
            points = self.get_metric_statistics(metric["Namespace"], metric["MetricName"],
                                                metric.get("Dimensions"), start, end, period,
                                                [name], max_datapoints=budget, unit=stat.get("Unit"))
            budget -= math.ceil((end - math.floor(start / period) * period) / period)
            values = ((p["Timestamp"], p.get(name, p.get("ExtendedStatistics", {}).get(name))) for p in points)
            series[query["Id"]] = {t: v for t, v in values if v is not None}
        for query in queries:
            if query.get("Expression") is not None:
                try:
                    expression = Expression(str(query["Expression"]), set(series))
                except ExpressionError as exc:
                    raise invalid(str(exc)) from None
                stamps = sorted({t for name in expression.ids for t in series.get(name, {})})
                computed = ((t, expression.value({n: series[n].get(t) for n in expression.ids})) for t in stamps)
                series[query["Id"]] = {t: v for t, v in computed if v is not None}
        results = []
        for query in queries:
            if query.get("ReturnData") is False:
                continue
            newest_first = sorted(series[query["Id"]].items(), reverse=scan_by != "TimestampAscending")
            stat = query.get("MetricStat")
            label = query.get("Label") or (f"{stat['Metric']['MetricName']} {stat['Stat']}" if stat else query["Id"])
            results.append({"Id": query["Id"], "Label": label, "Timestamps": [t for t, _ in newest_first],
                            "Values": [v for _, v in newest_first], "StatusCode": "Complete"})
        return results

    # ---- dashboards ----------------------------------------------------------------------------

    def _dashboard_arn(self, name: str) -> str:
        return f"arn:{partition_of(self.region)}:cloudwatch::{self.account}:dashboard/{name}"

    def put_dashboard(self, name: str, body: str) -> None:
        """PutDashboard: kept as given; the body must be a JSON object, as CloudWatch checks it."""
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", name or ""):
            raise invalid("The value for parameter DashboardName contains invalid characters. It can contain only "
                           "alphanumerics, dash (-) and underscore (_).")
        try:
            parsed = json.loads(body)
        except (TypeError, ValueError):
            parsed = None
        if not isinstance(parsed, dict):
            raise CloudWatchError(400, "InvalidParameterInput", "The field DashboardBody must be a valid JSON object")
        old = self.dashboards.get(name)
        size = len(body) - (len(old[0]) if old else 0)
        self._hold("dashboard bytes", size)
        if old is None:
            try:
                self._hold("dashboards")
            except CloudWatchError:
                self.holdings.give("dashboard bytes", size)
                raise
        self.dashboards[name] = (body, self.clock.now())

    def get_dashboard(self, name: str) -> dict[str, Any]:
        if name not in self.dashboards:
            raise CloudWatchError(404, "ResourceNotFound", f"Dashboard {name} does not exist")
        return {"DashboardArn": self._dashboard_arn(name), "DashboardBody": self.dashboards[name][0],
                "DashboardName": name}

    def list_dashboards(self, prefix: str | None) -> list[dict[str, Any]]:
        return [{"DashboardName": name, "DashboardArn": self._dashboard_arn(name), "LastModified": modified,
                 "Size": len(body.encode())}
                for name, (body, modified) in sorted(self.dashboards.items()) if name.startswith(prefix or "")]

    def delete_dashboards(self, names: list[str]) -> None:
        """DeleteDashboards: all or none; a name that is no dashboard deletes nothing."""
        if not names:
            raise invalid("The parameter DashboardNames must contain at least one name.")
        missing = [name for name in names if name not in self.dashboards]
        if missing:
            raise CloudWatchError(404, "ResourceNotFound", f"The specified dashboard does not exist. [{', '.join(missing)}]")
        for name in names:
            self.holdings.give("dashboard bytes", len(self.dashboards.pop(name)[0]))
            self.holdings.give("dashboards")

    # ---- alarms --------------------------------------------------------------------------------

    def put_metric_alarm(self, params: dict[str, Any]) -> Alarm:
        name = params.get("AlarmName")
        if not name:
            raise invalid("The parameter AlarmName is required.")
        if params.get("ThresholdMetricId") is not None:
            raise invalid("ThresholdMetricId: anomaly detection alarms are not emulated by shiftsim (an anomaly "
                           "detection band is a model trained on weeks of the metric's history); give a Threshold.")
        low_sample = params.get("EvaluateLowSampleCountPercentile")
        if low_sample is not None and low_sample not in ("evaluate", "ignore"):
            raise CloudWatchError(400, "ValidationError", f"Option {low_sample} is not supported. Supported options "
                                  "for parameter EvaluateLowSampleCountPercentile are evaluate and ignore.")
        queries, expression = alarm_queries(params.get("Metrics"))
        needed = ("EvaluationPeriods", "ComparisonOperator", "Threshold") + (
            () if queries else ("MetricName", "Namespace", "Period"))
        for required in needed:
            if params.get(required) is None:
                raise CloudWatchError(400, "MissingParameter",
                                      f"The parameter {required} is required.")
        statistic = params.get("Statistic") or params.get("ExtendedStatistic")
        if queries:
            if any(params.get(k) is not None for k in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic")):
                raise CloudWatchError(400, "InvalidParameterCombination", "MetricName, Namespace, Statistic and "
                                      "ExtendedStatistic cannot be given with Metrics.")
            statistic = ""
            params = {**params, "Period": queries_period(queries), "Namespace": "", "MetricName": ""}
        elif params.get("Statistic") and params.get("ExtendedStatistic"):
            raise CloudWatchError(400, "InvalidParameterCombination",
                                  "Statistic and ExtendedStatistic are mutually exclusive.")
        elif params.get("ExtendedStatistic") is not None:
            if not PERCENTILE.fullmatch(str(statistic)):
                raise invalid(f"The value {statistic} for parameter ExtendedStatistic is not supported.")
        elif statistic not in known_statistics():
            raise invalid("The parameter Statistic must be one of SampleCount, Average, Sum, "
                           "Minimum, Maximum.")
        comparison = params["ComparisonOperator"]
        if comparison not in cloudwatch_enum("ComparisonOperator"):
            raise invalid(f"Invalid value for ComparisonOperator: {comparison}")
        if comparison not in threshold_comparisons():
            raise invalid(f"ComparisonOperator {comparison} compares with an anomaly detection band (ThresholdMetricId), "
                           "which shiftsim does not emulate; use a threshold comparison.")
        period, evaluation = int(params["Period"]), int(params["EvaluationPeriods"])
        if period < 10 or (period % 60 and period not in (10, 20, 30)):
            raise invalid("Period must be 10, 20, 30 or a multiple of 60")
        if evaluation < 1:
            raise invalid("EvaluationPeriods must be at least 1")
        if period < 3600 and period * evaluation > 86_400:
            raise invalid("Metrics cannot be checked across more than a day (EvaluationPeriods * "
                           "Period must be <= 86400).")
        if period * evaluation > 604_800:
            raise invalid("Metrics cannot be checked across more than a week (EvaluationPeriods * "
                           "Period must be <= 604800).")
        datapoints = int(params.get("DatapointsToAlarm") or evaluation)
        if not 1 <= datapoints <= evaluation:
            raise invalid("DatapointsToAlarm must be between 1 and EvaluationPeriods")
        treatment = params.get("TreatMissingData") or "missing"
        if treatment not in TREATMENTS:
            raise invalid(f"TreatMissingData must be one of {', '.join(TREATMENTS)}")
        now = self.clock.now()
        old = self.alarms.get(name)
        if old is None:
            if name in self.composites:
                raise invalid(f"The alarm {name} is a composite alarm; a metric alarm needs a name of its own.")
            self._hold("alarms")
        if old is not None and old.task is not None:
            old.task.cancel()
        alarm = Alarm(
            name=name, namespace=params["Namespace"], metric_name=params["MetricName"],
            dimensions=list(params.get("Dimensions") or []), statistic=str(statistic), period=period,
            evaluation_periods=evaluation, datapoints_to_alarm=datapoints,
            threshold=float(params["Threshold"]), comparison=comparison,
            treat_missing_data=treatment, description=params.get("AlarmDescription") or "",
            actions_enabled=bool(params.get("ActionsEnabled", True)), created=now,
            arn=self._alarm_arn(name),
            actions={key: [str(a) for a in params.get(key) or []] for key in ACTION_KEYS},
            unit=params.get("Unit"), state_updated=now, queries=queries, expression=expression,
            low_sample_percentiles=low_sample,
        )
        if old is not None:  # AWS keeps the state of an alarm that is updated
            alarm.state, alarm.state_reason, alarm.state_updated = old.state, old.state_reason, old.state_updated
        self.alarms[name] = alarm
        if params.get("Tags"):
            self.tag_resource(alarm.arn, params["Tags"])
        self._schedule(alarm)
        return alarm

    def _schedule(self, alarm: Alarm) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # provisioned before serving: `start()` schedules it
        alarm.task = loop.create_task(self._evaluate_forever(alarm))

    def start(self) -> None:
        """Schedule evaluation of alarms created before the loop ran."""
        for alarm in self.alarms.values():
            if alarm.task is None:
                self._schedule(alarm)

    async def _evaluate_forever(self, alarm: Alarm) -> None:
        while True:
            boundary = (math.floor(self.clock.now() / alarm.period) + 1) * alarm.period
            await self.clock.sleep_until(boundary)
            if self.alarms.get(alarm.name) is not alarm:
                return
            self.evaluate(alarm, boundary)

    def evaluate(self, alarm: Alarm, boundary: float) -> None:
        """Judge the `EvaluationPeriods` periods that end at `boundary`; transition if need be."""
        alarm.last_evaluated_boundary = boundary
        self._publish_lambda()
        values: list[float | None] = []
        for k in range(alarm.evaluation_periods, 0, -1):
            start = boundary - k * alarm.period
            values.append(self._alarm_value(alarm, start, start + alarm.period))
        state, breaching = next_state(values, alarm.comparison, alarm.threshold, alarm.datapoints_to_alarm,
                                      alarm.treat_missing_data)
        shown = ", ".join("missing" if v is None else f"{v:g}" for v in values)
        if state is None:
            return
        if state == "ALARM":
            new = "ALARM"
            reason = (f"Threshold Crossed: {breaching} out of the last {alarm.evaluation_periods} "
                      f"datapoints [{shown}] were {comparison_words(alarm.comparison)} the threshold "
                      f"({alarm.threshold:g}) (minimum {alarm.datapoints_to_alarm} datapoint"
                      f"{'s' if alarm.datapoints_to_alarm > 1 else ''} for OK -> ALARM transition).")
        elif state == "INSUFFICIENT_DATA":
            new = "INSUFFICIENT_DATA"
            reason = (f"Insufficient Data: {alarm.evaluation_periods} datapoints were unknown.")
        else:
            new = "OK"
            reason = (f"Threshold Crossed: {len(values) - breaching} out of the last "
                      f"{alarm.evaluation_periods} datapoints [{shown}] were not "
                      f"{comparison_words(alarm.comparison)} the threshold ({alarm.threshold:g}).")
        self._transition(alarm, new, reason, boundary)

    def _alarm_value(self, alarm: Alarm, start: float, end: float) -> float | None:
        """The value an alarm judges for one period: its metric's statistic, or its metric math."""
        if alarm.queries is None:
            bucket = self.metrics.aggregate(alarm.key, start, end)
            return None if bucket is None else bucket.statistic(alarm.statistic)
        values: dict[str, float | None] = {}
        for query in alarm.queries:
            stat = query.get("MetricStat")
            if stat is not None:
                metric = stat["Metric"]
                bucket = self.metrics.aggregate(metric_key(metric["Namespace"], metric["MetricName"],
                                                           metric.get("Dimensions")), start, end)
                values[query["Id"]] = None if bucket is None else bucket.statistic(stat["Stat"])
        if alarm.expression is not None:
            return alarm.expression.value(values)
        returned = next(q for q in alarm.queries if q.get("ReturnData", True))
        return values.get(returned["Id"])

    def _transition(self, alarm: Alarm | CompositeAlarm, new: str, reason: str, timestamp: float) -> None:
        if new == alarm.state:
            return
        transition = AlarmTransition(alarm.name, alarm.state, new, timestamp, reason)
        alarm.state, alarm.state_reason, alarm.state_updated = new, reason, timestamp
        self.transitions.append(transition)
        for listener in self.listeners:
            listener(transition)
        for composite in list(self.composites.values()):
            if alarm.name in composite.rule.alarms:
                self._judge(composite, f"{alarm.arn} transitioned to {new}", timestamp)

    # ---- tags ------------------------------------------------------------------------------------

    def _tagged(self, arn: str) -> str | None:
        """The ARN if it is an alarm's of this account (metric or composite), else None."""
        name = arn.split(":alarm:", 1)[1] if ":alarm:" in arn else None
        found = self._any_alarm(name or "")
        return arn if found is not None and found.arn == arn else None

    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> None:
        if self._tagged(arn) is None:
            raise CloudWatchError(404, "ResourceNotFoundException", "Unknown")
        merged = {**self.tags.get(arn, {}), **{t["Key"]: t.get("Value", "") for t in tags}}
        if len(merged) > self.holdings.ceilings["tags"]:
            raise invalid(f"A resource can have at most {self.holdings.ceilings['tags']} tags.")
        self.tags[arn] = merged

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        if self._tagged(arn) is None:
            raise CloudWatchError(404, "ResourceNotFoundException", "Unknown")
        for key in keys:
            self.tags.get(arn, {}).pop(key, None)

    def list_tags(self, arn: str) -> list[dict[str, str]]:
        """ListTagsForResource: an ARN that is no alarm has no tags (CloudWatch answers an empty list)."""
        return [{"Key": k, "Value": v} for k, v in self.tags.get(arn, {}).items()] if self._tagged(arn) else []

    def _alarm_arn(self, name: str) -> str:
        return f"arn:{partition_of(self.region)}:cloudwatch:{self.region}:{self.account}:alarm:{name}"

    def _any_alarm(self, name: str) -> Alarm | CompositeAlarm | None:
        """The metric or composite alarm of that name (they share one namespace)."""
        return self.alarms.get(name) or self.composites.get(name)

    def _state_of(self, name: str) -> str | None:
        found = self._any_alarm(name)
        return found.state if found is not None else None

    def _judge(self, composite: CompositeAlarm, reason: str, timestamp: float) -> None:
        self._transition(composite, "ALARM" if composite.rule.holds(self._state_of) else "OK", reason, timestamp)

    def put_composite_alarm(self, params: dict[str, Any]) -> CompositeAlarm:
        """PutCompositeAlarm: the rule is parsed and judged at once against its alarms' states."""
        name = params.get("AlarmName")
        if not name:
            raise CloudWatchError(400, "MissingParameter", "The parameter AlarmName is required.")
        if name in self.alarms:
            raise invalid(f"The alarm {name} is a metric alarm; a composite alarm needs a name of its own.")
        try:
            rule = parse_rule(str(params.get("AlarmRule") or ""))
        except RuleError as exc:
            raise CloudWatchError(400, "ValidationError", str(exc)) from None
        if self._reaches(rule, name):
            raise CloudWatchError(400, "ValidationError", f"AlarmRule: composite alarm {name} would depend on itself.")
        now = self.clock.now()
        composite = CompositeAlarm(
            name=name, arn=self._alarm_arn(name),
            rule_text=str(params["AlarmRule"]), rule=rule, description=params.get("AlarmDescription") or "",
            actions_enabled=bool(params.get("ActionsEnabled", True)), created=now,
            actions={key: [str(a) for a in params.get(key) or []] for key in ACTION_KEYS}, state_updated=now)
        old = self.composites.get(name)
        if old is None:
            self._hold("alarms")
        else:  # an update keeps the state, as for metric alarms
            composite.state, composite.state_reason, composite.state_updated = old.state, old.state_reason, old.state_updated
        self.composites[name] = composite
        if params.get("Tags"):
            self.tag_resource(composite.arn, params["Tags"])
        self._judge(composite, "Initial evaluation of the alarm rule" if old is None else "Alarm rule updated", now)
        return composite

    def _reaches(self, rule: Rule, name: str, seen: frozenset[str] = frozenset()) -> bool:
        """Whether a rule names `name`, directly or through the composite alarms it names."""
        for child in rule.alarms - seen:
            if child == name or (child in self.composites and self._reaches(self.composites[child].rule, name, seen | {child})):
                return True
        return False

    def composite_description(self, composite: CompositeAlarm) -> dict[str, Any]:
        """The `CompositeAlarm` shape (timestamps as epoch seconds)."""
        described: dict[str, Any] = {
            "AlarmName": composite.name, "AlarmArn": composite.arn, "AlarmDescription": composite.description,
            "AlarmRule": composite.rule_text, "AlarmConfigurationUpdatedTimestamp": composite.created,
            "ActionsEnabled": composite.actions_enabled,
            **{key: list(composite.actions.get(key, [])) for key in ACTION_KEYS},
            "StateValue": composite.state, "StateReason": composite.state_reason,
            "StateUpdatedTimestamp": composite.state_updated, "StateTransitionedTimestamp": composite.state_updated,
        }
        if composite.state_reason_data:
            described["StateReasonData"] = composite.state_reason_data
        return described

    def set_alarm_state(self, name: str, state: str, reason: str, reason_data: str | None) -> None:
        alarm = self._any_alarm(name)
        if alarm is None:
            raise CloudWatchError(404, "ResourceNotFound", f"Alarm {name} not found")
        if state not in cloudwatch_enum("StateValue"):
            raise invalid(f"StateValue must be one of {', '.join(cloudwatch_enum('StateValue'))}")
        alarm.state_reason_data = reason_data
        self._transition(alarm, state, reason, self.clock.now())

    def delete_alarms(self, names: list[str]) -> None:
        """DeleteAlarms: names that are no alarm are passed over, as CloudWatch passes over them."""
        for name in names:
            composite = self.composites.pop(name, None)
            alarm = self.alarms.pop(name, None)
            for gone in (composite, alarm):
                if gone is not None:
                    self.tags.pop(gone.arn, None)
                    self.holdings.give("alarms")
            if alarm is not None and alarm.task is not None:
                alarm.task.cancel()

    def describe_alarms(self, names: list[str] | None = None, prefix: str | None = None,
                        state: str | None = None, types: tuple[str, ...] = ("MetricAlarm",)) -> list[Alarm | CompositeAlarm]:
        """DescribeAlarms: the metric alarms, the composite ones, or both (`types`), by name."""
        alarms: list[Alarm | CompositeAlarm] = [*(self.alarms.values() if "MetricAlarm" in types else ()),
                                                *(self.composites.values() if "CompositeAlarm" in types else ())]
        return [a for a in sorted(alarms, key=lambda a: a.name) if (not names or a.name in names)
                and (prefix is None or a.name.startswith(prefix))
                and (state is None or a.state == state)]

    def alarm_description(self, alarm: Alarm) -> dict[str, Any]:
        """The `MetricAlarm` shape (timestamps as epoch seconds; the wire layer formats them)."""
        described: dict[str, Any] = {
            "AlarmName": alarm.name, "AlarmArn": alarm.arn, "AlarmDescription": alarm.description,
            "AlarmConfigurationUpdatedTimestamp": alarm.created, "ActionsEnabled": alarm.actions_enabled,
            **{key: list(alarm.actions.get(key, [])) for key in ACTION_KEYS},
            "StateValue": alarm.state, "StateReason": alarm.state_reason,
            "StateUpdatedTimestamp": alarm.state_updated,
            "StateTransitionedTimestamp": alarm.state_updated,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints_to_alarm, "Threshold": alarm.threshold,
            "ComparisonOperator": alarm.comparison, "TreatMissingData": alarm.treat_missing_data,
        }
        if alarm.queries is not None:
            described["Metrics"] = alarm.queries
        else:
            described.update({"Metrics": [], "MetricName": alarm.metric_name, "Namespace": alarm.namespace,
                              "ExtendedStatistic" if alarm.extended else "Statistic": alarm.statistic,
                              "Dimensions": alarm.dimensions, "Period": alarm.period})
        if alarm.state_reason_data:
            described["StateReasonData"] = alarm.state_reason_data
        if alarm.unit:
            described["Unit"] = alarm.unit
        if alarm.low_sample_percentiles:
            described["EvaluateLowSampleCountPercentile"] = alarm.low_sample_percentiles
        return described

    def set_actions_enabled(self, names: list[str], enabled: bool) -> None:
        """EnableAlarmActions / DisableAlarmActions: unknown names are ignored, as CloudWatch does."""
        for name in names:
            found = self._any_alarm(name)
            if found is not None:
                found.actions_enabled = enabled

    def alarms_for_metric(self, namespace: str, metric_name: str,
                          dimensions: list[dict[str, str]] | None, statistic: str | None = None,
                          period: int | None = None) -> list[Alarm]:
        """DescribeAlarmsForMetric: the alarms on exactly this metric (and statistic, period if given)."""
        key = metric_key(namespace, metric_name, dimensions)
        return [a for a in sorted(self.alarms.values(), key=lambda a: a.name) if a.queries is None and a.key == key
                and (statistic is None or a.statistic == statistic) and (period is None or a.period == period)]

    def alarm_history(self, name: str | None, start: float | None, end: float | None) -> list[dict[str, Any]]:
        """DescribeAlarmHistory: each state transition (newest first), with its reason."""
        items = []
        for t in reversed(self.transitions):
            if (name and t.alarm != name) or (start is not None and t.timestamp < start) or (
                    end is not None and t.timestamp > end):
                continue
            kind = "CompositeAlarm" if t.alarm in self.composites else "MetricAlarm"
            items.append({"AlarmName": t.alarm, "AlarmType": kind, "Timestamp": t.timestamp,
                          "HistoryItemType": "StateUpdate",
                          "HistorySummary": f"Alarm updated from {t.old} to {t.new}",
                          "HistoryData": json.dumps({"version": "1.0", "oldState": {"stateValue": t.old},
                                                     "newState": {"stateValue": t.new, "stateReason": t.reason}})})
        return items

    def list_metrics(self, namespace: str | None, metric_name: str | None,
                     dimensions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        """ListMetrics: every metric with data (Lambda's published first), filtered as asked."""
        self._publish_lambda()
        wanted = {(d["Name"], d.get("Value")) for d in dimensions or []}
        found = []
        for ns, name, dims in sorted(self.metrics.series, key=lambda k: (k[0], k[1], sorted(k[2]))):
            if (namespace and ns != namespace) or (metric_name and name != metric_name):
                continue
            if any((n, v) not in dims if v is not None else all(held != n for held, _ in dims) for n, v in wanted):
                continue
            found.append({"Namespace": ns, "MetricName": name,
                          "Dimensions": [{"Name": n, "Value": v} for n, v in sorted(dims)]})
        return found
