"""A faster Lambda Invoke that sends exactly the request aiobotocore would.

The first call for a function goes through aiobotocore's own `invoke`; a `before-send` hook keeps
the prepared request (URL, User-Agent, headers) as the template, serialised once as the fixed part of
an HTTP/1.1 request. Later calls sign it with botocore's SigV4 rules and the client's own credentials
(the derived signing key cached for the day), add the per-call headers and the payload, and send it
on a lean keep-alive connection (`simulator.client.http1`), skipping botocore's per-call parameter
validation, serialisation, endpoint resolution and response parsing (about 2 ms of CPU a call) and a
general HTTP client's per-request machinery. The answer is read the way botocore's rest-json parser
reads it. tests/client/test_fast_invoke.py shows both paths send the same request and read the same result.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from hashlib import sha256
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.httpsession import get_cert_path
from botocore.utils import get_environ_proxies

from simulator.client.aws import LambdaInvoker
from simulator.client.fast_ids import random_uuid4
from simulator.client.http1 import Origin
from simulator.connect.invoke import RawInvocation

# Per call headers, set again for each request
_PER_CALL = {"authorization", "x-amz-date", "amz-sdk-invocation-id", "content-length", "host",
             "x-amz-security-token"}


_DRY_RUN = "dry-run:"  # the key of a function's DryRun template
_MARK = "20000101T000000Z"  # a timestamp that appears nowhere else in a canonical request
_EMPTY_SHA256 = sha256(b"").hexdigest()


class _CachedKeySigV4(SigV4Auth):
    """botocore's SigV4 rules, with the day's derived signing key computed once, not on every call,
    and kept as HMAC-SHA256's two keyed hash states (RFC 2104), which each signature copies."""

    _macs: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}

    def key_for(self, day: str) -> bytes:
        k_date = self._sign(("AWS4" + self.credentials.secret_key).encode("utf-8"), day)
        k_region = self._sign(k_date, self._region_name)
        k_service = self._sign(k_region, self._service_name)
        return self._sign(k_service, "aws4_request")  # type: ignore[no-any-return]

    def hmac_for(self, day: str, message: bytes) -> bytes:
        """HMAC-SHA256 of `message` under the day's signing key (as hmac.digest, without re-keying)."""
        cache_key = (self.credentials.secret_key, day, self._region_name, self._service_name)
        states = self._macs.get(cache_key)
        if states is None:
            key = self.key_for(day).ljust(64, b"\0")  # a SigV4 key is 32 bytes: under SHA-256's block
            states = self._macs[cache_key] = (sha256(bytes(b ^ 0x36 for b in key)),
                                              sha256(bytes(b ^ 0x5C for b in key)))
        inner, outer = states[0].copy(), states[1].copy()
        inner.update(message)
        outer.update(inner.digest())
        return outer.digest()


class TemplateSigner:
    """botocore's SigV4 for one request template: botocore computes the canonical request once (with
    a marker timestamp and an empty payload); each call puts in the time and the payload's hash and
    signs the string botocore's rules build, with the day's key. Identical to SigV4Auth.add_auth."""

    def __init__(self, signer: _CachedKeySigV4, url: str, signed_headers: dict[str, str]) -> None:
        probe = AWSRequest(method="POST", url=url, headers=dict(signed_headers), data=b"")
        probe.context["timestamp"] = _MARK
        signer._modify_request_before_signing(probe)
        canonical = signer.canonical_request(probe)
        head, _, tail = canonical.partition(_MARK)
        if not tail.endswith(_EMPTY_SHA256) or _MARK in tail:
            raise ValueError("unexpected canonical request shape: cannot template it")
        self.head, self.middle = head, tail[: -len(_EMPTY_SHA256)]
        self.signer = signer
        self.extra = {k: v for k, v in probe.headers.items() if k.lower() in ("x-amz-security-token",)}
        self.signed_names = signer.signed_headers(signer.headers_to_sign(probe))
        self.suffix = f"/{signer._region_name}/{signer._service_name}/aws4_request"
        self.access_key = signer.credentials.access_key

    def authorization(self, timestamp: str, payload: bytes) -> str:
        canonical = f"{self.head}{timestamp}{self.middle}{sha256(payload).hexdigest()}"
        day = timestamp[:8]
        scope = day + self.suffix
        to_sign = f"AWS4-HMAC-SHA256\n{timestamp}\n{scope}\n{sha256(canonical.encode()).hexdigest()}"
        signature = self.signer.hmac_for(day, to_sign.encode()).hex()
        return (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                f"SignedHeaders={self.signed_names}, Signature={signature}")


class _Template:
    """One function's request as aiobotocore sent it, minus what changes per call."""

    signer: TemplateSigner | None = None
    fixed: bytes = b""  # request line and the headers that never change, serialised

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        parts = urlsplit(url)
        self.origin_url = f"{parts.scheme}://{parts.netloc}"
        self.target = parts.path + (f"?{parts.query}" if parts.query else "")  # already percent-encoded
        self.host = parts.netloc
        text = {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}  # may be bytes
        authorization = next((v for k, v in text.items() if k.lower() == "authorization"), "")
        signed = authorization.split("SignedHeaders=")[-1].split(",")[0].split(";") if authorization else []
        kept = {k: v for k, v in text.items() if k.lower() not in _PER_CALL}
        # sign what aiobotocore signed; the rest it added after signing, and so do we
        self.signed = {k: v for k, v in kept.items() if k.lower() in signed}
        self.unsigned = {k: v for k, v in kept.items() if k.lower() not in signed}
        # what aiobotocore's HTTP session (aiohttp) adds to every request
        self.unsigned.setdefault("Accept", "*/*")
        self.unsigned.setdefault("Accept-Encoding", "identity")

    def use(self, signer: TemplateSigner) -> None:
        self.signer = signer
        lines = [f"POST {self.target} HTTP/1.1", f"Host: {self.host}",
                 *(f"{k}: {v}" for k, v in {**self.unsigned, **self.signed, **signer.extra}.items())]
        self.fixed = ("\r\n".join(lines) + "\r\n").encode("latin-1")

    def request(self, timestamp: str, payload: bytes) -> bytes:
        assert self.signer is not None
        return b"".join((self.fixed, (
            f"X-Amz-Date: {timestamp}\r\nAuthorization: {self.signer.authorization(timestamp, payload)}\r\n"
            f"amz-sdk-invocation-id: {_invocation_id()}\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode("latin-1"), payload))


_preparing_only = contextvars.ContextVar("preparing_only", default=False)


class _Prepared(Exception):
    """Raised from the before-send hook when preparing: the request is built and signed, not sent."""

    def __init__(self, request: Any) -> None:
        super().__init__("prepared")
        self.request = request


def proxy_for(lambda_client: Any) -> str | None:
    """The proxy the client's requests go through (its config, else HTTP(S)_PROXY and NO_PROXY as
    botocore reads them) as host:port, or None. The lean client speaks to the endpoint directly, so
    a proxied endpoint needs aiobotocore's own path."""
    url = lambda_client.meta.endpoint_url
    scheme = urlsplit(url).scheme
    configured = lambda_client.meta.config.proxies or {}
    proxy = configured.get(scheme) or get_environ_proxies(url).get(scheme)
    if not proxy:
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"  # never its credentials: this goes to the log


class FastLambdaInvoker:
    """Drop-in for `simulator.client.aws.LambdaInvoker` (same RawInvocation results), several times faster."""

    CREDENTIALS_TTL_S = 1.0

    def __init__(self, lambda_client: Any, connections: int = 512,
                 socket_factory: Callable[..., Any] | None = None) -> None:
        self.client = lambda_client
        self.slow = LambdaInvoker(lambda_client)
        self.templates: dict[str, _Template] = {}
        self._captured: list[Any] = []
        self._first_call_locks: dict[str, asyncio.Lock] = {}
        lambda_client.meta.events.register("before-send.lambda.Invoke", self._capture)
        self.region = lambda_client.meta.region_name
        self.connections, self.socket_factory = connections, socket_factory
        self.origins: dict[str, Origin] = {}
        self._credentials: Any = None
        self._credentials_at = 0.0
        self._signer: _CachedKeySigV4 | None = None

    def _capture(self, request: Any, **kwargs: Any) -> None:
        if _preparing_only.get():
            raise _Prepared(request)
        self._captured.append(request)

    async def prepare(self, function_arn: str, *, dry_run: bool = False) -> None:
        """Have aiobotocore build and sign an Invoke of the function without sending it, and keep it
        as the template: the first real invocation is then already a fast one, and the client's
        warm-up is never timed as a function's latency. A request botocore refuses to build is left
        for the first call to report. With `dry_run`, the template asks Lambda's DryRun (see
        `dry_runs`)."""
        key = _DRY_RUN + function_arn if dry_run else function_arn
        if key in self.templates:
            return
        token = _preparing_only.set(True)
        try:
            await self.client.invoke(FunctionName=function_arn, Payload=b"{}",
                                     **({"InvocationType": "DryRun"} if dry_run else {}))
        except _Prepared as prepared:
            self._keep(key, prepared.request)
        except (BotoCoreError, ClientError):
            pass
        finally:
            _preparing_only.reset(token)

    async def warm(self, connections: int) -> None:
        """Open up to `connections` keep-alive connections to each prepared function's endpoint now."""
        for url in {template.origin_url for template in self.templates.values()}:
            await self._origin(url).warm(connections)

    async def close(self) -> None:
        for origin in self.origins.values():
            origin.close()

    def _origin(self, url: str) -> Origin:
        origin = self.origins.get(url)
        if origin is None:
            context = None
            if url.startswith("https:"):  # botocore's CA bundle, or the one AWS_CA_BUNDLE names
                context = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True))
            origin = self.origins[url] = Origin(url, self.connections, context, self.socket_factory)
        return origin

    async def _signer_now(self) -> _CachedKeySigV4:
        now = time.monotonic()
        if self._signer is None or now - self._credentials_at > self.CREDENTIALS_TTL_S:
            credentials = await self.client._request_signer._credentials.get_frozen_credentials()
            if self._signer is None or credentials != self._credentials:
                self._credentials = credentials
                self._signer = _CachedKeySigV4(credentials, "lambda", self.region)
            self._credentials_at = now
        return self._signer

    def dry_runs(self) -> Callable[[str, bytes], Awaitable[RawInvocation]]:
        """An invoker that sends each prepared function's DryRun (`prepare(..., dry_run=True)`) the
        way this one sends an Invoke: the same path on the wire, and nothing run, counted or routed
        (Lambda answers 204 once it has checked the function, the qualifier and the caller's rights)."""
        async def dry_run(function_arn: str, payload: bytes) -> RawInvocation:
            template = self.templates.get(_DRY_RUN + function_arn)
            if template is None:  # a function named at run time: prepared on first use
                await self.prepare(function_arn, dry_run=True)
                template = self.templates.get(_DRY_RUN + function_arn)
                if template is None:
                    return RawInvocation(status=0, error_code="DryRun", error_message="could not be built")
            return await self._send(template, payload)
        return dry_run

    async def __call__(self, function_arn: str, payload: bytes) -> RawInvocation:
        template = self.templates.get(function_arn)
        if template is None:
            return await self._first_call(function_arn, payload)
        return await self._send(template, payload)

    async def _send(self, template: _Template, payload: bytes) -> RawInvocation:
        signer = await self._signer_now()
        if template.signer is None or template.signer.signer is not signer:
            template.use(TemplateSigner(signer, template.url, template.signed))
        try:
            response = await self._origin(template.origin_url).request(template.request(_timestamp(), payload))
        except OSError as exc:  # HttpError included: no well-formed answer
            return RawInvocation(status=0, error_code=type(exc).__name__, error_message=str(exc))
        return _read(response.status, response.headers, response.body)

    async def _first_call(self, function_arn: str, payload: bytes) -> RawInvocation:
        lock = self._first_call_locks.setdefault(function_arn, asyncio.Lock())
        async with lock:
            if function_arn in self.templates:
                return await self(function_arn, payload)
            self._captured.clear()
            result = await self.slow(function_arn, payload)
            if self._captured and result.status != 0:
                self._keep(function_arn, self._captured[-1])
            return result

    def _keep(self, function_arn: str, request: Any) -> None:
        """Keep an aiobotocore-prepared Invoke request as the function's template."""
        self.templates[function_arn] = _Template(request.url, dict(request.headers))


_ids = random.Random()


def _invocation_id() -> str:
    """botocore's amz-sdk-invocation-id header: a retry correlation id, not a secret."""
    return random_uuid4(_ids)


_clock_second: list[Any] = [0, ""]


def _timestamp() -> str:
    """SigV4's timestamp (UTC, to the second), formatted once a second."""
    now = int(time.time())
    if _clock_second[0] != now:
        _clock_second[0], _clock_second[1] = now, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return _clock_second[1]


def _read(status: int, headers: Any, body: bytes) -> RawInvocation:
    """What botocore's rest-json parser makes of an Invoke answer (header names lower-cased), as a
    RawInvocation."""
    injected = headers.get("x-shiftsim-injected")
    if status < 300:
        return RawInvocation(status=status, executed_version=headers.get("x-amz-executed-version"),
                             function_error=headers.get("x-amz-function-error"), payload=body,
                             injected=injected)
    code = (headers.get("x-amzn-errortype") or "").split(":")[0]
    message = ""
    try:
        parsed = json.loads(body) if body else {}
        if isinstance(parsed, dict):
            code = code or str(parsed.get("__type") or parsed.get("code") or "").rsplit("#", 1)[-1]
            message = str(parsed.get("message") or parsed.get("Message") or "")
    except ValueError:
        pass
    return RawInvocation(status=status, error_code=code or str(status), error_message=message, injected=injected)
