"""Provisioned concurrency on an alias or a version, through boto3 against a real emulator: Lambda's
API and its refusals, environments initialised before any invocation (no init phase in the log), an
invocation past them spilling over to an on-demand one that starts cold, an alias's share following
its weights, and the two AWS/Lambda metrics counting both."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import threading
import time

import pytest
from botocore.exceptions import ClientError

from simulator.emulator.lambda_.provisioned import shares
from simulator.emulator.server import Emulator
from simulator.scenario.reader import parse_scenario
from simulator.scenario.spec import ScenarioError
from tests.helpers import TESTS, running_emulator, wait_for

CODE = TESTS / "user_code"
STACK = f"""
[[functions]]
name = "held"
timeout = 30
[[functions.versions]]
code = "{CODE}"
handler = "app.wait_for_file"
[[functions.versions]]
code = "{CODE}"
handler = "app.wait_for_file"
[[functions.aliases]]
name = "live"
version = "1"
provisioned_concurrency = 2
[[functions]]
name = "reserved"
reserved_concurrency = 3
[[functions.versions]]
[[functions.versions]]
[[functions.aliases]]
name = "live"
version = "1"
"""


@pytest.fixture(scope="module")
def running():
    with running_emulator(STACK) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def lam(running):
    return running.boto3()


def ready(lam, qualifier: str = "live", name: str = "held") -> dict:
    return wait_for(lambda: (c := lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier))
                    ["Status"] == "READY" and c, timeout=60)


def invoke_together(running, lam, count: int, path) -> list[tuple[dict, str]]:
    """`count` invocations of held:live in flight at once (each holds its environment until `path`
    exists), then released; each one's answer and log tail."""
    answers: list[tuple[dict, str]] = []

    def one() -> None:
        out = lam.invoke(FunctionName="held:live", LogType="Tail", Payload=json.dumps({"path": str(path)}))
        answers.append((json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode()))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    backend = running.emulator.lambda_
    wait_for(lambda: backend.functions["held"].in_flight == count, timeout=60)
    path.write_text("go")
    for thread in threads:
        thread.join(60)
    path.unlink()
    return answers


def spilled(metric: str, running, lam_version: str) -> float:
    cloudwatch = running.boto3("cloudwatch")
    now = time.time()
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Statistics=["Sum"], Period=60,
        StartTime=now - 7200, EndTime=now + 7200,
        Dimensions=[{"Name": "FunctionName", "Value": "held"}, {"Name": "Resource", "Value": "held:live"},
                    {"Name": "ExecutedVersion", "Value": lam_version}])["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_environments_are_initialised_before_any_invocation_and_one_past_them_starts_cold(running, lam, tmp_path):
    config = ready(lam)
    assert (config["RequestedProvisionedConcurrentExecutions"], config["AllocatedProvisionedConcurrentExecutions"],
            config["AvailableProvisionedConcurrentExecutions"]) == (2, 2, 2)
    before = [spilled(metric, running, "1") for metric in ("ProvisionedConcurrencyInvocations",
                                                           "ProvisionedConcurrencySpilloverInvocations")]
    answers = invoke_together(running, lam, 3, tmp_path / "go")
    cold = [answer for answer, log in answers if "Init Duration" in log]
    assert len(answers) == 3 and len(cold) == 1  # two on provisioned environments, one spilled over
    assert {answer["version"] for answer, _ in answers} == {"1"}
    # the same two environments serve again, and nothing starts cold while no more than two are in flight
    again = invoke_together(running, lam, 2, tmp_path / "go")
    assert not [log for _, log in again if "Init Duration" in log]
    provisioned_pids = {a["pid"] for a, log in answers if "Init Duration" not in log}
    assert {a["pid"] for a, _ in again} == provisioned_pids
    assert spilled("ProvisionedConcurrencyInvocations", running, "1") == before[0] + 4
    assert spilled("ProvisionedConcurrencySpilloverInvocations", running, "1") == before[1] + 1


def test_a_provisioned_environment_that_ends_is_replaced(running, lam, tmp_path):
    ready(lam)
    handler = running.emulator.lambda_.functions["held"].versions["1"].handler
    go = tmp_path / "go"
    go.write_text("go")
    first = lam.invoke(FunctionName="held:live", LogType="Tail", Payload=json.dumps({"path": str(go)}))
    assert "Init Duration" not in base64.b64decode(first["LogResult"]).decode()
    pid = int(json.loads(first["Payload"].read())["pid"])
    os.kill(pid, signal.SIGKILL)  # ended from outside while idle (the next invocation finds it gone)
    wait_for(lambda: not any(env.process.pid == pid and env.alive() for env in handler.provisioned_idle), timeout=60)
    second = lam.invoke(FunctionName="held:live", LogType="Tail", Payload=json.dumps({"path": str(go)}))
    assert "Init Duration" not in base64.b64decode(second["LogResult"]).decode()  # the other one served
    assert int(json.loads(second["Payload"].read())["pid"]) != pid
    wait_for(lambda: handler.provisioned_ready == handler.provisioned_live == 2, timeout=60)
    assert pid not in {env.process.pid for env in handler.provisioned_idle}


def test_an_aliass_provisioned_concurrency_follows_its_weights(running, lam):
    ready(lam)
    backend = running.emulator.lambda_
    try:
        lam.update_alias(FunctionName="held", Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
        assert ready(lam)["AllocatedProvisionedConcurrentExecutions"] == 2
        versions = backend.functions["held"].versions
        assert (versions["1"].provisioned, versions["2"].provisioned) == (1, 1)
        assert versions["2"].handler.provisioned_ready == 1  # initialised, not only counted
        lam.update_alias(FunctionName="held", Name="live", FunctionVersion="2", RoutingConfig={})
        ready(lam)
        assert (versions["1"].provisioned, versions["2"].provisioned) == (0, 2)
        wait_for(lambda: versions["1"].handler.provisioned_live == 0, timeout=60)  # the old version's are let go
    finally:
        lam.update_alias(FunctionName="held", Name="live", FunctionVersion="1", RoutingConfig={})
        ready(lam)


def test_the_api_lists_and_deletes_and_refuses_as_lambda_does(running, lam):
    listed = lam.list_provisioned_concurrency_configs(FunctionName="held")["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == ["arn:aws:lambda:us-east-1:123456789012:function:held:live"]

    def refused(**kwargs) -> tuple[str, str]:
        with pytest.raises(ClientError) as caught:
            lam.put_provisioned_concurrency_config(**{"FunctionName": "reserved", "ProvisionedConcurrentExecutions": 1,
                                                      **kwargs})
        return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]

    assert refused(Qualifier="$LATEST") == (
        "InvalidParameterValueException", "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
    assert refused(Qualifier="9") == (
        "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:123456789012:function:reserved:9")
    assert refused(Qualifier="live", ProvisionedConcurrentExecutions=4) == (
        "InvalidParameterValueException",
        "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
    lam.put_provisioned_concurrency_config(FunctionName="reserved", Qualifier="1", ProvisionedConcurrentExecutions=1)
    try:
        assert refused(Qualifier="live") == (
            "ResourceConflictException",
            "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
        # code run in-process has no environments to initialise: ready at once
        assert lam.get_provisioned_concurrency_config(FunctionName="reserved", Qualifier="1")["Status"] == "READY"
    finally:
        lam.delete_provisioned_concurrency_config(FunctionName="reserved", Qualifier="1")
    lam.put_provisioned_concurrency_config(FunctionName="reserved", Qualifier="live", ProvisionedConcurrentExecutions=3)
    try:
        assert refused(Qualifier="1") == ("ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias")
    finally:
        lam.delete_provisioned_concurrency_config(FunctionName="reserved", Qualifier="live")
    with pytest.raises(ClientError) as caught:
        lam.get_provisioned_concurrency_config(FunctionName="reserved", Qualifier="live")
    assert caught.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
    assert caught.value.response["Error"]["Message"] == "No Provisioned Concurrency Config found for this function"
    status, body = running.request("PUT", "/2019-09-30/functions/reserved/provisioned-concurrency?Qualifier=1",
                                   b'{"ProvisionedConcurrentExecutions": 0}', {"Content-Type": "application/json"})
    assert status == 400 and b"Member must have value greater than or equal to 1" in body


@pytest.mark.parametrize("requested, weight", [(n, w) for n in (1, 2, 3, 4, 7, 10, 100) for w in (0.0, 0.1, 0.25, 0.5, 0.9, 1.0)])
def test_an_aliass_share_adds_up_to_its_request(requested, weight):
    made = shares(requested, "1", {"2": weight})
    assert made["1"] + made["2"] == requested and abs(made["2"] - requested * weight) <= 0.5


def test_a_scenario_asking_more_than_the_function_reserves_is_one_line():
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(STACK + "provisioned_concurrency = 4\n", "stack.toml")
    assert "provisioned concurrency 4 is more than the function's reserved concurrency 3" in str(caught.value)


def test_provisioned_concurrency_given_before_the_loop_runs_is_initialised_when_the_emulator_starts():
    """The CLI makes the emulator before its loop runs (as `shiftsim rehearse` does): the scenario's
    provisioned concurrency is initialised when it starts, not refused for want of a loop."""
    emulator = Emulator(parse_scenario(STACK, str(CODE / "stack.toml")))
    handler = emulator.lambda_.functions["held"].versions["1"].handler
    assert handler.provisioned_live == 0

    async def started() -> int:
        emulator.start()
        while handler.provisioned_ready < 2:  # bounded by the wait_for below
            await asyncio.sleep(0.02)
        return handler.provisioned_ready

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(asyncio.wait_for(started(), 60)) == 2
    finally:
        emulator.close()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
