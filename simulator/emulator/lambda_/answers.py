"""What one invocation's result becomes: the answer's body (the function's value, or Lambda's error
document for a timeout, an unhandled error, a value that cannot be marshalled or is too large), and
the lines Lambda writes to the function's log stream (also the Tail of `LogType=Tail`). Pure: a
handler's result in, bytes and text out.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from typing import Any

import orjson

from simulator.emulator.functions import HandlerResult

RESPONSE_PAYLOAD_LIMIT = 6_291_556
LOG_TAIL_BYTES = 4096

# Only numbers, text and a tuple of text: held by the hundred thousand until CloudWatch Logs is read,
# such tuples are not tracked by the cyclic garbage collector (the handler's result would be, and kept alive).
LogRecord = tuple[str, str, str, bool, str | None, str | None, tuple[str, ...], str, float | None, int | None,
                  float, int, float, float]


def response_body(result: HandlerResult, timeout: float, request_id: str) -> tuple[bytes, str | None]:
    """The answer's body, and its X-Amz-Function-Error ("Unhandled") when it is Lambda's error document."""
    error: dict[str, Any]
    if result.timed_out:
        error = {"errorMessage": f"Task timed out after {timeout:.2f} seconds", "errorType": "Sandbox.Timedout"}
        return json.dumps(error).encode(), "Unhandled"
    if result.error_type is not None:
        error = {"errorMessage": result.error_message, "errorType": result.error_type}
        if result.trace_field == "trace":  # Node.js: type, message and trace, always
            error = {"errorType": result.error_type, "errorMessage": result.error_message,
                     "trace": list(result.stack_trace)}
        elif not result.error_type.startswith("Runtime.") or result.stack_trace:  # the runtime's own end has no trace
            error.update(requestId=request_id, stackTrace=list(result.stack_trace))
        return json.dumps(error).encode(), "Unhandled"
    try:
        body = orjson.dumps(result.value, option=orjson.OPT_NON_STR_KEYS)  # as json.dumps does
    except (TypeError, ValueError) as exc:
        error = {"errorMessage": f"Unable to marshal response: {exc}",
                 "errorType": "Runtime.MarshalError", "requestId": request_id, "stackTrace": []}
        return json.dumps(error).encode(), "Unhandled"
    if len(body) > RESPONSE_PAYLOAD_LIMIT:
        error = {"errorMessage": f"Response payload size ({len(body)} bytes) exceeded maximum "
                                 f"allowed payload size ({RESPONSE_PAYLOAD_LIMIT} bytes).",
                 "errorType": "Function.ResponseSizeTooLarge"}
        return json.dumps(error).encode(), "Unhandled"
    return body, None


def lambda_time(epoch: float) -> str:
    """A time as Lambda writes it (LastModified, a log line's stamp): 2024-05-01T12:00:00.000+0000."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def log_lines(record: LogRecord) -> list[str]:
    """What Lambda writes to the function's log stream for one invocation, an event a line."""
    (request_id, version, logs, timed_out, error_type, error_message, stack_trace, trace_field, init_ms,
     memory_used_mb, timeout, memory, duration_ms, ended) = record
    lines = [f"START RequestId: {request_id} Version: {version}"]
    if logs:
        lines.extend(logs.rstrip("\n").split("\n"))
    if timed_out:
        lines.append(f"{lambda_time(ended)} {request_id} Task timed out after {timeout:.2f} seconds")
    elif error_type is not None and trace_field == "trace":  # Node.js's runtime words it so
        error = {"errorType": error_type, "errorMessage": error_message, "stack": list(stack_trace)}
        lines.append(f"{lambda_time(ended)}\t{request_id}\tERROR\tInvoke Error \t{json.dumps(error)}")
    elif error_type is not None:
        lines.append("\n".join((f"[ERROR] {error_type}: {error_message}", *stack_trace)))
    lines.append(f"END RequestId: {request_id}")
    init = f"Init Duration: {init_ms:.2f} ms\t" if init_ms is not None else ""
    run_ms = duration_ms - (init_ms or 0.0)  # Lambda reports the init phase apart
    lines.append(f"REPORT RequestId: {request_id}\tDuration: {run_ms:.2f} ms\t"
                 f"Billed Duration: {math.ceil(run_ms)} ms\tMemory Size: {memory} MB\t"
                 f"Max Memory Used: {memory_used_mb or 40} MB\t{init}")
    return lines


def log_tail(lines: list[str]) -> str:
    """The last 4 KB of an invocation's lines, base64: the LogResult of `LogType=Tail`."""
    tail = ("\n".join(lines) + "\n").encode()[-LOG_TAIL_BYTES:]
    return base64.b64encode(tail).decode()
