"""The alarm lint: each way a deployment group's alarms fail in practice, named with its fix before
anything runs (the teaching scenarios' wrong alarms among them), and nothing said of a group whose
alarms would roll a bad version back; `shiftsim validate` prints it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from simulator.connect.flow import load_flow
from simulator.deployment.alarm_lint import FlowFacts, flow_facts, lint_alarms
from simulator.loadgen.options import DEFAULT_FLOW, flow_functions
from simulator.scenario.reader import load_scenario, parse_scenario
from simulator.scenario.spec import CodeSpec, ScenarioError
from tests.helpers import ROOT

SEED_FLOW = FlowFacts(("LambdaAlias-loop",), 1)


def lint_of(path: Path | str) -> list[str]:
    scenario = load_scenario(path)
    flow = scenario.load.flow or DEFAULT_FLOW
    flows = load_flow(flow, flow_map=scenario.flow_map,
                      functions=flow_functions(scenario, scenario.deployed_alias_arn(), "local", flow))
    return lint_alarms(scenario, flow_facts(flows, scenario.deployed_alias_arn()))


FUNCTION = """
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
[functions.staged]
[[functions.aliases]]
name = "PROD"
version = "1"
"""


def stack(alarm: str, config: str = "Canary10Percent5Minutes", load: str = "contacts_per_minute = 300",
          tables: str = "", function: str = FUNCTION) -> list[str]:
    scenario = parse_scenario(function + f"""[[alarms]]
name = "A"
{alarm}
[[alarms]]
name = "FlowErrors"
namespace = "AWS/Connect"
metric = "ContactFlowErrors"
dimensions = {{ InstanceId = "00000000-0000-4000-8000-000000000000", MetricGroup = "ContactFlow", ContactFlowName = "LambdaAlias-loop" }}
evaluation_periods = 1
[deployment]
config = "{config}"
[load]
{load}
{tables}
""", "s.toml")
    return lint_alarms(scenario, SEED_FLOW)


ALIAS = 'dimensions = { FunctionName = "ConnectLambdaFunction", Resource = "ConnectLambdaFunction:PROD" }'


def test_a_group_that_would_roll_back_gets_no_line():
    assert stack(ALIAS + "\nevaluation_periods = 1") == []
    assert lint_of(ROOT / "scenarios" / "connect-rejects-answer.toml") == []


def test_the_wrong_dimensions_are_named_with_the_ones_lambda_publishes():
    (line, _) = lint_of(ROOT / "scenarios" / "wrong-alarm-dimensions.toml")
    assert line.startswith("alarm ErrorsOnTheFunction: dimensions {FunctionName=ConnectLambdaFunction, "
                           "Resource=ConnectLambdaFunction}: Lambda publishes no metric with them")
    assert line.endswith("fix: Resource = ConnectLambdaFunction:PROD")


def test_a_metric_lambda_never_publishes_or_this_rehearsal_does_not_is_named():
    """SAM's own test template alarms on "Error" with the function's ARN as FunctionName: both are said,
    each with its fix; a metric Lambda publishes and the emulator does not is said as not rehearsed."""
    arn = 'dimensions = { FunctionName = "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction" }'
    (metric, dimensions) = stack('metric = "Error"\n' + arn + "\nevaluation_periods = 1")
    assert metric == ("alarm A: metric Error: Lambda publishes no metric of that name, so the alarm stays "
                      "INSUFFICIENT_DATA and never rolls back; fix: MetricName Errors")
    assert dimensions.startswith("alarm A: dimensions {FunctionName=arn:aws:lambda:")
    assert dimensions.endswith("fix: FunctionName = ConnectLambdaFunction, Resource = ConnectLambdaFunction:PROD")
    (line,) = stack('metric = "ConcurrentExecutions"\nstatistic = "Maximum"\n' + ALIAS + "\nevaluation_periods = 1")
    assert line.startswith("alarm A: metric ConcurrentExecutions: Lambda publishes it, and this rehearsal does not "
                           "(it publishes Invocations, Errors, Duration, Throttles, ProvisionedConcurrencyInvocations, "
                           "ProvisionedConcurrencySpilloverInvocations)")
    assert stack('metric = "Throttles"\n' + ALIAS + "\nevaluation_periods = 1") == []
    spillover = 'metric = "ProvisionedConcurrencySpilloverInvocations"\n' + ALIAS + "\nevaluation_periods = 1"
    (line,) = stack(spillover)
    assert line.startswith("alarm A: metric ProvisionedConcurrencySpilloverInvocations: alias ConnectLambdaFunction:PROD "
                           "has no provisioned concurrency, so Lambda publishes no data for it")
    provisioned = FUNCTION.replace('version = "1"\n', 'version = "1"\nprovisioned_concurrency = 2\n')
    assert stack(spillover, function=provisioned) == []  # with provisioned concurrency, it is published


def test_a_peak_hour_threshold_at_night_is_named():
    (line, _) = lint_of(ROOT / "scenarios" / "low-traffic-canary.toml")
    assert line.startswith("alarm AliasErrorsAbovePeakBaseline: threshold 5 Errors a 60-s period: at the quietest "
                           "hour (2 contacts/min) the new version meets about 2.0 calls a period")
    assert "fix: Threshold 0 (any error), or an error-rate alarm" in line
    # the same alarm over a day whose quietest hour is the night's: named from the profile
    night = ('[[load.profile]]\nfrom = "08:00"\nto = "20:00"\ncontacts_per_minute = 300\n'
             '[[load.profile]]\nfrom = "20:00"\nto = "08:00"\ncontacts_per_minute = 2')
    lines = stack(ALIAS + "\nthreshold = 5", load="", tables=night)
    assert any("at the quietest hour (2 contacts/min)" in line for line in lines)
    assert stack(ALIAS + "\nthreshold = 5") == []  # at 300 contacts a minute it can


def test_an_alarm_on_lambda_alone_cannot_see_what_connect_rejects():
    scenario = (ROOT / "scenarios" / "connect-rejects-answer.toml").read_text().replace(
        'config = "Linear10PercentEvery1Minute"',
        'config = "Linear10PercentEvery1Minute"\nalarms = ["AliasErrorMetricGreaterThanZeroAlarm"]')
    lines = lint_alarms(parse_scenario(scenario, str(ROOT / "scenarios" / "lambda-only.toml")), SEED_FLOW)
    (line,) = lines
    assert line.startswith("the group's alarms watch Lambda's metrics only: an answer Connect rejects")
    assert line.endswith("fix: add an alarm on AWS/Connect ContactFlowErrors {ContactFlowName=LambdaAlias-loop, "
                         "InstanceId=00000000-0000-4000-8000-000000000000, MetricGroup=ContactFlow}")


def test_a_window_longer_than_the_canary_is_named():
    (line,) = stack(ALIAS + "\nperiod = 300\nevaluation_periods = 2")
    assert "needs 2 breaching period(s) of 300 s (10 min) to fire, longer than the canary (5 min)" in line
    assert line.endswith("fix: a Period and DatapointsToAlarm whose product is under 5 min (Period 60, "
                         "DatapointsToAlarm 1)")
    assert stack(ALIAS + "\nperiod = 300\nevaluation_periods = 2", config="Linear10PercentEvery2Minutes") == []
    (line,) = stack(ALIAS + "\nperiod = 300\nevaluation_periods = 2", config="Linear10PercentEvery1Minute")
    assert "longer than the linear shift (9 min)" in line


def test_a_namespace_nothing_publishes_and_missing_data_at_low_traffic_are_named():
    (line,) = stack('namespace = "Custom/Checkout"\nmetric = "Failures"')
    assert line.startswith("alarm A: namespace Custom/Checkout: nothing the stack runs publishes there")
    assert "its code may, with PutMetricData or metrics embedded in its log lines, EMF" in line
    scenario = parse_scenario(FUNCTION + '[[alarms]]\nname = "A"\nnamespace = "Custom/Checkout"\nmetric = "Failures"\n'
                              '[deployment]\nconfig = "Canary10Percent5Minutes"\nalarms = ["A"]\n', "s.toml")
    (function,) = scenario.functions  # its code names Powertools' namespace: its log lines embed the metrics
    code = CodeSpec(path=str(ROOT), handler="app.handler", environment={"POWERTOOLS_METRICS_NAMESPACE": "Custom/Checkout"})
    powertools = replace(scenario, functions=(replace(function, versions=(replace(function.versions[0], code=code),)),))
    assert not any("namespace Custom/Checkout" in line for line in lint_alarms(powertools, SEED_FLOW))
    version = 'dimensions = { FunctionName = "ConnectLambdaFunction", Resource = "ConnectLambdaFunction:PROD", ExecutedVersion = "2" }'
    (line,) = stack(version, load="contacts_per_minute = 0.5")
    assert line.startswith("alarm A: at the quietest hour about 61 % of its 60-s periods have no datapoint")
    assert "TreatMissingData missing leaves them out" in line and "fix: TreatMissingData notBreaching" in line
    assert stack(version + '\ntreat_missing_data = "notBreaching"', load="contacts_per_minute = 0.5") == []
    assert stack(version, load="contacts_per_minute = 300") == []


def test_an_alarm_on_the_instances_flow_logs_is_named_when_the_instance_writes_none():
    """A metric filter on the instance's log group feeds nothing when the instance's flow logs are off."""
    on_flow_logs = 'namespace = "Connect/Flows"\nmetric = "LambdaFailedResults"'
    flow_filter = ('[[metric_filters]]\nname = "failed"\nlog_group = "/aws/connect/shiftsim"\npattern = "{ $.Results = * }"\n'
                   'metric = "LambdaFailedResults"\nnamespace = "Connect/Flows"\n')
    assert stack(on_flow_logs, tables=flow_filter) == []
    (line,) = stack(on_flow_logs, tables="[connect]\nflow_logs = false\n" + flow_filter)
    assert line.startswith("alarm A: namespace Connect/Flows: nothing the stack runs publishes there")


def test_all_at_once_and_a_group_without_alarms_are_named():
    lines = stack(ALIAS, config="AllAtOnce")
    assert lines[0].startswith("CodeDeployDefault.LambdaAllAtOnce: all traffic moves to the new version at once")
    bare = parse_scenario('[deployment]\nconfig = "Canary10Percent5Minutes"\nalarms = []\n', "bare.toml")
    (line,) = lint_alarms(bare, SEED_FLOW)
    assert line.startswith("the deployment group has no alarm: nothing rolls a bad version back; fix: an alarm")


def test_validate_prints_the_lint():
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", "scenarios/low-traffic-canary.toml"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "alarm lint: alarm AliasErrorsAbovePeakBaseline: threshold 5" in done.stdout


COMPOSITE = FUNCTION + """[[alarms]]
name = "A"
dimensions = { FunctionName = "ConnectLambdaFunction", Resource = "ConnectLambdaFunction" }
evaluation_periods = 1
[[alarms]]
name = "Both"
rule = 'ALARM("A") OR ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:B)'
[deployment]
alarms = ["Both"]
[load]
contacts_per_minute = 300
"""


def test_the_alarms_codedeploy_reads_that_the_stack_lacks_are_found_through_composite_rules():
    from simulator.deployment.alarm_inputs import undeclared_alarms

    scenario = parse_scenario(COMPOSITE, "s.toml")
    assert undeclared_alarms(scenario) == ["B"]  # named by the group's composite alarm's rule
    elsewhere = replace(scenario, deployment=replace(scenario.deployment, alarms=("Elsewhere", "Both", "Elsewhere")))
    assert undeclared_alarms(elsewhere) == ["Elsewhere", "B"]
    lines = lint_alarms(elsewhere, SEED_FLOW)
    assert any(line.startswith("alarm Elsewhere: the deployment group names it, and the stack does not declare it: "
                               "CodeDeploy reads it only if it is made elsewhere") for line in lines), lines
    assert undeclared_alarms(replace(scenario, deployment=None)) == []
    on_aws = lint_alarms(elsewhere, SEED_FLOW, on_emulator=False)  # AWS's CodeDeploy reads AWS's alarms
    assert ("alarm Elsewhere: the deployment group names it, and the stack does not declare it: CodeDeploy reads it "
            "only if it is made elsewhere (another stack, by hand)") in on_aws
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:A"  # the stack's alarm A, named by its ARN
    lines = lint_alarms(replace(scenario, deployment=replace(scenario.deployment, alarms=(arn,))), SEED_FLOW)
    assert (f"alarm {arn}: the deployment group names an alarm by its ARN, and CodeDeploy reads alarms by name: it "
            "finds none, so what it then does (stop the deployment, or go on unguarded) is not rehearsed and the "
            "verdict is withheld; fix: the alarm's name, A (a template's !Ref of the alarm gives it)") in lines
    assert not any("the deployment group has no alarm" in line for line in lines)


def test_a_composite_alarm_is_linted_through_the_alarms_its_rule_names():
    scenario = parse_scenario(COMPOSITE, "s.toml")
    assert [(a.name, a.rule) for a in scenario.alarms] == [
        ("A", None), ("Both", 'ALARM("A") OR ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:B)')]
    lines = lint_alarms(scenario, SEED_FLOW)
    assert any(line.startswith("alarm A: dimensions {FunctionName=ConnectLambdaFunction, Resource=ConnectLambdaFunction}: "
                               "Lambda publishes no metric with them") for line in lines), lines
    assert ("composite alarm Both: its rule names alarm B, which the stack does not declare: on the emulator ALARM(B) is "
            "never true, so the verdict is withheld; fix: declare the alarm in the stack, give its definition with --alarms "
            "FILE (docs/plan.md), or remove it from the group") in lines
    assert not any("the deployment group has no alarm" in line for line in lines)


@pytest.mark.parametrize("change, said", [
    (("OR ALARM(arn", "OR OR ALARM(arn"), "s.toml: alarms[1].rule: "),
    (('name = "Both"\n', 'name = "Both"\nthreshold = 3\n'),
     "s.toml: alarms[1].threshold: a composite alarm's state is its rule's over the alarms it names"),
])
def test_a_composite_alarm_in_a_scenario_is_checked_when_read(change, said):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(COMPOSITE.replace(*change), "s.toml")
    assert said in str(info.value) and "\n" not in str(info.value)
