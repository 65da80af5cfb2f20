"""The request side of AWS's JSON 1.1 protocol (`X-Amz-Target: <Service>.<Operation>`), shared by
the services that speak it: the body as an object and the operation's handler, or the service's own
error for a body that is not JSON, not an object, or an operation it does not serve."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from simulator.emulator.member_types import member_type_error


async def operation_call(request: web.Request, operation: str, table: Mapping[str, Callable[..., Any]],
                         error: Callable[[str, str], Exception], service: str) -> tuple[dict[str, Any], Callable[..., Any]]:
    """(the request's parameters, the operation's handler); `error(code, message)` is raised otherwise."""
    try:
        params = orjson.loads(await request.read() or b"{}")  # a batch of log events is megabytes: C, not json
    except ValueError as exc:
        raise error("SerializationException", f"body is not JSON: {exc}") from None
    handler = table.get(operation)
    if handler is None:
        raise error("UnknownOperationException", f"{operation} is not supported by the shiftsim emulator.")
    if not isinstance(params, dict):
        raise error("SerializationException", "the request body is not a JSON object")
    wrong = member_type_error(service, operation, params)
    if wrong is not None:
        raise error("SerializationException", wrong)
    return params, handler


_EPOCH_RANGE = (0.0, 253_402_300_799.0)  # 1970 to the end of year 9999, as AWS's timestamps go


def epoch_seconds(value: Any) -> float | None:
    """A request's timestamp in any protocol's form (epoch seconds, a datetime, ISO 8601), as epoch
    seconds; None when it is none, or outside AWS's range. Each service says that in its own error."""
    seconds: float | None = None
    if isinstance(value, datetime):
        seconds = value.timestamp()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                seconds = None
    return seconds if seconds is not None and _EPOCH_RANGE[0] <= seconds <= _EPOCH_RANGE[1] else None
