"""A Locust master's wait for its workers' last rows before it quits.

Told to quit (the run time is up, a signal), Locust's master sends its workers `quit` and listens
half a second for their last reports before it stops listening. A worker's stop can take longer:
its users' last invocations, its flow logs' last flush (up to 2 s against a slow emulator), a busy
machine. What it then sent reached nobody, and the record (with Locust's statistics) lacked the end
of the run without a word. Here a master that quits a running test stops it first, as Locust's own
stop does (each worker stops its users and reports what they did), and waits until every worker has
sent a report made after its stop, or `FINAL_REPORT_WAIT_S`. A worker's reports say whether they
are final and how many rows it has sent in all; what never came is said, and the verdict withheld.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Any

import gevent
import gevent.event
from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, MasterRunner

log = logging.getLogger("shiftsim")
FINAL_REPORT_WAIT_S = 30.0  # past Locust's stop of the workers' users: their flush takes 2 s at most
FINAL, ROWS_SENT = "shiftsim_final", "shiftsim_rows_sent"  # what a worker's report carries


class WorkerRowCount:
    """A worker's side: the rows it has sent its master in all, put in each report with whether the
    report is final (made while the worker is not recording: every row of its test drained into it)."""

    def __init__(self) -> None:
        self.sent = 0

    def report(self, data: dict[str, Any], rows: int, final: bool) -> None:
        self.sent += rows
        data[ROWS_SENT], data[FINAL] = self.sent, final


class FinalReports:
    """The master's side: each worker's rows heard, whether its last report was final, and a quit
    that waits for the final ones."""

    def __init__(self, runner: MasterRunner, wait_s: float = FINAL_REPORT_WAIT_S) -> None:
        self.runner, self.wait_s = runner, wait_s
        self.heard: collections.Counter[str] = collections.Counter()  # rows per worker, over the process's life
        self.final: dict[str, int] = {}  # workers whose last report was final: the rows they said they sent
        self.came = gevent.event.Event()
        self.unreported: dict[str, int] = {}  # workers whose last rows never came: the rows heard from them
        self.started = False
        quit_now = runner.quit

        def quit_after_final_reports() -> None:  # Locust offers no hook between its quit and its last listen
            self.wait()
            quit_now()

        runner.quit = quit_after_final_reports  # type: ignore[method-assign]

    def test_started(self) -> None:
        self.started = True

    def heard_report(self, client_id: str, data: dict[str, Any]) -> None:
        self.heard[client_id] += len(data.get("shiftsim_rows") or ())
        if data.get(FINAL):
            self.final[client_id] = int(data.get(ROWS_SENT) or 0)
            self.came.set()
        else:
            self.final.pop(client_id, None)

    def _waiting_for(self) -> list[str]:
        return [client.id for client in self.runner.clients.all
                if client.state != STATE_MISSING and client.id not in self.final]

    def wait(self) -> None:
        """Stop a running test (Locust's stop: its workers stop their users) and wait for each worker's
        final report, within `wait_s`; note the workers whose report never came."""
        if not self.started:
            return
        if self.runner.state in (STATE_SPAWNING, STATE_RUNNING):
            self.runner.stop()
        deadline = time.monotonic() + self.wait_s
        while (waiting := self._waiting_for()) and time.monotonic() < deadline:
            # woken by each final report; every half second too, for a worker Locust marks missing meanwhile
            self.came.clear()
            self.came.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        for client_id in waiting:
            self.unreported[client_id] = self.heard[client_id]
            log.warning("shiftsim: worker %s sent no report after its test stopped within %g s; the %d "
                        "invocations heard from it are kept, its last ones are not in the record",
                        client_id, self.wait_s, self.heard[client_id])
        for client_id, sent in self.final.items():
            if sent > self.heard[client_id]:  # a report lost on the way (a worker that reconnected)
                self.unreported[client_id] = self.heard[client_id]
                log.warning("shiftsim: worker %s sent %d invocations, of which %d reached the master",
                            client_id, sent, self.heard[client_id])
