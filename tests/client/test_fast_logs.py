"""The Connect instance's PutLogEvents on the lean path sends the same request as aiobotocore's own
`put_log_events` (bar the signature's time) and meets the same errors."""

import json

import pytest
from botocore.exceptions import ClientError

from simulator.client.aws import Target, client
from simulator.client.fast_logs import FastPutLogEvents, PutLogEventsError
from simulator.deployment.vocabulary import WEIGHT_HEADER
from simulator.loadgen.connect_telemetry import put_log_events_body
from tests.client.test_fast_invoke import VARYING, served  # noqa: F401 (the fixture)

GROUP, STREAM = "/aws/connect/shiftsim", "instance"
EVENTS = [{"timestamp": 1_796_400_000_000 + i, "message": f'{{"ContactId": "c-{i}", "é": "\\"quoted\\""}}'}
          for i in range(50)]


def _weighted(request, **kwargs):
    request.headers[WEIGHT_HEADER] = "24"  # what a sampled rehearsal's instance adds (connect_telemetry)


async def test_same_request_as_aiobotocores_put_log_events(served):  # noqa: F811
    url, seen = served
    async with client(Target("local", url), "logs", retries=False) as logs:
        logs.meta.events.register("before-sign.logs.PutLogEvents", _weighted)
        await logs.create_log_group(logGroupName=GROUP)
        await logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
        fast = FastPutLogEvents(logs)
        try:
            seen.clear()
            await logs.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=EVENTS)
            await fast.put(GROUP, STREAM, EVENTS[0], put_log_events_body(GROUP, STREAM, EVENTS))
            await fast.put(GROUP, STREAM, EVENTS[0], put_log_events_body(GROUP, STREAM, EVENTS))  # the template again
        finally:
            fast.close()
        events = (await logs.get_log_events(logGroupName=GROUP, logStreamName=STREAM, startFromHead=True))["events"]
    assert len(seen) == 4  # the three puts and the read: preparing sent nothing
    official, ours, again = seen[:3]
    per_body = VARYING | {"content-length"}  # botocore's JSON has spaces after its separators, orjson's none
    for sent in (ours, again):
        assert (sent["method"], sent["path"]) == (official["method"], official["path"])
        assert json.loads(sent["body"]) == json.loads(official["body"])
        assert int(sent["headers"]["content-length"]) == len(sent["body"])
        assert {k: v for k, v in sent["headers"].items() if k not in per_body} == \
            {k: v for k, v in official["headers"].items() if k not in per_body}
        assert sent["headers"]["authorization"].startswith(official["headers"]["authorization"].split("Signature=")[0])
    assert ours["headers"][WEIGHT_HEADER.lower()] == "24"
    assert [e["message"] for e in events] == [e["message"] for e in EVENTS] * 3


@pytest.mark.parametrize("stream, events", [
    ("missing", EVENTS),  # ResourceNotFoundException
    (STREAM, [{"timestamp": 1_796_400_000_000 + i, "message": "y" * 210_000} for i in range(5)]),  # too large
])
async def test_the_same_errors_as_aiobotocore(served, stream, events):  # noqa: F811
    url, _ = served
    async with client(Target("local", url), "logs", retries=False) as logs:
        await logs.create_log_group(logGroupName=GROUP)
        await logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
        with pytest.raises(ClientError) as official:
            await logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)
        fast = FastPutLogEvents(logs)
        try:
            with pytest.raises(PutLogEventsError) as ours:
                await fast.put(GROUP, stream, events[0], put_log_events_body(GROUP, stream, events))
        finally:
            fast.close()
    error = official.value.response["Error"]
    assert (ours.value.code, ours.value.message) == (error["Code"], error["Message"])
    assert ours.value.status == official.value.response["ResponseMetadata"]["HTTPStatusCode"]


async def test_an_unreachable_endpoint_is_an_os_error():
    async with client(Target("local", "http://127.0.0.1:9"), "logs", retries=False) as logs:
        fast = FastPutLogEvents(logs)
        try:
            with pytest.raises(OSError):
                await fast.put(GROUP, STREAM, EVENTS[0], put_log_events_body(GROUP, STREAM, EVENTS))
        finally:
            fast.close()
