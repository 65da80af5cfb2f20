"""Which of the deployment group's alarms read what the simulated Connect instance publishes: its
AWS/Connect metrics, or a metric filter's metric on its flow log group; through composite rules and
metric math too, and never an alarm the group does not watch."""

from __future__ import annotations

from simulator.deployment.alarm_inputs import alarms_reading_the_instance
from simulator.scenario.reader import load_scenario, parse_scenario
from simulator.scenario.spec import default_scenario
from tests.deployment.test_alarm_lint import FUNCTION
from tests.helpers import ROOT

CONNECT_ALARM = """[[alarms]]
name = "FlowErrors"
namespace = "AWS/Connect"
metric = "ContactFlowErrors"
dimensions = { InstanceId = "00000000-0000-4000-8000-000000000000", MetricGroup = "ContactFlow", ContactFlowName = "LambdaAlias-loop" }
"""
LAMBDA_ALARM = """[[alarms]]
name = "LambdaErrors"
dimensions = { FunctionName = "ConnectLambdaFunction", Resource = "ConnectLambdaFunction:PROD" }
"""
FILTER = """[[metric_filters]]
name = "failed-results"
log_group = "/aws/connect/shiftsim"
pattern = '{ $.Results = * }'
metric = "LambdaFailedResults"
namespace = "Connect/Flows"
"""
FILTER_ALARM = """[[alarms]]
name = "FailedResults"
namespace = "Connect/Flows"
metric = "LambdaFailedResults"
"""


def reading(*parts: str, deployment: str = "[deployment]\n") -> dict[str, list[str]]:
    return alarms_reading_the_instance(parse_scenario(FUNCTION + "".join(parts) + deployment, "s.toml"))


def test_the_seeds_alarm_reads_lambdas_metrics_only():
    assert alarms_reading_the_instance(default_scenario()) == {}


def test_the_teaching_scenarios_connect_alarm_reads_the_instances_metrics():
    scenario = load_scenario(ROOT / "scenarios" / "connect-rejects-answer.toml")
    assert alarms_reading_the_instance(scenario) == {"ContactFlowErrorsAlarm": ["metrics"]}


def test_a_metric_filter_on_the_instances_log_group_makes_its_alarm_read_the_flow_logs():
    assert reading(LAMBDA_ALARM, FILTER, FILTER_ALARM) == {"FailedResults": ["flow_logs"]}
    elsewhere = FILTER.replace("/aws/connect/shiftsim", "/aws/lambda/ConnectLambdaFunction")
    assert reading(LAMBDA_ALARM, elsewhere, FILTER_ALARM) == {}  # another log group: not the instance's
    off = "[connect]\nflow_logs = false\nmetrics = false\n"
    assert reading(off, CONNECT_ALARM, FILTER, FILTER_ALARM) == {}  # an instance that publishes nothing


def test_only_the_groups_alarms_count_and_composites_are_followed_to_their_metric_alarms():
    watched = '[deployment]\nalarms = ["LambdaErrors"]\n'
    assert reading(LAMBDA_ALARM, CONNECT_ALARM, deployment=watched) == {}
    composite = '[[alarms]]\nname = "Either"\nrule = "ALARM(LambdaErrors) OR ALARM(FlowErrors)"\n'
    assert reading(LAMBDA_ALARM, CONNECT_ALARM, composite, deployment='[deployment]\nalarms = ["Either"]\n') == {
        "FlowErrors": ["metrics"]}


def test_metric_math_reads_each_of_its_metrics():
    math = """[[alarms]]
name = "Rate"
threshold = 0.1
metrics = [
  { Id = "e", Expression = "errors / calls", ReturnData = true },
  { Id = "errors", ReturnData = false, MetricStat = { Stat = "Sum", Period = 60, Metric = { Namespace = "AWS/Connect", MetricName = "ContactFlowErrors" } } },
  { Id = "calls", ReturnData = false, MetricStat = { Stat = "Sum", Period = 60, Metric = { Namespace = "Connect/Flows", MetricName = "LambdaFailedResults" } } },
]
"""
    assert reading(FILTER, math) == {"Rate": ["flow_logs", "metrics"]}


def test_on_aws_the_real_groups_alarms_are_read_as_described():
    """DescribeAlarms' MetricAlarms of the real group, whatever the scenario declares: a metric alarm,
    a metric math alarm, and one on a metric filter the scenario puts on the instance's log group."""
    scenario = parse_scenario(FUNCTION + LAMBDA_ALARM + FILTER + "[deployment]\n", "s.toml")
    described = [
        {"AlarmName": "Lambda", "Namespace": "AWS/Lambda", "MetricName": "Errors"},
        {"AlarmName": "Flows", "Namespace": "AWS/Connect", "MetricName": "ContactFlowErrors"},
        {"AlarmName": "Math", "Metrics": [{"Id": "e", "Expression": "a + b"},
                                          {"Id": "b", "MetricStat": {"Metric": {"Namespace": "Connect/Flows",
                                                                                "MetricName": "LambdaFailedResults"}}}]},
    ]
    assert alarms_reading_the_instance(scenario, described) == {"Flows": ["metrics"], "Math": ["flow_logs"]}
    assert alarms_reading_the_instance(scenario, []) == {}  # the real group watches none of them


def test_on_aws_the_real_metric_filters_on_the_instances_log_group_count_too():
    """The account's own metric filters (DescribeMetricFilters' metrics): an alarm on one reads the
    instance's flow logs though the scenario declares no filter, and only those metrics do."""
    scenario = parse_scenario(FUNCTION + LAMBDA_ALARM + "[deployment]\n", "s.toml")
    described = [{"AlarmName": "Failed", "Namespace": "Ops", "MetricName": "FailedResults"},
                 {"AlarmName": "Other", "Namespace": "Ops", "MetricName": "Unrelated"}]
    assert alarms_reading_the_instance(scenario, described) == {}
    assert alarms_reading_the_instance(scenario, described, [("Ops", "FailedResults")]) == {"Failed": ["flow_logs"]}
