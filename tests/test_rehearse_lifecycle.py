"""A rehearsal as CI and users end it: its emulator dying is said at once with an exit code of its
own, SIGTERM ends it as Ctrl-C does, no process it started outlives it, and its progress lines reach
a pipe as they are said. Real `shiftsim rehearse` processes and signals."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from simulator.report.record import DTYPE, load_record
from tests.helpers import processes_on_a_free_port
from tests.test_rehearse import ENV, ROOT

SCENARIO = "scenarios/linear-rollback.toml"


def start(folder: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simulator.cli", "rehearse", SCENARIO, "--results",
                             str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV, cwd=ROOT)


def read_until(process: subprocess.Popen, needle: str, limit: float = 120.0) -> list[str]:
    """Lines of stdout up to the first holding `needle`, read as they come (bounded in time)."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if needle in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(limit), f"no line with {needle!r} in {limit} s: {lines}"
    return lines


def emulator_of(pid: int) -> int:
    """The pid of the `shiftsim serve` child a rehearsal started."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in children:
        if b"serve" in Path(f"/proc/{child}/cmdline").read_bytes():
            return int(child)
    raise AssertionError(f"no emulator among {children}")


def gone(pid: int, limit: float = 30.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
        except FileNotFoundError:
            return True
        if state == "Z":  # ended; only its parent's wait is missing
            return True
        time.sleep(0.05)
    return False


@pytest.mark.long(20)
@pytest.mark.parametrize("how,said", [(signal.SIGKILL, "was killed by SIGKILL"),
                                      (signal.SIGSTOP, "stopped answering (no answer to its health check")])
def test_a_dead_or_frozen_emulator_stops_the_run_with_its_own_exit_code(tmp_path, how, said):
    """Killed, or frozen (SIGSTOP: what a request that held its loop did): exit 3 and the reason,
    never a verdict that blames the deployment for the calls a frozen emulator did not answer."""
    folder = tmp_path / "run"
    process = start(folder)
    read_until(process, "deployment InProgress")  # a line printed while running: stdout is line-buffered
    emulator = emulator_of(process.pid)
    os.kill(emulator, how)
    try:
        out, err = process.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(emulator, signal.SIGKILL)
    assert process.returncode == 3, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("shiftsim: error: the emulator (pid ")
    assert said in err and f"what was recorded is in {folder}" in err
    assert "verdict" not in out  # no verdict on a deployment the product could not follow
    rows = np.fromfile(folder / "invocations.bin", dtype=DTYPE)
    assert len(rows) > 0 and (folder / "locust.html").exists()


def test_sigterm_ends_a_rehearsal_as_ctrl_c_does_and_leaves_no_process(tmp_path):
    folder = tmp_path / "run"
    process = start(folder)
    read_until(process, "deployment InProgress")
    emulator = emulator_of(process.pid)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert f"shiftsim: terminated (SIGTERM): what was recorded is in {folder}" in out
    assert "Traceback" not in err
    assert (folder / "locust.html").exists() and len(np.fromfile(folder / "invocations.bin", dtype=DTYPE)) > 0
    assert gone(emulator)


def test_ctrl_c_in_a_terminal_reaches_the_whole_job_and_the_run_still_ends_in_order(tmp_path):
    """A terminal's Ctrl-C signals every process of the job, the emulator too: it must outlive the
    rehearsal's last flush (the instance's flow logs said unpublished, otherwise) and then be stopped."""
    folder = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "rehearse", SCENARIO, "--results",
                                str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=ENV, cwd=ROOT, start_new_session=True)  # a job of its own, as in a shell
    try:
        read_until(process, "deployment InProgress")
        emulator = emulator_of(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, (out, err)
    assert f"shiftsim: interrupted: what was recorded is in {folder}" in out
    assert "could not be published" not in out + err and "Traceback" not in err, (out, err)
    assert gone(emulator)


def signal_once(process: subprocess.Popen, ready, signum: int, missed: str) -> tuple[str, str]:
    """Send `signum` as soon as `ready()` holds (polled every 5 ms, for at most 120 s); the output."""
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert process.poll() is None and time.monotonic() < deadline, missed
            time.sleep(0.005)
        process.send_signal(signum)
        return process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()


def test_ctrl_c_while_the_emulator_starts_ends_the_rehearsal(tmp_path):
    """Ctrl-C as soon as the rehearsal's emulator is forked (it takes half a second or more to
    answer): the rehearsal ends there, exit 130, one line, no folder left empty. Python's own SIGINT
    handler let gevent's hub drop it: the run went on to its end and passed."""
    folder = tmp_path / "run"
    process = start(folder)
    found: list[int] = []

    def emulator_forked() -> bool:
        with contextlib.suppress(AssertionError, FileNotFoundError):
            found.append(emulator_of(process.pid))
        return bool(found)

    out, err = signal_once(process, emulator_forked, signal.SIGINT, "no emulator was started")
    emulator = found[0]
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err and "verdict" not in out
    # said where it stopped: while starting (the usual case), or, on a machine slow enough that the
    # signal came after the start, as any interrupted run says it
    assert ("shiftsim: interrupted while starting: nothing was recorded" in out and not folder.exists()) or \
        f"shiftsim: interrupted: what was recorded is in {folder}" in out, out
    assert gone(emulator)


def test_sigterm_during_the_analysis_is_said_and_leaves_no_verdict(tmp_path):
    """SIGTERM once the load has stopped, while the record is analysed and drawn: exit 143, one line
    naming the folder and `shiftsim plot`, and no summary.json (a verdict CI could read) without its
    figure. It used to end silently with the summary written and no figure."""
    for attempt in range(3):  # the analysis takes about half a second: on a loaded machine it may beat the signal
        folder = tmp_path / f"run{attempt}"
        process = start(folder)
        # locust.html is written as the load stops, before the analysis
        out, err = signal_once(process, (folder / "locust.html").exists, signal.SIGTERM,
                               "the run ended before its analysis")
        if not (process.returncode in (0, 1) and "verdict" in out):  # the signal came in time: judge this run
            break
    else:
        pytest.skip("the analysis ended before the signal came, three times")
    assert process.returncode == 143, (out, err)  # a CI run's came between gevent's handler and the analysis': -15
    kept = f"what was recorded is in {folder} (shiftsim plot {folder} analyses and draws it)"
    # said as during the analysis, or, where it came as the record was closed, as on any terminated run
    assert f"shiftsim: terminated (SIGTERM) during the analysis: {kept}" in out or \
        f"shiftsim: terminated (SIGTERM): {kept}" in out, out
    assert "Traceback" not in err and "verdict" not in out
    assert not (folder / "summary.json").exists() or (folder / "timeline.png").exists()
    assert len(np.fromfile(folder / "invocations.bin", dtype=DTYPE)) > 0


def test_ctrl_c_pressed_again_and_again_still_closes_the_record_whole(tmp_path):
    """An impatient user's Ctrl-C every few milliseconds from the middle of the run to its end: the
    first stops the load, the next ones come while the record is closed, and are held there (they
    used to break the close off: no locust.html, the last rows unwritten); exit 130 and one line."""
    folder = tmp_path / "run"
    process = start(folder)
    read_until(process, "deployment InProgress")
    stdout: list[str] = []
    reader = threading.Thread(target=lambda: stdout.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        process.send_signal(signal.SIGINT)
        time.sleep(0.005)
    assert process.poll() is not None, "the rehearsal did not end"
    reader.join(30)
    out, err = "".join(stdout), process.stderr.read()
    assert process.returncode == 130, (process.returncode, out, err)
    assert f"shiftsim: interrupted: what was recorded is in {folder}" in out, out
    assert "Traceback" not in err and "verdict" not in out, err
    assert (folder / "locust.html").exists() and (folder / "locust_stats.csv").exists()
    assert len(load_record(folder)) > 0


def test_the_emulator_dies_with_a_killed_rehearsal(tmp_path):
    process = start(tmp_path / "run")
    read_until(process, "deployment")
    emulator = emulator_of(process.pid)
    process.kill()
    process.communicate(timeout=60)
    assert gone(emulator), "the emulator outlived the rehearsal that started it"


LOCUST = [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "connect_loop.py")]


def start_locust(tmp_path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*LOCUST, "--headless", "-u", "6", "-r", "6", "-t", "60s", "--prompt-time", "fixed:0.05",
                             "--results-dir", str(tmp_path / "results"), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)


def emulator_when_recording(process: subprocess.Popen, tmp_path: Path) -> int:
    deadline = time.monotonic() + 90
    while not sum(p.stat().st_size for p in (tmp_path / "results").glob("*/invocations.bin")):
        assert time.monotonic() < deadline and process.poll() is None, "no invocation recorded"
        time.sleep(0.2)
    return emulator_of(process.pid)


def test_a_locust_run_whose_emulator_dies_stops_with_exit_code_3(tmp_path):
    process = start_locust(tmp_path)
    try:
        os.kill(emulator_when_recording(process, tmp_path), signal.SIGKILL)
        _, err = process.communicate(timeout=60)  # long before the run's 60 s
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3, err[-2000:]
    assert "was killed by SIGKILL: stopping the test; what was recorded is in" in err
    assert "Traceback" not in err


def test_the_emulator_dies_with_a_killed_locust_master(tmp_path):
    process = start_locust(tmp_path, *processes_on_a_free_port())
    children: list[str] = []
    try:
        emulator = emulator_when_recording(process, tmp_path)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        process.kill()
        process.wait(timeout=60)  # its forked workers hold its pipes: not communicate()
        assert gone(emulator), "the emulator outlived the Locust master that started it"
    finally:
        for child in children:  # Locust's own workers notice a lost master later: not this test's subject
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(child), signal.SIGKILL)
        if process.poll() is None:
            process.kill()
