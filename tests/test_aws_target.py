"""The real-AWS path, exercised: `--target aws` (rehearse, deploy, Locust, --watch-existing) reaching
an emulator only through the standard AWS configuration (a profile's endpoint_url, its credentials,
the credential chain), exactly as it would reach AWS; and the emulator checking SigV4 signatures as
AWS does (`serve --verify-signatures`), so a client set up with other credentials is caught."""

import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError

from simulator.report.record import DTYPE
from tests.helpers import http_request
from tests.test_cli import ROOT

KEY, SECRET = "AKIDSHIFTSIMTEST", "local-secret"
SCENARIO = """
[scenario]
name = "aws-path"
seed = 3
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
[functions.staged]
description = "new"
[[functions.aliases]]
name = "PROD"
version = "1"
[deployment]
{config}
start_after = 1
[load]
users = 5
spawn_rate = 5
prompt_time = "fixed:0.05"
tail = 1
max_duration = {max_duration}
[expect]
outcome = "succeeded"
min_invocations = 20
"""
ALL_AT_ONCE = 'config = "AllAtOnce"'


def no_aws_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"PYTHONPATH": str(ROOT)}


@pytest.fixture
def verifying_emulator(tmp_path):
    yield from serving(tmp_path)


def serving(tmp_path, time_scale=1, alarms=""):
    """`shiftsim serve --verify-signatures` on the scenario (with `alarms` declared), its credentials
    from its environment; yields (url, the scenario file, an environment with a profile pointing at it)."""
    scenario = tmp_path / "aws.toml"
    scenario.write_text(SCENARIO.format(config=ALL_AT_ONCE, max_duration=150) + alarms)
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--verify-signatures", "--scenario",
         str(scenario), "--admin-token-file", str(tmp_path / "token"), "--time-scale", str(time_scale)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env=no_aws_settings() | {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET})
    line = process.stdout.readline()
    assert line.startswith("shiftsim emulator listening on "), process.stderr.read()
    url = line.rsplit(" ", 1)[1].strip()
    (tmp_path / "config").write_text(
        f"[profile rehearsal]\nregion = us-east-1\nendpoint_url = {url}\n"
        f"[profile stale]\nregion = us-east-1\nendpoint_url = {url}\n")
    (tmp_path / "credentials").write_text(
        f"[rehearsal]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n"
        f"[stale]\naws_access_key_id = {KEY}\naws_secret_access_key = rotated-last-month\n")
    env = no_aws_settings() | {"AWS_CONFIG_FILE": str(tmp_path / "config"),
                               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
                               "AWS_PROFILE": "rehearsal"}
    try:
        yield url, scenario, env
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def client(url, service, key=KEY, secret=SECRET, region="us-east-1"):
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret)


def test_signatures_are_checked_as_aws_checks_them(verifying_emulator):
    url, _, _ = verifying_emulator
    assert client(url, "lambda").invoke(FunctionName="ConnectLambdaFunction:PROD")["ExecutedVersion"] == "1"
    assert len(client(url, "cloudwatch").describe_alarms()["MetricAlarms"]) == 1  # smithy-rpc-v2-cbor
    assert client(url, "codedeploy").list_applications()["applications"] == ["ServerlessDeploymentApplication"]
    calls = {"lambda": lambda c: c.invoke(FunctionName="ConnectLambdaFunction:PROD"),
             "cloudwatch": lambda c: c.describe_alarms(), "codedeploy": lambda c: c.list_applications()}
    wrong = [({"secret": "other"}, "InvalidSignatureException", "The request signature we calculated does not match"),
             ({"key": "AKIDSOMEONEELSE"}, "UnrecognizedClientException", "The security token included in the request is invalid."),
             ({"region": "eu-west-1"}, "InvalidSignatureException", "Credential should be scoped to a valid region")]
    for service, call in calls.items():
        for overrides, code, message in wrong:
            with pytest.raises(ClientError) as caught:
                call(client(url, service, **overrides))
            assert caught.value.response["Error"]["Code"] == code, (service, overrides)
            assert caught.value.response["Error"]["Message"].startswith(message)


def _signed(url, body, *, at, payload_header=None):
    """An Invoke signed with the scenario's credentials at time `at` (botocore's signer), as raw HTTP."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    path = "/2015-03-31/functions/ConnectLambdaFunction/invocations?Qualifier=PROD"
    headers = {"Content-Type": "application/json"}
    if payload_header is not None:
        headers["X-Amz-Content-SHA256"] = payload_header
    request = AWSRequest(method="POST", url=url + path, headers=headers, data=body)
    signer = SigV4Auth(Credentials(KEY, SECRET), "lambda", "us-east-1")
    request.context["timestamp"] = at.strftime("%Y%m%dT%H%M%SZ")  # what add_auth stamps with the time now
    signer._modify_request_before_signing(request)
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    signer._inject_signature_to_request(request, signature)
    return path, dict(request.headers.items())


def test_a_signature_is_good_for_15_minutes_and_for_its_own_body(verifying_emulator):
    """As AWS: a request signed in 2020 (a captured one, replayed) is refused as expired, one from
    the future too; under UNSIGNED-PAYLOAD or a stale payload hash a swapped body is refused."""
    url, _, _ = verifying_emulator
    host, port = url.removeprefix("http://").rsplit(":", 1)
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    cases = [(now, None, b"{}", 200, None),
             (datetime.datetime(2020, 1, 1), None, b"{}", 403, "Signature expired: 20200101T000000Z is now earlier than"),
             (now + datetime.timedelta(minutes=20), None, b"{}", 403, "Signature not yet current"),
             (now, "UNSIGNED-PAYLOAD", b'{"swapped": true}', 403, "x-amz-content-sha256"),
             (now, hashlib.sha256(b"{}").hexdigest(), b'{"swapped": true}', 403, "x-amz-content-sha256")]
    for at, payload_header, sent, status, message in cases:
        path, headers = _signed(url, b"{}", at=at, payload_header=payload_header)
        got, answer = http_request(host, int(port), "POST", path, sent, headers)
        assert got == status, (at, payload_header, answer)
        if message:
            assert message in json.loads(answer)["message"], answer


def test_the_aws_cli_signs_as_the_emulator_expects(verifying_emulator, tmp_path):
    url, _, env = verifying_emulator
    aws = Path(sys.executable).parent / "aws"
    if not aws.exists():
        pytest.skip("the AWS CLI comes with the dev extra")
    done = subprocess.run([aws, "lambda", "get-alias", "--function-name", "ConnectLambdaFunction", "--name", "PROD"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["FunctionVersion"] == "1"
    stale = subprocess.run([aws, "cloudwatch", "describe-alarms"], capture_output=True, text=True,
                           env=env | {"AWS_PROFILE": "stale"}, timeout=60)
    assert stale.returncode != 0 and "InvalidSignatureException" in stale.stderr


def test_a_rehearsal_on_the_aws_target_through_a_profile(verifying_emulator, tmp_path):
    _, scenario, env = verifying_emulator
    folder = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(scenario), "--target", "aws",
                           "--results", str(folder)], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "verdict: PASS" in done.stdout
    rows = np.fromfile(folder / "invocations.bin", dtype=DTYPE)
    assert len(rows) >= 20
    assert json.loads((folder / "run.json").read_text())["target"] == "aws"
    # the simulated instance publishes nothing to AWS, but the run folder has its flow logs
    entries = [json.loads(line) for line in (folder / "flow_logs.jsonl").read_text().splitlines()]
    assert sum(e["ContactFlowModuleType"] == "InvokeExternalResource" for e in entries) >= 20


ALIAS_ALARM = """
[[alarms]]
name = "AliasErrorMetricGreaterThanZeroAlarm"
dimensions = { FunctionName = "ConnectLambdaFunction", Resource = "ConnectLambdaFunction:PROD" }
"""
CONNECT_ALARM = ALIAS_ALARM + """[[alarms]]
name = "FlowErrors"
namespace = "AWS/Connect"
metric = "ContactFlowErrors"
dimensions = { InstanceId = "00000000-0000-4000-8000-000000000000", MetricGroup = "ContactFlow", ContactFlowName = "LambdaAlias-loop" }
evaluation_periods = 1
"""
FLOW_LOG_ALARM = ALIAS_ALARM + """[[metric_filters]]
name = "lambda-failed-results"
log_group = "/aws/connect/shiftsim"
pattern = '{ $.ContactFlowModuleType = "InvokeExternalResource" && $.Results = * }'
metric = "LambdaFailedResults"
namespace = "Connect/Flows"
[[alarms]]
name = "FlowErrors"
namespace = "Connect/Flows"
metric = "LambdaFailedResults"
evaluation_periods = 1
"""


@pytest.mark.parametrize(("alarms", "reads"), [
    (CONNECT_ALARM, "AWS/Connect metrics"),
    # the metric filter is the account's (DescribeMetricFilters), not the rehearsed scenario's
    (FLOW_LOG_ALARM, "flow logs (through a metric filter)")], ids=["connect-metrics", "flow-log-filter"])
def test_on_aws_a_group_alarm_on_what_connect_reports_is_said_at_start_and_withholds_the_verdict(
        tmp_path, alarms, reads):
    """The group also guarded by an alarm on AWS/Connect ContactFlowErrors, or on a metric filter of
    the instance's flow logs: on AWS the simulator is not Connect, so that alarm never sees the
    simulated contacts and cannot roll back what they meet. Said before the load, and the run is not
    judged (exit 3), however healthy it looked: it was a PASS. The alarm (and the filter) are the real
    account's (read from AWS, as CodeDeploy reads them): the rehearsal's own scenario declares neither."""
    serve = serving(tmp_path, alarms=alarms)
    _, served, env = next(serve)
    scenario = tmp_path / "rehearsed.toml"
    scenario.write_text(served.read_text().replace(alarms, ""))
    assert "FlowErrors" not in scenario.read_text() and "metric_filters" not in scenario.read_text()
    try:
        folder = tmp_path / "run"
        done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(scenario), "--target", "aws",
                               "--results", str(folder)], capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=240)
        assert done.returncode == 3, done.stdout[-3000:] + done.stderr[-3000:]
        said = done.stdout[:done.stdout.index("verdict:")]
        assert (f"shiftsim: alarm lint: alarm FlowErrors reads the Connect instance's {reads}: on AWS "
                "the simulator is not Connect and publishes none") in said
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["deployment"]["outcome"] == "succeeded" and summary["errors"] == 0
        assert all(check["passed"] for check in summary["verdict"]["checks"])
        assert summary["verdict"]["why_not_judged"] == (
            "on AWS the simulator is not Connect and publishes none of the instance's reports, so the deployment "
            "group's alarm(s) FlowErrors, which read them, never saw the simulated contacts: what they would have "
            "done (roll back) was not rehearsed; rehearse it on the emulator")
        assert "verdict: COULD NOT JUDGE" in done.stdout
    finally:
        serve.close()


def test_the_aws_target_refuses_what_cannot_work_before_any_load(verifying_emulator, tmp_path):
    """No credentials, credentials AWS refuses, an alias or a deployment group that does not exist:
    one line each, exit 2, before a contact starts (it ran on with 100 % errors)."""
    url, scenario, env = verifying_emulator
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(scenario.read_text().replace("start_after = 1", 'start_after = 1\ngroup = "Elsewhere"'))
    (tmp_path / "empty").write_text("")
    nothing = no_aws_settings() | {"AWS_CONFIG_FILE": str(tmp_path / "empty"), "AWS_EC2_METADATA_DISABLED": "true",
                                   "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "empty"), "AWS_REGION": "us-east-1"}
    cases = [
        ([str(scenario)], nothing, "no AWS credentials found"),
        ([str(scenario)], env | {"AWS_PROFILE": "stale"}, "AWS refuses the credentials: InvalidSignatureException"),
        ([str(scenario), "--alias-arn", "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:NOPE"],
         env, "function:ConnectLambdaFunction:NOPE does not exist: ResourceNotFoundException"),
        ([str(elsewhere)], env, "deployment group ServerlessDeploymentApplication/Elsewhere does not exist: "
         "DeploymentGroupDoesNotExistException"),
    ]
    for number, (args, environment, said) in enumerate(cases):
        folder = tmp_path / f"run{number}"
        done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", *args, "--target", "aws",
                               "--results", str(folder)], capture_output=True, text=True, env=environment,
                              cwd=ROOT, timeout=240)
        assert done.returncode == 2, (said, done.stdout[-2000:] + done.stderr[-2000:])
        errors = [line for line in done.stderr.splitlines() if "error" in line]  # an --alias-arn also gets a note
        assert len(errors) == 1 and errors[0].startswith("shiftsim: error: --target aws: "), (said, done.stderr)
        assert said in errors[0] and "Traceback" not in done.stderr, (said, errors[0])
        assert not (folder / "invocations.bin").exists()  # nothing started
    served = client(url, "lambda").invoke(FunctionName="ConnectLambdaFunction:PROD", InvocationType="DryRun")
    assert served["StatusCode"] == 204


def test_deploy_and_locust_on_the_aws_target(verifying_emulator, tmp_path):
    _, scenario, env = verifying_emulator
    deployed = subprocess.run([sys.executable, "-m", "simulator.cli", "deploy", "--target", "aws", "--scenario",
                               str(scenario)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "Succeeded" in deployed.stdout
    results = tmp_path / "results"
    locust = subprocess.run([sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "connect_loop.py"),
                             "--headless", "-u", "4", "-r", "4", "-t", "4s", "--processes", "2", "--target", "aws",
                             "--scenario", str(scenario), "--results-dir", str(results), "--deploy-after", "-1"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    (run,) = list(results.iterdir())
    rows = np.fromfile(run / "invocations.bin", dtype=DTYPE)
    assert len(rows) > 0
    # The workers ran the contacts and published nothing to AWS: their flow logs are in the master's
    # run folder, every invocation's entry, each worker's in its order
    entries = [json.loads(line) for line in (run / "flow_logs.jsonl").read_text().splitlines()]
    invoked = [e for e in entries if e["ContactFlowModuleType"] == "InvokeExternalResource"]
    assert len(invoked) == len(rows), locust.stderr[-3000:]
    assert len({e["ContactId"] for e in entries}) > 1
    # The load ran without a deployment (--deploy-after -1): the scenario's expected outcome was not
    # rehearsed, and the exit code is the verdict's, as from `shiftsim rehearse`
    assert locust.returncode == 1, locust.stderr[-3000:]
    assert "[FAIL] outcome: expected succeeded, got none" in locust.stderr
    assert "[ok] invocations, at least: expected 20, got" in locust.stderr


@pytest.fixture
def fast_verifying_emulator(tmp_path):
    yield from serving(tmp_path, time_scale=60)


def test_watch_existing_follows_the_deployment_sam_deploy_started(tmp_path, fast_verifying_emulator):
    url, scenario, env = fast_verifying_emulator
    deploy = client(url, "codedeploy")
    deploy.create_deployment_config(  # ten emulated minutes at x60: long enough to be found in progress
        deploymentConfigName="TenMinuteCanary", computePlatform="Lambda",
        trafficRoutingConfig={"type": "TimeBasedCanary",
                              "timeBasedCanary": {"canaryPercentage": 50, "canaryInterval": 10}})
    folder = tmp_path / "watched"
    rehearsal = subprocess.Popen([sys.executable, "-m", "simulator.cli", "rehearse", str(scenario), "--target", "aws",
                                  "--watch-existing", "--results", str(folder)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    waiting = threading.Event()

    def read() -> None:
        for line in rehearsal.stdout:
            lines.append(line)
            if "waiting for a deployment" in line:
                waiting.set()

    lines: list[str] = []
    threading.Thread(target=read, daemon=True).start()
    try:
        assert waiting.wait(90), lines
        publish = client(url, "lambda").publish_version(FunctionName="ConnectLambdaFunction")["Version"]
        started = deploy.create_deployment(  # what `sam deploy` does
            applicationName="ServerlessDeploymentApplication", deploymentGroupName="ConnectLambdaFunctionDeploymentGroup",
            deploymentConfigName="TenMinuteCanary",
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": json.dumps(
                {"version": 0.0, "Resources": [{"fn": {"Type": "AWS::Lambda::Function", "Properties": {
                    "Name": "ConnectLambdaFunction", "Alias": "PROD", "CurrentVersion": "1",
                    "TargetVersion": publish}}}]})}})["deploymentId"]
        rehearsal.wait(timeout=200)
    finally:
        if rehearsal.poll() is None:
            rehearsal.kill()
    assert rehearsal.returncode == 0, "".join(lines)[-3000:] + rehearsal.stderr.read()[-3000:]
    assert started in (folder / "timeline.jsonl").read_text()
    assert "verdict: PASS" in "".join(lines)


def test_a_permission_aws_denies_is_named_with_the_action_and_resource():
    """The emulator has no IAM, so AWS's own AccessDeniedException answer is built as botocore parses it."""
    from simulator.client.preflight import _said

    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "User: arn:aws:iam::1:user/ci is "
                                    "not authorized to perform: lambda:GetAlias"}}, "GetAlias")
    said = str(_said(denied, "lambda:GetAlias", "arn:aws:lambda:us-east-1:1:function:F:live", "--target aws"))
    assert said.startswith("--target aws: no permission for lambda:GetAlias on arn:aws:lambda:us-east-1:1:function:F:live")
    assert said.endswith("AccessDeniedException: User: arn:aws:iam::1:user/ci is not authorized to perform: lambda:GetAlias")


@pytest.mark.parametrize("with_token", [True, False])
def test_the_instances_flow_logs_reach_an_emulator_that_checks_signatures_with_its_admin_token(
        tmp_path, monkeypatch, with_token):
    """The flow log route takes the admin token where signatures are checked (a body of notes has the
    power of a PutLogEvents): the instance reads it off the contacts' loop and its entries arrive;
    without it they are refused and noted for the verdict."""
    import asyncio
    import time

    from simulator.client.aws import LOCAL_CREDENTIALS, Target
    from simulator.client.aws import client as aio_client
    from simulator.connect.event import Contact
    from simulator.connect.interpreter import ContactState, run_contact
    from simulator.loadgen.connect_telemetry import ConnectTelemetry
    from simulator.scenario.spec import ConnectInstance
    from tests.connect.test_connect_reports import Hooks, flow_with

    key, secret = LOCAL_CREDENTIALS["aws_access_key_id"], LOCAL_CREDENTIALS["aws_secret_access_key"]
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--verify-signatures",
         "--admin-token-file", str(tmp_path / "token")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=ROOT, env=no_aws_settings() | {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret})
    try:
        line = process.stdout.readline()
        assert line.startswith("shiftsim emulator listening on "), process.stderr.read()
        url = line.rsplit(" ", 1)[1].strip()
        token = (tmp_path / "token").read_text().strip()
        monkeypatch.setenv("SHIFTSIM_ADMIN_TOKEN", token if with_token else "not-the-token")
        flows = flow_with(tmp_path, "Enabled")
        telemetry = ConnectTelemetry(ConnectInstance(), region="us-east-1", account="123456789012", now=time.time)
        hooks = Hooks((True, {"version": "2"}))
        hooks.block_ran = telemetry.block_ran

        async def main() -> None:
            async with aio_client(Target("local", url), "logs", retries=False) as logs:
                await run_contact(flows, ContactState(Contact()), hooks)
                telemetry.publishing_to(logs)
                await telemetry.flush()
                if telemetry.sender is not None:
                    telemetry.sender.close()

        asyncio.run(main())
        logs = client(url, "logs", key=key, secret=secret)
        events = logs.filter_log_events(logGroupName="/aws/connect/shiftsim")["events"]
        from simulator.client.admin_client import warm_functions
        from simulator.client.errors import TargetError

        arn = "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD"
        warm = warm_functions(url, [arn], 1, os.environ["SHIFTSIM_ADMIN_TOKEN"])  # the rehearsal's warm-up
        if with_token:
            assert telemetry.unpublished == {} and [json.loads(e["message"])["Identifier"] for e in events] == ["log", "invoke", "say", "bye"]
            assert asyncio.run(warm) == {}  # let in: the seed's handler runs in the emulator, nothing to warm
        else:
            ((failed, first),) = [telemetry.unpublished.pop("flow_logs")]
            assert failed == 1 and "wrong X-Shiftsim-Admin-Token" in first and events == []
            with pytest.raises(TargetError, match="HTTP 401: wrong X-Shiftsim-Admin-Token"):
                asyncio.run(warm)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
