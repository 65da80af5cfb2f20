"""A faster Lambda Invoke that sends exactly the request aiobotocore would.

The first call for a function goes through aiobotocore's own `invoke`; a `before-send` hook keeps
the prepared request as the template (`request_templates`). Later calls sign it with botocore's SigV4
rules and the client's own credentials, add the per-call headers and the payload, and send it
on a lean keep-alive connection (`simulator.client.http1`), skipping botocore's per-call parameter
validation, serialisation, endpoint resolution and response parsing (about 2 ms of CPU a call) and a
general HTTP client's per-request machinery. The answer is read the way botocore's rest-json parser
reads it. tests/client/test_fast_invoke.py shows both paths send the same request and read the same result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import get_environ_proxies

from simulator.client.aws import LambdaInvoker
from simulator.client.http1 import Origin
from simulator.client.request_templates import (
    CurrentSigner,
    Prepared,
    RequestTemplate,
    json_error,
    origin_for,
    preparing_only,
    timestamp,
)
from simulator.connect.invoke import RawInvocation

_DRY_RUN = "dry-run:"  # the key of a function's DryRun template


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

    def __init__(self, lambda_client: Any, connections: int = 512,
                 socket_factory: Callable[..., Any] | None = None) -> None:
        self.client = lambda_client
        self.slow = LambdaInvoker(lambda_client)
        self.templates: dict[str, RequestTemplate] = {}
        self._captured: list[Any] = []
        self._first_call_locks: dict[str, asyncio.Lock] = {}
        lambda_client.meta.events.register("before-send.lambda.Invoke", self._capture)
        self.region = lambda_client.meta.region_name
        self.connections, self.socket_factory = connections, socket_factory
        self.origins: dict[str, Origin] = {}
        self.signer = CurrentSigner(lambda_client, "lambda")

    def _capture(self, request: Any, **kwargs: Any) -> None:
        if preparing_only.get():
            raise Prepared(request)
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
        token = preparing_only.set(True)
        try:
            await self.client.invoke(FunctionName=function_arn, Payload=b"{}",
                                     **({"InvocationType": "DryRun"} if dry_run else {}))
        except Prepared as prepared:
            self._keep(key, prepared.request)
        except (BotoCoreError, ClientError):
            pass
        finally:
            preparing_only.reset(token)

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
            origin = self.origins[url] = origin_for(url, self.connections, self.socket_factory)
        return origin

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

    def __call__(self, function_arn: str, payload: bytes) -> Awaitable[RawInvocation]:
        template = self.templates.get(function_arn)  # (the caller awaits the send itself: one coroutine fewer)
        if template is None:
            return self._first_call(function_arn, payload)
        return self._send(template, payload)

    async def _send(self, template: RequestTemplate, payload: bytes) -> RawInvocation:
        template.sign_with(self.signer.fresh() or await self.signer.now())
        try:
            origin = self.origins.get(template.origin_url) or self._origin(template.origin_url)
            response = await origin.request(template.request(timestamp(), payload))
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
        self.templates[function_arn] = RequestTemplate(request.url, dict(request.headers))


def _read(status: int, headers: Any, body: bytes) -> RawInvocation:
    """What botocore's rest-json parser makes of an Invoke answer (header names lower-cased), as a
    RawInvocation."""
    injected = headers.get("x-shiftsim-injected")
    if status < 300:
        return RawInvocation(status=status, executed_version=headers.get("x-amz-executed-version"),
                             function_error=headers.get("x-amz-function-error"), payload=body,
                             injected=injected)
    code, message = json_error(headers, body, ("__type", "code"))
    return RawInvocation(status=status, error_code=code or str(status), error_message=message, injected=injected)
