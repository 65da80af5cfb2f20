"""An append-only file written by a native thread of its own, so that whoever appends never waits
on the disk.

A write to the page cache can block for tens of milliseconds while the file system commits its
journal (an fsync of the record does that every few hundred milliseconds on ext4): done on the
contacts' loop, it held every invocation due in that time, which were then timed as Lambda's
latency. Here `write` only queues the bytes; the thread writes them in order and flushes them to
the system. `close` waits until everything queued is written (or only asks for it to be). The thread is a native one even in a
gevent-patched process (a patched thread would be a greenlet on the hub, which blocks with it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gevent import monkey

log = logging.getLogger("shiftsim")

_start_new_thread = monkey.get_original("_thread", "start_new_thread")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")
_SimpleQueue = monkey.get_original("queue", "SimpleQueue")


class BackgroundFile:
    """Bytes appended to `path` in the order given, by a thread of its own."""

    def __init__(self, path: Path, what: str = "the file", then: Callable[[], None] | None = None) -> None:
        self.path = path
        self.then = then  # run by the thread once the file is closed, before `close` returns
        self.what = what  # as a warning names it
        self._file = path.open("ab")
        self._queue: Any = _SimpleQueue()
        self._done = _allocate_lock()
        self._done.acquire()
        self.error: OSError | None = None  # the first write that failed (the disk full): later ones are dropped
        self.closed = False
        self._said = False
        _start_new_thread(self._write_all, ())

    def write(self, data: bytes) -> None:
        if not self.closed:
            self._queue.put(data)

    def close(self, wait: bool = True) -> None:
        """Write what was queued, then close the file; with `wait`, return when it is closed (a later
        call with `wait` waits too), having warned once if some of it could not be written."""
        if not self.closed:
            self.closed = True
            self._queue.put(None)
        if wait:
            self._done.acquire()
            self._done.release()
            if self.error is not None and not self._said:
                self._said = True
                log.warning("shiftsim: %s could not all be written to %s: %s", self.what, self.path, self.error)

    def _write_all(self) -> None:
        try:
            while (data := self._queue.get()) is not None:
                if self.error is None:
                    try:
                        self._file.write(data)
                        self._file.flush()
                    except OSError as exc:
                        self.error = exc
        finally:
            try:
                self._file.close()
            except OSError as exc:  # what a failed write left in the buffer
                self.error = self.error or exc
            finally:
                try:
                    if self.then is not None:
                        self.then()
                finally:
                    self._done.release()
