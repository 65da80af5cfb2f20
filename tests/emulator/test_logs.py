"""CloudWatch Logs on the emulator through boto3 and the AWS CLI: groups, streams, events, filter
patterns, Lambda's own logs of each invocation, and metric filters that feed CloudWatch metrics (an
alarm can watch them)."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess

import pytest
from botocore.exceptions import ClientError

from simulator.deployment.clock import ManualClock
from simulator.deployment.flow_log_notes import log_timestamp
from tests.helpers import MINUTE_ALIGNED, RunningEmulator

AWS = shutil.which("aws")
GROUP = "/aws/connect/shiftsim"
OK = {"ContactId": "c-1", "ContactFlowModuleType": "InvokeExternalResource", "ExternalResults": {"version": "1"}}
FAILED = {"ContactId": "c-2", "ContactFlowModuleType": "InvokeExternalResource",
          "Results": "The Lambda Function Returned An Error."}
PROMPT = {"ContactId": "c-2", "ContactFlowModuleType": "PlayPrompt"}


@pytest.fixture
def emulator():
    running = RunningEmulator(clock=ManualClock(MINUTE_ALIGNED))
    try:
        yield running
    finally:
        running.close()


def put(logs, *records, stream="flows", at=MINUTE_ALIGNED):
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=[
        {"timestamp": int(at * 1000) + i, "message": json.dumps(r)} for i, r in enumerate(records)])


def test_groups_streams_events_and_json_filters(emulator):
    logs = emulator.boto3("logs")
    logs.create_log_group(logGroupName=GROUP)
    with pytest.raises(ClientError) as info:
        logs.create_log_group(logGroupName=GROUP)
    assert info.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    logs.create_log_stream(logGroupName=GROUP, logStreamName="flows")
    with pytest.raises(ClientError) as info:
        put(logs, OK, stream="absent")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    put(logs, OK, FAILED, PROMPT)
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/connect")["logGroups"]] == [GROUP]
    (stream,) = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert stream["logStreamName"] == "flows" and stream["firstEventTimestamp"] == int(MINUTE_ALIGNED * 1000)
    got = logs.get_log_events(logGroupName=GROUP, logStreamName="flows", startFromHead=True)["events"]
    assert [json.loads(e["message"]) for e in got] == [OK, FAILED, PROMPT]
    invoked = logs.filter_log_events(logGroupName=GROUP,
                                     filterPattern='{ $.ContactFlowModuleType = "InvokeExternalResource" }')["events"]
    assert [json.loads(e["message"])["ContactId"] for e in invoked] == ["c-1", "c-2"]
    failed = logs.filter_log_events(logGroupName=GROUP, filterPattern='{ $.Results = "*Error*" && $.ContactId = c-2 }')
    assert [json.loads(e["message"]) for e in failed["events"]] == [FAILED]
    with pytest.raises(ClientError) as info:
        logs.filter_log_events(logGroupName=GROUP, filterPattern="{ $.Results = ")
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"


def test_lambda_writes_each_invocations_lines_to_its_log_group(emulator):
    emulator.boto3().invoke(FunctionName="ConnectLambdaFunction:PROD", Payload=b"{}")
    logs = emulator.boto3("logs")
    (stream,) = logs.describe_log_streams(logGroupName="/aws/lambda/ConnectLambdaFunction")["logStreams"]
    assert stream["logStreamName"].endswith("[1]shiftsim")
    events = logs.get_log_events(logGroupName="/aws/lambda/ConnectLambdaFunction",
                                 logStreamName=stream["logStreamName"], startFromHead=True)["events"]
    messages = [e["message"] for e in events]
    assert messages[0].startswith("START RequestId: ") and messages[0].endswith("Version: 1")
    assert messages[1].startswith("END RequestId: ") and messages[2].startswith("REPORT RequestId: ")
    assert "Duration: " in messages[2] and "Memory Size: 128 MB" in messages[2]
    assert events[0]["timestamp"] == int(MINUTE_ALIGNED * 1000)  # emulated time


def test_lambdas_lines_wait_for_a_read_not_for_a_write(emulator):
    """Lambda's lines are made only when CloudWatch Logs is read: a write to another group (the
    Connect instance's flow logs, many a second) leaves them waiting, and a read still finds them all.
    What waits is numbers and text, which the collector stops scanning (see the next test)."""
    logs = emulator.boto3("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="flows")
    for _ in range(3):
        emulator.boto3().invoke(FunctionName="ConnectLambdaFunction:PROD", Payload=b"{}")
    logs.put_log_events(logGroupName=GROUP, logStreamName="flows",
                        logEvents=[{"timestamp": int(MINUTE_ALIGNED * 1000), "message": json.dumps(OK)}])
    assert len(emulator.emulator._lambda_pending) == 3
    gc.collect()
    gc.collect()  # a tuple that holds a tuple is let go on the pass after the one its tuple was
    assert not any(map(gc.is_tracked, emulator.emulator._lambda_pending))
    starts = logs.filter_log_events(logGroupName="/aws/lambda/ConnectLambdaFunction", filterPattern="START")
    assert len(starts["events"]) == 3 and not emulator.emulator._lambda_pending


def test_a_request_about_another_group_leaves_lambdas_lines_waiting(emulator):
    """Each run creates the Connect instance's group when it starts: on a long-lived emulator that
    wrote the lines of its last 200,000 invocations at once, holding it (and every invocation due) for
    seconds. A request about one group writes that group's lines only; an account-wide one, all."""
    from collections import deque

    logs, lam = emulator.boto3("logs"), emulator.boto3()
    function_group = "/aws/lambda/ConnectLambdaFunction"
    for _ in range(3):
        lam.invoke(FunctionName="ConnectLambdaFunction:PROD", Payload=b"{}")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="flows")
    logs.describe_log_streams(logGroupName=GROUP)
    logs.filter_log_events(logGroupName=GROUP)
    logs.describe_metric_filters(logGroupName=GROUP)  # what each run's start asks: no events read
    logs.describe_metric_filters()
    waiting = emulator.emulator
    assert len(waiting._lambda_pending) == 3
    (stream,) = logs.describe_log_streams(logGroupName=function_group)["logStreams"]  # about the function's group
    assert not waiting._lambda_pending
    events = logs.get_log_events(logGroupName=function_group, logStreamName=stream["logStreamName"])["events"]
    assert sum(e["message"].startswith("START") for e in events) == 3
    waiting._lambda_pending = deque(maxlen=2)  # a small bound: the oldest let go
    for _ in range(3):
        lam.invoke(FunctionName="ConnectLambdaFunction:PROD", Payload=b"{}")
    logs.describe_log_streams(logGroupName=GROUP)  # about another group: still waiting, still bounded
    assert len(waiting._lambda_pending) == 2
    logs.describe_log_groups()  # account-wide: every group's lines first
    assert not waiting._lambda_pending


def test_a_metric_filter_turns_matching_events_into_a_metric(emulator):
    logs, cloudwatch = emulator.boto3("logs"), emulator.boto3("cloudwatch")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="flows")
    logs.put_metric_filter(logGroupName=GROUP, filterName="lambda-failures",
                           filterPattern='{ $.ContactFlowModuleType = "InvokeExternalResource" && $.Results = * }',
                           metricTransformations=[{"metricName": "FailedLambdaResults", "metricNamespace": "Connect/Flows",
                                                   "metricValue": "1", "defaultValue": 0}])
    (described,) = logs.describe_metric_filters(logGroupName=GROUP)["metricFilters"]
    assert described["filterName"] == "lambda-failures"
    put(logs, OK, FAILED, FAILED, PROMPT)
    points = cloudwatch.get_metric_statistics(Namespace="Connect/Flows", MetricName="FailedLambdaResults",
                                              StartTime=MINUTE_ALIGNED, EndTime=MINUTE_ALIGNED + 60, Period=60,
                                              Statistics=["Sum", "SampleCount"])["Datapoints"]
    assert [(p["Sum"], p["SampleCount"]) for p in points] == [(2.0, 4.0)]  # two matches; the others report 0
    tested = logs.test_metric_filter(filterPattern="{ $.Results = * }", logEventMessages=[json.dumps(OK), json.dumps(FAILED)])
    assert [m["eventNumber"] for m in tested["matches"]] == [2]


def test_a_sampled_events_weight_is_counted_by_metric_filters(emulator):
    logs = emulator.boto3("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="flows")
    logs.put_metric_filter(logGroupName=GROUP, filterName="f", filterPattern="{ $.Results = * }",
                           metricTransformations=[{"metricName": "Failed", "metricNamespace": "N", "metricValue": "1"}])
    logs.meta.events.register("before-sign.logs.PutLogEvents",
                              lambda request, **kwargs: request.headers.__setitem__("X-Shiftsim-Weight", "24"))
    put(logs, FAILED)
    points = emulator.boto3("cloudwatch").get_metric_statistics(
        Namespace="N", MetricName="Failed", StartTime=MINUTE_ALIGNED, EndTime=MINUTE_ALIGNED + 60, Period=60,
        Statistics=["Sum"])["Datapoints"]
    assert [p["Sum"] for p in points] == [24.0]


def test_a_sampled_invocations_lambda_log_lines_are_counted_by_its_weight(emulator):
    """A sampled rehearsal's invocation stands for `weight` of production's: a metric filter on the
    function's own log group (one REPORT line an invocation) counts that many, as Lambda's metrics do."""
    group = "/aws/lambda/ConnectLambdaFunction"
    logs = emulator.boto3("logs")
    logs.create_log_group(logGroupName=group)
    logs.put_metric_filter(logGroupName=group, filterName="reports", filterPattern="REPORT",
                           metricTransformations=[{"metricName": "Reports", "metricNamespace": "N", "metricValue": "1"}])
    lam = emulator.boto3("lambda")
    lam.meta.events.register("before-sign.lambda.Invoke",
                             lambda request, **kwargs: request.headers.__setitem__("X-Shiftsim-Weight", "24"))
    lam.invoke(FunctionName="ConnectLambdaFunction:PROD", Payload=b"{}")
    points = emulator.boto3("cloudwatch").get_metric_statistics(
        Namespace="N", MetricName="Reports", StartTime=MINUTE_ALIGNED, EndTime=MINUTE_ALIGNED + 60, Period=60,
        Statistics=["Sum"])["Datapoints"]
    assert [p["Sum"] for p in points] == [24.0]


@pytest.mark.skipif(AWS is None, reason="the AWS CLI is installed by the dev extra (awscli)")
def test_the_aws_cli_filters_flow_logs_as_in_production(emulator, tmp_path):
    logs = emulator.boto3("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="flows")
    put(logs, OK, FAILED, PROMPT)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    done = subprocess.run([AWS, "--endpoint-url", emulator.url, "--output", "json", "logs", "filter-log-events",
                           "--log-group-name", GROUP, "--filter-pattern",
                           '{ $.ContactFlowModuleType = "InvokeExternalResource" }'],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [json.loads(e["message"])["ContactId"] for e in json.loads(done.stdout)["events"]] == ["c-1", "c-2"]


def test_a_users_regex_cannot_hold_the_emulator(emulator):
    """Patterns that backtrack exponentially (`(a|a)+$` on 40 characters is 2**40 steps for a
    backtracking engine) are answered: the regex engine is linear in the text. A metric filter on
    Lambda's own log group with such a pattern leaves Invoke served; what the engine cannot read
    (lookarounds) is the pattern's error, as AWS answers it."""
    logs = emulator.boto3("logs", read_timeout=60)
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="flows")
    logs.put_log_events(logGroupName=GROUP, logStreamName="flows",
                        logEvents=[{"timestamp": int(MINUTE_ALIGNED * 1000), "message": "a" * 40 + "b"}])
    for pattern in ("%(a|a)+$%", '{ $.x = %(a|a)+$% }', "%(\\S+)+X%", "*a*a*a*a*a*a*a*a*a*a*c"):
        assert logs.filter_log_events(logGroupName=GROUP, filterPattern=pattern)["events"] == []
    lam = emulator.boto3("lambda", read_timeout=60)
    lam.invoke(FunctionName="ConnectLambdaFunction:PROD", Payload=b"{}")  # Lambda's log group exists from here
    logs.put_metric_filter(logGroupName="/aws/lambda/ConnectLambdaFunction", filterName="freeze",
                           filterPattern="%(\\S+)+X%", metricTransformations=[
                               {"metricName": "Frozen", "metricNamespace": "Probe", "metricValue": "1"}])
    for _ in range(3):
        assert lam.invoke(FunctionName="ConnectLambdaFunction:PROD", Payload=b"{}")["StatusCode"] == 200
    for bad in ("%(?=a)%", "%(a)\\1%", "x" * 1025):
        with pytest.raises(ClientError) as info:
            logs.filter_log_events(logGroupName=GROUP, filterPattern=bad)
        assert info.value.response["Error"]["Code"] == "InvalidParameterException", bad


def test_cloudwatch_logs_limits_are_awss(emulator):
    """An event over 256 KB and a batch over 1 MB are refused with AWS's words (they were kept: 666 MB
    after twelve requests)."""
    logs = emulator.boto3("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="flows")
    at = int(MINUTE_ALIGNED * 1000)
    for events, said in (([{"timestamp": at, "message": "x" * 262_200}], "Log event too large"),
                         ([{"timestamp": at + i, "message": "y" * 210_000} for i in range(5)], "Upload too large")):
        with pytest.raises(ClientError) as info:
            logs.put_log_events(logGroupName=GROUP, logStreamName="flows", logEvents=events)
        assert info.value.response["Error"]["Code"] == "InvalidParameterException"
        assert info.value.response["Error"]["Message"].startswith(said)


def _notes(count, first=0, contact="c-1", weight=1.0, template=None, external=None):
    from simulator.deployment.flow_log_notes import notes_body

    template = template or ('{"ContactId":', ',"Timestamp":"', '","ContactFlowModuleType":"InvokeExternalResource"', True)
    notes = [[0, MINUTE_ALIGNED + (first + i) / 1000, contact, external or {"n": str(first + i)}] for i in range(count)]
    return notes_body("us-east-1", GROUP, "instance", weight, {0: template}, [json.dumps(notes).encode()])


def _post(emulator, body, headers=None):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(emulator.url + "/_shiftsim/connect/flow-logs", data=body, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_instances_flow_logs_are_made_entries_by_the_emulator_past_put_log_events_limits(emulator):
    """The simulated Connect instance hands its entries over as notes: the emulator makes them entries
    in its group (the stream made), as many as the instance sends at once (15,000 here; PutLogEvents
    takes 10,000), and a metric filter counts each with the weight it stands for."""
    logs = emulator.boto3("logs")
    logs.create_log_group(logGroupName=GROUP)
    logs.put_metric_filter(logGroupName=GROUP, filterName="invokes",
                           filterPattern='{ $.ContactFlowModuleType = "InvokeExternalResource" }',
                           metricTransformations=[{"metricName": "Invokes", "metricNamespace": "Connect/Flows",
                                                   "metricValue": "1"}])
    assert _post(emulator, _notes(15_000, weight=3.0)) == (200, {"entries": 15_000})
    events = logs.get_log_events(logGroupName=GROUP, logStreamName="instance", startFromHead=True)["events"]
    assert len(events) == 10_000  # a page
    assert json.loads(events[0]["message"]) == {"ContactId": "c-1", "Timestamp": log_timestamp(MINUTE_ALIGNED),
                                                "ContactFlowModuleType": "InvokeExternalResource",
                                                "ExternalResults": {"n": "0"}}
    assert events[1]["timestamp"] - events[0]["timestamp"] == 1
    points = emulator.boto3("cloudwatch").get_metric_statistics(
        Namespace="Connect/Flows", MetricName="Invokes", StartTime=MINUTE_ALIGNED - 600, EndTime=MINUTE_ALIGNED + 600,
        Period=60, Statistics=["Sum", "SampleCount"])["Datapoints"]
    assert sum(p["Sum"] for p in points) == 45_000


def test_a_body_of_notes_the_emulator_cannot_take_is_refused_in_one_line(emulator):
    """A group that does not exist (deleted under the run), an entry over CloudWatch Logs' 256 KB,
    a note naming a template the body lacks, a malformed body: each a 4xx saying what, and nothing
    kept; where the emulator checks signatures, the route wants the admin token."""
    assert _post(emulator, _notes(1))[0] == 400  # no group yet
    emulator.boto3("logs").create_log_group(logGroupName=GROUP)
    status, said = _post(emulator, _notes(1, external={"big": "x" * 262_200}))
    assert status == 400 and said["message"].startswith("Log event too large")
    status, said = _post(emulator, _notes(1).replace(b'"templates":{"0"', b'"templates":{"7"'))
    assert status == 400 and "template 0" in said["error"] and "/_shiftsim/connect/flow-logs" in said["error"]
    status, said = _post(emulator, b'{"notes": 3}')
    assert status == 400 and "\n" not in said["error"]
    assert emulator.boto3("logs").describe_log_streams(logGroupName=GROUP)["logStreams"] == []
    emulator.server.guard.verifier = object()  # as `shiftsim serve --verify-signatures` has it
    status, said = _post(emulator, _notes(1))
    assert status == 401 and "X-Shiftsim-Admin-Token" in said["error"]
    assert _post(emulator, _notes(1), {"X-Shiftsim-Admin-Token": emulator.server.guard.admin_token})[0] == 200


def test_a_body_larger_than_its_operation_takes_is_refused_before_it_is_read(emulator):
    """Bodies are bounded per operation (an API call 3 MB, an Invoke's payload 6 MB, a package only with
    code uploads allowed), refused from the declared length: nothing is read or held."""
    for path, size in (("/", 4 * 1024 * 1024),
                       ("/2015-03-31/functions/ConnectLambdaFunction/invocations", 7 * 1024 * 1024),
                       ("/2015-03-31/functions", 4 * 1024 * 1024)):
        status, body = emulator.request("POST", path, b"{" + b" " * (size - 2) + b"}",
                                        {"X-Amz-Target": "Logs_20140328.DescribeLogGroups"} if path == "/" else {})
        assert status == 413, (path, body[:200])
        assert json.loads(body)["__type"] == "RequestEntityTooLargeException"
    status, _ = emulator.request("POST", "/2015-03-31/functions/ConnectLambdaFunction/invocations",
                                 b'{"pad": "' + b"z" * (2 * 1024 * 1024) + b'"}')
    assert status == 200  # a 2 MB payload is an Invoke's to take


def test_kept_events_are_not_scanned_by_the_garbage_collector():
    """A group's events are plain numbers and text that the cyclic collector stops tracking after its
    first pass over them: hundreds of thousands of flow log entries as objects made each full pass
    scan them all, holding every invocation due for about 100 ms every few seconds. Reads still
    return them whole."""
    from simulator.emulator.logs.models import LogEvent, LogsBackend

    backend = LogsBackend(ManualClock(MINUTE_ALIGNED), region="us-east-1", account="123456789012")
    backend.create_log_group(GROUP)
    backend.create_log_stream(GROUP, "flows")
    backend.put_log_events(GROUP, "flows", [{"timestamp": int(MINUTE_ALIGNED * 1000) + i, "message": json.dumps(OK)}
                                            for i in range(1000)], weight=2.0)
    gc.collect()
    assert not any(map(gc.is_tracked, backend.groups[GROUP].events))
    (first, *_) = backend.get_log_events(GROUP, "flows", None, None, 10, True)
    assert first == LogEvent(int(MINUTE_ALIGNED * 1000), json.dumps(OK), int(MINUTE_ALIGNED * 1000), "flows", first.number, 2.0)


def test_a_full_group_lets_its_oldest_events_go_and_counts_what_it_freed():
    """Past EVENTS_KEPT a group drops its oldest events, and its bytes and the emulator's holdings
    count only the messages it still keeps; past the holdings' ceiling the largest group gives way."""
    from simulator.emulator.holdings import Holdings
    from simulator.emulator.logs.models import EVENTS_KEPT, LogsBackend

    holdings = Holdings()
    logs = LogsBackend(ManualClock(), region="us-east-1", account="123456789012", holdings=holdings)
    logs.create_log_group("g")
    logs.write_entries("g", "s", [(i, "x" * (1 + i % 7)) for i in range(EVENTS_KEPT - 3)])
    logs.write_entries("g", "s", [(EVENTS_KEPT + i, "y" * 10) for i in range(8)])
    group = logs.groups["g"]
    assert len(group.events) == EVENTS_KEPT and group.dropped == 5
    assert [e[0] for e in list(group.events)[:2]] == [5, 6]  # the oldest five went
    assert group.bytes == sum(len(e[1]) for e in group.events) == holdings.held["log bytes"]
    holdings.ceilings["log bytes"] = group.bytes - 100  # a ceiling lowered under it: the oldest go until under
    logs.write_entries("g", "s", [(2 * EVENTS_KEPT, "z")])
    assert group.bytes == sum(len(e[1]) for e in group.events) == holdings.held["log bytes"]
    assert holdings.over("log bytes") == 0 and group.dropped > 5
