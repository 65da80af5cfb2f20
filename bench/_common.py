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


class Server:
    """A server process on its own core that prints "... listening on URL" when ready; stopped on exit."""

    def __init__(self, what: str, command: list[str]) -> None:
        self.process = subprocess.Popen([*pinned(SERVER_CORE), *command], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
        line = self.process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"{what} did not start: {self.process.stderr.read()}")
        self.url = line.rsplit(" ", 1)[1].strip()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


class Emulator(Server):
    """`shiftsim serve` on its own core."""

    def __init__(self, *args: str) -> None:
        super().__init__("emulator", [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *args])


class MinimalEndpoint(Server):
    """bench/minimal_endpoint.py on its own core: canned Invoke answers, the rest passed to `upstream`."""

    def __init__(self, upstream: str) -> None:
        super().__init__("minimal endpoint", [sys.executable, str(ROOT / "bench" / "minimal_endpoint.py"),
                                              "--upstream", upstream])


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its live descendants."""
    clock = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / clock
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, p in parents.items() if p == parent and child not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(used.get(p, 0.0) for p in tree)


def _steady_cpu(process: subprocess.Popen, server_pid: int | None, seconds: float) -> tuple[float, float]:
    """CPU per second used by a Locust process tree (and the server, if given) in its steady state,
    past start-up and before the stop; 0 if it ended before the window did."""
    window = (min(4.0, seconds / 3), max(seconds - 3.0, seconds * 2 / 3))  # seconds after Locust starts
    time.sleep(window[0] + 2.0)  # Python and Locust start in about 2 s
    cpu_from, at_from = _tree_cpu_s(process.pid), time.monotonic()
    server_from = _tree_cpu_s(server_pid) if server_pid else 0.0
    time.sleep(window[1] - window[0])
    if process.poll() is not None:
        return 0.0, 0.0
    elapsed = time.monotonic() - at_from
    return ((_tree_cpu_s(process.pid) - cpu_from) / elapsed,
            (_tree_cpu_s(server_pid) - server_from) / elapsed if server_pid else 0.0)


def run_locust(locustfile: str, seconds: float, users: int, *args: str, core: int | None = LOAD_CORE,
               folder: Path, server_pid: int | None = None, measure_cpu: bool = True, root: Path = ROOT) -> dict:
    """Run Locust headless; return its final statistics (from --json-file), the wall time, and the
    CPU the Locust process tree (and the server's, if given) used per second of steady state.
    Reading the CPU scans /proc, a burst of work on some core that would stall the load pinned
    there: runs that measure timing accuracy pass `measure_cpu=False`, and this process sleeps.
    `root`: the checkout whose code the Locust process runs (another commit's, for a baseline)."""
    folder.mkdir(parents=True, exist_ok=True)
    stats = folder / "stats"
    command = [*(pinned(core) if core is not None else []), sys.executable, "-m", "locust", "-f", locustfile,
               "--headless", "-u", str(users), "-r", str(users * 10), "-t", f"{int(seconds)}s",
               "--json-file", str(stats), "--only-summary", *args]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**ENV, "PYTHONPATH": str(root)}, cwd=root)
    cpu_per_s = server_cpu_per_s = 0.0
    try:
        if measure_cpu:
            cpu_per_s, server_cpu_per_s = _steady_cpu(process, server_pid, seconds)
        stdout, stderr = process.communicate(timeout=seconds + 120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    wall = time.monotonic() - started
    done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    # any verdict (a benchmark's load is no rehearsal to judge: a withheld one is exit 3 too), nothing else
    judged = done.returncode in (0, 1) or (done.returncode == 3 and "verdict: COULD NOT JUDGE" in done.stderr)
    if not judged:
        raise RuntimeError(f"locust failed: {done.stderr[-2000:]}")
    entries = json.loads((folder / "stats.json").read_text())
    requests = sum(e["num_requests"] for e in entries)
    first = min((e["start_time"] for e in entries), default=0.0)
    last = max((e["last_request_timestamp"] or 0 for e in entries), default=0.0)
    rate = requests / (last - first) if last > first else 0.0  # from the first to the last request
    return {"requests": requests, "failures": sum(e["num_failures"] for e in entries), "rate": rate,
            "wall": wall, "stderr": done.stderr, "cpu_per_s": cpu_per_s, "server_cpu_per_s": server_cpu_per_s}


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


def report(name: str, title: str, lines: list[str], write: bool) -> None:
    """Print a benchmark's table and, unless `write` is false (smoke runs), rewrite its section."""
    text = "\n".join(lines)
    print(text)
    if write:
        write_section(name, f"## {title}\n\n{text}")
