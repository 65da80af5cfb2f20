"""What the Connect instance reports about its contacts, as Connect reports it: flow log entries
(`/aws/connect/<alias>`) and the AWS/Connect metrics `ContactFlowErrors` (an error branch taken)
and `ContactFlowFatalErrors` (a flow that could not go on), with Connect's dimensions, in emulated
time. Entries and counts gather on the contacts' loop and go to the emulator every few emulated
seconds (the entries to its log group, the counts to CloudWatch); flow logs also go to the run folder
(`flow_logs.jsonl`). A sampled contact stands for `weight` production contacts: its metrics count that
many, and its log entries carry the weight, which metric filters count. Against AWS nothing is
published (the simulator is not Connect there): the run folder has the flow logs (a worker's are
carried to its master's).

Nothing of an entry's text is made in this process while the load runs: a block that ran is noted as
a compact note (a block's fixed fields a template, serialised once and found by the block's identity:
simulator.deployment.flow_log_notes; the note a tuple of the template's id, the time, the contact and
the ExternalResults); every 50 ms the notes are made one JSON array, a few hundred between two turns
of the contacts' loop. That array goes unchanged to the run folder's notes file
(made entries when the test ends, simulator.report.flow_log_file) and, as soon as a body's worth is
ready, to the emulator's flow log route, which makes the entries in its log group as Connect writes its
own inside AWS (simulator.client.flow_log_notes). Sending runs beside the beat, one request at a time:
the contacts' loop is never held for more than a few hundred blocks' notes or one body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

import orjson

from simulator.client.admin_client import admin_token
from simulator.client.flow_log_notes import FlowLogNotesSender
from simulator.connect.flow import Action, Flow
from simulator.connect.flow_log import EntryText, flow_arn
from simulator.connect.interpreter import ContactState
from simulator.connect.invoke import InvokeOutcome
from simulator.deployment.alarm_inputs import FLOW_LOGS, METRICS, SAID
from simulator.deployment.flow_log_notes import Note, Template, notes_body
from simulator.report.flow_log_file import FlowLogFile
from simulator.scenario.spec import ConnectInstance

log = logging.getLogger("shiftsim")
_TEMPLATE, _WHEN = itemgetter(0), itemgetter(1)  # of a note
FLUSH_EVERY_EMULATED_S = 5.0  # Connect's reports reach CloudWatch within seconds, in emulated time too
FORMAT_EVERY_S = 0.05  # notes made one array at least this often (real seconds): see format_noted
FORMAT_AT_MOST = 256  # notes made an array between two turns of the contacts' loop
# Notes are sent as soon as this many bytes are ready, in bodies of about this size: a second's entries
# sent at once held the contacts' loop, and then the emulator's, for tens of milliseconds, and the
# invocations waiting behind them were timed as Lambda's latency.
SEND_LOGS_AT_BYTES = 256 * 1024
GONE_GRACE_S = 1.0  # real seconds: see _failed


class FlowLogSink(Protocol):
    """Where the entries' lines go, a beat's in one piece, on a worker against AWS: its report to the
    master (simulator.loadgen.flow_log_relay)."""

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
        self.notes: list[Note] = []  # the blocks' as they ran
        self.text = EntryText()
        self._note = self.text.note  # bound once, not per block
        self._flow_id = self._flow_arn
        # each beat's notes and the templates they use, for the emulator and the run folder's file
        self.pending: list[tuple[dict[int, Template], bytes]] = []
        self.pending_size = 0  # their bytes: when to send them (SEND_LOGS_AT_BYTES)
        self.unwritten: list[tuple[dict[int, Template], bytes]] = []  # for the file, written once a beat
        self.sender: FlowLogNotesSender | None = None  # made on the first body (see _put_logs)
        self.logs_client: Any = None  # pointed at the emulator, where the notes go (`publishing_to`)
        self.ready = False  # the log group made (as Connect makes it with the instance)
        self.socket_factory = socket_factory  # what the contacts' loop makes its sockets with (bridge.py)
        self.counts: Counter[tuple[str, str, int]] = Counter()  # (metric, flow name, emulated second)
        self.arns: dict[str, str] = {}
        self.file: FlowLogFile | None = None  # the run folder's file
        self.relay: FlowLogSink | None = None  # or on a worker against AWS, its lines for the master
        if folder is not None and instance.flow_logs:
            self.file = FlowLogFile(folder)
        elif relay is not None and instance.flow_logs:
            self.relay = relay
        # blocks are noted only where their entries go somewhere
        self.noting = instance.flow_logs and (self.file is not None or self.relay is not None or publish)
        self.stream = instance.instance_id
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
            self.notes.append(self._note(at, state.contact.contact_id, flow, action, outcome, fault, self._flow_id))

    def _take_notes(self, limit: int | None = None) -> list[Note]:
        """The blocks' notes made first: all of them, or the first `limit`."""
        if limit is None or len(self.notes) <= limit:
            notes, self.notes = self.notes, []
        else:
            notes, self.notes = self.notes[:limit], self.notes[limit:]
        notes.sort(key=_WHEN)  # in order already (one monotonic clock): timsort's linear check
        return notes

    def _flow_arn(self, flow: Flow) -> str:
        arn = self.arns.get(flow.id)
        if arn is None:
            arn = self.arns[flow.id] = flow_arn(self.region, self.account, self.instance.instance_id, flow)
        return arn

    def contact_ended(self, flow_name: str, how: str) -> None:
        if how == "error":  # no error branch to take: the flow could not go on
            self.counts[("ContactFlowFatalErrors", flow_name, int(self.now()))] += 1

    async def run(self, logs_client: Any, cloudwatch_client: Any) -> None:
        """Serialise the blocks' notes on a beat and publish what gathered every few emulated
        seconds (unless `publish` is off: then the clients may be None), until cancelled (then once more)."""
        if logs_client is not None:  # None where nothing is published (against AWS)
            self.publishing_to(logs_client)
        # Notes are made on a steady beat; sending runs beside it, one request at a time (in order),
        # so that neither waits for the other and each beat has only its own 50 ms of blocks to note.
        loop = asyncio.get_running_loop()
        due = loop.time() + self.flush_every
        sending: asyncio.Future[None] | None = None
        try:
            while True:
                await asyncio.sleep(FORMAT_EVERY_S)
                while len(self.notes) > FORMAT_AT_MOST:  # a few hundred at a time, each a fraction of a ms
                    self.format_noted(FORMAT_AT_MOST, write=False)
                    await asyncio.sleep(0)
                self.format_noted()
                if sending is not None and not sending.done():
                    continue
                if loop.time() >= due:
                    due = loop.time() + self.flush_every
                    sending = asyncio.ensure_future(self.flush(cloudwatch_client))
                elif self.pending_size >= SEND_LOGS_AT_BYTES:
                    sending = asyncio.ensure_future(self.flush())
        finally:  # what gathered since the last flush, if the emulator still answers within a second or two
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._last_flush(sending, cloudwatch_client)), 2.0)
            if self.sender is not None:
                self.sender.close()
            self.format_noted()  # the last blocks' notes, published or not
            if self.file is not None:  # made entries to its end by its thread, which then ends (a web UI's
                self.file.close(wait=False)  # next test has a telemetry and a file of its own)

    def publishing_to(self, logs_client: Any) -> None:
        """Where the notes go: the emulator that `logs_client` (aiobotocore's) is pointed at."""
        self.logs_client = logs_client

    async def _last_flush(self, sending: asyncio.Future[None] | None, cloudwatch_client: Any) -> None:
        if sending is not None:
            await sending
        await self.flush(cloudwatch_client)

    def format_noted(self, limit: int | None = None, write: bool = True) -> None:
        """The notes made so far (simulator.deployment.flow_log_notes), one JSON array with the templates
        they use, for the emulator and the run folder's file: the entries' text is made there, off the
        contacts' path. On a worker against AWS, the entries' lines are made here for the master."""
        notes = self._take_notes(limit)
        if notes:
            templates = self.text.templates
            piece = ({i: templates[i] for i in set(map(_TEMPLATE, notes))}, orjson.dumps(notes))
            self.text.bounded(self.notes)  # the notes not taken yet keep their templates
            if self.file is not None:
                self.unwritten.append(piece)
            if self.publish:
                self.pending.append(piece)
                self.pending_size += len(piece[1])
            relay = self.relay
            if relay is not None:
                texts = self.text.renderer.render(templates, notes)
                relay.write(("\n".join(texts) + "\n").encode())
        file = self.file  # (closed from the hub's thread as the run ends: then writes are dropped)
        if write and self.unwritten and file is not None:
            file.write_notes(self.unwritten)
            self.unwritten = []

    def take_bodies(self) -> list[bytes]:
        """The notes made since the last take, as the bodies the emulator's flow log route takes."""
        return list(self._bodies())

    def _bodies(self) -> Iterator[bytes]:
        """As take_bodies (the notes taken now), each body made only when it is asked for."""
        self.format_noted()
        pending, self.pending, self.pending_size = self.pending, [], 0
        start = size = 0
        for end, (_, notes) in enumerate(pending, 1):
            size += len(notes)
            if size >= SEND_LOGS_AT_BYTES or end == len(pending):
                yield self._body(pending[start:end])
                start, size = end, 0

    def _body(self, pieces: list[tuple[dict[int, Template], bytes]]) -> bytes:
        templates = {i: template for used, _ in pieces for i, template in used.items()}
        return notes_body(self.region, self.instance.log_group, self.stream, self.weight, templates,
                          [notes for _, notes in pieces])

    async def flush(self, cloudwatch_client: Any | None = None) -> None:
        """Publish the flow log notes made so far, and the metrics gathered since the last flush too
        unless `cloudwatch_client` is None."""
        self.format_noted()
        bodies = self._bodies()
        counts = Counter[tuple[str, str, int]]()
        if cloudwatch_client is not None:
            counts, self.counts = self.counts, counts
        if not self.publish:
            return
        try:
            await self._put_logs(bodies)
        except Exception as exc:  # said, and noted for the verdict (an alarm may read them); never a contact's failure
            await self._failed(FLOW_LOGS, exc)
        if counts and self.instance.metrics:
            try:
                await self._put_metrics(cloudwatch_client, counts)
            except Exception as exc:
                await self._failed(METRICS, exc)

    async def _failed(self, what: str, exc: Exception) -> None:
        noted = self.unpublished.setdefault(what, [0, f"{type(exc).__name__}: {exc}"[:300]])
        noted[0] += 1
        if noted[0] > 1:
            return
        # An emulator that was killed closes its connections a moment before its process can be seen to
        # have ended: its death is said by whoever watches it, so give that moment before saying this
        deadline = time.monotonic() + GONE_GRACE_S
        while not self.endpoint_gone():
            if time.monotonic() >= deadline:
                log.warning("shiftsim: the Connect instance's %s could not be published: %s", SAID[what], exc)
                return
            await asyncio.sleep(0.02)

    async def _put_logs(self, bodies: Iterator[bytes]) -> None:
        for body in bodies:
            if not self.ready:
                client = self.logs_client
                with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                    await client.create_log_group(logGroupName=self.instance.log_group)
                self.ready = True
            if self.sender is None:
                url, token = self.logs_client.meta.endpoint_url, None
                with contextlib.suppress(Exception):  # needed only where the emulator checks signatures
                    token = await asyncio.to_thread(admin_token, url)  # (a missing file probes the endpoint)
                self.sender = FlowLogNotesSender(url, self.socket_factory, token)
            await self.sender.send(body)

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
