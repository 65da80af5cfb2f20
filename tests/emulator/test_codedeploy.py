"""CodeDeploy in the emulator through boto3 over HTTP, on a controlled clock: alarms stop and roll
back, StopDeployment with and without rollback, lifecycle hooks, and the API's own errors."""

import itertools

import pytest
from botocore.exceptions import ClientError

from simulator.deployment.clock import ManualClock
from tests.helpers import APP, FN, GROUP, MINUTE_ALIGNED, appspec_revision, running_emulator, wait_for

STACK = """
[scenario]
seed = 3
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
[functions.staged.faults.error]
rate = {error_rate}
[[functions.aliases]]
name = "PROD"
version = "1"
[[functions]]
name = "PreTrafficHook"
[[functions.versions]]
handler = "{pre_module}:{pre}"
[[functions]]
name = "PostTrafficHook"
[[functions.versions]]
handler = "simulator.emulator.hooks:{post}"
[deployment]
function = "ConnectLambdaFunction"
config = "{config}"
"""

STACK_DEFAULTS = {"error_rate": 0.0, "pre": "succeed", "post": "succeed", "config": "Linear10PercentEvery1Minute",
                  "pre_module": "simulator.emulator.hooks"}


class Stack:
    def __init__(self, running, clock):
        self.running, self.clock = running, clock
        self.lam, self.cd, self.cw = running.boto3(), running.boto3("codedeploy"), running.boto3("cloudwatch")

    def deploy(self, **kwargs):
        target = self.lam.publish_version(FunctionName=FN)["Version"]
        created = self.cd.create_deployment(applicationName=APP, deploymentGroupName=GROUP,
                                            revision=appspec_revision("1", target, **kwargs))
        self.advance(0)
        return created["deploymentId"]

    def advance(self, seconds):
        self.running.call(self.clock.advance(seconds))

    def info(self, deployment_id):
        return self.cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]

    def alias(self):
        alias = self.lam.get_alias(FunctionName=FN, Name="PROD")
        return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {})

    def lifecycle(self, deployment_id, name):
        events = self.target(deployment_id)["lifecycleEvents"]
        return next(e["status"] for e in events if e["lifecycleEventName"] == name)

    def target(self, deployment_id):
        return self.cd.get_deployment_target(deploymentId=deployment_id, targetId=f"{FN}:PROD")[
            "deploymentTarget"]["lambdaTarget"]


@pytest.fixture
def stack(request):
    params = {**STACK_DEFAULTS, **getattr(request, "param", {})}
    clock = ManualClock(MINUTE_ALIGNED)
    with running_emulator(STACK.format(**params), clock=clock) as running:
        yield Stack(running, clock)


@pytest.mark.parametrize("stack", [{"error_rate": 1.0}], indirect=True)
def test_errors_in_the_new_version_alarm_and_roll_back(stack):
    deployment = stack.deploy()
    weights_seen = []
    for _ in range(60):  # bounded: 10 emulated minutes at most
        for _ in range(20):
            stack.lam.invoke(FunctionName=FN + ":PROD", Payload=b"{}")
        stack.advance(10)
        weights_seen.append(stack.alias())
        if stack.info(deployment)["status"] != "InProgress":
            break
    info = stack.info(deployment)
    assert info["status"] == "Stopped"
    assert info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "AliasErrorMetricGreaterThanZeroAlarm" in info["errorInformation"]["message"]
    assert stack.alias() == ("1", {})  # flipped straight back
    assert any(w for _, w in weights_seen)  # it had shifted some traffic first
    rollback_id = info["rollbackInfo"]["rollbackDeploymentId"]
    rollback = stack.info(rollback_id)
    assert rollback["creator"] == "codeDeployRollback" and rollback["status"] == "Succeeded"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment
    alarm = stack.cw.describe_alarms()["MetricAlarms"][0]
    # CodeDeploy saw the alarm at a poll (every 60 s from the start), after it fired.
    assert info["completeTime"] >= alarm["StateUpdatedTimestamp"]
    assert (info["completeTime"].timestamp() - MINUTE_ALIGNED) % 60 == 0


def test_an_alarm_already_firing_stops_the_deployment_before_any_shift(stack):
    stack.cw.set_alarm_state(AlarmName="AliasErrorMetricGreaterThanZeroAlarm", StateValue="ALARM",
                             StateReason="already broken")
    deployment = stack.deploy()
    info = stack.info(deployment)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert stack.alias() == ("1", {})
    events = {e["lifecycleEventName"]: e["status"] for e in stack.target(deployment)["lifecycleEvents"]}
    assert events["AllowTraffic"] == "Skipped"


def test_stop_with_rollback_flips_back(stack):
    deployment = stack.deploy()
    stack.advance(60)
    assert stack.alias() == ("1", {"2": 0.2})
    assert stack.cd.stop_deployment(deploymentId=deployment, autoRollbackEnabled=True)["status"] == "Succeeded"
    info = stack.info(deployment)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "MANUAL_STOP"
    assert stack.alias() == ("1", {}) and "rollbackDeploymentId" in info["rollbackInfo"]
    with pytest.raises(ClientError) as error:
        stack.cd.stop_deployment(deploymentId=deployment)
    assert error.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"


def test_stop_without_rollback_leaves_the_alias_split(stack):
    deployment = stack.deploy()
    stack.advance(120)
    stack.cd.stop_deployment(deploymentId=deployment, autoRollbackEnabled=False)
    assert stack.info(deployment)["status"] == "Stopped"
    assert "rollbackInfo" not in stack.info(deployment)
    stack.advance(600)
    assert stack.alias() == ("1", {"2": 0.3})


def test_hooks_that_succeed_run_before_and_after_traffic(stack):
    deployment = stack.deploy(before="PreTrafficHook", after="PostTrafficHook")
    wait_for(lambda: stack.lifecycle(deployment, "BeforeAllowTraffic") == "Succeeded")  # the hook's own call
    for _ in range(10):
        stack.advance(60)
    wait_for(lambda: stack.info(deployment)["status"] == "Succeeded")
    info = stack.info(deployment)
    assert info["status"] == "Succeeded" and stack.alias() == ("2", {})
    events = stack.target(deployment)["lifecycleEvents"]
    assert [(e["lifecycleEventName"], e["status"]) for e in events] == [
        ("BeforeAllowTraffic", "Succeeded"), ("AllowTraffic", "Succeeded"), ("AfterAllowTraffic", "Succeeded")]


@pytest.mark.parametrize("stack", [{"pre": "fail"}], indirect=True)
def test_a_failing_pre_traffic_hook_fails_the_deployment_before_any_shift(stack):
    deployment = stack.deploy(before="PreTrafficHook")
    wait_for(lambda: stack.info(deployment)["status"] != "InProgress")
    info = stack.info(deployment)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert stack.alias() == ("1", {})


@pytest.mark.parametrize("stack", [{"post": "silent"}], indirect=True)
def test_a_hook_that_never_answers_fails_after_the_hour_and_rolls_back(stack):
    deployment = stack.deploy(after="PostTrafficHook")
    for _ in range(12):
        stack.advance(60)
    assert stack.info(deployment)["status"] == "InProgress" and stack.alias() == ("2", {})
    stack.advance(3600)
    info = stack.info(deployment)
    assert info["status"] == "Failed" and "did not report" in info["errorInformation"]["message"]
    assert stack.alias() == ("1", {})  # DEPLOYMENT_FAILURE rolls back: SAM enables it


@pytest.mark.parametrize("stack", [{"pre": "raises", "pre_module": "tests.handlers"}], indirect=True)
def test_a_hook_whose_invocations_fail_says_why_in_its_lifecycle_events_diagnostics(stack):
    """A hook that raises never reports: CodeDeploy waits the hour, as on AWS, where its logs say why;
    the lifecycle event's diagnostics say it here, in the function's own words, with Lambda's retries
    of the asynchronous call spent."""
    logs = stack.running.boto3("logs")

    def failed_attempts():
        found = logs.filter_log_events(logGroupName="/aws/lambda/PreTrafficHook", filterPattern="REPORT")
        return len(found["events"])  # one REPORT line an attempt

    deployment = stack.deploy(before="PreTrafficHook")
    for attempt, wait in ((1, 60), (2, 120), (3, 3600)):  # Lambda retries an asynchronous call twice
        wait_for(lambda attempt=attempt: failed_attempts() >= attempt)
        stack.advance(wait)
    wait_for(lambda: stack.info(deployment)["status"] == "Failed")
    event = next(e for e in stack.target(deployment)["lifecycleEvents"] if e["lifecycleEventName"] == "BeforeAllowTraffic")
    assert event["status"] == "Failed"
    assert event["diagnostics"] == {"errorCode": "ScriptFailed", "scriptName": "PreTrafficHook",
                                    "message": "The hook's invocation failed: ValueError: the user's own bug"}


def test_a_second_deployment_of_the_group_is_rejected_while_one_is_active(stack):
    # AWS's message, as public CI logs quote it (CircleCI-Public/aws-ecs-orb issue 181); the
    # contract said Queued until 2026-12-01.
    first = stack.deploy()
    assert stack.lam.publish_version(FunctionName=FN)["Version"] == "2"  # unchanged code: nothing new
    with pytest.raises(ClientError) as caught:
        stack.cd.create_deployment(applicationName=APP, deploymentGroupName=GROUP,
                                   revision=appspec_revision("1", "2"))
    assert caught.value.response["Error"]["Code"] == "DeploymentLimitExceededException"
    assert caught.value.response["Error"]["Message"] == \
        f"The Deployment Group '{GROUP}' already has an active Deployment '{first}'"
    assert [d for d in stack.cd.list_deployments(applicationName=APP, deploymentGroupName=GROUP)["deployments"]] \
        == [first]
    for _ in range(12):
        stack.advance(60)
    assert stack.info(first)["status"] == "Succeeded"
    second = stack.cd.create_deployment(applicationName=APP, deploymentGroupName=GROUP,
                                        revision=appspec_revision("2", "1"))["deploymentId"]
    stack.advance(1)
    assert stack.info(second)["status"] == "InProgress"  # once the first ended, accepted


def test_api_errors_and_reads(stack):
    cd = stack.cd
    assert cd.list_applications()["applications"] == [APP]
    assert cd.get_application(applicationName=APP)["application"]["computePlatform"] == "Lambda"
    group = cd.get_deployment_group(applicationName=APP, deploymentGroupName=GROUP)["deploymentGroupInfo"]
    assert group["deploymentConfigName"] == "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"
    assert group["alarmConfiguration"]["alarms"] == [{"name": "AliasErrorMetricGreaterThanZeroAlarm"}]
    assert group["autoRollbackConfiguration"]["enabled"] is True
    assert cd.list_deployment_groups(applicationName=APP)["deploymentGroups"] == [GROUP]
    cases = [
        (cd.get_application, {"applicationName": "nope"}, "ApplicationDoesNotExistException"),
        (cd.get_deployment_group, {"applicationName": APP, "deploymentGroupName": "nope"},
         "DeploymentGroupDoesNotExistException"),
        (cd.get_deployment, {"deploymentId": "d-NOPE12345"}, "DeploymentDoesNotExistException"),
        (cd.create_application, {"applicationName": APP, "computePlatform": "Lambda"},
         "ApplicationAlreadyExistsException"),
        (cd.create_deployment, {"applicationName": APP, "deploymentGroupName": GROUP,
                                "revision": appspec_revision("1", "9")}, "InvalidRevisionException"),
        (cd.create_deployment, {"applicationName": APP, "deploymentGroupName": GROUP,
                                "revision": {"revisionType": "AppSpecContent",
                                             "appSpecContent": {"content": "{not: [valid"}}},
         "InvalidRevisionException"),
    ]
    for call, kwargs, code in cases:
        with pytest.raises(ClientError) as info:
            call(**kwargs)
        assert info.value.response["Error"]["Code"] == code, (call, kwargs)
    deployment = stack.deploy()
    assert cd.list_deployments(applicationName=APP, deploymentGroupName=GROUP)["deployments"] == [deployment]
    assert cd.list_deployment_targets(deploymentId=deployment)["targetIds"] == [f"{FN}:PROD"]
    batch = cd.batch_get_deployment_targets(deploymentId=deployment, targetIds=[f"{FN}:PROD"])
    assert batch["deploymentTargets"][0]["lambdaTarget"]["lambdaFunctionInfo"]["targetVersionWeight"] == 0.1
    with pytest.raises(ClientError) as info:
        cd.put_lifecycle_event_hook_execution_status(deploymentId=deployment,
                                                     lifecycleEventHookExecutionId="nope", status="Succeeded")
    assert info.value.response["Error"]["Code"] == "InvalidLifecycleEventHookExecutionIdException"


class LateTimersClock(ManualClock):
    """A ManualClock whose relative sleeps end 5 ms late, as timers on a busy loop do, and whose
    sleepers due at the same instant wake last set, first (nothing may depend on that order)."""

    def __init__(self, start):
        super().__init__(start)
        self._order = itertools.count(0, -1)

    async def sleep(self, seconds):
        await self.sleep_until(self.now() + max(0.0, seconds) + 0.005)


def test_alarm_polls_keep_their_instants_and_come_before_a_shift_due_at_the_same_time():
    clock = LateTimersClock(MINUTE_ALIGNED)
    with running_emulator(STACK.format(**STACK_DEFAULTS), clock=clock) as running:
        stack = Stack(running, clock)
        stack.advance(30)  # the shifts and polls (start + 60 k) fall between the alarm's evaluations (each minute)
        started = clock.now()
        aliases = []  # every UpdateAlias the model applies: (emulated seconds from the start, version, weights)
        update_alias = running.emulator.lambda_.update_alias

        def observed_update(function, alias, version=None, **kwargs):
            weights = (kwargs.get("routing") or {}).get("AdditionalVersionWeights", {})
            aliases.append((round(clock.now() - started, 3), version, dict(weights)))
            return update_alias(function, alias, version, **kwargs)

        running.emulator.lambda_.update_alias = observed_update
        deployment = stack.deploy()
        stack.advance(160)  # shifts at +0, +60, +120; the alarm evaluated at +150
        stack.cw.set_alarm_state(AlarmName="AliasErrorMetricGreaterThanZeroAlarm", StateValue="ALARM",
                                 StateReason="broken between two polls")
        stack.advance(40)  # the poll and the next shift are both due at +180
        info = stack.info(deployment)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert info["completeTime"].timestamp() == started + 180  # the poll kept its instant
    assert aliases == [(0.0, "1", {"2": 0.1}), (60.0, "1", {"2": 0.2}), (120.0, "1", {"2": 0.3}),
                       (180.0, "1", {})]  # no shift to 0.4 before the rollback


def test_required_names_and_an_unknown_application(stack):
    # botocore refuses empty names itself; other clients send them: CodeDeploy's answer, on the wire
    for operation, params, code in [
            ("GetDeploymentGroup", {"deploymentGroupName": GROUP}, "ApplicationNameRequiredException"),
            ("GetDeploymentGroup", {"applicationName": APP}, "DeploymentGroupNameRequiredException"),
            ("ListDeploymentGroups", {"applicationName": ""}, "ApplicationNameRequiredException")]:
        status, body = stack.running.post_json("/", params, {"X-Amz-Target": f"CodeDeploy_20141006.{operation}",
                                                             "Content-Type": "application/x-amz-json-1.1"})
        assert status == 400 and body["__type"] == code, body
    with pytest.raises(ClientError) as caught:
        stack.cd.list_deployment_groups(applicationName="Nope")
    assert caught.value.response["Error"]["Code"] == "ApplicationDoesNotExistException"
    assert stack.cd.list_deployment_groups(applicationName=APP)["deploymentGroups"] == [GROUP]


def test_names_and_ids_are_checked_as_codedeploy_checks_them():
    """What a peer's suite found (issue 33): a missing group name, names given by halves, a malformed
    deployment id, each with CodeDeploy's own exception."""
    from simulator.scenario.reader import load_scenario
    from tests.helpers import RunningEmulator

    emulator = RunningEmulator(load_scenario(None))
    try:
        cd = emulator.boto3("codedeploy", parameter_validation=False)
        cases = [
            (cd.create_deployment, {"applicationName": "ServerlessDeploymentApplication"},
             "DeploymentGroupNameRequiredException"),
            (cd.list_deployments, {"deploymentGroupName": "ConnectLambdaFunctionDeploymentGroup"},
             "ApplicationNameRequiredException"),
            (cd.list_deployments, {"applicationName": "ServerlessDeploymentApplication"},
             "DeploymentGroupNameRequiredException"),
            (cd.get_deployment, {"deploymentId": "not-an-id"}, "InvalidDeploymentIdException"),
            (cd.get_deployment, {"deploymentId": ""}, "DeploymentIdRequiredException"),
        ]
        for call, kwargs, code in cases:
            with pytest.raises(ClientError) as caught:
                call(**kwargs)
            assert caught.value.response["Error"]["Code"] == code, (kwargs, caught.value.response["Error"])
        assert cd.list_deployments()["deployments"] == []  # neither name: the account's deployments
        cw = emulator.boto3("cloudwatch")
        assert cw.describe_alarms(AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []
        assert len(cw.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]) == 1
    finally:
        emulator.close()


def test_applications_and_groups_carry_tags_by_their_arns(stack):
    """TagResource, UntagResource and ListTagsForResource on an application's and a group's ARN, and
    the tags CreateApplication and CreateDeploymentGroup take; an unknown or foreign ARN is refused."""
    cd = stack.cd
    cd.create_application(applicationName="Tagged", computePlatform="Lambda", tags=[{"Key": "team", "Value": "ivr"}])
    cd.create_deployment_group(applicationName="Tagged", deploymentGroupName="G", serviceRoleArn="arn:aws:iam::123456789012:role/R",
                               tags=[{"Key": "tier", "Value": "1"}])
    app_arn = "arn:aws:codedeploy:us-east-1:123456789012:application:Tagged"
    group_arn = "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:Tagged/G"
    assert cd.list_tags_for_resource(ResourceArn=app_arn)["Tags"] == [{"Key": "team", "Value": "ivr"}]
    assert cd.list_tags_for_resource(ResourceArn=group_arn)["Tags"] == [{"Key": "tier", "Value": "1"}]
    cd.tag_resource(ResourceArn=app_arn, Tags=[{"Key": "team", "Value": "voice"}, {"Key": "cost", "Value": "cc"}])
    cd.untag_resource(ResourceArn=app_arn, TagKeys=["cost", "absent"])
    assert cd.list_tags_for_resource(ResourceArn=app_arn)["Tags"] == [{"Key": "team", "Value": "voice"}]
    for arn, code in ((app_arn.replace("Tagged", "Nope"), "ApplicationDoesNotExistException"),
                      (group_arn.replace("/G", "/Nope"), "DeploymentGroupDoesNotExistException"),
                      ("arn:aws:codedeploy:us-east-1:123456789012:deploymentconfig:X", "InvalidArnException"),
                      (app_arn.replace("123456789012", "210987654321"), "ArnNotSupportedException")):
        with pytest.raises(ClientError) as caught:
            cd.list_tags_for_resource(ResourceArn=arn)
        assert caught.value.response["Error"]["Code"] == code, arn


def test_an_appspec_in_s3_on_the_same_endpoint_is_deployed(stack):
    """A revision of type S3 (the AppSpec file in a bucket, as `aws deploy push` leaves it) is read
    from the S3 the emulator serves (moto's) and deployed as the same AppSpec given inline would be."""
    from simulator.deployment.driver import appspec_content

    s3 = stack.running.boto3("s3")
    s3.create_bucket(Bucket="releases")
    target = stack.lam.publish_version(FunctionName=FN)["Version"]
    s3.put_object(Bucket="releases", Key="appspec.yaml", Body=appspec_content(FN, "PROD", "1", target).encode())
    location = {"bucket": "releases", "key": "appspec.yaml", "bundleType": "YAML"}
    deployment_id = stack.cd.create_deployment(applicationName=APP, deploymentGroupName=GROUP,
                                               revision={"revisionType": "S3", "s3Location": location})["deploymentId"]
    stack.advance(0)
    assert stack.alias() == ("1", {target: 0.1})  # the AppSpec read from S3 shifts its alias, step by step
    stack.advance(60)
    assert stack.alias() == ("1", {target: 0.2})
    assert stack.info(deployment_id)["revision"] == {"revisionType": "S3", "s3Location": location}
    stack.cd.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
    for revision, code in (({**location, "key": "absent.yaml"}, "RevisionDoesNotExistException"),
                           ({**location, "bundleType": "zip"}, "InvalidRevisionException")):
        wait_for(lambda: stack.info(deployment_id)["status"] in ("Stopped", "Failed"))
        with pytest.raises(ClientError) as caught:
            stack.cd.create_deployment(applicationName=APP, deploymentGroupName=GROUP,
                                       revision={"revisionType": "S3", "s3Location": revision})
        assert caught.value.response["Error"]["Code"] == code


def test_a_group_may_name_a_composite_alarm(stack):
    """A deployment group's alarm may be a composite one, as on AWS: in ALARM it stops the deployment."""
    stack.cw.put_composite_alarm(AlarmName="release-gate", AlarmRule="ALARM(AliasErrorMetricGreaterThanZeroAlarm) OR "
                                                                   "ALARM(release-hold)")
    stack.cw.put_metric_alarm(AlarmName="release-hold", Namespace="Team", MetricName="Hold", Statistic="Sum", Period=60,
                              EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
                              TreatMissingData="ignore")  # the state set below holds through empty periods
    stack.cd.create_deployment_group(applicationName=APP, deploymentGroupName="Gated", serviceRoleArn="arn:aws:iam::123456789012:role/R",
                                     deploymentConfigName="CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
                                     alarmConfiguration={"enabled": True, "alarms": [{"name": "release-gate"}]},
                                     autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_STOP_ON_ALARM"]})
    target = stack.lam.publish_version(FunctionName=FN)["Version"]
    deployment = stack.cd.create_deployment(applicationName=APP, deploymentGroupName="Gated",
                                            revision=appspec_revision("1", target))["deploymentId"]
    stack.advance(0)
    assert stack.alias() == ("1", {target: 0.1})
    stack.cw.set_alarm_state(AlarmName="release-hold", StateValue="ALARM", StateReason="change freeze")
    stack.advance(60)
    info = stack.info(deployment)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "release-gate" in info["errorInformation"]["message"]
    assert stack.alias() == ("1", {})  # rolled back
