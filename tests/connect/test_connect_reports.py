"""What Connect itself reports: flow log entries in Connect's shape (seed 003's examples, field by
field) only while logging is on, AWS/Connect metrics for error branches, read back from a running
emulator through boto3 and the AWS CLI; and the teaching scenario, whose Connect alarm catches what
Lambda's alarm cannot (and which fails without it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from simulator.connect.event import Contact
from simulator.connect.flow import load_flow
from simulator.connect.interpreter import ContactState, run_contact
from simulator.deployment.flow_log_notes import EntryRenderer, read_notes_body
from simulator.loadgen.connect_telemetry import ConnectTelemetry
from simulator.report.record import DTYPE
from simulator.scenario.spec import ConnectInstance
from tests.connect.test_flow import ARN, Hooks, act, write_flow
from tests.helpers import ROOT, wait_for

AWS = shutil.which("aws")
SCENARIO = ROOT / "scenarios" / "connect-rejects-answer.toml"
# Seed 003's two examples of the Invoke block's entry: the keys each has, and those of its Parameters.
SEED_SUCCESS_KEYS = {"ContactId", "ContactFlowId", "ContactFlowName", "ContactFlowModuleType", "Identifier",
                     "Timestamp", "ExternalResults", "Parameters"}
SEED_FAILURE_KEYS = SEED_SUCCESS_KEYS - {"ExternalResults"} | {"Results"}
SEED_PARAMETER_KEYS = {"FunctionArn", "ResponseValidation", "TimeLimit"}


def flow_with(tmp_path, logging: str | None):
    actions = [act("log", "UpdateFlowLoggingBehavior", {"FlowLoggingBehavior": logging}, "invoke")] if logging else []
    actions += [act("invoke", "InvokeLambdaFunction", {"LambdaFunctionARN": ARN, "InvocationTimeLimitSeconds": "3",
                                                       "ResponseValidation": {"ResponseType": "STRING_MAP"}},
                    "say", {"NoMatchingError": "sorry"}),
                act("say", "MessageParticipant", {"Text": "Version $.External.version"}, "bye"),
                act("sorry", "MessageParticipant", {"Text": "Sorry"}, "bye"),
                act("bye", "DisconnectParticipant")]
    return load_flow(write_flow(tmp_path, "main", actions))


def contact(flows, *answers, instance=None):
    instance = instance or ConnectInstance()
    clock = iter(range(1_700_000_000, 1_800_000_000))  # a second a block
    telemetry = ConnectTelemetry(instance, region="us-east-1", account="123456789012", now=lambda: float(next(clock)))
    hooks = Hooks(*answers)
    hooks.block_ran = telemetry.block_ran
    state = ContactState(Contact())
    ended = asyncio.run(run_contact(flows, state, hooks))
    telemetry.contact_ended(state.last[0], ended)
    return [json.loads(text) for text in texts_of(telemetry.take_bodies())], telemetry.counts


def texts_of(bodies):
    """The entries the emulator makes of bodies of notes, in order."""
    renderer, texts = EntryRenderer(), []
    for body in bodies:
        _, _, _, _, templates, notes = read_notes_body(body)
        texts += renderer.render(templates, notes)
    return texts


def test_an_entry_per_block_in_connects_shape_once_logging_is_on(tmp_path):
    entries, counts = contact(flow_with(tmp_path, "Enabled"), (True, {"version": "2"}))
    assert [e["ContactFlowModuleType"] for e in entries] == ["SetLoggingBehavior", "InvokeExternalResource",
                                                              "PlayPrompt", "Disconnect"]
    invoke = entries[1]
    assert set(invoke) == SEED_SUCCESS_KEYS and set(invoke["Parameters"]) == SEED_PARAMETER_KEYS
    assert invoke["Parameters"] == {"FunctionArn": ARN, "ResponseValidation": "ResponseType=STRING_MAP", "TimeLimit": "3000"}
    assert invoke["ExternalResults"] == {"version": "2"}
    assert invoke["ContactFlowId"].startswith("arn:aws:connect:us-east-1:123456789012:instance/")
    assert invoke["Timestamp"].endswith("Z") and len(invoke["Timestamp"]) == 24
    assert not counts  # no error branch taken


def test_a_failed_invocation_has_results_and_no_external_results_and_is_counted(tmp_path):
    entries, counts = contact(flow_with(tmp_path, "Enabled"), (False, None))
    invoke = entries[1]
    assert set(invoke) == SEED_FAILURE_KEYS
    assert invoke["Results"] == "The Lambda Function Returned An Error."
    assert [(metric, flow) for metric, flow, _ in counts] == [("ContactFlowErrors", "main")]


@pytest.mark.parametrize("logging, instance", [(None, ConnectInstance()), ("Disabled", ConnectInstance()),
                                               ("Enabled", ConnectInstance(flow_logs=False))])
def test_no_entries_unless_the_flow_and_the_instance_both_turn_logging_on(tmp_path, logging, instance):
    entries, counts = contact(flow_with(tmp_path, logging), (False, None), instance=instance)
    assert entries == []
    assert sum(counts.values()) == 1  # metrics do not depend on logging


def aws_env(tmp_path):
    return {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}


@contextlib.contextmanager
def serving(scenario):
    """`shiftsim serve` of a scenario at x60 on a free port: its URL, the server stopped after."""
    serve = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--scenario", str(scenario),
                              "--time-scale", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        yield serve.stdout.readline().rsplit(" ", 1)[1].strip()
    finally:
        serve.terminate()
        serve.wait(30)


def loop_locust(url, scenario, results, seconds):
    """The looping flow's locustfile against `url`, headless, 10 users, deploying after a second."""
    return [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "connect_loop.py"), "--headless", "-u", "10",
            "-r", "10", "-t", f"{seconds}s", "--endpoint-url", url, "--scenario", str(scenario), "--deploy-after", "1",
            "--results-dir", str(results)]


def test_a_locust_run_publishes_flow_logs_and_metrics_to_the_emulator(tmp_path):
    """Against a running emulator: the flow logs are read back with boto3 and the AWS CLI as in
    production, and ContactFlowErrors counts the rejected answers."""
    import boto3

    with serving(SCENARIO) as url:
        done = subprocess.run(loop_locust(url, SCENARIO, tmp_path, 8), capture_output=True, text=True, timeout=180,
                              cwd=ROOT)
        assert "Traceback" not in done.stderr, done.stderr
        (run,) = tmp_path.iterdir()  # every invocation's entry is in the run folder, the last beat's too
        entries = [json.loads(line) for line in (run / "flow_logs.jsonl").read_text().splitlines()]
        invoked = sum(e["ContactFlowModuleType"] == "InvokeExternalResource" for e in entries)
        assert invoked == len(np.fromfile(run / "invocations.bin", dtype=DTYPE)) > 0
        client = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        logs = boto3.client("logs", **client)
        failed = wait_for(lambda: logs.filter_log_events(
            logGroupName="/aws/connect/shiftsim",
            filterPattern='{ $.ContactFlowModuleType = "InvokeExternalResource" && $.Results = * }')["events"], 30)
        for event in failed:
            entry = json.loads(event["message"])
            assert set(entry) == SEED_FAILURE_KEYS and entry["ContactFlowName"] == "LambdaAlias-loop"
        cli = subprocess.run([AWS or "aws", "--endpoint-url", url, "--output", "json", "logs", "filter-log-events",
                              "--log-group-name", "/aws/connect/shiftsim", "--filter-pattern",
                              '{ $.ContactFlowModuleType = "InvokeExternalResource" }'],
                             capture_output=True, text=True, env=aws_env(tmp_path), timeout=120)
        if AWS is not None:
            assert cli.returncode == 0, cli.stderr
            entries = [json.loads(e["message"]) for e in json.loads(cli.stdout)["events"]]
            assert entries and all(set(e["Parameters"]) == SEED_PARAMETER_KEYS for e in entries)
        cloudwatch = boto3.client("cloudwatch", **client)
        (metric,) = cloudwatch.list_metrics(Namespace="AWS/Connect", MetricName="ContactFlowErrors")["Metrics"]
        assert {d["Name"]: d["Value"] for d in metric["Dimensions"]} == {
            "InstanceId": "00000000-0000-4000-8000-000000000000", "MetricGroup": "ContactFlow",
            "ContactFlowName": "LambdaAlias-loop"}
        (filtered,) = cloudwatch.list_metrics(Namespace="Connect/Flows")["Metrics"]  # the scenario's metric filter
        assert filtered["MetricName"] == "LambdaFailedResults"
        lambda_logs = logs.describe_log_streams(logGroupName="/aws/lambda/ConnectLambdaFunction")["logStreams"]
        assert {s["logStreamName"].rsplit("/", 1)[1] for s in lambda_logs} >= {"[1]shiftsim"}


@pytest.mark.parametrize("connect_alarm, code, outcome", [(True, 0, "rolled_back"), (False, 1, "succeeded")])
def test_the_teaching_scenario_needs_the_connect_alarm(tmp_path, connect_alarm, code, outcome):
    text = SCENARIO.read_text()
    if not connect_alarm:  # the same deployment guarded by Lambda's alarm only
        text = text.replace("[deployment]\n", '[deployment]\nalarms = ["AliasErrorMetricGreaterThanZeroAlarm"]\n')
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(text)
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(scenario), "--results",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=400, cwd=ROOT)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["deployment"]["outcome"] == outcome, done.stdout
    assert done.returncode == code, done.stdout + done.stderr
    versions = summary["versions"]
    assert versions["2"]["errors_by_reason"].get("invalid_response")  # what Connect rejected
    assert "function_error" not in versions["2"]["errors_by_reason"]  # what Lambda would count: nothing
    flow_logs = [json.loads(line) for line in (tmp_path / "run" / "flow_logs.jsonl").read_text().splitlines()]
    assert any(e.get("Results") == "The Lambda Function Returned An Error." for e in flow_logs)


def test_noted_blocks_are_made_notes_between_flushes_and_taken_once_in_order(tmp_path):
    """Between flushes the noted blocks (which hold flows, actions and outcomes) are made notes, so
    that nothing but bytes waits for the flush; what a flush takes is every entry once, in order, and
    the run folder's file, made of the same notes when closed, holds the same entries."""
    flows = flow_with(tmp_path, "Enabled")
    clock = iter(range(1_700_000_000, 1_800_000_000))
    telemetry = ConnectTelemetry(ConnectInstance(), region="us-east-1", account="123456789012",
                                 now=lambda: float(next(clock)), folder=tmp_path)
    hooks = Hooks((True, {"version": "2"}), (False, None))
    hooks.block_ran = telemetry.block_ran
    for _ in range(2):
        asyncio.run(run_contact(flows, ContactState(Contact()), hooks))
        telemetry.format_noted()
        assert telemetry.notes == [] and all(isinstance(notes, bytes) for _, notes in telemetry.pending)
    bodies = telemetry.take_bodies()
    assert (tmp_path / "flow_logs.notes.jsonl").exists() and not (tmp_path / "flow_logs.jsonl").exists()
    telemetry.close()  # the run folder's file is made by a thread of its own: whole once closed
    lines = (tmp_path / "flow_logs.jsonl").read_bytes()
    entries = [json.loads(line) for line in lines.splitlines()]
    assert [e["ContactFlowModuleType"] for e in entries] == ["SetLoggingBehavior", "InvokeExternalResource",
                                                              "PlayPrompt", "Disconnect"] * 2
    assert [e["Timestamp"] for e in entries] == sorted(e["Timestamp"] for e in entries)
    assert len(bodies) == 1 and texts_of(bodies) == lines.decode().split("\n")[:-1]
    assert telemetry.take_bodies() == [] and not (tmp_path / "flow_logs.notes.jsonl").exists()


def test_a_slow_publish_never_holds_up_making_the_entries(tmp_path, emulator, monkeypatch):
    """While a body of notes is on its way (held here before it is sent), the blocks that ran go on
    being made notes on their beat: a flush once held the contacts' loop for as long as the
    emulator took, and every invocation due meanwhile was timed as late by that much. Once let
    go, every entry reaches CloudWatch Logs once, in order."""
    from simulator.client.aws import Target, client
    from simulator.client.flow_log_notes import FlowLogNotesSender

    flows = flow_with(tmp_path, "Enabled")
    telemetry = ConnectTelemetry(ConnectInstance(), region="us-east-1", account="123456789012", now=time.time,
                                 folder=tmp_path, time_scale=1000.0)  # a flush every 50 ms
    hooks = Hooks((True, {"version": "2"}))
    hooks.block_ran = telemetry.block_ran

    async def main() -> None:
        held, go = asyncio.Event(), asyncio.Event()

        send = FlowLogNotesSender.send

        async def hold(self, body):
            held.set()
            await go.wait()
            await send(self, body)

        async with client(Target("local", emulator.url), "logs", retries=False) as logs, \
                client(Target("local", emulator.url), "cloudwatch", retries=False) as cloudwatch:
            monkeypatch.setattr(FlowLogNotesSender, "send", hold)
            publishing = asyncio.ensure_future(telemetry.run(logs, cloudwatch))
            await run_contact(flows, ContactState(Contact()), hooks)
            await asyncio.wait_for(held.wait(), 60)
            await run_contact(flows, ContactState(Contact()), hooks)  # while the first batch is held
            assert telemetry.notes
            await _until(lambda: not telemetry.notes and telemetry.pending)
            go.set()
            await _until(lambda: not telemetry.pending)
            publishing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publishing
            assert telemetry.file is not None and telemetry.file.closed  # its thread ends with the run
        telemetry.close()

    asyncio.run(main())
    events = emulator.boto3("logs").filter_log_events(logGroupName="/aws/connect/shiftsim")["events"]
    entries = [json.loads(event["message"]) for event in events]
    assert [e["ContactFlowModuleType"] for e in entries] == ["SetLoggingBehavior", "InvokeExternalResource",
                                                              "PlayPrompt", "Disconnect"] * 2
    assert len({e["ContactId"] for e in entries}) == 2
    written = (tmp_path / "flow_logs.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in written] == entries


async def _until(condition, timeout_s: float = 60.0) -> None:
    """Wait, yielding to the loop, until `condition()` holds (a generous bound: a loaded machine)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.01)


def test_a_beats_blocks_are_made_entries_a_few_at_a_time_and_written_once(tmp_path):
    """A beat makes entries of at most so many blocks between two turns of the contacts' loop, and
    writes the run folder's file once, when the last of them are made: all entries, once, in order."""
    flows = flow_with(tmp_path, "Enabled")
    clock = iter(range(1_700_000_000, 1_800_000_000))
    telemetry = ConnectTelemetry(ConnectInstance(), region="us-east-1", account="123456789012",
                                 now=lambda: float(next(clock)), folder=tmp_path)
    hooks = Hooks((True, {"version": "2"}))
    hooks.block_ran = telemetry.block_ran
    for _ in range(2):
        asyncio.run(run_contact(flows, ContactState(Contact()), hooks))
    telemetry.format_noted(3, write=False)
    assert len(telemetry.notes) == 5 and len(telemetry.pending) == 1 and len(telemetry.unwritten) == 1
    assert (tmp_path / "flow_logs.notes.jsonl").read_bytes() == b""
    telemetry.format_noted()
    assert telemetry.notes == [] and telemetry.unwritten == [] and len(telemetry.pending) == 2
    texts = texts_of(telemetry.take_bodies())
    telemetry.close()
    entries = [json.loads(line) for line in (tmp_path / "flow_logs.jsonl").read_text().splitlines()]
    assert len(entries) == 8 and [json.loads(text) for text in texts] == entries
    assert [e["Timestamp"] for e in entries] == sorted(e["Timestamp"] for e in entries)


def test_what_the_instance_cannot_publish_is_noted_by_what_it_is_and_the_rest_still_goes(tmp_path, emulator):
    """The instance's log group deleted under a running test (a retention job, a colleague's cleanup):
    its flow logs fail with CloudWatch Logs' own error, noted for the verdict (an alarm may read them),
    and its AWS/Connect metrics are still published (one failure used to take both down)."""
    from simulator.client.aws import Target, client

    flows = flow_with(tmp_path, "Enabled")
    telemetry = ConnectTelemetry(ConnectInstance(), region="us-east-1", account="123456789012", now=time.time)
    hooks = Hooks((False, None), (False, None))  # each an error branch taken: ContactFlowErrors
    hooks.block_ran = telemetry.block_ran

    async def main() -> None:
        async with client(Target("local", emulator.url), "logs", retries=False) as logs, \
                client(Target("local", emulator.url), "cloudwatch", retries=False) as cloudwatch:
            await run_contact(flows, ContactState(Contact()), hooks)
            telemetry.publishing_to(logs)
            await telemetry.flush()  # the group and its stream made, the first entries in
            assert telemetry.unpublished == {}
            emulator.boto3("logs").delete_log_group(logGroupName="/aws/connect/shiftsim")
            await run_contact(flows, ContactState(Contact()), hooks)
            await telemetry.flush(cloudwatch)
            if telemetry.sender is not None:
                telemetry.sender.close()

    asyncio.run(main())
    ((failed, first),) = [telemetry.unpublished.pop("flow_logs")]
    assert failed == 1 and "ResourceNotFoundException" in first and telemetry.unpublished == {}
    cloudwatch = emulator.boto3("cloudwatch")
    (metric,) = cloudwatch.list_metrics(Namespace="AWS/Connect", MetricName="ContactFlowErrors")["Metrics"]
    points = cloudwatch.get_metric_statistics(Namespace="AWS/Connect", MetricName="ContactFlowErrors",
                                              Dimensions=metric["Dimensions"], StartTime=time.time() - 600,
                                              EndTime=time.time() + 600, Period=60, Statistics=["Sum"])["Datapoints"]
    assert sum(p["Sum"] for p in points) == 2


def test_a_publish_that_fails_as_the_emulator_dies_is_left_to_its_death_notice(tmp_path, caplog):
    """A killed emulator closes its connections a moment before its process can be seen to have
    ended: a flow log publish that failed in that moment said so as well as the death notice (two
    error lines where the run has one thing to say). The failure is still noted; it is said only
    when the endpoint is still there after a grace."""
    import logging

    from simulator.client.aws import Target, client
    from tests.helpers import free_port

    looks = []

    def seen_ended_on_the_third_look() -> bool:
        looks.append(None)
        return len(looks) >= 3

    flows = flow_with(tmp_path, "Enabled")
    for endpoint_gone, said in ((seen_ended_on_the_third_look, False), (lambda: False, True)):
        telemetry = ConnectTelemetry(ConnectInstance(), region="us-east-1", account="123456789012", now=time.time,
                                     endpoint_gone=endpoint_gone)
        hooks = Hooks((True, {"version": "1"}), (True, {"version": "1"}))
        hooks.block_ran = telemetry.block_ran

        async def main(telemetry: ConnectTelemetry, hooks: Hooks) -> None:
            async with client(Target("local", f"http://127.0.0.1:{free_port()}"), "logs", retries=False) as logs:
                await run_contact(flows, ContactState(Contact()), hooks)
                telemetry.publishing_to(logs)
                await telemetry.flush()

        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="shiftsim"):
            asyncio.run(main(telemetry, hooks))
        assert telemetry.unpublished["flow_logs"][0] == 1
        assert ("flow logs could not be published" in caplog.text) is said, caplog.text
    assert len(looks) == 3


def test_a_run_whose_alarm_could_not_read_the_flow_logs_is_not_judged(tmp_path):
    """The deployment guarded by an alarm on a metric filter of the instance's flow logs, and the log
    group deleted under the running test: the alarm can no longer see what Connect rejects, so the run
    did not rehearse the rollback. Its verdict is withheld (exit 3) and says why, never a PASS or FAIL
    of the deployment."""
    import boto3

    text = SCENARIO.read_text().replace("[deployment]\n", """[[alarms]]
name = "FailedResults"
namespace = "Connect/Flows"
metric = "LambdaFailedResults"
evaluation_periods = 1

[deployment]
alarms = ["FailedResults"]
""")
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(text)
    with serving(scenario) as url:
        locust = subprocess.Popen(loop_locust(url, scenario, tmp_path / "results", 12), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, cwd=ROOT)
        logs = boto3.client("logs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                            aws_secret_access_key="y")
        wait_for(lambda: logs.describe_log_streams(logGroupName="/aws/connect/shiftsim")["logStreams"], 120)  # publishing
        logs.delete_log_group(logGroupName="/aws/connect/shiftsim")
        _, stderr = locust.communicate(timeout=180)
        (run,) = (tmp_path / "results").iterdir()
        unpublished = json.loads((run / "run.json").read_text())["reports_unpublished"]
        assert set(unpublished) == {"flow_logs"}, unpublished
        assert unpublished["flow_logs"]["read_by"] == ["FailedResults"]
        assert "ResourceNotFoundException" in unpublished["flow_logs"]["first_error"]
        verdict = json.loads((run / "summary.json").read_text())["verdict"]
        assert verdict["judged"] is False and locust.returncode == 3, stderr[-2000:]
        assert ("the simulated Connect instance's flow logs could not all be published to the emulator ("
                in verdict["why_not_judged"])
        assert ("the deployment group's alarm(s) FailedResults read them, so what they would have done (roll back) "
                "was not rehearsed") in verdict["why_not_judged"]
        assert "verdict: COULD NOT JUDGE" in stderr
