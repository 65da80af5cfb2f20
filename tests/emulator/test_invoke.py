"""Invoke through real aiobotocore and boto3 clients over HTTP: versions, errors, faults, handlers."""

import base64
import json

import pytest
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from simulator.deployment.clock import ManualClock
from tests.helpers import ALIAS_ARN, CREDENTIALS, running_emulator

FN = "ConnectLambdaFunction"


def scenario(version2: str = "", *, timeout: int = 3, extra: str = "") -> str:
    """Two versions; PROD on 1; version 2's table (handler, faults) given as TOML lines."""
    return f"""
[[functions]]
name = "ConnectLambdaFunction"
timeout = {timeout}
{extra}
[[functions.versions]]
description = "healthy"
[[functions.versions]]
description = "candidate"
{version2}
[[functions.aliases]]
name = "PROD"
version = "1"
[[functions.aliases]]
name = "CANDIDATE"
version = "2"
"""


def invoke(lam, name=FN + ":CANDIDATE", payload=b"{}", **kwargs):
    response = lam.invoke(FunctionName=name, Payload=payload, **kwargs)
    body = response["Payload"].read()
    return response, body


async def test_aiobotocore_invokes_the_alias_by_its_qualified_arn(emulator):
    async with get_session().create_client("lambda", endpoint_url=emulator.url, region_name="us-east-1",
                                           **CREDENTIALS) as lam:
        response = await lam.invoke(FunctionName=ALIAS_ARN, Payload=b'{"Name": "ContactFlowEvent"}')
        assert response["StatusCode"] == 200
        assert response["ExecutedVersion"] == "1"
        assert "FunctionError" not in response
        async with response["Payload"] as stream:
            assert json.loads(await stream.read()) == {"version": "1"}


def test_every_function_name_form_and_the_qualifier_parameter(emulator):
    lam = emulator.boto3()
    forms = [FN + ":PROD", "123456789012:function:" + FN + ":PROD", ALIAS_ARN]
    for name in forms:
        assert invoke(lam, name)[0]["ExecutedVersion"] == "1"
    assert invoke(lam, FN, Qualifier="PROD")[0]["ExecutedVersion"] == "1"
    assert invoke(lam, FN, Qualifier="1")[0]["ExecutedVersion"] == "1"
    assert invoke(lam, FN)[0]["ExecutedVersion"] == "$LATEST"
    with pytest.raises(ClientError) as info:
        invoke(lam, FN + ":PROD", Qualifier="1")
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_not_found_for_unknown_function_and_qualifier(emulator):
    lam = emulator.boto3()
    for name, missing in ((FN + ":NOPE", FN + ":NOPE"), ("Other:PROD", "Other")):
        with pytest.raises(ClientError) as info:
            invoke(lam, name)
        error = info.value.response["Error"]
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert error["Code"] == "ResourceNotFoundException"
        assert error["Message"] == f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{missing}"


def test_event_and_dry_run(emulator):
    lam = emulator.boto3()
    event = lam.invoke(FunctionName=ALIAS_ARN, InvocationType="Event", Payload=b"{}")
    assert event["StatusCode"] == 202 and "ExecutedVersion" not in event
    dry = lam.invoke(FunctionName=ALIAS_ARN, InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204 and "ExecutedVersion" not in dry


def test_a_dry_run_runs_counts_and_routes_nothing():
    """DryRun checks the function and the caller: it runs no code (version 2 always fails), is no
    Invocation in CloudWatch, and draws no routing, so a seeded run's versions are the same with or
    without the DryRuns shiftsim's capacity measurement sends first."""
    def versions(dry_runs):
        with running_emulator(scenario("[functions.versions.faults.error]\nrate = 1.0")) as running:
            lam = running.boto3()
            lam.update_alias(FunctionName=FN, Name="PROD",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
            for _ in range(dry_runs):
                assert invoke(lam, ALIAS_ARN, InvocationType="DryRun")[0]["StatusCode"] == 204
            metrics = running.boto3("cloudwatch").list_metrics(Namespace="AWS/Lambda")["Metrics"]
            assert dry_runs == 0 or metrics == []
            return [invoke(lam, ALIAS_ARN)[0]["ExecutedVersion"] for _ in range(30)]

    plain = versions(0)
    assert set(plain) == {"1", "2"}
    assert versions(40) == plain


def test_bad_request_bodies(emulator):
    lam = emulator.boto3()
    with pytest.raises(ClientError) as info:
        invoke(lam, ALIAS_ARN, payload=b"{not json")
    assert info.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert info.value.response["Error"]["Message"].startswith("Could not parse request body into json")
    with pytest.raises(ClientError) as info:
        invoke(lam, ALIAS_ARN, payload=b'"' + b"x" * 6_291_500 + b'"')
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert info.value.response["Error"]["Code"] == "RequestTooLargeException"


def test_injected_error_is_a_function_error_with_the_aws_payload_and_marked():
    with running_emulator(scenario("[functions.versions.faults.error]\nrate = 1.0")) as running:
        response, body = invoke(running.boto3())
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "2"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-shiftsim-injected"] == "error"
    error = json.loads(body)
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert error["errorType"] == "InjectedFault"


def test_natural_error_is_not_marked_injected():
    version2 = 'handler = "simulator.emulator.functions:failing"'
    with running_emulator(scenario(version2)) as running:
        response, body = invoke(running.boto3())
    assert response["FunctionError"] == "Unhandled"
    assert "x-shiftsim-injected" not in response["ResponseMetadata"]["HTTPHeaders"]
    assert json.loads(body)["errorType"] == "RuntimeError"


def test_injected_timeout_is_sandbox_timedout():
    with running_emulator(scenario("[functions.versions.faults.timeout]\nrate = 1.0", timeout=1)) as running:
        response, body = invoke(running.boto3())
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(body) == {"errorType": "Sandbox.Timedout",
                                "errorMessage": "Task timed out after 1.00 seconds"}


def test_handler_slower_than_the_function_timeout_times_out():
    with running_emulator(scenario('handler = "tests.handlers:sleepy"', timeout=1)) as running:
        _, body = invoke(running.boto3())
    assert json.loads(body)["errorType"] == "Sandbox.Timedout"


def test_oversize_response():
    with running_emulator(scenario('handler = "tests.handlers:huge"')) as running:
        response, body = invoke(running.boto3())
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Function.ResponseSizeTooLarge"


def test_unserialisable_response_is_a_function_error():
    with running_emulator(scenario('handler = "tests.handlers:not_json"')) as running:
        response, body = invoke(running.boto3())
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Runtime.MarshalError"


@pytest.mark.parametrize("kind,check", [
    ("nested", lambda value: isinstance(value["version"], dict)),
    ("non_string", lambda value: value["version"] == ["2"]),
    ("too_large", lambda value: len(json.dumps(value)) > 32 * 1024),
])
def test_malformed_responses_are_successes_for_lambda(kind, check):
    faults = f'[functions.versions.faults.malformed]\nrate = 1.0\nkind = "{kind}"'
    with running_emulator(scenario(faults)) as running:
        response, body = invoke(running.boto3())
    assert "FunctionError" not in response
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-shiftsim-injected"] == "malformed"
    assert check(json.loads(body))


def test_throttle_on_reserved_concurrency_and_injected():
    with running_emulator(scenario(extra="reserved_concurrency = 0")) as running:
        with pytest.raises(ClientError) as info:
            invoke(running.boto3(), ALIAS_ARN)
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"

    with running_emulator(scenario("[functions.versions.faults.throttle]\nrate = 1.0")) as running:
        with pytest.raises(ClientError) as info:
            invoke(running.boto3())
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-shiftsim-injected"] == "throttle"


def test_concurrency_limit_throttles_only_the_excess():
    import concurrent.futures

    toml = scenario('handler = "tests.handlers:sleepy"', extra="reserved_concurrency = 2")
    with running_emulator(toml) as running:
        lam = running.boto3(max_pool_connections=10)

        def one(_):
            try:
                return invoke(lam)[0]["StatusCode"]
            except ClientError as exc:
                return exc.response["ResponseMetadata"]["HTTPStatusCode"]

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            statuses = sorted(pool.map(one, range(6)))
    assert statuses.count(200) == 2 and statuses.count(429) == 4


def test_latency_distribution_is_injected():
    faults = ('[functions.versions.faults.latency]\ndistribution = "uniform"\n'
              "min_ms = 200\nmax_ms = 250")
    with running_emulator(scenario(faults)) as running:
        response, _ = invoke(running.boto3(), LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    duration = float(log.split("Duration: ")[1].split(" ms")[0])
    assert duration >= 200
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-shiftsim-injected"] == "latency"


def test_log_tail():
    with running_emulator(scenario("[functions.versions.faults.error]\nrate = 1.0")) as running:
        response, _ = invoke(running.boto3(), LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    assert log.startswith("START RequestId: ") and "Version: 2" in log
    assert "[ERROR] InjectedFault" in log and "REPORT RequestId: " in log


def test_faults_start_after_the_version_first_takes_traffic():
    clock = ManualClock()
    faults = "[functions.versions.faults.error]\nrate = 1.0\nafter = 120"
    with running_emulator(scenario(faults), clock=clock) as running:
        lam = running.boto3()
        assert "FunctionError" not in invoke(lam)[0]  # first traffic: the 120 s start now
        running.call(clock.advance(119))
        assert "FunctionError" not in invoke(lam)[0]
        running.call(clock.advance(2))
        assert invoke(lam)[0]["FunctionError"] == "Unhandled"


def test_user_handlers_get_the_context_and_event():
    with running_emulator(scenario('handler = "tests.handlers:greet"', timeout=1)) as running:
        payload = json.dumps({"Details": {"Parameters": {"name": "Ada"}}}).encode()
        _, body = invoke(running.boto3(), payload=payload)
    answer = json.loads(body)
    assert answer["greeting"] == "hello Ada"
    assert answer["version"] == "2" and answer["function"] == FN
    assert answer["arn"].endswith(":function:ConnectLambdaFunction:CANDIDATE")
    assert answer["memory"] == "128" and answer["remaining_ok"] == "True"


def test_async_handler_runs_on_the_loop():
    with running_emulator(scenario('handler = "tests.handlers:async_greet"')) as running:
        _, body = invoke(running.boto3())
    assert json.loads(body) == {"greeting": "hello from asyncio", "version": "2"}


def test_an_invocations_request_id_is_its_own_and_its_log_lines(emulator):
    """Lambda answers with the invocation's request id, the one its function's context and log lines
    carry (how a failing call is found in CloudWatch Logs); a refused call has an id of its own too."""
    lam = emulator.boto3()
    ids = []
    for _ in range(2):
        response, _ = invoke(lam, FN + ":PROD", LogType="Tail")
        said = response["ResponseMetadata"]["RequestId"]
        assert f"START RequestId: {said} " in base64.b64decode(response["LogResult"]).decode()
        ids.append(said)
    with pytest.raises(ClientError) as refused:
        invoke(lam, FN + ":NOWHERE")
    ids.append(refused.value.response["ResponseMetadata"]["RequestId"])
    assert len(set(ids)) == 3 and "shiftsim" not in ids
