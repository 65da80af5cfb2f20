"""The emulator as a subprocess (`shiftsim serve --port 0`), for the locustfile in local mode with
no endpoint given: started by the local runner or the master, shared by every user, process and
worker, stopped at the end."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Sequence


class EmulatorStartError(RuntimeError):
    pass


class EmulatorProcess:
    def __init__(self, args: Sequence[str] = ()) -> None:
        self.args = list(args)
        self.process: subprocess.Popen[str] | None = None
        self.url: str | None = None

    def start(self, timeout: float = 30.0) -> str:
        command = [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *self.args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
