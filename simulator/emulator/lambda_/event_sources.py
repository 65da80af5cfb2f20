"""Event source mappings for DynamoDB streams and SQS queues, as Lambda runs them.

A stream's poller reads each shard from its starting position (LATEST or TRIM_HORIZON) a few times a
second and invokes the function with batches of new records (`{"Records": [...]}`, at most
BatchSize), in order; a batch whose invocation fails is retried (MaximumRetryAttempts, -1: until it
succeeds) with backoff, holding the shard back meanwhile, as Lambda does.

A queue's poller receives up to BatchSize messages at a time and invokes the function with them as
SQS records; a batch that succeeded is deleted, one that failed is left to come back when its
visibility timeout ends (and to the queue's dead-letter queue past its maxReceiveCount), as Lambda
does. No HTTP here; records and messages come through a `StreamReader` and a `QueueReader`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from simulator.deployment.clock import Clock

log = logging.getLogger("shiftsim.emulator")
POLL_EVERY_S = 0.25  # Lambda polls a stream's shards four times a second
MAX_BACKOFF_S = 60.0


class StreamReader(Protocol):
    async def iterators(self, stream_arn: str, position: str) -> list[str]: ...

    async def records(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None]: ...


@dataclass
class EventSourceMapping:
    uuid: str
    event_source_arn: str
    function_arn: str  # as given: the function, version or alias invoked
    starting_position: str
    batch_size: int = 100
    enabled: bool = True
    maximum_retry_attempts: int = -1
    last_modified: float = 0.0
    last_result: str = "No records processed"
    state: str = "Enabled"
    task: asyncio.Task[Any] | None = field(default=None, repr=False)

    def configuration(self) -> dict[str, Any]:
        return {
            "UUID": self.uuid, "BatchSize": self.batch_size, "MaximumBatchingWindowInSeconds": 0,
            "ParallelizationFactor": 1, "EventSourceArn": self.event_source_arn, "FunctionArn": self.function_arn,
            "LastModified": self.last_modified, "LastProcessingResult": self.last_result, "State": self.state,
            "StateTransitionReason": "User action", "MaximumRecordAgeInSeconds": -1,
            "BisectBatchOnFunctionError": False, "MaximumRetryAttempts": self.maximum_retry_attempts,
            "FunctionResponseTypes": [],
            **({"StartingPosition": self.starting_position} if self.starting_position else {}),  # a stream's only
        }


def new_mapping(event_source_arn: str, function_arn: str, starting_position: str, batch_size: int,
                enabled: bool, maximum_retry_attempts: int, now: float) -> EventSourceMapping:
    return EventSourceMapping(str(uuid.uuid4()), event_source_arn, function_arn, starting_position, batch_size,
                              enabled, maximum_retry_attempts, now, state="Enabled" if enabled else "Disabled")


class QueueReader(Protocol):
    async def receive(self, queue_arn: str, limit: int) -> list[dict[str, Any]]: ...

    async def delete(self, queue_arn: str, receipt_handles: list[str]) -> None: ...


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A received message as Lambda gives it to the function (an SQS event's record)."""
    return {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {name: {"stringValue": value.get("StringValue"), "binaryValue": _base64(value.get("BinaryValue")),
                                     "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
                              for name, value in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def _base64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


async def poll_queue(mapping: EventSourceMapping, reader: QueueReader, clock: Clock,
                     invoke: Callable[[dict[str, Any]], Awaitable[bool]]) -> None:
    """Receive and invoke until the mapping is disabled or deleted (the task cancelled). A queue not
    (or no longer) there is said by the mapping and a warning, and polled again: the poller never dies."""
    while True:
        try:
            got_any = mapping.enabled and await _queue_batch(mapping, reader, invoke)
        except Exception as exc:
            if not mapping.last_result.startswith("PROBLEM: cannot receive from the queue"):
                log.warning("shiftsim emulator: %s: cannot reach %s: %s", mapping.uuid, mapping.event_source_arn, exc)
            mapping.last_result = f"PROBLEM: cannot receive from the queue: {exc}"[:300]
            got_any = False
        if not got_any:
            await clock.sleep(POLL_EVERY_S)
            await asyncio.sleep(0.01)  # never faster than a hundred polls a (real) second, whatever the scale


async def _queue_batch(mapping: EventSourceMapping, reader: QueueReader,
                       invoke: Callable[[dict[str, Any]], Awaitable[bool]]) -> bool:
    """One batch received and handed to the function; False when the queue had none."""
    queue = mapping.event_source_arn
    messages = await reader.receive(queue, mapping.batch_size)
    if not messages:
        return False
    if await invoke({"Records": [sqs_record(m, queue) for m in messages]}):
        await reader.delete(queue, [m["ReceiptHandle"] for m in messages])
        mapping.last_result = "OK"
    else:  # the messages come back after their visibility timeout, as Lambda leaves them
        mapping.last_result = "PROBLEM: Function call failed"
    return True


async def poll(mapping: EventSourceMapping, reader: StreamReader, clock: Clock,
               invoke: Callable[[dict[str, Any]], Awaitable[bool]]) -> None:
    """Read the stream and invoke until the mapping is disabled or deleted (the task cancelled).
    `invoke` runs the function with one batch and says whether it succeeded."""
    iterators = await reader.iterators(mapping.event_source_arn, mapping.starting_position)
    while True:
        if not mapping.enabled:
            await clock.sleep(POLL_EVERY_S)
            continue
        got_any = False
        for index, iterator in enumerate(iterators):
            records, following = await reader.records(iterator, mapping.batch_size)
            if following is not None:
                iterators[index] = following
            if not records:
                continue
            got_any = True
            batch = [{**r, "eventSourceARN": mapping.event_source_arn} for r in records]
            attempts, backoff = 0, 1.0
            while not await invoke({"Records": batch}):
                attempts += 1
                mapping.last_result = "PROBLEM: Function call failed"
                if 0 <= mapping.maximum_retry_attempts < attempts:
                    log.warning("shiftsim emulator: %s: a batch of %d records was dropped after %d attempts",
                                mapping.uuid, len(batch), attempts)
                    break
                await clock.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
            else:
                mapping.last_result = "OK"
        if not got_any:
            await clock.sleep(POLL_EVERY_S)
            await asyncio.sleep(0.01)  # never faster than a hundred polls a (real) second, whatever the scale
