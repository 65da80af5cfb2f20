"""Finished invocations into Locust's statistics and the record, on Locust's hub: a greenlet drains
what the contacts' loop queued (ContactPath.finished and the contacts' ends) every 50 ms, each
invocation an `events.request` named by the version that served it (or, when Locust's statistics are
the only listener, all of a drain's counted in one go per name) and a row of the record. A worker
keeps its rows and ends for its next report to the master, so that the record and Locust's
statistics always count the same invocations."""

from __future__ import annotations

import collections
import operator
from collections.abc import Callable
from typing import Any

import gevent
from locust.env import Environment

from simulator.loadgen.bridge import native_sleep
from simulator.loadgen.contact_hooks import Invocation
from simulator.loadgen.request_stats import RequestBatch, only_locust_statistics_listen
from simulator.report.record import COLUMNS, RecordWriter

REPORT_INTERVAL = 0.05  # seconds between drains
# A drain reports in chunks and lets go of the GIL between them. Left to the interpreter, a drain
# holding the GIL shares it half and half with the invocations' loop, which then falls behind near its
# limit; the next drain is bigger and takes more, and the rate can collapse for a whole minute.
DRAIN_CHUNK = 50           # rows: about 0.2 ms of the hub's work
DRAIN_PAUSE_S = 0.0003     # the loop's turn between two chunks
REQUEST_TYPE = "Lambda"
QUALIFIER_COLUMN, LATE_COLUMN, WORKER_COLUMN = (COLUMNS.index(c) for c in ("qualifier", "late", "worker"))
_LATE, _WORKER = operator.itemgetter(LATE_COLUMN), operator.itemgetter(WORKER_COLUMN)


class Reporter:
    """This process's finished invocations and contact ends, as Locust and the record are told them."""

    def __init__(self, env: Environment, deployed: str, writes_record: bool) -> None:
        self.env = env
        self.deployed = deployed  # the deployed function's `Function:qualifier`, as the record has it
        self.writes_record = writes_record  # the coordinator's; a worker's rows go to its master
        self.finished: collections.deque[Invocation] = collections.deque()  # from the contacts' loop
        self.ended: collections.deque[dict[str, Any]] = collections.deque()  # contacts that ended
        self.names: dict[tuple[str, str | None], str] = {}  # Locust's name for each function and version
        self.batch = RequestBatch(REQUEST_TYPE)  # used when only Locust's statistics listen
        self.alias_arn = ""  # each request event's url
        self.recording = False  # between a test's start and its stop: what finishes otherwise is dropped
        self.record: RecordWriter | None = None
        self.recorded = self.recorded_late = 0
        self.rows_by_worker: collections.Counter[str] = collections.Counter()
        self.unsent_rows: list[tuple[Any, ...]] = []  # a worker's, for its next report
        self.unsent_ends: list[dict[str, Any]] = []

    def test_started(self, record: RecordWriter | None, alias_arn: str) -> None:
        self.record, self.alias_arn = record, alias_arn
        self.recording = True
        self.recorded = self.recorded_late = 0
        self.rows_by_worker.clear()

    def test_stopped(self) -> None:
        """What finished before the stop is reported; what finishes after it, dropped."""
        self.drain()
        self.recording = False
        self.finished.clear()
        self.ended.clear()

    def forever(self, each_beat: Callable[[], None]) -> None:
        """Drain every REPORT_INTERVAL, after `each_beat`, until the greenlet is killed."""
        while True:
            each_beat()
            while len(self.finished) > DRAIN_CHUNK:
                self.drain(DRAIN_CHUNK)
                native_sleep(DRAIN_PAUSE_S)
                gevent.sleep(0)  # and the other greenlets' turn (Locust's heartbeats, the web UI)
            self.drain()
            gevent.sleep(REPORT_INTERVAL)

    def drain(self, limit: int | None = None) -> None:
        """Report finished invocations to Locust and the record: all of them, or the first `limit`."""
        events, names = self.env.events, self.names
        batch = self.batch if only_locust_statistics_listen(events.request) else None
        fire = events.request.fire
        rows = []
        finished = self.finished
        left = len(finished) if limit is None else limit
        while finished and left > 0:
            left -= 1
            done = finished.popleft()
            if not self.recording:
                continue
            outcome = done.outcome
            error = None if outcome.ok else RuntimeError(f"{outcome.reason}: {outcome.detail}"[:300])
            key = (done.row[QUALIFIER_COLUMN], outcome.executed_version)
            name = names.get(key)
            if name is None:  # the deployed function's versions by number; another's with its name
                function = "" if key[0] == self.deployed else f"{key[0]} "
                name = names[key] = f"invoke {function}v{outcome.executed_version or '-'}"
            if batch is not None:
                batch.add(name, done.response_time_ms, done.response_length, error)
            else:
                fire(request_type=REQUEST_TYPE, name=name,
                     response_time=done.response_time_ms, response_length=done.response_length,
                     response=None, exception=error, start_time=done.start, url=self.alias_arn,
                     context={"reason": outcome.reason, "version": outcome.executed_version,
                              "retries": outcome.retries, "injected": outcome.injected})
            rows.append(done.row)
        if self.ended:
            ends = list(self.ended)
            self.ended.clear()
            if not self.recording:
                pass
            elif self.writes_record and self.record is not None:
                self.record.contacts_ended(ends)
            else:
                self.unsent_ends.extend(ends)
        if not rows:
            return
        if batch is not None:
            batch.log_into(self.env.stats)
        if self.writes_record and self.record is not None:
            self.write(rows)
        else:
            self.unsent_rows.extend(rows)

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Rows into the record (a coordinator's: its own, or a worker's as reported), counted."""
        assert self.record is not None
        self.record.add(rows)
        self.recorded += len(rows)
        self.recorded_late += sum(map(_LATE, rows))  # (0 or 1 each)
        self.rows_by_worker.update(map(_WORKER, rows))

    def take_unsent(self) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
        """A worker's rows and contact ends drained since its last report, for this one."""
        rows, ends = self.unsent_rows, self.unsent_ends
        self.unsent_rows, self.unsent_ends = [], []
        return rows, ends
