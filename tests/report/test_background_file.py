"""The run folder's append-only files written by a thread of their own: whoever writes never waits
on the disk, and what was written is all there, in order, once closed."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from simulator.report.background_file import BackgroundFile


def test_writes_return_while_the_file_cannot_take_them_and_all_arrive_in_order(tmp_path):
    """A pipe nobody reads stands for a disk that blocks: its buffer fills, the thread waits in
    write, and the writer goes on. Read at last, every piece is there in order."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    file = BackgroundFile(pipe)
    pieces = [f"{n:06d}".encode() * 1000 for n in range(300)]  # 1.8 MB, many times a pipe's buffer
    for piece in pieces:
        file.write(piece)  # returns with the thread stuck: otherwise this test would hang here
    read = bytearray()
    os.set_blocking(reader, True)
    closing = threading.Thread(target=file.close)
    closing.start()
    while chunk := os.read(reader, 1 << 16):
        read += chunk
    closing.join(60)
    os.close(reader)
    assert not closing.is_alive() and bytes(read) == b"".join(pieces)


def test_closed_twice_and_written_after_close_without_error(tmp_path):
    """Closing without waiting asks for the end; a close that waits still waits for it."""
    file = BackgroundFile(tmp_path / "log")
    file.write(b"one\n")
    file.close(wait=False)
    file.close()
    file.write(b"two\n")  # as the run ends, a last beat may still write: dropped
    assert (tmp_path / "log").read_bytes() == b"one\n"


def test_a_failed_write_is_kept_and_the_writer_goes_on(caplog):
    """A disk that is full (Linux's /dev/full refuses every write): the first error is kept for
    whoever asks, closing still returns, and the close that waits says so, once."""
    file = BackgroundFile(Path("/dev/full"), what="the flow logs")
    file.write(b"a" * 100)
    file.write(b"b" * 100)
    with caplog.at_level(logging.WARNING, logger="shiftsim"):
        file.close()
        file.close()
    assert isinstance(file.error, OSError)
    said = [r.getMessage() for r in caplog.records if "could not all be written" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("shiftsim: the flow logs could not all be written to /dev/full: ")
