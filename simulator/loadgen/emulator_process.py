"""The emulator as a subprocess (`shiftsim serve --port 0`), for the locustfile in local mode with
no endpoint given: started by the local runner or the master, shared by every user, process and
worker, stopped at the end. It dies with the process that started it, however that one ends (even
SIGKILL): the kernel signals it (Linux), and it stops when its standard input, a pipe from the
parent, reaches its end."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent dies (Linux; elsewhere stdin's end does it)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class EmulatorStartError(RuntimeError):
    pass


class EmulatorProcess:
    def __init__(self, args: Sequence[str] = ()) -> None:
        self.args = list(args)
        self.process: subprocess.Popen[str] | None = None
        self.url: str | None = None

    def start(self, timeout: float = 30.0) -> str:
        command = [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--exit-with-parent", *self.args]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True,
                                        preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("shiftsim emulator listening on "):
            self.stop()
            error = self.process.stderr.read() if self.process.stderr else ""
            raise EmulatorStartError(f"the emulator did not start: {error.strip() or 'no answer'}")
        self.url = line[0].rsplit(" ", 1)[1].strip()
        return self.url

    def death(self) -> str | None:
        """How the emulator ended, if it has: the run cannot go on without it."""
        if self.process is None or self.process.poll() is None:
            return None
        code = self.process.returncode
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        return f"the emulator (pid {self.process.pid}, {self.url}) {how}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
