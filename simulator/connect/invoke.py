"""The Invoke AWS Lambda function block, as Amazon Connect runs it.

Timeout 1..8 s per block; throttles (429) and 5xx retried up to 3 times within that timeout
(function errors not retried unless asked: unsettled on Connect); the 20 s budget of chained
invocations without a prompt between them; STRING_MAP or JSON response validation; and one flow log
record in the `InvokeExternalResource` shape. The I/O is the invoker's: this module only decides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from simulator.deployment.flow_log_notes import log_timestamp

_dumps: Callable[[Any], bytes]
_loads: Callable[[Any], Any]
_JSON_ERRORS: tuple[type[Exception], ...]
try:  # the per-invocation path: orjson when installed (it is a dependency), else the stdlib
    import orjson

    _dumps, _loads = orjson.dumps, orjson.loads
    _JSON_ERRORS = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover
    import json

    def _stdlib_dumps(value: Any) -> bytes:
        return json.dumps(value).encode()

    _dumps, _loads = _stdlib_dumps, json.loads
    _JSON_ERRORS = (ValueError,)
_DETAIL_ERRORS: tuple[type[Exception], ...] = (*_JSON_ERRORS, AttributeError)  # not JSON, or not an object

MAX_BLOCK_TIMEOUT_S = 8
MAX_ASYNC_TIMEOUT_S = 60  # an asynchronous invocation may take this long; the contact does not wait
CHAIN_LIMIT_S = 20.0
STRING_MAP_LIMIT_BYTES = 32 * 1024
REASONS = ("function_error", "timeout", "throttled", "invalid_response", "service_error",
           "not_found", "chain_limit")


# Per-invocation results are plain (not frozen) dataclasses: a frozen one sets each field through
# object.__setattr__, about three times the cost, tens of thousands of times a second. Nothing changes them.
@dataclass(slots=True)
class RawInvocation:
    """What one Lambda Invoke call returned, as the invoker saw it on the wire."""

    status: int
    executed_version: str | None = None
    function_error: str | None = None
    payload: bytes = b""
    error_code: str | None = None
    error_message: str | None = None
    injected: str | None = None


Invoker = Callable[[str, bytes], Awaitable[RawInvocation]]


class BlockConfigError(ValueError):
    """An Invoke block configured in a way the flow designer would not accept."""


@dataclass(frozen=True)
class InvokeBlock:
    """One Invoke AWS Lambda function block of a flow."""

    function_arn: str
    timeout_s: int = MAX_BLOCK_TIMEOUT_S
    response_validation: str = "STRING_MAP"
    parameters: dict[str, str] = field(default_factory=dict)
    identifier: str = "InvokeLambdaFunction"
    max_retries: int = 3
    retry_function_errors: bool = False
    retry_backoff_s: float = 0.1
    asynchronous: bool = False  # InvocationType ASYNCHRONOUS: the contact goes on, the result is loaded later

    def __post_init__(self) -> None:
        limit = MAX_ASYNC_TIMEOUT_S if self.asynchronous else MAX_BLOCK_TIMEOUT_S
        if not isinstance(self.timeout_s, int) or not 1 <= self.timeout_s <= limit:
            raise BlockConfigError(
                f"block {self.identifier}: InvocationTimeLimitSeconds must be a whole number of "
                f"seconds from 1 to {limit}{' (asynchronous)' if self.asynchronous else ''}, got {self.timeout_s!r}")
        if self.response_validation not in ("STRING_MAP", "JSON"):
            raise BlockConfigError(
                f"block {self.identifier}: ResponseValidation must be STRING_MAP or JSON, "
                f"got {self.response_validation!r}")


class ChainBudget:
    """Lambda time used since the contact last heard a prompt; Connect allows 20 s in a row."""

    def __init__(self, limit_s: float = CHAIN_LIMIT_S) -> None:
        self.limit_s, self.used_s = limit_s, 0.0

    @property
    def remaining_s(self) -> float:
        left = self.limit_s - self.used_s
        return left if left > 0.0 else 0.0

    def spend(self, seconds: float) -> None:
        self.used_s += seconds

    def reset(self) -> None:
        """A prompt played: the chain is broken."""
        self.used_s = 0.0


@dataclass(slots=True)  # not frozen: see RawInvocation
class InvokeOutcome:
    """The block's result: which branch the contact takes, and everything needed to record it."""

    branch: str  # "Success" | "Error"
    reason: str | None
    executed_version: str | None
    attempts: int
    latency_s: float
    http_status: int | None
    detail: str = ""
    injected: str | None = None
    external: Any = None
    response_bytes: int = 0  # the last attempt's payload, as it came
    block: InvokeBlock | None = None  # the block invoked (a function named at run time: its resolved block)

    @property
    def retries(self) -> int:
        return self.attempts - 1 if self.attempts > 1 else 0

    @property
    def ok(self) -> bool:
        return self.branch == "Success"



def validate_response(payload: bytes, validation: str) -> tuple[Any, str | None]:
    """Parse a function's response as Connect does; return (value, why it is not understood)."""
    try:
        value = _loads(payload) if payload else {}
    except _JSON_ERRORS:
        return None, "response is not JSON"
    if validation == "JSON":
        return value, None
    if len(payload) >= STRING_MAP_LIMIT_BYTES:
        return None, f"STRING_MAP response of {len(payload)} bytes is not under 32 KB"
    if not isinstance(value, dict):
        return None, "STRING_MAP response is not a flat object"
    for item in value.values():
        if not isinstance(item, str):
            return _scalars_as_text(value)
    return value, None


def _scalars_as_text(value: dict[str, Any]) -> tuple[Any, str | None]:
    """A flat answer with numbers or booleans: Connect reads them as their JSON text ("true", "12.5"),
    as a working flow that compares a returned boolean with "true" shows; objects, arrays and null are
    not understood."""
    flat: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, str):
            flat[key] = item
        elif isinstance(item, bool):
            flat[key] = "true" if item else "false"
        elif isinstance(item, (int, float)):
            flat[key] = _dumps(item).decode()
        else:
            kind = "nested object" if isinstance(item, dict) else "list" if isinstance(item, list) else "null"
            return None, f"STRING_MAP value of {key!r} is a {kind}, not a string, number or boolean"
    return flat, None


def _classify(raw: RawInvocation) -> tuple[str | None, bool]:
    """(reason, retryable) for one attempt; reason None is a success on the wire."""
    if raw.status == 200 and raw.function_error:
        return "function_error", False
    if raw.status in (200, 202, 204):
        return None, False
    if raw.status == 429:
        return "throttled", True
    if raw.status == 404:
        return "not_found", False
    if raw.status >= 500 or raw.status == 0:
        return "service_error", True
    return "service_error", False


async def run_invoke_block(block: InvokeBlock, event: dict[str, Any], invoker: Invoker,
                           budget: ChainBudget | None = None, *,
                           monotonic: Callable[[], float] = time.monotonic,
                           timeout: Callable[[float], AbstractAsyncContextManager[Any]] = asyncio.timeout,
                           ) -> InvokeOutcome:
    """Run the block once: attempts, retries and validation, within the timeout and chain budget
    (`timeout`: the async context that bounds an attempt, asyncio.timeout or one as exact)."""
    budget = budget or ChainBudget()
    payload = _dumps(event)
    started = monotonic()
    window = budget.remaining_s
    chain_bound = window < block.timeout_s
    if not chain_bound:
        window = float(block.timeout_s)
    deadline = started + window
    attempts, last, reason, detail = 0, None, None, ""
    retryable = True
    while retryable and attempts <= block.max_retries:
        remaining = deadline - monotonic()
        if remaining <= 0:
            reason, detail = ("chain_limit" if chain_bound else "timeout"), "time limit reached"
            break
        attempts += 1
        try:
            async with timeout(remaining):
                last = await invoker(block.function_arn, payload)
        except TimeoutError:
            reason = "chain_limit" if chain_bound else "timeout"
            detail = (f"no answer within the chained-invocation limit of {budget.limit_s:g} s"
                      if chain_bound else f"no answer within {block.timeout_s} s")
            break
        if last.status == 200 and not last.function_error:  # the common case, as _classify has it
            reason, detail = None, ""
            break
        reason, retryable = _classify(last)
        if reason == "function_error":
            retryable = block.retry_function_errors
        detail = last.error_message or last.error_code or ""
        if reason is None:
            break
        if retryable and attempts <= block.max_retries:
            await asyncio.sleep(min(block.retry_backoff_s * 2 ** (attempts - 1),
                                    max(0.0, deadline - monotonic())))
    external = None
    if reason is None and last is not None:
        external, invalid = validate_response(last.payload, block.response_validation)
        if invalid:
            reason, detail = "invalid_response", invalid
    elif reason == "function_error" and last is not None:
        detail = _function_error_detail(last.payload) or detail
    latency = monotonic() - started
    budget.spend(latency)
    return InvokeOutcome(
        branch="Success" if reason is None else "Error", reason=reason,
        executed_version=last.executed_version if last else None, attempts=attempts,
        latency_s=latency, http_status=last.status if last else None, detail=detail,
        injected=last.injected if last else None, external=external if reason is None else None,
        response_bytes=len(last.payload) if last else 0, block=block,
    )


def _function_error_detail(payload: bytes) -> str:
    try:
        error = _loads(payload)
        return f"{error.get('errorType')}: {error.get('errorMessage')}"
    except _DETAIL_ERRORS:
        return ""


def flow_log_record(block: InvokeBlock, outcome: InvokeOutcome, *, contact_id: str,
                    flow_id: str, flow_name: str, now: float | None = None) -> dict[str, Any]:
    """The block's flow log record, as Connect writes it to CloudWatch Logs."""
    record: dict[str, Any] = {
        "ContactId": contact_id,
        "ContactFlowId": flow_id,
        "ContactFlowName": flow_name,
        "ContactFlowModuleType": "InvokeExternalResource",
        "Identifier": block.identifier,
        "Timestamp": log_timestamp(time.time() if now is None else now),
        "Parameters": {
            "FunctionArn": block.function_arn,
            "ResponseValidation": f"ResponseType={block.response_validation}",
            "TimeLimit": str(block.timeout_s * 1000),
        },
    }
    if outcome.ok:
        record["ExternalResults"] = outcome.external
    else:
        record["Results"] = "The Lambda Function Returned An Error."
    return record
