"""Shared by the benchmarks: core pinning, the emulator on its own core, Locust runs, and the
section of bench/RESULTS.md each benchmark rewrites."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CORES = os.cpu_count() or 1
LOAD_CORE, SERVER_CORE = 0, (1 if CORES > 1 else 0)


def pinned(core: int) -> list[str]:
    """A command prefix running on one core (the machine has two: load on one, server on the other)."""
    return ["taskset", "-c", str(core)] if CORES > 1 else []


class Emulator:
    """`shiftsim serve` on its own core; stopped on exit."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [*pinned(SERVER_CORE), sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
        line = self.process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"emulator did not start: {self.process.stderr.read()}")
        self.url = line.rsplit(" ", 1)[1].strip()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


def run_locust(locustfile: str, seconds: float, users: int, *args: str, core: int | None = LOAD_CORE,
               folder: Path) -> dict:
    """Run Locust headless; return its final statistics (from --json-file) and the wall time."""
    folder.mkdir(parents=True, exist_ok=True)
    stats = folder / "stats"
    command = [*(pinned(core) if core is not None else []), sys.executable, "-m", "locust", "-f", locustfile,
               "--headless", "-u", str(users), "-r", str(users * 10), "-t", f"{int(seconds)}s",
               "--json-file", str(stats), "--only-summary", *args]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=seconds + 120)
    wall = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"locust failed: {done.stderr[-2000:]}")
    entries = json.loads((folder / "stats.json").read_text())
    requests = sum(e["num_requests"] for e in entries)
    first = min((e["start_time"] for e in entries), default=0.0)
    last = max((e["last_request_timestamp"] or 0 for e in entries), default=0.0)
    rate = requests / (last - first) if last > first else 0.0  # from the first to the last request
    return {"requests": requests, "failures": sum(e["num_failures"] for e in entries), "rate": rate,
            "wall": wall, "stderr": done.stderr}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{CORES} cores ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def write_section(name: str, body: str) -> None:
    """Replace this benchmark's section of bench/RESULTS.md (between its markers)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{body.rstrip()}\n\n_{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {machine()}_\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
