"""Ctrl-C for the command line, set as its first import: a handler of shiftsim's own, before gevent
is imported. With Python's own handler, a Ctrl-C while a rehearsal started up was lost (gevent's hub
dropped it) and the run went on to its end; with this one it is raised where the command waits.
Before the command has begun (`begin`) nothing needs keeping: one line and exit code 130."""

from __future__ import annotations

import signal
import sys
from typing import Any

_begun = False


def _interrupt(signum: int, frame: Any) -> None:
    if not _begun:  # still importing
        print("shiftsim: interrupted", file=sys.stderr)
        raise SystemExit(130)
    raise KeyboardInterrupt


def begin() -> None:
    """The command runs: from now on Ctrl-C is a KeyboardInterrupt, for it to keep what it has."""
    global _begun
    _begun = True


signal.signal(signal.SIGINT, _interrupt)
