"""Flow log entries carried from the workers to the master's run folder, in a distributed run against
AWS: there nothing else keeps them (the simulator publishes nothing to AWS, and a worker has no run
folder). On a worker, the Connect instance's reports write the entries' lines to a `WorkerFlowLogs`
instead of a file, and each report to the master takes what gathered since the last one; on the master,
`RelayedFlowLogs` appends them to the run folder's `flow_logs.jsonl` (each worker's in its order).

What waits between two reports (three seconds) is bounded: past `MAX_WAITING_BYTES`, lines are dropped
and counted, and the run says how many entries its file lacks. (On the emulator target the entries are
in the emulator's log group, read there; they are not carried.)
"""

from __future__ import annotations

import logging
from pathlib import Path

from gevent import monkey

from simulator.report.background_file import BackgroundFile
from simulator.report.record import FLOW_LOGS_FILE as FILE_NAME

log = logging.getLogger("shiftsim")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")  # the contacts' loop is a native thread
MAX_WAITING_BYTES = 32 * 1024 * 1024  # about 6,000 invocations a second per worker, four entries each


class WorkerFlowLogs:
    """A worker's flow log lines waiting for its next report to the master: written by the contacts'
    loop (as a run folder's file is), taken by the hub's report."""

    def __init__(self, max_bytes: int = MAX_WAITING_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = _allocate_lock()
        self._chunks: list[bytes] = []
        self._size = 0
        self._dropped = 0  # entries

    def write(self, lines: bytes) -> None:
        with self._lock:
            if self._size + len(lines) > self.max_bytes:
                self._dropped += lines.count(b"\n")
                return
            self._chunks.append(lines)
            self._size += len(lines)

    def close(self, wait: bool = True) -> None:
        """Nothing to close: what is waiting goes with the worker's last report."""

    def take(self) -> tuple[bytes, int]:
        """The lines written since the last take, and how many entries were dropped meanwhile."""
        with self._lock:
            chunks, dropped = self._chunks, self._dropped
            self._chunks, self._size, self._dropped = [], 0, 0
        return b"".join(chunks), dropped


class RelayedFlowLogs:
    """The master's side: the workers' lines appended to the run folder's file (opened with the first)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.file: BackgroundFile | None = None
        self.dropped = 0

    def add(self, lines: bytes | None, dropped: int | None) -> None:
        self.dropped += dropped or 0
        if lines:
            if self.file is None:
                self.file = BackgroundFile(self.folder / FILE_NAME, what="the flow logs")
            self.file.write(lines)

    def close(self) -> None:
        """Write what was relayed to its end; say what the file lacks."""
        if self.file is not None:
            self.file.close()
        if self.dropped:
            log.warning("shiftsim: %d flow log entries from the workers are not in %s: more than %d MB of them "
                        "waited for a report to the master (run fewer invocations per worker, or more workers)",
                        self.dropped, self.folder / FILE_NAME, MAX_WAITING_BYTES // (1024 * 1024))
