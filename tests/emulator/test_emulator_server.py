"""The emulator's front door answers exactly as the aiohttp application alone does: the same
requests, sent to one server of each kind on identically seeded emulators, get the same status,
headers and body (bar values that are random on every call), whether the front door answers them
itself or hands the connection to aiohttp (pipelined, split, malformed, oversized, mixed)."""

import asyncio
import base64
import json
import re

import aiohttp
import pytest
from yarl import URL

from simulator.emulator.front_door import FAST_BODY_LIMIT
from simulator.emulator.server import Emulator, EmulatorServer, invoked_function
from simulator.scenario.reader import parse_scenario
from tests.client.test_fast_invoke import STACK
from tests.helpers import running_emulator

FN = "/2015-03-31/functions/"
ARN = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3A"
JSON = {"Content-Type": "application/json"}
# (method, raw path and query, body, headers): every way an Invoke can go, right and wrong
REQUESTS = [
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b'{"Name": "ContactFlowEvent"}', JSON),
    ("POST", f"{FN}ConnectLambdaFunction/invocations?Qualifier=OK", b"{}", JSON),
    ("POST", f"{FN}ConnectLambdaFunction/invocations", b"{}", JSON),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AERR/invocations", b"{}", JSON),
    ("POST", f"{FN}{ARN}Throttled%3APROD/invocations", b"{}", JSON),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AGONE/invocations", b"{}", JSON),
    ("POST", f"{FN}Nobody/invocations", b"{}", JSON),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations?Qualifier=ERR", b"{}", JSON),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"{not json", JSON),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"[1]", JSON),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"", JSON),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"{}",
     {"X-Amz-Invocation-Type": "DryRun"}),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"{}", {"X-Amz-Invocation-Type": "Event"}),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"{}", {"X-Amz-Invocation-Type": "Bogus"}),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AERR/invocations", b"{}", {"X-Amz-Log-Type": "Tail"}),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"{}", {"Expect": "100-continue"}),
    ("POST", f"{FN}Connect%2FLambdaFunction/invocations", b"{}", JSON),
    ("POST", f"{FN}/invocations", b"{}", JSON),
    ("POST", f"{FN}ConnectLambdaFunction/invocations/", b"{}", JSON),
    ("POST", f"{FN}a/b/invocations", b"{}", JSON),
    ("GET", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"", {}),
    ("PUT", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"{}", JSON),
    ("GET", f"{FN}ConnectLambdaFunction/aliases/OK", b"", {}),
    ("POST", f"{FN}ConnectLambdaFunction/invocations?Qualifier=ERR&Qualifier=OK", b"{}", JSON),
    ("POST", f"{FN}ConnectLambdaFunction/invocations?Qualifier=", b"{}", JSON),
    ("POST", f"{FN}ConnectLambdaFunction/invocations?Qualifier=O%4B&x=1", b"{}", JSON),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"{}",
     {"X-Amz-Client-Context": base64.b64encode(b'{"custom": {}}').decode()}),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b"{}", {"Connection": "close"}),
    ("POST", f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations", b'{"pad": "' + b"x" * 7_000_000 + b'"}',
     JSON),
]
# The requests the front door answers itself: plain POSTs of an Invoke path
FAST = [r for r in REQUESTS if r[0] == "POST" and invoked_function(r[1]) is not None
        and not {"Expect", "Connection"} & set(r[3]) and len(r[2]) <= FAST_BODY_LIMIT]
RANDOM_HEADERS = {"date", "x-amz-log-result"}


@pytest.fixture
async def both_servers():
    servers = [EmulatorServer(Emulator(parse_scenario(STACK, "<test>"), seed=7), front_door=door)
               for door in (True, False)]
    urls = [await server.start() for server in servers]
    yield urls, servers
    for server in servers:
        await server.stop()


def comparable(status, headers, raw):
    kept = {k.lower(): v for k, v in headers.items() if k.lower() not in RANDOM_HEADERS}
    if "x-amzn-requestid" in kept:  # each answer's own: the same shape from both
        kept["x-amzn-requestid"] = bool(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", kept["x-amzn-requestid"]))
    log_tail = headers.get("X-Amz-Log-Result")
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = raw
    if isinstance(payload, dict):
        payload.pop("requestId", None)
        payload.pop("RevisionId", None)
    if log_tail is not None:  # request ids and durations differ; the lines say the same
        log_tail = [line.split(" ")[0] for line in base64.b64decode(log_tail).decode().splitlines()]
    return status, kept, payload, log_tail


async def answer(session, url, method, path, body, headers):
    async with session.request(method, URL(url + path, encoded=True), data=body, headers=headers) as response:
        return comparable(response.status, response.headers, await response.read())


async def test_front_door_answers_as_aiohttp_does(both_servers):
    (front, plain), servers = both_servers
    door = servers[0]._door
    assert servers[1]._door is None
    statuses = set()
    for _ in range(3):  # routing draws: the same seed gives the same versions on both
        for method, path, body, headers in REQUESTS:
            for url in (plain, front):  # a connection of its own each, so each request meets the door
                async with aiohttp.ClientSession() as session:
                    got = await answer(session, url, method, path, body, headers)
                if url == plain:
                    expected = got
            assert got == expected, (method, path, headers)
            statuses.add(expected[0])
    assert {200, 202, 204, 400, 404, 405, 413, 429} <= statuses  # the cases above do reach every answer
    assert door.answered == 3 * len(FAST)  # the others were aiohttp's, handed over
    assert door.handed_over == 3 * (len(REQUESTS) - len(FAST))


async def exchange(url, chunks, answers, *, pause=0.0):
    """Raw bytes to the server, in pieces; up to `answers` responses read back (fewer if it closes)."""
    host, port = URL(url).host, URL(url).port
    reader, writer = await asyncio.open_connection(host, port)
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(pause)
    responses = []
    try:
        while len(responses) < answers:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode().split("\r\n")
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers.setdefault(name, value.strip())
            length = int({k.lower(): v for k, v in headers.items()}.get("content-length", 0))
            body = await reader.readexactly(length)
            responses.append(comparable(int(lines[0].split(" ")[1]), headers, body))
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        pass
    writer.close()
    return responses


def raw(method, path, body=b"{}", extra=b""):
    return (b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s"
            % (method.encode(), path.encode(), extra, len(body), body))


OK_PATH = f"{FN}{ARN}ConnectLambdaFunction%3AOK/invocations"
RAW_CASES = {
    "pipelined invokes": [raw("POST", OK_PATH) * 3],  # the answers each case gets: see ANSWERS
    "invoke, a read, invoke on one connection": [raw("POST", OK_PATH) + raw("GET", f"{FN}ConnectLambdaFunction/aliases/OK", b"")
                                                 + raw("POST", OK_PATH)],
    "split everywhere": [c for c in (raw("POST", OK_PATH, b'{"a": "b"}'),) for c in (c[:7], c[7:60], c[60:-3], c[-3:])],
    "garbage": [b"HELLO\r\n\r\n"],
    "header name with a space": [raw("POST", OK_PATH, extra=b"Bad Name: 1\r\n")],
    "control character in a value": [raw("POST", OK_PATH, extra=b"X-A: a\x01b\r\n")],
    "repeated content length": [raw("POST", OK_PATH, extra=b"Content-Length: 2\r\n")],
    "content length not a number": [raw("POST", OK_PATH).replace(b"Content-Length: 2", b"Content-Length: +2")],
    "chunked body": [b"POST " + OK_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"2\r\n{}\r\n0\r\n\r\n"],
    "HTTP/1.0": [raw("POST", OK_PATH).replace(b"HTTP/1.1", b"HTTP/1.0")],
    "a head too long": [raw("POST", OK_PATH, extra=b"X-Long: " + b"a" * 20_000 + b"\r\n")],
    "lower-case method": [raw("post", OK_PATH)],
    "repeated invocation type": [raw("POST", OK_PATH, extra=b"X-Amz-Invocation-Type: DryRun\r\n"
                                                           b"x-amz-invocation-type: Event\r\n")],
    "names in any case, values padded": [raw("POST", OK_PATH, extra=b"x-AMZ-log-TYPE: \t Tail \t\r\n")],
    "a bare LF": [raw("POST", OK_PATH, extra=b"X-A: a\nX-B: b\r\n")],
}

ANSWERS = {"pipelined invokes": 3, "invoke, a read, invoke on one connection": 3}


@pytest.mark.parametrize("case", list(RAW_CASES))
async def test_front_door_answers_raw_bytes_as_aiohttp_does(both_servers, case):
    (front, plain), servers = both_servers
    answers = ANSWERS.get(case, 1)
    expected = await exchange(plain, RAW_CASES[case], answers, pause=0.02)
    got = await exchange(front, RAW_CASES[case], answers, pause=0.02)
    assert len(expected) == answers, "aiohttp answered otherwise: the case proves nothing"
    assert got == expected


async def with_slow_function(ms):
    """A started server whose function `Slow` (version 1) takes `ms` to answer."""
    stack = STACK + f"""
[[functions]]
name = "Slow"
timeout = 60
[[functions.versions]]
faults.latency = {{ distribution = "fixed", ms = {ms} }}
"""
    server = EmulatorServer(Emulator(parse_scenario(stack, "<test>"), seed=1))
    return server, await server.start()


async def test_stop_ends_open_and_busy_connections():
    server, url = await with_slow_function(30_000)
    idle = await asyncio.open_connection(URL(url).host, URL(url).port)
    busy = await asyncio.open_connection(URL(url).host, URL(url).port)
    busy[1].write(raw("POST", f"{FN}Slow/invocations?Qualifier=1"))
    await asyncio.sleep(0.1)
    assert len(server._door.connections) == 2
    await asyncio.wait_for(server.stop(), 10)  # long before the slow invocation could have ended
    for reader, writer in (idle, busy):
        assert await asyncio.wait_for(reader.read(), 1) == b""  # closed, nothing half-written
        writer.close()


def test_invoked_function_is_the_router_match_or_none():
    assert invoked_function(f"{FN}{ARN}F%3AOK/invocations?Qualifier=x") == \
        "arn:aws:lambda:us-east-1:123456789012:function:F:OK"
    assert invoked_function(f"{FN}a%2Fb/invocations") == "a/b"
    for other in (f"{FN}/invocations", f"{FN}a/b/invocations", f"{FN}F/invocations/", f"{FN}F/aliases",
                  "/2015-03-31/functions", "/"):
        assert invoked_function(other) is None, other


async def test_idle_connections_are_closed_after_the_keepalive_timeout():
    server, url = await with_slow_function(600)
    server._door.keepalive_timeout = 0.2
    try:
        idle = await asyncio.open_connection(URL(url).host, URL(url).port)
        busy = await asyncio.open_connection(URL(url).host, URL(url).port)
        busy[1].write(raw("POST", f"{FN}Slow/invocations?Qualifier=1"))
        assert await asyncio.wait_for(idle[0].read(), 5) == b""  # closed by the server, idle since 0.2 s
        head = await asyncio.wait_for(busy[0].readuntil(b"\r\n\r\n"), 5)  # 0.6 s busy: not idle, answered
        assert head.startswith(b"HTTP/1.1 200") and b"X-Amz-Executed-Version: 1" in head
        assert await asyncio.wait_for(busy[0].read(), 5) == b'{"version":"1"}'  # then idle: closed too
        for _, writer in (idle, busy):
            writer.close()
    finally:
        await server.stop()


async def wait_until(condition, limit=20.0):
    """Wait (polling the loop, bounded) until `condition()` holds; False if it never did."""
    deadline = asyncio.get_running_loop().time() + limit
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_a_client_that_closes_mid_request_leaves_nothing_behind():
    server, url = await with_slow_function(10)
    try:
        clients = [await asyncio.open_connection(URL(url).host, URL(url).port) for _ in range(100)]
        partial = raw("POST", f"{FN}Slow/invocations?Qualifier=1", b"x" * 5000)
        for n, (_, writer) in enumerate(clients):  # a part of a head, or a head and part of its body
            writer.write(partial[:40] if n % 2 else partial[:-100])
        assert await wait_until(lambda: len(server._door.connections) == 100)
        for _, writer in clients:
            writer.close()
        assert await wait_until(lambda: not server._door.connections), len(server._door.connections)
    finally:
        await server.stop()


async def test_a_request_not_whole_in_time_is_dropped_and_its_buffer_freed():
    server, url = await with_slow_function(10)
    server._door.request_timeout = 0.3
    try:
        stalled = await asyncio.open_connection(URL(url).host, URL(url).port)
        slow_head = await asyncio.open_connection(URL(url).host, URL(url).port)
        working = await asyncio.open_connection(URL(url).host, URL(url).port)
        stalled[1].write(raw("POST", f"{FN}Slow/invocations?Qualifier=1", b"x" * 900_000)[:300_000])
        slow_head[1].write(b"POST /2015-03-31/functions/Slow/invoc")
        assert await asyncio.wait_for(stalled[0].read(), 10) == b""  # closed, unanswered
        assert await asyncio.wait_for(slow_head[0].read(), 10) == b""
        assert server._door.dropped == 2
        working[1].write(raw("POST", f"{FN}Slow/invocations?Qualifier=1"))  # a whole one is answered
        head = await asyncio.wait_for(working[0].readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        for _, writer in (stalled, slow_head, working):
            writer.close()
    finally:
        await server.stop()


async def test_connections_past_the_limit_are_closed_at_once():
    server, url = await with_slow_function(10)
    server._door.max_connections = 5
    try:
        kept = [await asyncio.open_connection(URL(url).host, URL(url).port) for _ in range(5)]
        assert await wait_until(lambda: len(server._door.connections) == 5)
        extra = [await asyncio.open_connection(URL(url).host, URL(url).port) for _ in range(2)]
        for reader, _ in extra:
            assert await asyncio.wait_for(reader.read(), 10) == b""
        assert server._door.refused == 2
        reader, writer = kept[0]
        writer.write(raw("POST", f"{FN}Slow/invocations?Qualifier=1"))
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).startswith(b"HTTP/1.1 200")
        for _, writer in kept + extra:
            writer.close()
    finally:
        await server.stop()


@pytest.mark.parametrize("front_door", [True, False], ids=["handed over by the front door", "aiohttp alone"])
async def test_a_slow_body_on_aiohttps_side_is_dropped_in_time(front_door):
    stack = STACK + "\n[[functions]]\nname = \"Slow\"\n[[functions.versions]]\n"
    server = EmulatorServer(Emulator(parse_scenario(stack, "<test>"), seed=1), front_door=front_door,
                            request_timeout=0.3)
    url = await server.start()
    try:
        reader, writer = await asyncio.open_connection(URL(url).host, URL(url).port)
        big = raw("POST", f"{FN}Slow/invocations", b"x" * (3 * FAST_BODY_LIMIT))  # past the fast path's limit
        writer.write(big[:FAST_BODY_LIMIT])
        answer = await asyncio.wait_for(reader.read(), 10)  # answered and closed, not held
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        writer.close()
        status, body = await invoke_over_aiohttp(url)  # the server goes on serving
        assert status == 200 and body == {"version": "$LATEST"}
    finally:
        await server.stop()


async def invoke_over_aiohttp(url):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}{FN}Slow/invocations", data=b"{}") as response:
            return response.status, await response.json(content_type=None)


@pytest.mark.parametrize("target, content_type, body, code", [
    ("GraniteServiceVersion20100801.PutMetricAlarm", "application/x-amz-json-1.0",
     {"AlarmName": 1, "MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "Sum", "Period": 60,
      "EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold"}, "InvalidParameterValue"),
    ("CodeDeploy_20141006.CreateApplication", "application/x-amz-json-1.1",
     {"applicationName": ["a"], "computePlatform": "Lambda"}, "SerializationException"),
    ("Logs_20140328.CreateLogGroup", "application/x-amz-json-1.1", {"logGroupName": {"a": 1}}, "SerializationException"),
    ("Logs_20140328.PutLogEvents", "application/x-amz-json-1.1",
     {"logGroupName": "/g", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": 7}]}, "SerializationException"),
])
def test_a_member_of_the_wrong_type_is_refused_and_every_later_reader_still_served(target, content_type, body, code):
    """Type poisoning: a number where AWS takes a string was stored, and every DescribeAlarms (or
    ListApplications, DescribeLogGroups) failed afterwards, for every client. Now refused on the wire."""
    with running_emulator() as emulator:
        status, answer = emulator.post_json("/", body, {"X-Amz-Target": target, "Content-Type": content_type})
        assert status == 400 and answer["__type"] == code, answer
        assert emulator.boto3("cloudwatch").describe_alarms()["MetricAlarms"] is not None
        assert emulator.boto3("codedeploy").list_applications()["applications"] == ["ServerlessDeploymentApplication"]
        assert isinstance(emulator.boto3("logs").describe_log_groups()["logGroups"], list)


@pytest.mark.parametrize("request_bytes", [
    b"GET /_shiftsim/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET /_shiftsim/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"POST /2015-03-31/functions/ConnectLambdaFunction/invocations?Qualifier=PROD HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Length: 2\r\n\r\n{}",
])
def test_a_half_closed_connection_is_answered(request_bytes):
    """A client that sends its request and shuts its side (SHUT_WR, as `curl` and HTTP/1.0 clients may)
    gets its answer; the requests aiohttp serves got nothing."""
    import socket

    with running_emulator() as emulator:
        host, port = emulator.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(request_bytes)
            connection.shutdown(socket.SHUT_WR)
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
