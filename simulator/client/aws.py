"""aiobotocore sessions and clients for the two targets, and the Lambda invoker the Connect block
uses.

`local` points every client at the emulator's endpoint with dummy credentials; `aws` uses the
standard credential chain, profile and region. Nothing else in the simulator knows which it is.
Invoke runs with botocore's retries off (the Connect block applies Connect's policy) and a connection
pool sized to the load (aiobotocore's default of 10 connections silently caps throughput).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

from simulator.client.errors import TargetError
from simulator.connect.invoke import RawInvocation
from simulator.service_models import models_session

LOCAL_CREDENTIALS = {"aws_access_key_id": "shiftsim", "aws_secret_access_key": "shiftsim"}


@dataclass(frozen=True)
class Target:
    """Where the AWS calls go: the local emulator at `endpoint_url`, or real AWS."""

    kind: str = "local"
    endpoint_url: str | None = None
    region: str = "us-east-1"
    profile: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("local", "aws"):
            raise TargetError(f"target must be 'local' or 'aws', got {self.kind!r}")
        if self.kind == "local" and not self.endpoint_url:
            raise TargetError("the local target needs the emulator's endpoint URL")
        if self.endpoint_url:
            check_endpoint(self.endpoint_url)


def check_endpoint(url: str) -> str:
    """An endpoint URL as AWS clients take it (http or https, a host, a port in range), else one line."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise TargetError(f"endpoint {url!r} is not an http(s) URL with a host (and a port from 1 to 65535), "
                          "e.g. http://127.0.0.1:4566")
    return url


def bypass_proxies(endpoint_url: str) -> None:
    """Never reach this endpoint through a proxy: for the emulator shiftsim started itself on
    loopback. botocore and aiohttp proxy loopback too when HTTP(S)_PROXY is set and NO_PROXY does not
    name it, and a proxy cannot reach this machine's 127.0.0.1. Adds the host to NO_PROXY (and
    no_proxy) in this process's environment, which its clients and the processes it starts read."""
    host = urlsplit(endpoint_url).hostname
    if not host:
        return
    for name in ("NO_PROXY", "no_proxy"):
        entries = [e.strip() for e in os.environ.get(name, "").split(",") if e.strip()]
        if host not in entries:
            os.environ[name] = ",".join([*entries, host])


def client_config(concurrency: int = 10, *, retries: bool = True,
                  read_timeout: float = 60.0) -> AioConfig:
    return AioConfig(
        max_pool_connections=max(10, concurrency),
        retries={"total_max_attempts": 3 if retries else 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=read_timeout,
        tcp_keepalive=True,
    )


@contextlib.asynccontextmanager
async def client(target: Target, service: str, *, concurrency: int = 10,
                 retries: bool = True) -> AsyncIterator[Any]:
    """An aiobotocore client of `service` for the target, closed on exit."""
    session = _session()
    kwargs: dict[str, Any] = {"region_name": target.region,
                              "config": client_config(concurrency, retries=retries)}
    if target.kind == "local":
        kwargs.update(endpoint_url=target.endpoint_url, **LOCAL_CREDENTIALS)
    elif target.profile:
        session.set_config_variable("profile", target.profile)
    async with session.create_client(service, **kwargs) as aws_client:
        yield aws_client


def _session() -> AioSession:
    """A session of its own (credentials, profile, config) that reads botocore's service models through
    the process's one loader (simulator.service_models): with a loader each, every client parsed its
    service's model again."""
    session = get_session()
    session.register_component("data_loader", models_session().get_component("data_loader"))
    return session


class LambdaInvoker:
    """Invokes a function through aiobotocore and reports what came back on the wire."""

    def __init__(self, lambda_client: Any) -> None:
        self.client = lambda_client

    async def __call__(self, function_arn: str, payload: bytes) -> RawInvocation:
        try:
            response = await self.client.invoke(FunctionName=function_arn, Payload=payload)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            meta = exc.response.get("ResponseMetadata", {})
            return RawInvocation(
                status=meta.get("HTTPStatusCode", 0), error_code=error.get("Code"),
                error_message=error.get("Message"),
                injected=meta.get("HTTPHeaders", {}).get("x-shiftsim-injected"))
        except BotoCoreError as exc:  # connection refused, read timeout...: no HTTP answer
            return RawInvocation(status=0, error_code=type(exc).__name__, error_message=str(exc))
        async with response["Payload"] as stream:
            body = await stream.read()
        headers = response["ResponseMetadata"].get("HTTPHeaders", {})
        return RawInvocation(
            status=response["StatusCode"], executed_version=response.get("ExecutedVersion"),
            function_error=response.get("FunctionError"), payload=body,
            injected=headers.get("x-shiftsim-injected"))
