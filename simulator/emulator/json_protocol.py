"""The request side of AWS's JSON 1.1 protocol (`X-Amz-Target: <Service>.<Operation>`), shared by
the services that speak it: the body as an object and the operation's handler, or the service's own
error for a body that is not JSON, not an object, or an operation it does not serve."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
