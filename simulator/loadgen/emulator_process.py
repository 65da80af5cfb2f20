"""The emulator as a subprocess (`shiftsim serve --port 0`), for the locustfile in local mode with
no endpoint given: started by the local runner or the master, shared by every user, process and
worker, stopped at the end. It dies with the process that started it, however that one ends (even
SIGKILL): the kernel signals it (Linux), and it stops when its standard input, a pipe from the
parent, reaches its end. Signals sent to the whole job (a terminal's Ctrl-C) do not reach it: the run
ends first, then stops it.

A frozen emulator is as dead as an exited one: a watcher asks its health route every second, and one
that has not answered for `UNRESPONSIVE_S` is killed and reported (exit 3), never left to look like
a deployment whose every call failed."""

from __future__ import annotations

import ctypes
import http.client
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1
UNRESPONSIVE_S = 10.0  # no health answer for this long: frozen (a loaded machine answers in milliseconds)
_PROBE_EVERY_S = 1.0


def die_with_parent() -> None:
    """SIGTERM to this process when its parent dies (Linux only): in the emulator's child before exec
    (elsewhere stdin's end does it), and in a worker `--processes` forked."""
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
        self.frozen: str | None = None  # why the watcher gave the emulator up, if it did
        self._stopping = threading.Event()

    def start(self, timeout: float = 30.0) -> str:
        command = [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--exit-with-parent", *self.args]
        # A session of its own: a terminal's Ctrl-C (or `timeout`'s SIGTERM) signals the whole job, and
        # the emulator must outlive the run's last flush; the run stops it, or its death does.
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True,
                                        preexec_fn=die_with_parent if sys.platform == "linux" else None)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("shiftsim emulator listening on "):
            self.stop()
            error = self.process.stderr.read() if self.process.stderr else ""
            said = _error_line(error)
            raise EmulatorStartError(f"the emulator did not start: {said or 'no answer'}")
        self.url = line[0].rsplit(" ", 1)[1].strip()
        threading.Thread(target=self._watch, name="shiftsim-emulator-watch", daemon=True).start()
        return self.url

    def _answers(self, host: str, port: int) -> bool:
        connection = http.client.HTTPConnection(host, port, timeout=UNRESPONSIVE_S / 2)
        try:
            connection.request("GET", "/_shiftsim/health")
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def _watch(self) -> None:
        host, _, port = (self.url or "").removeprefix("http://").rpartition(":")
        answered = time.monotonic()
        while not self._stopping.wait(_PROBE_EVERY_S):
            if self.process is None or self.process.poll() is not None:
                return
            if self._answers(host.strip("[]"), int(port)):
                answered = time.monotonic()
            elif time.monotonic() - answered >= UNRESPONSIVE_S and not self._stopping.is_set():
                self.frozen = f"stopped answering (no answer to its health check for {UNRESPONSIVE_S:g} s)"
                self.process.kill()
                return

    def death(self) -> str | None:
        """How the emulator ended, if it has: the run cannot go on without it."""
        if self.process is None or (self.frozen is None and self.process.poll() is None):
            return None
        code = self.process.poll()
        if self.frozen is not None:
            how = self.frozen
        elif code is not None and code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        return f"the emulator (pid {self.process.pid}, {self.url}) {how}"

    def stop(self) -> None:
        self._stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _error_line(stderr: str) -> str:
    """What the emulator said of why it stopped: its own error line (said once, by whoever started it),
    not the notes it printed before; else its last line."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("shiftsim: error: ")]
    return (errors[-1] if errors else lines[-1] if lines else "").removeprefix("shiftsim: error: ")
