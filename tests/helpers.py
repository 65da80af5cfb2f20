"""Test helpers: a real emulator on a free loopback port, in its own thread and event loop, so that
synchronous clients (boto3, the AWS CLI) and asynchronous ones (aiobotocore) both reach it over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from simulator.deployment.clock import Clock
from simulator.emulator.server import Emulator, EmulatorServer
from simulator.scenario.reader import parse_scenario
from simulator.scenario.spec import Scenario

ROOT = Path(__file__).resolve().parent.parent  # the repository
TESTS = ROOT / "tests"  # its data: handlers.py, user_code/, node_code/, templates/

ALIAS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def weighted_stack(seed: int, weight: float) -> str:
    """A scenario: alias PROD on version 1 with `weight` of its traffic on version 2."""
    return f"""
[scenario]
seed = {seed}
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
[[functions.versions]]
[[functions.aliases]]
name = "PROD"
version = "1"
additional_version_weights = {{ "2" = {weight} }}
"""


def http_request(host: str, port: int, method: str, path: str, body: bytes = b"",
                 headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One raw HTTP request on its own connection: (status, body)."""
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class RunningEmulator:
    """An emulator served from a background thread; `call` runs a coroutine on its loop."""

    def __init__(self, scenario: Scenario | None = None, *, seed: int | None = 1,
                 clock: Clock | None = None, code_uploads: bool = False, holdings: Any = None) -> None:
        from simulator.emulator.guard import scenario_guard

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.emulator: Emulator = self.call(self._make(scenario, seed, clock, holdings))
        guard = scenario_guard(self.emulator.scenario, code_uploads=code_uploads)
        self.server = EmulatorServer(self.emulator, guard=guard)
        self.url: str = self.call(self.server.start())

    @staticmethod
    async def _make(scenario: Scenario | None, seed: int | None, clock: Clock | None, holdings: Any) -> Emulator:
        return Emulator(scenario, seed=seed, clock=clock, holdings=holdings)

    def call(self, coroutine: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def boto3(self, service: str = "lambda", **config: Any) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            config=Config(retries={"total_max_attempts": 1}, **config),
                            **CREDENTIALS)

    def request(self, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """A raw HTTP request to the emulator: (status, body)."""
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        return http_request(host, int(port), method, path, body, headers)

    def get(self, url: str) -> Any:
        status, body = self.request("GET", url.removeprefix(self.url))
        return json.loads(body)

    def post_json(self, path: str, params: Any, headers: dict[str, str]) -> tuple[int, Any]:
        status, body = self.request("POST", path, json.dumps(params).encode(), headers)
        return status, json.loads(body)


@contextlib.contextmanager
def running_emulator(toml: str | None = None, **kwargs: Any) -> Iterator[RunningEmulator]:
    scenario = parse_scenario(toml, "<test>") if toml is not None else None
    emulator = RunningEmulator(scenario, **kwargs)
    try:
        yield emulator
    finally:
        emulator.close()


MINUTE_ALIGNED = 1_700_000_040.0  # a whole minute, so alarm periods start at round offsets
APP, GROUP, FN = "ServerlessDeploymentApplication", "ConnectLambdaFunctionDeploymentGroup", "ConnectLambdaFunction"


def appspec_revision(current: str = "1", target: str = "2", before: str | None = None,
                     after: str | None = None) -> dict:
    from simulator.deployment.driver import appspec_content

    return {"revisionType": "AppSpecContent",
            "appSpecContent": {"content": appspec_content(FN, "PROD", current, target, before, after)}}


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.02):
    """Poll `predicate` until it is truthy (bounded): for work that happens on another thread."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@contextlib.asynccontextmanager
async def served_app(app: Any, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """An aiohttp application served on a free loopback port (yields the port), stopped on exit."""
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def free_port() -> str:
    """A port nobody listens on now, for a Locust master of a test's own. It is chosen below the
    kernel's ephemeral range: a port from there could be handed, before the master binds it, to
    another test's emulator (bound to port 0) or to an outgoing connection, and the master would
    fail while its workers wait for it."""
    import random
    import socket

    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            low = int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()  # distinct across xdist workers (seeded from the system)
    for _ in range(200):
        port = rng.randrange(10_000, max(10_001, low))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return str(port)
    raise RuntimeError("no free port below the ephemeral range")


def processes_on_a_free_port(count: str = "2") -> list[str]:
    """Locust's `--processes` with its master on a port of its own: workers a killed master left
    behind (they look for theirs on the default port for a while) never join this run."""
    port = free_port()
    return ["--processes", count, "--master-bind-port", port, "--master-port", port]
