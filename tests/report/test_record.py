"""The record: compact, append-only, readable after a crash, loadable in one numpy call."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from simulator.report.errors import RecordError
from simulator.report.record import DTYPE, RecordWriter, load_record
from tests.helpers import ROOT


def row(i, version="1", outcome="Success", reason="", injected=""):
    t = 1_700_000_000.0 + i * 0.01
    return (t, t + 0.001, t + 0.02, t * 1.0, f"contact-{i // 10}", i % 10 + 1, "invoke-alias", "PROD",
            version, outcome, reason, 0, 200, injected, 0, "local")


def test_round_trip_and_decoding(tmp_path):
    writer = RecordWriter(tmp_path, batch=4)
    writer.add([row(i) for i in range(6)] + [row(6, "2", "Error", "function_error", "error")])
    writer.event({"t": 1.0, "kind": "deployment"})
    writer.close()
    record = load_record(tmp_path)
    assert len(record) == 7 and record.rows.dtype == DTYPE and DTYPE.itemsize == 55
    assert list(record.text("version")) == ["1"] * 6 + ["2"]
    assert list(record.text("reason"))[-1] == "function_error" and list(record.text("injected"))[-1] == "error"
    assert list(record.ok) == [True] * 6 + [False]
    assert record.text("contact")[0] == "contact-0" and record.timeline == [{"t": 1.0, "kind": "deployment"}]
    # one numpy call, as documented
    direct = np.fromfile(tmp_path / "invocations.bin", dtype=DTYPE)
    assert np.array_equal(direct, record.rows)


def test_a_torn_last_row_is_left_out(tmp_path):
    writer = RecordWriter(tmp_path)
    writer.add([row(i) for i in range(3)])
    writer.close()
    with (tmp_path / "invocations.bin").open("ab") as file:
        file.write(b"\x01" * 20)  # half a row, as a crash mid-write leaves it
    with (tmp_path / "timeline.jsonl").open("a") as file:
        file.write('{"t": 2.0, "kin')
    record = load_record(tmp_path)
    assert len(record) == 3 and record.timeline == []


def test_not_a_run_folder(tmp_path):
    with pytest.raises(RecordError, match="not a shiftsim run folder"):
        load_record(tmp_path)


def test_a_million_rows_stay_within_100_mb(tmp_path):
    writer = RecordWriter(tmp_path, batch=50_000)
    for start in range(0, 1_000_000, 50_000):
        writer.add([row(i, str(1 + i % 2)) for i in range(start, start + 50_000)])
    writer.close()
    on_disk = sum(f.stat().st_size for f in tmp_path.iterdir())
    record = load_record(tmp_path)
    in_memory = record.rows.nbytes + sum(len(s) + 50 for s in record.strings + record.contacts)  # 50: per str
    assert len(record) == 1_000_000
    assert on_disk <= 100_000_000 and in_memory <= 100_000_000, (on_disk, in_memory)


def test_pandas_when_installed(tmp_path):
    pd = pytest.importorskip("pandas")
    writer = RecordWriter(tmp_path)
    writer.add([row(0), row(1, "2", "Error", "timeout")])
    writer.close()
    frame = load_record(tmp_path).to_pandas()
    assert isinstance(frame, pd.DataFrame) and list(frame["outcome"]) == ["Success", "Error"]


def test_the_record_survives_a_sigkill_mid_run(tmp_path):
    results = tmp_path / "results"
    process = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "locustfiles" / "connect_loop.py"), "--headless",
         "-u", "20", "-r", "20", "-t", "60s", "--prompt-time", "fixed:0.01", "--results-dir", str(results)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True)
    try:
        deadline = time.monotonic() + 45  # bounded: wait for a few batches on disk
        size = 0
        while time.monotonic() < deadline and size < 3 * 1024 * DTYPE.itemsize:
            time.sleep(0.2)
            files = list(results.glob("*/invocations.bin"))
            size = files[0].stat().st_size if files else 0
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # locust and the emulator it started, at once
        process.wait(10)
    (run,) = list(results.iterdir())
    record = load_record(run)
    assert len(record) >= 3 * 1024
    assert int(record.rows["contact"].max()) < len(record.contacts)  # every string a row uses is on disk
    assert int(record.rows["version"].max()) < len(record.strings)
    assert set(record.text("version")) == {"1"} and record.ok.all()


KILLED_AFTER_A_BATCH = """
import os, signal, sys, threading
from pathlib import Path
from simulator.report.record import RecordWriter
from tests.report.test_record import row
writer = RecordWriter(Path(sys.argv[1]), batch=int(sys.argv[2]), every_s=3600, run_id="killed")
noting = threading.Thread(target=writer.note_event, args=({"t": 1.0, "kind": "deployment"},))  # the loop's thread
noting.start()
noting.join()
writer.add([row(i) for i in range(4)])
writer.note_event({"t": 2.0, "kind": "weight"})  # after the rows: not owed to them
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("batch", [4, 5])
def test_a_run_killed_after_rows_reach_disk_has_the_events_they_follow(tmp_path, batch):
    """SIGKILL right after a batch: an event noted before rows on disk is on disk too (issue 29)."""
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_A_BATCH, str(tmp_path), str(batch)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    record = load_record(tmp_path)
    if batch == 4:  # the batch was written, and the event before it
        assert len(record) == 4 and record.timeline == [{"t": 1.0, "kind": "deployment"}]
    else:  # nothing written yet: neither is owed
        assert len(record) == 0 and record.timeline == []
