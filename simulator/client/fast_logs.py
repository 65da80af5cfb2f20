"""CloudWatch Logs' PutLogEvents with a body its caller built, sent the way `fast_invoke` sends an
Invoke: aiobotocore builds and signs one request for the stream (a stand-in event, never sent) and
keeps it as the template (`request_templates`); each batch is signed with botocore's SigV4 rules and
sent on the lean HTTP/1.1 client. The simulated Connect instance sends its flow logs dozens of times
a second: aiobotocore spends about 0.8 ms of CPU on each call, this path a few hundredths of that.
tests/client/test_fast_logs.py shows both send the same request and meet the same errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


class PutLogEventsError(Exception):
    """CloudWatch Logs refused a batch: its error code and message, as botocore's parser reads them."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"An error occurred ({code}) when calling the PutLogEvents operation: {message}")
        self.status, self.code, self.message = status, code, message


class FastPutLogEvents:
    """PutLogEvents of prepared bodies to one client's endpoint, one request at a time."""

    def __init__(self, logs_client: Any, socket_factory: Callable[..., Any] | None = None) -> None:
        self.client = logs_client
        self.signer = CurrentSigner(logs_client, "logs")
        self.templates: dict[tuple[str, str], RequestTemplate] = {}
        self.socket_factory = socket_factory
        self.origin: Origin | None = None
        logs_client.meta.events.register("before-send.logs.PutLogEvents", _capture)

    async def put(self, group: str, stream: str, first_event: dict[str, Any], body: bytes) -> None:
        """Send `body` (PutLogEvents' JSON, whose first event is `first_event`); raise
        PutLogEventsError if it is refused, OSError if it gets no answer."""
        template = self.templates.get((group, stream))
        if template is None:
            template = self.templates[(group, stream)] = await self._prepare(group, stream, first_event)
        template.sign_with(await self.signer.now())
        if self.origin is None:
            self.origin = origin_for(template.origin_url, 1, self.socket_factory)
        response = await self.origin.request(template.request(timestamp(), body))
        if response.status >= 300:
            code, message = json_error(response.headers, response.body)
            raise PutLogEventsError(response.status, code or "Unknown", message)

    async def _prepare(self, group: str, stream: str, first_event: dict[str, Any]) -> RequestTemplate:
        token = preparing_only.set(True)
        try:
            await self.client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[first_event])
        except Prepared as prepared:
            return RequestTemplate(prepared.request.url, dict(prepared.request.headers))
        finally:
            preparing_only.reset(token)
        raise RuntimeError("aiobotocore sent PutLogEvents instead of preparing it")

    def close(self) -> None:
        if self.origin is not None:
            self.origin.close()
            self.origin = None


def _capture(request: Any, **kwargs: Any) -> None:
    if preparing_only.get():
        raise Prepared(request)

