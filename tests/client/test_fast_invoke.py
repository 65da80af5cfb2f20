"""The fast invoker sends the same request as aiobotocore's own `invoke` (bar the signature's time)
and reads the same result: success, function error, throttle, timeout, not found."""

import json

import pytest
from aiohttp import web

from simulator.client.aws import LambdaInvoker, Target, client
from simulator.client.fast_invoke import FastLambdaInvoker, proxy_for
from simulator.emulator.server import Emulator, build_app
from simulator.scenario.reader import parse_scenario
from tests.helpers import served_app

STACK = """
[[functions]]
name = "ConnectLambdaFunction"
timeout = 1
[[functions.versions]]
[[functions.versions]]
[functions.versions.faults.error]
rate = 1.0
[[functions.versions]]
[functions.versions.faults.timeout]
rate = 1.0
[[functions.aliases]]
name = "OK"
version = "1"
[[functions.aliases]]
name = "ERR"
version = "2"
[[functions.aliases]]
name = "SLOW"
version = "3"
[[functions]]
name = "Throttled"
reserved_concurrency = 0
[[functions.aliases]]
name = "PROD"
version = "1"
"""
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
CASES = {"success": ARN.format("ConnectLambdaFunction:OK"), "function error": ARN.format("ConnectLambdaFunction:ERR"),
         "timeout": ARN.format("ConnectLambdaFunction:SLOW"), "throttle": ARN.format("Throttled:PROD"),
         "not found": ARN.format("ConnectLambdaFunction:GONE")}
VARYING = {"x-amz-date", "authorization", "amz-sdk-invocation-id"}


@pytest.fixture
async def served():
    """The emulator on a free port, recording every request it receives."""
    seen = []

    @web.middleware
    async def record(request, handler):
        body = await request.read()
        seen.append({"method": request.method, "path": request.raw_path, "body": body,
                     "headers": {k.lower(): v for k, v in request.headers.items()}})
        return await handler(request)

    emulator = Emulator(parse_scenario(STACK, "<test>"), seed=1)
    app = build_app(emulator)
    app.middlewares.insert(0, record)
    async with served_app(app) as port:
        yield f"http://127.0.0.1:{port}", seen
    emulator.close()


def comparable(raw):
    payload = json.loads(raw.payload) if raw.payload else None
    if isinstance(payload, dict):
        payload.pop("requestId", None)
    return (raw.status, raw.executed_version, raw.function_error, raw.error_code, raw.error_message,
            raw.injected, payload)


async def test_same_requests_and_same_results(served):
    url, seen = served
    payload = json.dumps({"Details": {"Parameters": {"k": "v"}}, "Name": "ContactFlowEvent"}).encode()
    async with client(Target("local", url), "lambda", retries=False) as lam:
        slow, fast = LambdaInvoker(lam), FastLambdaInvoker(lam)
        try:
            for name, arn in CASES.items():
                await fast(arn, payload)  # the first call of each function goes through aiobotocore
                seen.clear()
                reference = await slow(arn, payload)
                quick = await fast(arn, payload)
                assert fast.templates.get(arn) is not None or reference.status == 404, name
                assert comparable(quick) == comparable(reference), name
                assert len(seen) == 2, name
                official, ours = seen
                assert (ours["method"], ours["path"], ours["body"]) == (official["method"], official["path"],
                                                                        official["body"]), name
                assert {k: v for k, v in ours["headers"].items() if k not in VARYING} == \
                    {k: v for k, v in official["headers"].items() if k not in VARYING}, name
                scope = official["headers"]["authorization"].split("Signature=")[0]
                assert ours["headers"]["authorization"].startswith(scope), name
        finally:
            await fast.close()


async def test_the_fast_path_is_used_after_the_first_call(served):
    url, seen = served
    async with client(Target("local", url), "lambda", retries=False) as lam:
        fast = FastLambdaInvoker(lam)
        captured = []
        lam.meta.events.register("before-send.lambda.Invoke", lambda request, **kw: captured.append(request))
        try:
            for _ in range(5):
                result = await fast(CASES["success"], b"{}")
                assert result.status == 200 and result.executed_version == "1"
        finally:
            await fast.close()
    assert len(captured) == 1  # aiobotocore sent only the first
    assert len(seen) == 5


async def test_an_unreachable_endpoint_is_a_status_zero(served):
    url, _ = served
    async with client(Target("local", "http://127.0.0.1:9"), "lambda", retries=False) as lam:
        fast = FastLambdaInvoker(lam)
        try:
            first = await fast(CASES["success"], b"{}")
            assert first.status == 0
        finally:
            await fast.close()


def test_the_template_signer_signs_exactly_as_botocore():
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from simulator.client.request_templates import CachedKeySigV4, TemplateSigner

    url = "http://127.0.0.1:4566/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3AF%3APROD/invocations"
    for credentials in (Credentials("AKID", "SECRET"), Credentials("AKID2", "SECRET2", token="SESSION")):
        signer = CachedKeySigV4(credentials, "lambda", "us-east-1")
        template = TemplateSigner(signer, url, {})
        # a contact's loop sends the same payload again in the same second (signed once, kept), another
        # payload between, an equal payload as another object, then the same payload in the next second
        same = b'{"a": 1}'
        for timestamp, payload in (("20261123T101500Z", same), ("20261123T101500Z", b'{"a": 2}'),
                                   ("20261123T101500Z", same), ("20261123T101500Z", bytes(bytearray(same))),
                                   ("20261123T101501Z", same), ("20261124T000001Z", b"")):
            ours = {**template.extra, "Authorization": template.authorization(timestamp, payload)}
            reference = AWSRequest(method="POST", url=url, headers={}, data=payload)
            reference.context["timestamp"] = timestamp  # what add_auth does, at a fixed time
            botocore_signer = __import__("botocore.auth").auth.SigV4Auth(credentials, "lambda", "us-east-1")
            botocore_signer._modify_request_before_signing(reference)
            canonical = botocore_signer.canonical_request(reference)
            signature = botocore_signer.signature(botocore_signer.string_to_sign(reference, canonical), reference)
            botocore_signer._inject_signature_to_request(reference, signature)
            assert ours["Authorization"] == reference.headers["Authorization"]
            assert timestamp == reference.headers["X-Amz-Date"]
            assert ours.get("X-Amz-Security-Token") == reference.headers.get("X-Amz-Security-Token")
        many = [f'{{"contact": {n}}}'.encode() for n in range(1000)]  # more than a second keeps: bounded, still exact
        first = [template.authorization("20261124T000002Z", payload) for payload in many]
        assert len(template._signed) <= 256
        assert [template.authorization("20261124T000002Z", payload) for payload in many] == first
        assert first[0] == TemplateSigner(signer, url, {}).authorization("20261124T000002Z", many[0])


async def test_prepare_builds_the_template_without_sending_anything(served):
    url, seen = served
    payload = json.dumps({"Name": "ContactFlowEvent"}).encode()
    async with client(Target("local", url), "lambda", retries=False) as lam:
        fast, slow = FastLambdaInvoker(lam), LambdaInvoker(lam)
        try:
            await fast.prepare(CASES["success"])
            await fast.prepare("")  # botocore refuses to build it: left for the first call to report
            assert seen == [] and list(fast.templates) == [CASES["success"]]
            quick = await fast(CASES["success"], payload)  # already the fast path
            reference = await slow(CASES["success"], payload)
            assert comparable(quick) == comparable(reference)
            official, ours = seen[1], seen[0]
            assert {k: v for k, v in ours["headers"].items() if k not in VARYING} == \
                {k: v for k, v in official["headers"].items() if k not in VARYING}
            assert ours["body"] == official["body"]
        finally:
            await fast.close()


async def test_a_proxied_endpoint_is_named_without_credentials(monkeypatch):
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.example:3128")
    async with client(Target("aws", region="us-east-1"), "lambda") as lam:
        assert proxy_for(lam) == "proxy.example:3128"
        monkeypatch.setenv("NO_PROXY", ".amazonaws.com")
        assert proxy_for(lam) is None
    async with client(Target("local", "http://127.0.0.1:9"), "lambda") as lam:
        assert proxy_for(lam) is None  # HTTPS_PROXY is not for an http endpoint
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.setenv("HTTP_PROXY", "127.0.0.1:8888")
        assert proxy_for(lam) == "127.0.0.1:8888"


def test_an_error_body_with_null_fields_reads_as_a_missing_one():
    """An endpoint's error answer whose JSON has null where the code and message go: the status
    stands for the code, as for an empty body, instead of an AttributeError escaping."""
    from simulator.client.fast_invoke import _read

    for body in (b'{"__type": null, "message": null}', b'{"code": null, "Message": null}', b""):
        raw = _read(502, {}, body)
        assert (raw.error_code, raw.error_message) == ("502", "")
    raw = _read(429, {}, b'{"__type": "com.amazon#TooManyRequestsException", "message": "Rate exceeded"}')
    assert (raw.error_code, raw.error_message) == ("TooManyRequestsException", "Rate exceeded")


async def test_a_dry_run_sends_what_aiobotocores_dry_run_sends(served):
    """The capacity measurement's invoker: each function's DryRun on the fast path, the same request
    as aiobotocore's own DryRun (bar the signature's time), answered 204 without running the code."""
    url, seen = served
    payload = json.dumps({"Name": "ContactFlowEvent"}).encode()
    async with client(Target("local", url), "lambda", retries=False) as lam:
        fast = FastLambdaInvoker(lam)
        try:
            await fast.prepare(CASES["function error"], dry_run=True)
            assert seen == []
            dry_run = fast.dry_runs()
            quick = await dry_run(CASES["function error"], payload)  # version 2 always fails: not run
            reference = await lam.invoke(FunctionName=CASES["function error"], InvocationType="DryRun",
                                         Payload=payload)
            assert (quick.status, quick.function_error, quick.payload) == (204, None, b"")
            assert reference["StatusCode"] == 204
            ours, official = seen
            assert (ours["path"], ours["body"]) == (official["path"], official["body"])
            assert ours["headers"]["x-amz-invocation-type"] == "DryRun"
            assert {k: v for k, v in ours["headers"].items() if k not in VARYING} == \
                {k: v for k, v in official["headers"].items() if k not in VARYING}
            unprepared = await dry_run(CASES["not found"], payload)  # prepared on first use
            assert unprepared.status == 404 and unprepared.error_code == "ResourceNotFoundException"
            assert CASES["function error"] not in fast.templates  # the Invoke's own template is apart
        finally:
            await fast.close()
