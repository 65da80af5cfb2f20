"""The slow commands the README and docs/ pages show, run in a smoke form, page by page in the
page's order (a later command may read what an earlier one wrote): a rehearsal at x600 (its verdict
at that speed is not the page's; that it runs through to one is), a plan with fewer simulations, a
headless Locust run of 5 s, `serve` started with the commands that talk to it and then stopped.
Their folders go to a temporary `results/`; `results/<run-id>` names the run an earlier command on
the page made (or a smoke rehearsal of the same scenario made for it). Commands naming the user's own
files (`template.yaml`, `src-next/`), AWS or a git ref are left to test_docs_commands' flag check;
the real-time examples are run as written by the tests that own them (REAL_TIME)."""

from __future__ import annotations

import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port
from tests.test_cli import ENV
from tests.test_docs_commands import COMMANDS, LOCUST_COMMANDS

REAL_TIME = {  # examples rehearsed in real time (time_scale 1), as the page writes them, by their own tests
    "examples/async-tracker/rehearsal.toml": "tests/test_async_tracker.py",
    "examples/async-tracker/native-async.toml": "tests/test_async_tracker.py",
}
VERDICTS = (0, 1)  # PASS or FAIL: the run went through; x600 is not the timing a page's verdict is for


def reached_a_verdict(done: subprocess.CompletedProcess) -> bool:
    """PASS, FAIL, or COULD NOT JUDGE (exit 3 with that verdict: a busy machine could not keep up with a
    smoke form's pace, said as such); never a crash, an input error or a run that could not go on."""
    said = done.stdout + done.stderr
    return done.returncode in VERDICTS or (done.returncode == 3 and (
        "verdict: COULD NOT JUDGE" in said or "exit code 3: the verdict's" in said))
SLOW = {"rehearse", "plan", "plot", "serve"}  # and what talks to a `serve` the page started


def _line(where: str) -> int:
    return int(where.rsplit(":", 1)[1])


def _needs_what_is_not_here(args: list[str]) -> bool:
    if "--target" in args or "--new-ref" in args:
        return True  # AWS, or a git ref of the user's repository
    files = [a for a in args[1:] if not a.startswith("-") and ("/" in a or a.endswith((".toml", ".yaml", ".json")))
             and not a.startswith(("results/", "http"))]
    return any(not (ROOT / f).exists() for f in files)


def _slow_commands() -> dict[str, list[tuple[int, str, list[str]]]]:
    """Per page, in its order: (line, program, arguments) of each slow command that runs here, once."""
    by_page: dict[str, list[tuple[int, str, list[str]]]] = {}
    seen: set[tuple[str, ...]] = set()
    found = [(where, "shiftsim", args) for where, args in COMMANDS
             if args[0] in SLOW or any(a.startswith("http://127.0.0.1:") for a in args)] + \
            [(where, "locust", args) for where, args in LOCUST_COMMANDS if "--headless" in args]
    for where, program, args in sorted(found, key=lambda c: (c[0].rsplit(":", 1)[0], _line(c[0]))):
        key = (program, *args)
        if key in seen or _needs_what_is_not_here(args) or any(a in REAL_TIME for a in args):
            continue
        seen.add(key)
        by_page.setdefault(where.rsplit(":", 1)[0], []).append((_line(where), program, args))
    return by_page


SLOW_COMMANDS = _slow_commands()


def test_the_real_time_examples_are_run_as_written_elsewhere():
    for example, owner in REAL_TIME.items():
        assert Path(example).name in (ROOT / owner).read_text(encoding="utf-8"), (example, owner)
    assert len(SLOW_COMMANDS) >= 5 and sum(map(len, SLOW_COMMANDS.values())) >= 10


class PageRun:
    """One page's slow commands in smoke form, in a temporary folder of results."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.made: dict[str, Path] = {}  # "<run-id>" / "plan-<run-id>": the latest run of that kind
        self.servers: list[subprocess.Popen] = []
        self.ports: dict[str, str] = {}  # the port the page names: the one its latest `serve` listens on here

    def results(self, value: str) -> str:
        """A page's `results/...` path, in the temporary folder; its <run-id>, the latest run made."""
        match = re.fullmatch(r"results/((?:plan-)?<run-id>)(/.*)?", value)
        if match:
            return str(self.made[match.group(1)]) + (match.group(2) or "")
        return str(self.tmp / value) if value.startswith("results/") else value

    def shiftsim(self, line: int, args: list[str]) -> None:
        args = list(args)
        if args[0] == "plan" and "results/<run-id>" in args and "<run-id>" not in self.made:
            self.shiftsim(line, ["rehearse", args[1]])  # the rehearsal it is fitted to
        if args[0] in ("rehearse", "plan") and "--results" not in args:
            kind = "<run-id>" if args[0] == "rehearse" else "plan-<run-id>"
            self.made[kind] = self.tmp / f"{args[0]}-{line}"
            args += ["--results", str(self.made[kind])]
        args = [self.results(a) for a in args]
        if args[0] == "rehearse":
            args += ["--time-scale", "600"]
        if args[0] == "plan":
            args += ["--simulations", "1000"]
        if args[0] == "serve":
            return self.serve(args)
        args = [self.port_of(a) for a in args]
        done = subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True,
                              timeout=300, env=ENV, cwd=ROOT)
        ok = reached_a_verdict(done) if args[0] == "rehearse" else done.returncode == 0
        assert ok, (line, args, done.returncode, done.stdout[-2000:] + done.stderr[-2000:])

    def serve(self, args: list[str]) -> None:
        page_port = args[args.index("--port") + 1] if "--port" in args else "4566"
        port = free_port()
        args = [port if a == page_port else a for a in args] + ([] if "--port" in args else ["--port", port])
        server = subprocess.Popen([sys.executable, "-m", "simulator.cli", *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env=ENV, cwd=ROOT)
        self.servers.append(server)
        assert server.stdout is not None
        said = select.select([server.stdout], [], [], 120)[0]  # bounded: a serve that never says is a failure
        ready = server.stdout.readline() if said else ""
        assert f"listening on http://127.0.0.1:{port}" in ready, (args, ready)
        self.ports[page_port] = port

    def port_of(self, value: str) -> str:
        for page_port, port in self.ports.items():
            value = value.replace(f"127.0.0.1:{page_port}", f"127.0.0.1:{port}")
        return value

    def locust(self, line: int, args: list[str]) -> None:
        args = [("5s" if previous == "-t" else a) for previous, a in zip(["", *args], args, strict=False)]
        args += ["--results-dir", str(self.tmp / f"locust-{line}")]
        done = subprocess.run([sys.executable, "-m", "locust", *args], capture_output=True, text=True,
                              timeout=300, env=ENV, cwd=ROOT)
        # 5 s of a deployment: a verdict on what it saw, the run went through
        assert reached_a_verdict(done), (line, args, done.returncode, done.stdout[-2000:] + done.stderr[-2000:])

    def stop(self) -> None:
        for server in self.servers:
            server.send_signal(signal.SIGINT)
            try:
                code = server.wait(30)
            finally:
                server.kill()
            assert code in (0, 130), (server.args, code, server.stdout.read() if server.stdout else "")
            if server.stdout:
                server.stdout.close()


@pytest.mark.long(30)
@pytest.mark.parametrize("page", sorted(SLOW_COMMANDS))
def test_a_pages_slow_commands_run_in_smoke_form(tmp_path, page):
    run = PageRun(tmp_path)
    try:
        for line, program, args in SLOW_COMMANDS[page]:
            if program == "locust":
                run.locust(line, args)
            else:
                run.shiftsim(line, args)
    finally:
        run.stop()
