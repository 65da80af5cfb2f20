"""Event source mappings for DynamoDB streams, as Lambda runs them: a poller per mapping reads each
shard from its starting position (LATEST or TRIM_HORIZON) a few times a second and invokes the
function with batches of new records (`{"Records": [...]}`, at most BatchSize), in order; a batch
whose invocation fails is retried (MaximumRetryAttempts, -1: until it succeeds) with backoff, holding
the shard back meanwhile, as Lambda does. No HTTP here; the records come through a `StreamReader`.
"""

from __future__ import annotations

import asyncio
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
            "StateTransitionReason": "User action", "StartingPosition": self.starting_position,
            "MaximumRecordAgeInSeconds": -1, "BisectBatchOnFunctionError": False,
            "MaximumRetryAttempts": self.maximum_retry_attempts, "FunctionResponseTypes": [],
        }


def new_mapping(event_source_arn: str, function_arn: str, starting_position: str, batch_size: int,
                enabled: bool, maximum_retry_attempts: int, now: float) -> EventSourceMapping:
    return EventSourceMapping(str(uuid.uuid4()), event_source_arn, function_arn, starting_position, batch_size,
                              enabled, maximum_retry_attempts, now, state="Enabled" if enabled else "Disabled")


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
