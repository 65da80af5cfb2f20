"""The emulator server's Invoke fast path answers exactly as the application's router and middleware
do: the same raw requests, sent to one server of each kind on identically seeded emulators, get the
same status, headers and body (bar values that are random on every call)."""

import base64
import json

import aiohttp
import pytest
from yarl import URL

from simulator.emulator.server import Emulator, EmulatorServer, invoked_function
from simulator.scenario import parse_scenario
from tests.test_fast_invoke import STACK

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
]
RANDOM_HEADERS = {"date", "x-amz-log-result"}


@pytest.fixture
async def both_servers():
    servers = [EmulatorServer(Emulator(parse_scenario(STACK, "<test>"), seed=7), invoke_first=first)
               for first in (True, False)]
    urls = [await server.start() for server in servers]
    async with aiohttp.ClientSession() as session:
        yield session, urls, servers
    for server in servers:
        await server.stop()


async def answer(session, url, method, path, body, headers):
    async with session.request(method, URL(url + path, encoded=True), data=body, headers=headers) as response:
        raw = await response.read()
        kept = {k.lower(): v for k, v in response.headers.items() if k.lower() not in RANDOM_HEADERS}
        log_tail = response.headers.get("X-Amz-Log-Result")
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = raw
    if isinstance(payload, dict):
        payload.pop("requestId", None)
        payload.pop("RevisionId", None)
    if log_tail is not None:  # request ids and durations differ; the lines say the same
        log_tail = [line.split(" ")[0] for line in base64.b64decode(log_tail).decode().splitlines()]
    return response.status, kept, payload, log_tail


async def test_invoke_first_answers_as_the_router_does(both_servers):
    session, (fast, routed), servers = both_servers
    assert type(servers[0]._runner.server.request_handler).__name__ == "_InvokeFirst"
    assert type(servers[1]._runner.server.request_handler).__name__ != "_InvokeFirst"
    calls = invoked_function.cache_info()
    statuses = set()
    for _ in range(3):  # routing draws: the same seed gives the same versions on both
        for method, path, body, headers in REQUESTS:
            expected = await answer(session, routed, method, path, body, headers)
            got = await answer(session, fast, method, path, body, headers)
            assert got == expected, (method, path, headers)
            statuses.add(expected[0])
    assert {200, 202, 204, 400, 404, 405, 429} <= statuses  # the cases above do reach every answer
    after = invoked_function.cache_info()  # only the fast path asks it: aiohttp did hand requests to it
    assert after.hits + after.misses - calls.hits - calls.misses == 3 * sum(
        1 for method, _, _, headers in REQUESTS if method == "POST" and "Expect" not in headers)


def test_invoked_function_is_the_router_match_or_none():
    assert invoked_function(f"{FN}{ARN}F%3AOK/invocations?Qualifier=x") == \
        "arn:aws:lambda:us-east-1:123456789012:function:F:OK"
    assert invoked_function(f"{FN}a%2Fb/invocations") == "a/b"
    for other in (f"{FN}/invocations", f"{FN}a/b/invocations", f"{FN}F/invocations/", f"{FN}F/aliases",
                  "/2015-03-31/functions", "/"):
        assert invoked_function(other) is None, other
