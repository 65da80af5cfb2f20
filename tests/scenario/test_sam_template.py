"""SAM templates as stacks: built through SAM's own transform, compared with what the transform
produced, provisioned on a real emulator and read back through boto3; hooks written with boto3 run
as user code; the new version from a folder or a git ref; bad templates as one line, exit 2."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from simulator.client.aws import Target, client
from simulator.deployment.clock import ScaledClock
from simulator.deployment.driver import DeploymentDriver
from simulator.scenario.reader import load_scenario, parse_scenario
from simulator.scenario.sam import cloudformation
from simulator.scenario.spec import ScenarioError, StackSource
from tests.helpers import ROOT, TESTS, RunningEmulator, wait_for

TEMPLATES = TESTS / "templates"
SEED, HOOKS, CUSTOM = TEMPLATES / "seed" / "template.yaml", TEMPLATES / "hooks" / "template.yaml", TEMPLATES / "custom.yaml"


def transformed(path: Path) -> dict:
    return cloudformation(path, "us-east-1", "123456789012", {})[0]["Resources"]


def of_type(resources: dict, kind: str) -> dict:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def running(scenario):
    return RunningEmulator(scenario)


def test_the_seed_template_is_the_stack_sams_transform_describes():
    scenario = load_scenario(None, StackSource(str(SEED)))
    cfn = transformed(SEED)
    (alias,) = of_type(cfn, "AWS::Lambda::Alias").values()
    (group_id, group), = of_type(cfn, "AWS::CodeDeploy::DeploymentGroup").items()
    (fn,) = scenario.functions
    assert fn.name == "ConnectLambdaFunction" and (fn.timeout, fn.memory) == (8, 128)
    assert [a.name for a in fn.aliases] == [alias["Properties"]["Name"]] == ["live"]
    code = fn.versions[0].code
    assert code is not None and Path(code.path) == SEED.parent / "src" and code.handler == "app.lambda_handler"
    assert code.environment == {"TABLE": "template-customers"}  # ${AWS::StackName}: the template's file name
    deployment = scenario.deployment
    assert deployment is not None and deployment.group == group_id
    assert deployment.config == "CodeDeployDefault.Lambda" + group["Properties"]["DeploymentConfigName"]["Fn::Sub"][1]["ConfigName"]
    assert [{"Name": {"Ref": a}} for a in deployment.alarms] == group["Properties"]["AlarmConfiguration"]["Alarms"]
    assert deployment.auto_rollback is group["Properties"]["AutoRollbackConfiguration"]["Enabled"] is True
    (alarm,) = scenario.alarms
    assert alarm.dimensions == {"Resource": "ConnectLambdaFunction:live", "FunctionName": "ConnectLambdaFunction"}


def test_the_seed_template_provisions_the_emulator_as_sam_deploy_would():
    emulator = running(load_scenario(None, StackSource(str(SEED))))
    try:
        lam, cd, cw = emulator.boto3("lambda"), emulator.boto3("codedeploy"), emulator.boto3("cloudwatch")
        assert lam.get_alias(FunctionName="ConnectLambdaFunction", Name="live")["FunctionVersion"] == "1"
        config = lam.get_function_configuration(FunctionName="ConnectLambdaFunction", Qualifier="live")
        assert (config["Runtime"], config["Handler"], config["Timeout"]) == ("python3.12", "app.lambda_handler", 8)
        assert config["Environment"]["Variables"] == {"TABLE": "template-customers"}
        out = lam.invoke(FunctionName="ConnectLambdaFunction:live", Payload=b"{}")
        assert json.loads(out["Payload"].read()) == {"version": "1"}  # the template's own code ran
        group = cd.get_deployment_group(applicationName="ServerlessDeploymentApplication",
                                        deploymentGroupName="ConnectLambdaFunctionDeploymentGroup")["deploymentGroupInfo"]
        assert group["deploymentConfigName"] == "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"
        assert group["alarmConfiguration"]["alarms"] == [{"name": "AliasErrorMetricGreaterThanZeroAlarm"}]
        (alarm,) = cw.describe_alarms(AlarmNames=["AliasErrorMetricGreaterThanZeroAlarm"])["MetricAlarms"]
        assert sorted((d["Name"], d["Value"]) for d in alarm["Dimensions"]) == [
            ("FunctionName", "ConnectLambdaFunction"), ("Resource", "ConnectLambdaFunction:live")]
    finally:
        emulator.close()


def test_dynamic_references_resolve_to_the_stacks_own_values_or_the_scenarios_and_are_said_otherwise(tmp_path):
    """CloudFormation puts a parameter's or a secret's value in place of `{{resolve:...}}` as it deploys:
    the stack's own ones resolve so, `[stack.resolve]` gives the rest, and one nothing gives stays as
    written and is said (the code would otherwise read the braces as its table name, silently)."""
    shutil.copytree(SEED.parent, tmp_path / "stack")
    template = tmp_path / "stack" / "template.yaml"
    template.write_text(template.read_text().replace(
        '          TABLE: !Sub "${AWS::StackName}-customers"\n',
        "          TABLE: '{{resolve:ssm:/app/table}}'\n"
        "          API_KEY: '{{resolve:secretsmanager:app/api:SecretString:key}}'\n"
        "          GREETING: 'say {{resolve:ssm:/shared/greeting:3}}'\n"
        "          REGION_NAME: '{{resolve:ssm:/shared/region}}'\n") + (
        "  TableName:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Name: /app/table\n      Type: String\n"
        "      Value: !Sub '${AWS::StackName}-customers'\n"
        "  ApiSecret:\n    Type: AWS::SecretsManager::Secret\n    Properties:\n      Name: app/api\n"
        "      SecretString: '{\"key\": \"k-123\"}'\n"))
    scenario = load_scenario(None, StackSource(str(template), resolve={"ssm:/shared/greeting:3": "hello"}))
    emulator = running(scenario)
    try:
        config = emulator.boto3("lambda").get_function_configuration(FunctionName="ConnectLambdaFunction",
                                                                     Qualifier="live")
        assert config["Environment"]["Variables"] == {
            "TABLE": "template-customers", "API_KEY": "k-123", "GREETING": "say hello",
            "REGION_NAME": "{{resolve:ssm:/shared/region}}"}
    finally:
        emulator.close()
    unfaithful = ("the deployed function ConnectLambdaFunction's environment keeps dynamic references unresolved "
                  "(REGION_NAME): its versions run with the references' text, not the values production's get; give "
                  "them in the scenario's [stack.resolve]")
    assert [note for note in scenario.notes if "resolve" in note] == [
        "ConnectLambdaFunction: its environment's REGION_NAME holds {{resolve:ssm:/shared/region}}, which "
        "CloudFormation resolves as it deploys and the stack does not make: the code gets the text as it is; give "
        'the value in the scenario\'s [stack.resolve] ("ssm:/shared/region" = "...")', unfaithful]
    assert scenario.unfaithful == (unfaithful,)  # the deployed function's own: it fails the run, said why
    from simulator.report.verdict import Expectations, verdict
    judged = verdict({"deployment": {"outcome": "succeeded"}, "run_info": {"unfaithful": list(scenario.unfaithful)}},
                     Expectations(outcome="succeeded"))
    assert not judged["passed"] and judged["checks"][-1]["check"] == f"rehearsed faithfully: {unfaithful}"
    given = load_scenario(None, StackSource(str(template), resolve={"ssm:/shared/greeting:3": "hello",
                                                                    "ssm:/shared/region": "eu-west-1"}))
    assert not given.unfaithful and not [note for note in given.notes if "resolve" in note]
    (tmp_path / "s.toml").write_text(f'[stack]\ntemplate = "{template}"\n[stack.resolve]\n"/shared/region" = "x"\n')
    with pytest.raises(ScenarioError, match=r"stack\.resolve\./shared/region: is not a dynamic reference"):
        load_scenario(tmp_path / "s.toml")


def test_a_custom_configuration_two_alarms_and_inline_code():
    scenario = load_scenario(None, StackSource(str(CUSTOM)))
    cfn = transformed(CUSTOM)
    (config_resource,) = of_type(cfn, "AWS::CodeDeploy::DeploymentConfig").values()
    canary = config_resource["Properties"]["TrafficRoutingConfig"]["TimeBasedCanary"]
    deployment = scenario.deployment
    assert deployment is not None and deployment.config == "Canary25Percent3Minutes"
    assert deployment.custom_config is not None
    assert (deployment.custom_config.percentage, deployment.custom_config.interval_minutes) == (
        canary["CanaryPercentage"], canary["CanaryInterval"])
    assert deployment.alarms == ("CustomerLookup-errors", "CustomerLookup-p99")
    assert not any("CustomerTable" in note for note in scenario.notes)  # a table is emulated (moto's DynamoDB)
    emulator = running(scenario)
    try:
        cd, cw, lam = emulator.boto3("codedeploy"), emulator.boto3("cloudwatch"), emulator.boto3("lambda")
        info = cd.get_deployment_config(deploymentConfigName="Canary25Percent3Minutes")["deploymentConfigInfo"]
        assert info["trafficRoutingConfig"]["timeBasedCanary"] == {"canaryPercentage": 25, "canaryInterval": 3}
        alarms = {a["AlarmName"]: a for a in cw.describe_alarms()["MetricAlarms"]}
        assert alarms["CustomerLookup-errors"]["Threshold"] == 0  # Fn::If on a condition that holds in us-east-1
        assert alarms["CustomerLookup-errors"]["TreatMissingData"] == "notBreaching"
        assert alarms["CustomerLookup-p99"]["ExtendedStatistic"] == "p99"
        assert alarms["CustomerLookup-p99"]["DatapointsToAlarm"] == 2
        assert lam.get_function_concurrency(FunctionName="CustomerLookup")["ReservedConcurrentExecutions"] == 20
        out = lam.invoke(FunctionName="CustomerLookup:live", Payload=b"{}")
        assert json.loads(out["Payload"].read()) == {"customer": "known", "version": "1"}  # InlineCode ran
        keys = emulator.boto3("dynamodb").describe_table(TableName="CustomerTable")["Table"]["KeySchema"]
        assert keys == [{"AttributeName": "phone", "KeyType": "HASH"}]  # the template's table, created
    finally:
        emulator.close()


async def deploy(scenario) -> object:
    clock = ScaledClock(60)
    emulator = RunningEmulator(scenario, clock=clock)
    try:
        target = Target("local", emulator.url)
        async with client(target, "lambda") as lam, client(target, "codedeploy") as cd, \
                client(target, "cloudwatch") as cw:
            driver = DeploymentDriver(lam, cd, cw, clock)
            spec = scenario.deployment
            deployment_id = await driver.start(spec.application, spec.group, spec.function, spec.alias,
                                               before_hook=spec.pre_traffic_hook, after_hook=spec.post_traffic_hook,
                                               version_references=spec.version_references)
            return await asyncio.wait_for(driver.watch(deployment_id, poll_interval=0.05), 120)
    finally:
        emulator.close()


@pytest.mark.parametrize("outcome, status", [("Succeeded", "Succeeded"), ("Failed", "Failed")])
async def test_hooks_written_with_boto3_decide_the_deployment(outcome, status):
    """The hooks are the template's own Python functions: they report to CodeDeploy through the
    endpoint AWS_ENDPOINT_URL gives them."""
    scenario = load_scenario(None, StackSource(str(HOOKS), parameters={"HookOutcome": outcome}))
    assert scenario.deployment is not None
    assert (scenario.deployment.pre_traffic_hook, scenario.deployment.post_traffic_hook) == (
        "CodeDeployHook_PreTraffic", "CodeDeployHook_PostTraffic")
    result = await deploy(scenario)
    assert result.status == status


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                   check=True, capture_output=True)


def test_the_new_version_is_the_code_at_a_git_ref(tmp_path):
    shutil.copytree(SEED.parent, tmp_path / "app")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "v1")
    (tmp_path / "app" / "src" / "app.py").write_text(
        "def lambda_handler(event, context):\n    return {'version': context.function_version, 'new': 'yes'}\n")
    git(tmp_path, "commit", "-qam", "the change")
    git(tmp_path, "branch", "change")
    git(tmp_path, "checkout", "-q", "HEAD~1")  # production's code in the work tree; the change on a branch
    with pytest.raises(ScenarioError, match="--new-ref: no commit 'nothing' in the repository at"):
        load_scenario(None, StackSource(str(tmp_path / "app" / "template.yaml"), new_ref="nothing"))
    scenario = load_scenario(None, StackSource(str(tmp_path / "app" / "template.yaml"), new_ref="change"))
    (fn,) = scenario.functions
    assert fn.staged is not None and fn.staged.code is not None
    assert "'new': 'yes'" in (Path(fn.staged.code.path) / "app.py").read_text()
    assert "'new'" not in (Path(fn.versions[0].code.path) / "app.py").read_text()
    emulator = running(scenario)
    try:
        lam = emulator.boto3()
        assert json.loads(lam.invoke(FunctionName="ConnectLambdaFunction:live")["Payload"].read()) == {"version": "1"}
        new = lam.publish_version(FunctionName="ConnectLambdaFunction")["Version"]
        body = json.loads(lam.invoke(FunctionName="ConnectLambdaFunction", Qualifier=new)["Payload"].read())
        assert body == {"version": new, "new": "yes"}
    finally:
        emulator.close()


def test_a_planted_folder_never_becomes_the_new_version(tmp_path):
    """Another local user who creates the folder an extraction would use decides nothing: each
    extraction is a fresh private folder of this process's own."""
    shutil.copytree(SEED.parent, tmp_path / "app")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "v1")
    (tmp_path / "app" / "src" / "app.py").write_text("def lambda_handler(event, context):\n    return {'new': 'yes'}\n")
    git(tmp_path, "commit", "-qam", "the change")
    commit = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    planted = Path(tempfile.gettempdir()) / f"shiftsim-ref-{commit[:16]}" / "app" / "src"
    planted.mkdir(parents=True)
    try:
        (planted / "app.py").write_text("def lambda_handler(event, context):\n    return {'planted': 'yes'}\n")
        scenario = load_scenario(None, StackSource(str(tmp_path / "app" / "template.yaml"), new_ref="HEAD"))
        (fn,) = scenario.functions
        staged = Path(fn.staged.code.path)
        assert "'new': 'yes'" in (staged / "app.py").read_text()
        assert not staged.is_relative_to(planted.parents[1])
        extraction = next(p for p in staged.parents if p.name.startswith("shiftsim-ref-"))
        assert extraction.stat().st_uid == os.getuid() and extraction.stat().st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(planted.parents[1])


def test_faults_on_top_of_the_users_change(tmp_path):
    text = f"""
[stack]
template = "{SEED}"
new_code = "{SEED.parent / 'src'}"
[deployment]
start_after = 2
[deployment.faults.error]
rate = 0.5
"""
    scenario = parse_scenario(text, str(tmp_path / "s.toml"))
    (fn,) = scenario.functions
    assert fn.staged is not None and fn.staged.faults.error is not None and fn.staged.faults.error.rate == 0.5
    assert scenario.deployment is not None and scenario.deployment.start_after == 2


@pytest.mark.parametrize("change, deploys", [(f'new_code = "{SEED.parent / "src"}"', True),
                                             ('new_ref = "HEAD"', True), ("", False)])
def test_a_change_given_is_deployed_even_with_no_deployment_table(tmp_path, change, deploys):
    """New code in [stack] is a change to rehearse: without a [deployment] table it was a load-only
    run that never deployed it, and passed. With no change, the stack is only loaded, as before."""
    scenario = parse_scenario(f'[stack]\ntemplate = "{SEED}"\n{change}\n', str(tmp_path / "s.toml"))
    assert scenario.deployment is not None and scenario.deployment.requested is deploys


@pytest.mark.parametrize("text, expected", [
    ('[stack]\ntemplate = "{seed}"\n[[functions]]\nname = "x"\n', "[functions] has no place beside it"),
    ('[stack]\ntemplate = "{seed}"\n[deployment]\nconfig = "AllAtOnce"\n', "deployment.config: the template's DeploymentPreference says this"),
    ('[stack]\ntemplate = "{seed}"\nnew_code = "nowhere"\n', "stack.new_code: is not a folder"),
    ('[stack]\ntemplate = "{seed}"\n[deployment]\nfunction = "Other"\n', "no DeploymentPreference for function 'Other'"),
    ('[stack]\nnew_code = "x"\n', "stack: missing key 'template'"),
    ('[stack]\ntemplate = "{plain}"\nnew_code = "{seed_src}"\n',
     "stack.new_code: {plain} has no function with AutoPublishAlias and DeploymentPreference to deploy the change to: "
     "give one of its functions (Plain) `AutoPublishAlias: live` and a `DeploymentPreference`"),
    ('[stack]\ntemplate = "{plain}"\n[deployment]\nstart_after = 3\n',
     "deployment: {plain} has no function with AutoPublishAlias and DeploymentPreference to deploy: give one"),
    ('[stack]\ntemplate = "{disabled}"\nnew_code = "{seed_src}"\n',  # SAM's per-stage switch, as its own test has it
     "stack.new_code: the DeploymentPreference of Switched says Enabled: false, so SAM deploys it with no traffic "
     "shifting and nothing to rehearse; enable it (its value, or the parameter it names"),
])
def test_a_scenario_that_misuses_a_template_is_one_line(tmp_path, text, expected):
    plain = tmp_path / "plain.yaml"  # a function with no AutoPublishAlias and DeploymentPreference
    plain.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n  Plain:\n    Type: AWS::Serverless::Function\n"
                     "    Properties:\n      Runtime: python3.11\n      Handler: app.handler\n"
                     "      InlineCode: \"def handler(event, context):\\n    return {}\\n\"\n")
    disabled = tmp_path / "disabled.yaml"
    disabled.write_text("Transform: AWS::Serverless-2016-10-31\nParameters:\n  Shift:\n    Type: String\n"
                        "    Default: 'false'\nResources:\n  Switched:\n    Type: AWS::Serverless::Function\n"
                        "    Properties:\n      Runtime: python3.11\n      Handler: index.handler\n"
                        "      InlineCode: \"def handler(event, context):\\n    return {}\\n\"\n"
                        "      AutoPublishAlias: live\n      DeploymentPreference: {Type: AllAtOnce, Enabled: !Ref Shift}\n")
    where = {"seed": SEED, "plain": plain, "seed_src": SEED.parent / "src", "disabled": disabled}
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text.format(**where), str(tmp_path / "s.toml"))
    assert expected.format(**where) in str(info.value) and "\n" not in str(info.value)


NO_STATISTIC = ("Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n"
                "    Properties: {InlineCode: 'x', Handler: index.h, Runtime: python2.7, AutoPublishAlias: live,\n"
                "                 DeploymentPreference: {Type: AllAtOnce, Alarms: [!Ref A]}}\n"
                "  A:\n    Type: AWS::CloudWatch::Alarm\n    Properties: {ComparisonOperator: GreaterThanThreshold,\n"
                "      EvaluationPeriods: 1, MetricName: Errors, Namespace: AWS/Lambda, Period: 60, Threshold: 1}\n")


@pytest.mark.parametrize("template, expected", [
    ("Resources: [unclosed", "not a YAML or JSON template"),
    ("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: missing/, Handler: a.b, Runtime: python3.11}\n",
     "Resources.F.Properties.CodeUri: 'missing/' is not a folder"),
    ("Transform: AWS::Serverless-2016-10-31\nParameters:\n  Stage: {Type: String}\nResources:\n  F:\n    Type: AWS::Serverless::Function\n"
     "    Properties: {InlineCode: 'x', Handler: index.h, Runtime: python3.11}\n", "parameters without a Default need a value"),
    ("Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties: {Handler: a.b}\n",
     "SAM's transform refused the template"),
    ("Resources:\n  A:\n    Type: AWS::CloudWatch::Alarm\n    Properties: {MetricName: !ImportValue other}\n", "another stack's export"),
    # SAM's own test inputs leave the transform out (their harness adds it): it was "declares no Lambda function"
    ("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties: {InlineCode: 'x', Handler: index.h, "
     "Runtime: python3.11, AutoPublishAlias: live}\n",
     "Resources: F (AWS::Serverless::Function) need SAM's transform, which the template does not declare"),
    # no Statistic: CloudWatch refuses the alarm, so validate does too (it said ok, and rehearse then failed)
    (NO_STATISTIC, "alarm A: The parameter Statistic must be one of SampleCount, Average, Sum, Minimum, Maximum."),
    # a flow's Name is its file's: a mapping (found by the property test) or a path is refused, never written
    ("Resources:\n  A:\n    Type: AWS::Connect::ContactFlow\n    Properties: {Content: '', Name: {'/': null}}\n",
     "Resources.A.Properties.Name: {'/': None} cannot name a flow here"),
    ("Resources:\n  A:\n    Type: AWS::Connect::ContactFlow\n    Properties: {Content: '', Name: ../../escape}\n",
     "Resources.A.Properties.Name: '../../escape' cannot name a flow here (a string, without '/'"),
])
def test_a_bad_template_is_one_line_and_exit_2(tmp_path, template, expected):
    path = tmp_path / "template.yaml"
    path.write_text(template)
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", "--template", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr and str(path) in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_validate_says_the_notes_of_a_template():
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", "--template", str(CUSTOM)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "note: not checked: AWS::IAM::Role (permissions are not enforced)" in done.stdout
    assert "ok: scenario 'custom'" in done.stdout


EXAMPLE = ROOT / "examples" / "sam-connect"


@pytest.mark.long(35)
@pytest.mark.parametrize("extra, outcome", [([], "rolled_back"),
                                            (["--new-code", str(EXAMPLE / "src")], "succeeded")])
def test_the_example_sam_project_rehearses_end_to_end(tmp_path, extra, outcome):
    """The README's command: the change (src-v2) fails every call it serves and is rolled back; the
    production code deployed again goes to 100 %."""
    args = [str(EXAMPLE / "rehearsal.toml"), "--results", str(tmp_path / "run"), *extra]
    if extra:  # the template alone: a template's defaults (x60, the deployment 5 s in), as docs/stacks.md says
        args[0:1] = ["--template", str(EXAMPLE / "template.yaml")]
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", *args],
                          capture_output=True, text=True, timeout=400)
    if extra:
        assert ("shiftsim: length: the deployment starts 5 s in; Linear10PercentEvery1Minute shifts a good version "
                "in 9 emulated minutes (9 s at x60), then 10 s of tail: about 24 s") in done.stdout, done.stdout
        assert "production 120 contacts/min at x60" in done.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["deployment"]["outcome"] == outcome, done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "run" / "timeline.png").stat().st_size > 0
    # production's version is warm from serving traffic: so is the rehearsal's, before its load
    assert "shiftsim: warmed before the load (4 execution environments a version)" in done.stdout
    versions = summary["versions"]
    if outcome == "rolled_back":
        assert versions["2"]["errors"] == versions["2"]["invocations"] > 0  # every call v2 served failed
        assert versions["1"]["errors"] == 0
    else:
        assert summary["errors"] == 0 and versions["2"]["invocations"] > 0


@pytest.mark.long(30)
def test_a_group_alarm_made_in_another_stack_withholds_the_verdict_until_its_definition_is_given(tmp_path):
    """The example's group names its alarm by the name another stack gave it: the emulator has no such
    alarm, so the rehearsal says so at start and withholds its verdict (exit 3), whatever happened; with
    the alarm's definition given (--alarms), it is judged. (x600: the verdict's timing is not this test's.)"""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    template = project / "template.yaml"
    template.write_text(template.read_text().replace("- !Ref AliasErrorMetricGreaterThanZeroAlarm",
                                                     "- MonitoringStackErrors"))
    settings = project / "rehearsal.toml"  # the deployment's start and the load after it: what this test needs of them
    settings.write_text(settings.read_text().replace("start_after = 5 ", "start_after = 2 ").replace("tail = 10", "tail = 1"))
    (tmp_path / "alarms.toml").write_text(
        '[[alarms]]\nname = "MonitoringStackErrors"\nmetric = "Errors"\nnamespace = "AWS/Lambda"\n'
        'dimensions = { FunctionName = "ConnectLambdaFunction", Resource = "ConnectLambdaFunction:live" }\n'
        'statistic = "Sum"\nperiod = 60\nevaluation_periods = 1\nthreshold = 0\ncomparison = "GreaterThanThreshold"\n')

    def rehearse(name, *extra):
        return subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(project / "rehearsal.toml"),
                               "--time-scale", "600", "--results", str(tmp_path / name), *extra],
                              capture_output=True, text=True, timeout=400)

    done = rehearse("elsewhere")
    said = done.stdout + done.stderr
    assert done.returncode == 3 and "verdict: COULD NOT JUDGE" in said, said
    assert ("shiftsim: alarm lint: alarm MonitoringStackErrors: the deployment group names it, and the stack does not "
            "declare it") in said
    assert "the deployment group has no alarm" not in said  # it has one, made elsewhere
    run_info = json.loads((tmp_path / "elsewhere" / "summary.json").read_text())["run_info"]
    assert run_info["alarms_undeclared"] == ["MonitoringStackErrors"]
    given = rehearse("given", "--alarms", str(tmp_path / "alarms.toml"))
    said = given.stdout + given.stderr
    assert "MonitoringStackErrors, which the stack does not declare" not in said and "does not declare it" not in said
    assert "alarms_undeclared" not in json.loads((tmp_path / "given" / "summary.json").read_text())["run_info"]
    assert given.returncode in (0, 1, 3), said  # judged on the deployment (or, at x600 on a busy machine, its pace)


def test_a_deployed_function_whose_code_cannot_run_here_fails_the_verdict(tmp_path):
    """A Java function deployed: a stand-in answers for it, which is said and fails the run."""
    from simulator.report.verdict import Expectations, verdict

    template = SEED.read_text().replace("Runtime: python3.12", "Runtime: java21")
    (tmp_path / "src").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(template)
    scenario = load_scenario(None, StackSource(str(path)))
    assert scenario.unfaithful and "does not run here" in scenario.unfaithful[0]
    assert scenario.unfaithful[0] in scenario.notes
    summary = {"deployment": {"outcome": "succeeded"}, "run_info": {"unfaithful": list(scenario.unfaithful)}}
    judged = verdict(summary, Expectations(outcome="succeeded"))
    assert not judged["passed"] and judged["checks"][-1]["check"].startswith("rehearsed faithfully: ")


def test_a_billion_laughs_template_is_refused_at_once(tmp_path):
    """Nine lines of YAML aliases that stand for half a billion values (the SAM transform walked them
    for minutes): refused in one line before any of it is expanded."""
    levels = ['  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for name, previous in zip("bcdefghi", "abcdefgh", strict=True):
        levels.append(f"  {name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    path = tmp_path / "template.yaml"
    path.write_text("AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\nMetadata:\n"
                    + "\n".join(levels) + "\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                    "      InlineCode: 'def handler(e, c): return {}'\n      Handler: index.handler\n"
                    "      Runtime: python3.12\n")
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", "--template", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "its YAML aliases expand to " in done.stderr and "values (at most 200,000)" in done.stderr


@pytest.mark.parametrize("change, parameters, said", [
    (("Type: Linear10PercentEvery1Minute", "Type: Linear50PercentEvery0Minutes"), {},
     "DeploymentPreference Type: unknown deployment configuration"),
    ((), {"Nope": "1"}, "parameters the template does not declare: Nope"),
])
def test_a_template_cloudformation_or_codedeploy_would_refuse_is_refused_when_read(tmp_path, change, parameters, said):
    """validate said ok to both, and rehearse then failed with a traceback (the configuration) or ran
    with a parameter CloudFormation refuses."""
    shutil.copytree(SEED.parent, tmp_path / "app")
    template = tmp_path / "app" / "template.yaml"
    if change:
        template.write_text(template.read_text().replace(*change))
    with pytest.raises(ScenarioError) as info:
        load_scenario(None, StackSource(str(template), parameters=parameters))
    assert said in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("broken, said", [
    (('"Type": "InvokeLambdaFunction"', '"Type": "InvokeLambdaFunctio"'),
     "action invoke-alias: type 'InvokeLambdaFunctio' is not an action of Connect's flow language"),
    (('"Actions"', '"Actionz"'), "not an exported flow (expected an object with Version, StartAction, Actions)"),
])
def test_a_broken_flow_in_a_template_is_named_by_its_resource(tmp_path, broken, said):
    """The flow a ContactFlow resource holds is checked from a file shiftsim writes: a problem in it
    names the template's resource, as validate and rehearse say it, not that file."""
    shutil.copytree(EXAMPLE, tmp_path / "stack")
    template = tmp_path / "stack" / "template.yaml"
    template.write_text(template.read_text().replace(*broken, 1))
    for command in (["validate"], ["rehearse", "--results", str(tmp_path / "run")]):
        done = subprocess.run([sys.executable, "-m", "simulator.cli", *command, "--template", str(template)],
                              capture_output=True, text=True, cwd=EXAMPLE.parent.parent, timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"shiftsim: error: {template}: Resources.LoopingFlow.Properties.Content: {said}" \
            f"{done.stderr.split(said, 1)[1]}", done.stderr
        assert "shiftsim-flows-" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def composite_example(folder: Path, rule: str = 'ALARM("${AliasErrorMetricGreaterThanZeroAlarm}") OR '
                                                 'ALARM(${SlowAlarm.Arn})') -> Path:
    """The example SAM project, its group watching a composite alarm over the alias's errors alarm
    and a second alarm (named by ARN) that never fires."""
    shutil.copytree(EXAMPLE, folder)
    template = folder / "template.yaml"
    text = template.read_text().replace("        - !Ref AliasErrorMetricGreaterThanZeroAlarm\n",
                                        "        - !Ref RollbackComposite\n")
    text = text.replace("  LoopingFlow:\n", f"""  SlowAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: connect-slow
      Namespace: AWS/Lambda
      MetricName: Duration
      Dimensions:
        - Name: FunctionName
          Value: !Ref ConnectLambdaFunction
      Statistic: Maximum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 7000
      ComparisonOperator: GreaterThanThreshold
  RollbackComposite:
    Type: AWS::CloudWatch::CompositeAlarm
    Properties:
      AlarmName: connect-rollback
      AlarmDescription: errors or slowness
      AlarmRule: !Sub '{rule}'
  LoopingFlow:
""")
    template.write_text(text)
    return folder


def test_a_composite_alarm_in_a_template_is_put_and_judged_over_the_alarms_it_names(tmp_path):
    from simulator.deployment.alarm_lint import FlowFacts, lint_alarms

    scenario = load_scenario(composite_example(tmp_path / "project") / "rehearsal.toml")
    assert scenario.deployment is not None and scenario.deployment.alarms == ("connect-rollback",)
    (composite,) = [a for a in scenario.alarms if a.rule is not None]
    assert composite.rule == ('ALARM("AliasErrorMetricGreaterThanZeroAlarm") OR '
                              'ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:connect-slow)')
    assert not any("CompositeAlarm" in note for note in scenario.notes)  # built, not "not emulated"
    lines = lint_alarms(scenario, FlowFacts(("LambdaAlias-loop",), string_map_blocks=1))
    assert not any("connect-rollback" in line or "does not declare" in line for line in lines), lines
    assert any(line.startswith("the group's alarms watch Lambda's metrics only") for line in lines)  # those behind it
    emulator = running(scenario)
    try:
        cw = emulator.boto3("cloudwatch")
        (put,) = cw.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
        assert (put["AlarmName"], put["AlarmRule"], put["AlarmDescription"]) == (
            "connect-rollback", composite.rule, "errors or slowness")
        assert put["StateValue"] == "OK"
        cw.set_alarm_state(AlarmName="connect-slow", StateValue="ALARM", StateReason="test")
        assert cw.describe_alarms(AlarmNames=["connect-rollback"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"][0]["StateValue"] == "ALARM"
    finally:
        emulator.close()


def test_a_composite_alarm_naming_an_alarm_the_stack_lacks_is_said_and_a_bad_rule_refused(tmp_path):
    from simulator.deployment.alarm_lint import lint_alarms

    scenario = load_scenario(composite_example(tmp_path / "a", 'ALARM(gone) OR ALARM(${SlowAlarm})') / "rehearsal.toml")
    assert ("composite alarm connect-rollback: its rule names alarm gone, which the stack does not declare: "
            "on the emulator ALARM(gone) is never true, so the verdict is withheld; fix: declare the alarm in the stack, give its "
            "definition with --alarms FILE (docs/plan.md), or remove it from the group") in lint_alarms(scenario)
    project = composite_example(tmp_path / "b", 'ALARM(${SlowAlarm}) OR')
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", str(project / "rehearsal.toml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Resources.RollbackComposite.Properties.AlarmRule: " in done.stderr and "Traceback" not in done.stderr
    planned = subprocess.run([sys.executable, "-m", "simulator.cli", "plan",
                              str(composite_example(tmp_path / "c") / "rehearsal.toml")],
                             capture_output=True, text=True, timeout=120)
    assert planned.returncode == 2 and "alarm connect-rollback is a composite alarm" in planned.stderr, planned.stderr


@pytest.mark.long(35)
def test_a_group_watching_a_composite_alarm_rolls_back_when_its_rule_holds(tmp_path):
    """The example's change, which fails every call, behind a composite over the errors alarm: the
    composite fires and CodeDeploy rolls back, as with the errors alarm itself."""
    project = composite_example(tmp_path / "project")
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(project / "rehearsal.toml"),
                           "--results", str(tmp_path / "run")], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["deployment"]["outcome"] == "rolled_back"
    fired = [a["alarm"] for a in summary["deployment"]["alarm_transitions"] if a["state"] == "ALARM"]
    assert "connect-rollback" in fired and "connect-slow" not in fired


SERVED = TEMPLATES / "served" / "template.yaml"


def test_a_templates_queues_topics_buckets_parameters_and_secrets_are_there_for_its_code():
    """The function's code uses each resource by the name its environment's Ref and GetAtt give it,
    as in the deployed stack; before, each was 'not emulated' and every such call failed."""
    scenario = load_scenario(None, StackSource(str(SERVED)))
    assert not any("not emulated" in note for note in scenario.notes), scenario.notes
    assert ("AWS::SNS::Topic OrdersTopic: made, but its subscriptions are not delivered (moto keeps what it is "
            "sent)") in scenario.notes
    assert {(r.kind, r.name) for r in scenario.resources} == {
        ("AWS::SQS::Queue", "OrdersQueue"), ("AWS::SQS::Queue", "orders-dead-letters"),
        ("AWS::SQS::Queue", "SequencedQueue.fifo"), ("AWS::SNS::Topic", "OrdersTopic"),
        ("AWS::S3::Bucket", "receiptsbucket"), ("AWS::SSM::Parameter", "/connect/greeting"),
        ("AWS::SecretsManager::Secret", "orders/database")}
    emulator = running(scenario)
    try:
        out = emulator.boto3("lambda").invoke(FunctionName="Orders:live", Payload=b"{}")
        answer = json.loads(out["Payload"].read())
        assert "FunctionError" not in out, answer
        assert answer == {"parameter": "welcome", "user": "connect", "password_length": "20",
                          "queue_arn": "arn:aws:sqs:us-east-1:123456789012:OrdersQueue",
                          "bucket_arn": "arn:aws:s3:::receiptsbucket", "version": "1"}
        sqs = emulator.boto3("sqs")
        url = sqs.get_queue_url(QueueName="OrdersQueue")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["VisibilityTimeout"] == "45"
        assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith(":orders-dead-letters")
        s3 = emulator.boto3("s3")
        assert s3.get_object(Bucket="receiptsbucket", Key="order.json")["Body"].read() == b"{}"
        # the queue's message reaches the worker its SQS event source names, which writes it to the bucket
        processed = wait_for(lambda: s3.list_objects_v2(Bucket="receiptsbucket", Prefix="processed/").get("Contents"), 60)
        assert [s3.get_object(Bucket="receiptsbucket", Key=o["Key"])["Body"].read() for o in processed] == [b"order"]
        assert (scenario.event_sources[0].queue, scenario.event_sources[0].batch_size) == ("OrdersQueue", 5)
    finally:
        emulator.close()


def test_a_resource_its_service_refuses_is_one_line_naming_it(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(SERVED.read_text().replace("      Type: String\n      Value: welcome", "      Type: Secret\n      Value: welcome"))
    scenario = load_scenario(None, StackSource(str(template)))
    with pytest.raises(ScenarioError) as info:
        running(scenario)
    assert "AWS::SSM::Parameter /connect/greeting: " in str(info.value) and "\n" not in str(info.value)


def test_a_rehearsal_whose_emulator_refuses_the_stack_says_the_emulators_one_error_line(tmp_path):
    """The emulator prints notes before its error (here: a runtime that does not run here); the
    rehearsal said them all, on two lines, the first a note presented as the error."""
    path = tmp_path / "template.yaml"
    path.write_text(NO_STATISTIC)
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", "--template", str(path), "--results",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors == [f"shiftsim: error: the emulator did not start: {path}: alarm A: The parameter Statistic must be "
                      "one of SampleCount, Average, Sum, Minimum, Maximum."], done.stderr


def test_a_functions_layers_are_on_its_import_path_as_lambdas_opt_is(tmp_path):
    """A SAM project's own layers: one built by `sam build` (BuildMethod python3.x: its folder is
    /opt/python), one laid out by hand (python/ inside it), in the order Lambda extracts them, after
    the function's own code; a published layer's ARN is said, as this machine does not have it."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(
        "from greeting import greet\nfrom farewell import bye\n\n"
        "def handler(event, context):\n    return {'version': '1', 'said': greet() + ' ' + bye()}\n")
    (tmp_path / "built").mkdir()
    (tmp_path / "built" / "greeting.py").write_text("def greet():\n    return 'hello'\n")
    (tmp_path / "by-hand" / "python").mkdir(parents=True)
    (tmp_path / "by-hand" / "python" / "farewell.py").write_text("def bye():\n    return 'bye'\n")
    (tmp_path / "template.yaml").write_text("""Transform: AWS::Serverless-2016-10-31
Resources:
  Built:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: built/}
    Metadata: {BuildMethod: python3.11}
  ByHand:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: by-hand/}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      AutoPublishAlias: live
      DeploymentPreference: {Type: AllAtOnce}
      Layers: [!Ref Built, !Ref ByHand, arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV2:46]
""")
    scenario = load_scenario(None, StackSource(str(tmp_path / "template.yaml")))
    (fn,) = scenario.functions
    assert fn.versions[0].code.layers[0] == str(tmp_path / "built")
    assert ("Fn: layer arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV2:46 is not in the "
            "template's folders (a published layer): what it gives /opt is not there here; give a folder laid out as "
            "it is in [stack.layers]") in scenario.notes
    (tmp_path / "powertools" / "python").mkdir(parents=True)  # its content, as the user has it
    given = parse_scenario('[stack]\ntemplate = "template.yaml"\n[stack.layers]\n'
                           '"arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV2" = "powertools"\n',
                           str(tmp_path / "s.toml"))
    assert given.functions[0].versions[0].code.layers[-1] == str(tmp_path / "powertools" / "python")
    assert not any("AWSLambdaPowertoolsPythonV2" in note for note in given.notes)
    changed = parse_scenario('[stack]\ntemplate = "template.yaml"\n[stack.layers]\n'  # and with the command line's change
                             '"arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV2" = "powertools"\n',
                             str(tmp_path / "s.toml"), StackSource.given(new_code=str(tmp_path / "src")))
    assert changed.functions[0].versions[0].code.layers[-1] == str(tmp_path / "powertools" / "python")
    for table, said in [('"arn:aws:lambda:us-east-1:1:layer:X" = "powertools"', "is not a layer's ARN"),
                        ('"arn:aws:lambda:us-east-1:017000801446:layer:X:3" = "nowhere"', "is not a folder")]:
        with pytest.raises(ScenarioError, match=said):
            parse_scenario(f'[stack]\ntemplate = "template.yaml"\n[stack.layers]\n{table}\n', str(tmp_path / "s.toml"))
    assert not any("LayerVersion) is not emulated" in note for note in scenario.notes)  # the layers are used
    emulator = running(scenario)
    try:
        out = emulator.boto3().invoke(FunctionName="Fn:live", Payload=b"{}")
        assert out.get("FunctionError") is None, out["Payload"].read()
        assert json.loads(out["Payload"].read()) == {"version": "1", "said": "hello bye"}
    finally:
        emulator.close()


@pytest.mark.parametrize("properties, said", [
    ("      ProvisionedConcurrencyConfig:\n        ProvisionedConcurrentExecutions: 4\n", None),
    ("      ProvisionedConcurrencyConfig:\n        ProvisionedConcurrentExecutions: 0\n",
     "Resources.ConnectLambdaFunction: alias live's ProvisionedConcurrencyConfig: ProvisionedConcurrentExecutions "
     "must be a whole number of at least 1, got 0"),
    ("      ReservedConcurrentExecutions: 2\n      ProvisionedConcurrencyConfig:\n"
     "        ProvisionedConcurrentExecutions: 4\n",
     "Resources.ConnectLambdaFunction: provisioned concurrency 4 is more than the function's reserved concurrency 2"),
])
def test_a_functions_provisioned_concurrency_is_its_aliass_as_sam_puts_it(tmp_path, properties, said):
    """SAM's transform puts a function's ProvisionedConcurrencyConfig on its AutoPublishAlias: that
    alias is provisioned in the rehearsal, and the start says how it is shared while it shifts; what
    Lambda would refuse is one line."""
    shutil.copytree(EXAMPLE, tmp_path / "app")
    template = tmp_path / "app" / "template.yaml"
    template.write_text(template.read_text().replace("      Handler: app.lambda_handler\n",
                                                     "      Handler: app.lambda_handler\n" + properties, 1))
    if said is not None:
        with pytest.raises(ScenarioError) as info:
            load_scenario(None, StackSource(str(template)))
        assert said in str(info.value) and "\n" not in str(info.value)
        return
    scenario = load_scenario(None, StackSource(str(template)))
    (function,) = [f for f in scenario.functions if f.name == "ConnectLambdaFunction"]
    assert [(a.name, a.provisioned_concurrency) for a in function.aliases] == [("live", 4)]
    assert scenario.provisioned_said() == [  # said at start; not a note (a note is what is not rehearsed)
        "ConnectLambdaFunction: 4 on alias live: each version keeps its share of it initialised as the deployment "
        "shifts the weights; invocations past a version's share run on demand, and start cold"]
    assert not any("provisioned" in note for note in scenario.notes)


@pytest.mark.parametrize("properties, said", [
    ("      SnapStart:\n        ApplyOn: PublishedVersions\n",
     "ConnectLambdaFunction: SnapStart is not rehearsed: a cold start here runs the whole init phase"),
    ("      FileSystemConfigs:\n        - Arn: arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-1\n"
     "          LocalMountPath: /mnt/data\n",
     "ConnectLambdaFunction: its file system (FileSystemConfigs: /mnt/data) is not mounted here"),
    ("      VpcConfig:\n        SubnetIds: [subnet-1]\n        SecurityGroupIds: [sg-1]\n",
     "ConnectLambdaFunction: it runs outside its VPC here (VpcConfig)"),
    ("      LoggingConfig:\n        LogFormat: JSON\n",
     "ConnectLambdaFunction: LoggingConfig LogFormat JSON is not rehearsed: its log lines are text here"),
])
def test_a_functions_properties_the_rehearsal_does_not_reproduce_are_said(tmp_path, properties, said):
    shutil.copytree(EXAMPLE, tmp_path / "app")
    template = tmp_path / "app" / "template.yaml"
    template.write_text(template.read_text().replace("      Handler: app.lambda_handler\n",
                                                     "      Handler: app.lambda_handler\n" + properties, 1))
    scenario = load_scenario(None, StackSource(str(template)))
    assert any(note.startswith(said) for note in scenario.notes), scenario.notes
    plain = load_scenario(None, StackSource(str(EXAMPLE / "template.yaml")))
    assert not any(note.startswith(said) for note in plain.notes)  # said for the property, not for every function


def test_a_published_versions_own_provisioned_concurrency_is_said_not_dropped(tmp_path):
    """Plain CloudFormation can provision a published version (AWS::Lambda::Version's
    ProvisionedConcurrencyConfig) rather than the alias: not rehearsed, and said, naming the resource
    and where it would be."""
    (tmp_path / "template.yaml").write_text(
        "Resources:\n"
        "  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: python3.11\n"
        "      Handler: index.handler\n      Role: arn:aws:iam::123456789012:role/r\n"
        "      Code:\n        ZipFile: \"def handler(event, context):\\n    return {}\\n\"\n"
        "  FnVersion:\n    Type: AWS::Lambda::Version\n    Properties:\n      FunctionName: !Ref Fn\n"
        "      ProvisionedConcurrencyConfig:\n        ProvisionedConcurrentExecutions: 5\n"
        "  FnAlias:\n    Type: AWS::Lambda::Alias\n    Properties:\n      FunctionName: !Ref Fn\n"
        "      FunctionVersion: !GetAtt FnVersion.Version\n      Name: live\n")
    scenario = parse_scenario('[stack]\ntemplate = "template.yaml"\n', str(tmp_path / "s.toml"))  # load-only
    assert [(a.name, a.provisioned_concurrency) for a in scenario.functions[0].aliases] == [("live", None)]
    assert ("Fn: the provisioned concurrency of its published version (FnVersion: AWS::Lambda::Version "
            "ProvisionedConcurrencyConfig) is not rehearsed: that version's invocations start cold here") in \
        " ".join(scenario.notes)
