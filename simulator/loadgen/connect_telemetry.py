"""What the Connect instance reports about its contacts, as Connect reports it: flow log entries
(`/aws/connect/<alias>`) and the AWS/Connect metrics `ContactFlowErrors` (an error branch taken)
and `ContactFlowFatalErrors` (a flow that could not go on), with Connect's dimensions, in emulated
time. Entries and counts gather on the contacts' loop and go to the emulator's CloudWatch Logs and
CloudWatch every few emulated seconds; flow logs also go to the run folder (`flow_logs.jsonl`). A sampled
contact stands for `weight` production contacts: its metrics count that many, and its log events
carry the weight, which metric filters count. Against AWS nothing is published (the simulator is
not Connect there): the run folder has the flow logs (a worker's are carried to its master's).

Nothing of a report is made on a contact's path: a block that ran is noted as it is (a tuple); every
50 ms the noted blocks are made text (`EntryText`, a block's fixed fields serialised once), a few
hundred between two turns of the contacts' loop, and handed to the run folder's file in one piece
(written by a thread of its own). As soon as a batch's worth of entries is ready they are sent as
PutLogEvents batches whose bodies are built here, not by botocore's per-event validation and
serialisation (about 20 us an event), on the lean path of `simulator.client.fast_logs` (the request
aiobotocore would send, signed as it would sign it). Sending runs beside the beat, one request at a
time: the contacts' loop is never held for more than a few hundred blocks' entries or one batch's body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import accumulate, chain, repeat
from operator import add, itemgetter
from pathlib import Path
from typing import Any, Protocol

import orjson

from simulator.client.fast_logs import FastPutLogEvents
from simulator.connect.flow import Action, Flow
from simulator.connect.flow_log import EntryText, NotedBlock, flow_arn
from simulator.connect.interpreter import ContactState
from simulator.connect.invoke import InvokeOutcome
from simulator.deployment.alarm_inputs import FLOW_LOGS, METRICS, SAID
from simulator.deployment.vocabulary import (
    LOGS_EVENT_OVERHEAD,
    LOGS_MAX_BATCH_BYTES,
    LOGS_MAX_BATCH_EVENTS,
    WEIGHT_HEADER,
)
from simulator.report.background_file import BackgroundFile
from simulator.scenario.spec import ConnectInstance

log = logging.getLogger("shiftsim")
_WHEN = itemgetter(0)
FLUSH_EVERY_EMULATED_S = 5.0  # Connect's reports reach CloudWatch within seconds, in emulated time too
FORMAT_EVERY_S = 0.05  # noted blocks made entries at least this often (real seconds): see format_noted
FORMAT_AT_MOST = 256  # blocks made entries between two turns of the contacts' loop
# Flow log entries are sent as soon as this many bytes are ready, in batches of at most this size (AWS
# takes 1 MB): a second's entries sent at once held the contacts' loop, and then the emulator's, for
# tens of milliseconds, and the invocations waiting behind them were timed as Lambda's latency.
SEND_LOGS_AT_BYTES = 256 * 1024


class FlowLogSink(Protocol):
    """Where the entries' lines go, a beat's in one piece: the run folder's file, or on a worker against
    AWS, its report to the master (simulator.loadgen.flow_log_relay). Closing it says what it could
    not keep."""

    def write(self, lines: bytes) -> None: ...

    def close(self, wait: bool = True) -> None: ...


class ConnectTelemetry:
    def __init__(self, instance: ConnectInstance, *, region: str, account: str, now: Callable[[], float],
                 weight: float = 1.0, folder: Path | None = None, publish: bool = True,
                 time_scale: float = 1.0, endpoint_gone: Callable[[], bool] = lambda: False,
                 socket_factory: Callable[..., Any] | None = None, relay: FlowLogSink | None = None) -> None:
        self.instance, self.region, self.account, self.now = instance, region, account, now
        self.weight, self.publish = weight, publish
        self.flush_every = min(1.0, max(0.05, FLUSH_EVERY_EMULATED_S / time_scale))  # real seconds
        self.blocks: list[NotedBlock] = []  # as they ran
        self.text = EntryText()
        self.times: list[float] = []  # the entries made of noted blocks, not yet taken
        self.texts: list[str] = []
        self.texts_size = 0  # their characters: when to send them (SEND_LOGS_AT_BYTES)
        self.unwritten: list[str] = []  # entries for the run folder's file, written once a beat
        self.sender: FastPutLogEvents | None = None  # made on the first batch (see _put_logs)
        self.socket_factory = socket_factory  # what the contacts' loop makes its sockets with (bridge.py)
        self.counts: Counter[tuple[str, str, int]] = Counter()  # (metric, flow name, emulated second)
        self.arns: dict[str, str] = {}
        self.file: FlowLogSink | None = None  # the run folder's file, or a worker's lines for the master
        if folder is not None and instance.flow_logs:
            self.file = BackgroundFile(folder / "flow_logs.jsonl", what="the flow logs")
        elif relay is not None and instance.flow_logs:
            self.file = relay
        # blocks are noted only where their entries go somewhere
        self.noting = instance.flow_logs and (self.file is not None or publish)
        self.stream = f"{instance.instance_id}"
        self.ready = False
        # what could not be published, by what it is ("flow_logs", "metrics"): [failed flushes, the first error]
        self.unpublished: dict[str, list[Any]] = {}
        self.endpoint_gone = endpoint_gone  # its death is said once, by whoever watches it: not again here

    def block_ran(self, flow: Flow, action: Action, state: ContactState, outcome: InvokeOutcome | None,
                  fault: str | None) -> None:
        """The interpreter's hook: a block ran (its error branch taken when `fault` or a failed outcome)."""
        at = self.now()
        if fault is not None or (outcome is not None and not outcome.ok):
            self.counts[("ContactFlowErrors", flow.name, int(at))] += 1
        if self.noting and state.flow_logging:
            self.blocks.append((at, state.contact.contact_id, flow, action, outcome, fault))

    def _take_blocks(self, limit: int | None = None) -> list[NotedBlock]:
        """The blocks noted first: all of them, or the first `limit`."""
        if limit is None or len(self.blocks) <= limit:
            blocks, self.blocks = self.blocks, []
        else:
            blocks, self.blocks = self.blocks[:limit], self.blocks[limit:]
        blocks.sort(key=_WHEN)  # in order already (one monotonic clock): timsort's linear check
        return blocks

    def _flow_arn(self, flow: Flow) -> str:
        arn = self.arns.get(flow.id)
        if arn is None:
            arn = self.arns[flow.id] = flow_arn(self.region, self.account, self.instance.instance_id, flow)
        return arn

    def contact_ended(self, flow_name: str, how: str) -> None:
        if how == "error":  # no error branch to take: the flow could not go on
            self.counts[("ContactFlowFatalErrors", flow_name, int(self.now()))] += 1

    async def run(self, logs_client: Any, cloudwatch_client: Any) -> None:
        """Make entries of the noted blocks on a beat and publish what gathered every few emulated
        seconds (unless `publish` is off: then the clients may be None), until cancelled (then once more)."""
        weight = f"{self.weight:.6g}" if self.weight != 1.0 else None

        def before_sign(request: Any, **kwargs: Any) -> None:  # kept in the sender's template
            if weight is not None:
                request.headers[WEIGHT_HEADER] = weight

        if logs_client is not None:  # None where nothing is published (against AWS)
            logs_client.meta.events.register("before-sign.logs.PutLogEvents", before_sign)
        # Entries are made on a steady beat; sending runs beside it, one request at a time (in order),
        # so that neither waits for the other and each beat has only its own 50 ms of blocks to make.
        loop = asyncio.get_running_loop()
        due = loop.time() + self.flush_every
        sending: asyncio.Future[None] | None = None
        try:
            while True:
                await asyncio.sleep(FORMAT_EVERY_S)
                while len(self.blocks) > FORMAT_AT_MOST:  # a few hundred at a time, each a fraction of a ms
                    self.format_noted(FORMAT_AT_MOST, write=False)
                    await asyncio.sleep(0)
                self.format_noted()
                if sending is not None and not sending.done():
                    continue
                if loop.time() >= due:
                    due = loop.time() + self.flush_every
                    sending = asyncio.ensure_future(self.flush(logs_client, cloudwatch_client))
                elif self.texts_size >= SEND_LOGS_AT_BYTES:
                    sending = asyncio.ensure_future(self.flush(logs_client))
        finally:  # what gathered since the last flush, if the emulator still answers within a second or two
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._last_flush(sending, logs_client, cloudwatch_client)),
                                       2.0)
            if self.sender is not None:
                self.sender.close()
            if self.file is not None:  # written to its end by its thread, which then ends (a web UI's next
                self.file.close(wait=False)  # test has a telemetry and a file of its own)

    async def _last_flush(self, sending: asyncio.Future[None] | None, logs_client: Any,
                          cloudwatch_client: Any) -> None:
        if sending is not None:
            await sending
        await self.flush(logs_client, cloudwatch_client)

    def format_noted(self, limit: int | None = None, write: bool = True) -> None:
        """The blocks noted so far, made entries and written to the run folder. A noted block holds its
        flow, action and outcome, which the garbage collector would otherwise scan at every pass until
        the flush: entries are text. (A twentieth of a second's entries at a time also keeps the buffers
        small: written in one piece, a second's worth cost several times more per byte.)"""
        blocks = self._take_blocks(limit)
        texts = self.text.texts(blocks, self._flow_arn) if blocks else []
        file = self.file  # (closed from the hub's thread as the run ends: then writes are dropped)
        if file is not None:
            self.unwritten += texts
            if write and self.unwritten:
                file.write(("\n".join(self.unwritten) + "\n").encode())  # half a text file's cost
                self.unwritten = []
        if self.publish:
            self.times += [block[0] for block in blocks]
            self.texts += texts
            self.texts_size += sum(map(len, texts))

    def take_batches(self) -> list[tuple[dict[str, Any], bytes]]:
        """The flow log entries made since the last take, as PutLogEvents batches: (the batch's first
        event, its body)."""
        return list(self._batches())

    def _batches(self) -> Iterator[tuple[dict[str, Any], bytes]]:
        """As take_batches (the entries taken now), each batch's body made only when it is asked for."""
        self.format_noted()
        times, texts, self.times, self.texts, self.texts_size = self.times, self.texts, [], [], 0
        group, stream = self.instance.log_group, self.stream

        def batch(start: int, end: int) -> tuple[dict[str, Any], bytes]:
            events = [{"timestamp": int(at * 1000), "message": text}
                      for at, text in zip(times[start:end], texts[start:end], strict=True)]
            return events[0], put_log_events_body(group, stream, events)

        return (batch(start, end) for start, end in batch_bounds(texts, max_bytes=SEND_LOGS_AT_BYTES))

    async def flush(self, logs_client: Any, cloudwatch_client: Any | None = None) -> None:
        """Publish the flow log entries made so far, and the metrics gathered since the last flush too
        unless `cloudwatch_client` is None."""
        batches = self._batches()
        counts = Counter[tuple[str, str, int]]()
        if cloudwatch_client is not None:
            counts, self.counts = self.counts, counts
        if not self.publish:
            return
        try:
            await self._put_logs(logs_client, batches)
        except Exception as exc:  # said, and noted for the verdict (an alarm may read them); never a contact's failure
            self._failed(FLOW_LOGS, exc)
        if counts and self.instance.metrics:
            try:
                await self._put_metrics(cloudwatch_client, counts)
            except Exception as exc:
                self._failed(METRICS, exc)

    def _failed(self, what: str, exc: Exception) -> None:
        noted = self.unpublished.setdefault(what, [0, f"{type(exc).__name__}: {exc}"[:300]])
        noted[0] += 1
        if noted[0] == 1 and not self.endpoint_gone():
            log.warning("shiftsim: the Connect instance's %s could not be published: %s", SAID[what], exc)

    async def _put_logs(self, client: Any, batches: Iterator[tuple[dict[str, Any], bytes]]) -> None:
        batch = next(batches, None)
        if batch is None:
            return
        if not self.ready:
            for call, kwargs in ((client.create_log_group, {"logGroupName": self.instance.log_group}),
                                 (client.create_log_stream, {"logGroupName": self.instance.log_group,
                                                             "logStreamName": self.stream})):
                try:
                    await call(**kwargs)
                except client.exceptions.ResourceAlreadyExistsException:
                    pass
            self.ready = True
        if self.sender is None:
            self.sender = FastPutLogEvents(client, self.socket_factory)
        for first, body in chain((batch,), batches):
            await self.sender.put(self.instance.log_group, self.stream, first, body)

    async def _put_metrics(self, client: Any, counts: Counter[tuple[str, str, int]]) -> None:
        data = [{"MetricName": metric, "Timestamp": second, "Unit": "Count", "Values": [1.0], "Counts": [n * self.weight],
                 "Dimensions": [{"Name": "InstanceId", "Value": self.instance.instance_id},
                                {"Name": "MetricGroup", "Value": "ContactFlow"},
                                {"Name": "ContactFlowName", "Value": flow}]}
                for (metric, flow, second), n in counts.items()]
        for start in range(0, len(data), 1000):
            await client.put_metric_data(Namespace="AWS/Connect", MetricData=data[start:start + 1000])

    def close(self) -> None:
        file, self.file = self.file, None
        if file is not None:
            file.close()


def batch_bounds(messages: list[str], *, max_bytes: int = LOGS_MAX_BATCH_BYTES,
                 max_events: int = LOGS_MAX_BATCH_EVENTS) -> list[tuple[int, int]]:
    """Where PutLogEvents' batches of these messages start and end, in order, each within CloudWatch
    Logs' limits (10,000 events, 1 MB counting 26 bytes an event): AWS refuses a larger one, and so
    does the emulator. One message over the limit goes alone, to be refused as AWS refuses it."""
    sizes = map(len, messages) if all(map(str.isascii, messages)) else (len(text.encode()) for text in messages)
    costs = list(accumulate(map(add, sizes, repeat(LOGS_EVENT_OVERHEAD)), initial=0))  # cost of the first k
    bounds, start, count = [], 0, len(messages)
    while start < count:
        end = bisect_right(costs, costs[start] + max_bytes, lo=start + 1) - 1
        end = max(start + 1, min(end, start + max_events))
        bounds.append((start, end))
        start = end
    return bounds


def put_log_events_body(group: str, stream: str, events: list[dict[str, Any]]) -> bytes:
    """PutLogEvents' JSON body as botocore serialises it (tests/connect/test_connect_reports.py compares them)."""
    return orjson.dumps({"logGroupName": group, "logStreamName": stream, "logEvents": events})

