"""Handlers the emulator runs: resolution of `module:function`, the Lambda context, execution with
the function's timeout enforced, and the per-version fault injector.

Sync handlers run in a thread pool, async ones on the loop. Faults are drawn from a seeded RNG so
that a seeded run injects the same faults; each injected fault is named so that the wire response
can mark it.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import math
import os
import random
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from simulator.scenario.spec import FaultProfile, LatencyFault

Handler = Callable[[Any, "LambdaContext"], Any]


class HandlerImportError(ValueError):
    """A `module:function` that cannot be imported or is not callable."""


def inline(handler: Handler) -> Handler:
    """Mark a built-in handler as instantaneous and pure: it runs on the loop, not in the pool
    (a thread hop costs more than the handler). User handlers always run in the pool."""
    handler.shiftsim_inline = True  # type: ignore[attr-defined]
    return handler


@inline
def version_echo(event: Any, context: LambdaContext) -> dict[str, str]:
    """The seed's function: answers with the version that ran, as a STRING_MAP."""
    return {"version": context.function_version}


@inline
def failing(event: Any, context: LambdaContext) -> dict[str, str]:
    """A handler that always raises: a broken deployment without any fault injection."""
    raise RuntimeError(f"version {context.function_version} is broken")


def resolve_handler(spec: str) -> Handler:
    """The callable `module:function` names, its module imported (running its code, as a
    locustfile's is) from the installed packages or the current folder, whichever command runs it."""
    module_name, _, attribute = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of user code is the user's to see
        raise HandlerImportError(f"handler {spec!r}: cannot import {module_name!r}: {exc}") from None
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise HandlerImportError(f"handler {spec!r}: {module_name} has no callable {attribute!r}")
    return handler


def unimportable_handlers(handlers: Iterable[str]) -> list[str]:
    """Why each handler that cannot be resolved fails, in the order given."""
    problems = []
    for spec in handlers:
        try:
            resolve_handler(spec)
        except HandlerImportError as exc:
            problems.append(str(exc))
    return problems


class LambdaContext:
    """The context object of the Python runtime, with the attributes handlers actually use."""

    def __init__(self, *, function_name: str, function_version: str, invoked_function_arn: str,
                 aws_request_id: str, memory_limit_in_mb: int, timeout_s: float,
                 client_context: str | None = None, endpoint_url: str | None = None) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.aws_request_id = aws_request_id
        self.memory_limit_in_mb = memory_limit_in_mb
        self.client_context = client_context
        self.log_group_name = f"/aws/lambda/{function_name}"
        # shiftsim's own: where this emulator serves, for handlers that call AWS APIs (hooks).
        self.endpoint_url = endpoint_url
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(slots=True)  # one per invocation: see InvocationObserved
class HandlerResult:
    """What a handler produced: a JSON-able value, or an error (type, message, trace)."""

    value: Any = None
    error_type: str | None = None
    error_message: str | None = None
    stack_trace: tuple[str, ...] = ()
    timed_out: bool = False
    logs: str = ""  # what the handler printed or logged (user code in worker processes)
    init_ms: float | None = None  # the init phase, on a cold start
    memory_used_mb: int | None = None
    trace_field: str = "stackTrace"  # the runtime's name for an error's trace (Node.js: "trace")
    provisioned: bool = False  # served by an environment of the version's provisioned concurrency


async def run_handler(handler: Handler, event: Any, context: LambdaContext, timeout_s: float,
                      pool: ThreadPoolExecutor) -> HandlerResult:
    """Run a handler with the function's timeout; exceptions become Lambda's error fields."""
    try:
        if getattr(handler, "shiftsim_inline", False):
            value = handler(event, context)
        elif inspect.iscoroutinefunction(handler):
            value = await asyncio.wait_for(handler(event, context), timeout_s)
        else:
            future = asyncio.get_running_loop().run_in_executor(pool, handler, event, context)
            value = await asyncio.wait_for(future, timeout_s)
        return HandlerResult(value=value)
    except TimeoutError:
        return HandlerResult(timed_out=True)
    except Exception as exc:
        return HandlerResult(error_type=type(exc).__name__, error_message=str(exc),
                             stack_trace=handler_frames(exc))


_OWN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the simulator package's own frames


def handler_frames(exc: BaseException) -> tuple[str, ...]:
    """The handler's stack trace as Lambda reports it: the user's frames only, none of the runtime's
    (here shiftsim's), innermost last, at most 10."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not os.path.abspath(f.filename).startswith(_OWN)]
    return tuple(line.rstrip("\n") for line in traceback.format_list(frames[-10:]))


@dataclass(frozen=True)
class FaultDraw:
    """The faults that hit one invocation."""

    throttle: bool = False
    timeout: bool = False
    error: bool = False
    malformed: str | None = None
    extra_latency_s: float = 0.0

    @cached_property  # read for every invocation, mostly of NO_FAULT
    def names(self) -> tuple[str, ...]:
        flags = (("throttle", self.throttle), ("timeout", self.timeout), ("error", self.error),
                 ("malformed", self.malformed is not None), ("latency", self.extra_latency_s > 0))
        return tuple(name for name, hit in flags if hit)


NO_FAULT = FaultDraw()


def draw_faults(profile: FaultProfile, since_first_traffic_s: float, rng: random.Random) -> FaultDraw:
    """Decide which of a version's faults hit this invocation (independent draws per kind)."""
    if profile.empty:
        return NO_FAULT

    def hits(fault: Any) -> bool:
        return (fault is not None and since_first_traffic_s >= fault.after
                and rng.random() < fault.rate)

    latency = profile.latency
    return FaultDraw(
        throttle=hits(profile.throttle),
        timeout=hits(profile.timeout),
        error=hits(profile.error),
        malformed=profile.malformed.kind if hits(profile.malformed) else None,  # type: ignore[union-attr]
        extra_latency_s=(draw_latency_ms(latency, rng) / 1000.0
                         if latency is not None and since_first_traffic_s >= latency.after else 0.0),
    )


_Z99 = 2.3263478740408408  # the standard normal's 99th percentile


def draw_latency_ms(fault: LatencyFault, rng: random.Random) -> float:
    p = fault.params
    if fault.distribution == "fixed":
        return p["ms"]
    if fault.distribution == "uniform":
        return rng.uniform(p["min_ms"], p["max_ms"])
    if fault.distribution == "normal":
        return max(0.0, rng.gauss(p["mean_ms"], p["stddev_ms"]))
    sigma = math.log(p["p99_ms"] / p["median_ms"]) / _Z99
    return rng.lognormvariate(math.log(p["median_ms"]), sigma)


def malformed_value(kind: str, version: str) -> Any:
    """A response Connect's STRING_MAP validation rejects (Lambda itself accepts all of these)."""
    if kind == "nested":
        return {"version": {"number": version}}
    if kind == "non_string":  # numbers and booleans Connect reads as text; a list it does not
        return {"version": [version], "ok": True}
    return {"version": version, "padding": "x" * 40_000}  # over Connect's 32 KB
