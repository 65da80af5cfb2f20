"""A scenario's alarms put into CloudWatch as CloudFormation would create them (PutMetricAlarm's or
PutCompositeAlarm's parameters; composite alarms last, as a rule is checked against the alarms it
names). An alarm CloudWatch refuses is the scenario's mistake: one line naming it (ScenarioError).
The emulator puts them when it starts; `shiftsim validate` puts them into a throwaway backend, so
that it refuses what a rehearsal would."""

from __future__ import annotations

from simulator.deployment.clock import ScaledClock
from simulator.deployment.vocabulary import statistics
from simulator.emulator.cloudwatch.metric_data import CloudWatchError
from simulator.emulator.cloudwatch.models import CloudWatchBackend
from simulator.scenario.spec import AlarmSpec, Scenario, ScenarioError


def put_scenario_alarms(cloudwatch: CloudWatchBackend, scenario: Scenario) -> None:
    for alarm in sorted(scenario.alarms, key=lambda a: a.rule is not None):
        try:
            _put(cloudwatch, alarm)
        except CloudWatchError as exc:  # a template's alarm that CloudWatch would refuse
            raise ScenarioError(f"{scenario.source}: alarm {alarm.name}: {exc.message}") from None


def check_scenario_alarms(scenario: Scenario) -> None:
    """Raise the ScenarioError the emulator would raise for the scenario's alarms, without one."""
    put_scenario_alarms(CloudWatchBackend(ScaledClock(), region=scenario.region, account=scenario.account), scenario)


def _put(cloudwatch: CloudWatchBackend, alarm: AlarmSpec) -> None:
    if alarm.rule is not None:
        cloudwatch.put_composite_alarm(alarm.parameters or {"AlarmName": alarm.name, "AlarmRule": alarm.rule})
        return
    cloudwatch.put_metric_alarm(alarm.parameters or {
        "AlarmName": alarm.name, "Namespace": alarm.namespace, "MetricName": alarm.metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in alarm.dimensions.items()],
        **({"Statistic": alarm.statistic} if alarm.statistic in statistics()
           else {"ExtendedStatistic": alarm.statistic}), "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm, "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison, "TreatMissingData": alarm.treat_missing_data})
