"""bench/rate.py's figures from a run's record: achieved rate, p99 lag, and the seconds in which every
start was behind (the generator flat out) with the rate reached then."""

import pytest

from bench.rate import _behind, from_record
from simulator.report.record import RecordWriter

T0 = 1_700_000_000.0


def write_run(results, lag_of):
    """12 s of intended starts at 1,000/s; each starts `lag_of(second since the first)` after its time."""
    rows = []
    for k in range(12_000):
        intended = T0 + k / 1000
        start = intended + lag_of(k / 1000)
        rows.append((intended, start, start + 0.002, 0.0, f"contact-{k // 10}", 1, "invoke-alias", "PROD", "1",
                     "Success", "", 0, 200, "", 0, "local"))
    writer = RecordWriter(results / "run-1")
    writer.add(rows)
    writer.close()


def test_the_seconds_all_behind_and_the_rate_then(tmp_path):
    # starts intended from 5 s to 8 s go 10 ms late; the others half a millisecond
    write_run(tmp_path, lambda t: 0.010 if 5 <= t < 8 else 0.0005)
    measured = from_record(tmp_path)
    # by start time: [5, 6) holds the 990 late ones intended from 5.000 s, [6, 7) and [7, 8) 1,000 each;
    # [8, 9) holds on-time starts too, so the generator was not behind all of it
    assert measured["behind_s"] == 3
    assert measured["behind_rate"] == pytest.approx((990 + 1000 + 1000) / 3)
    assert measured["achieved"] == pytest.approx(1000, rel=0.002)
    assert measured["p99_lag_ms"] == pytest.approx(10.0, abs=0.01)  # the record keeps times to the microsecond
    assert _behind(measured, 1000) == "3 s: 997/s, 100 % of the target"


def test_a_run_never_behind_says_none(tmp_path):
    write_run(tmp_path, lambda t: 0.004)  # behind, but never over 5 ms
    measured = from_record(tmp_path)
    assert measured["behind_s"] == 0 and _behind(measured, 1000) == "none"
    assert measured["p99_lag_ms"] == pytest.approx(4.0, abs=0.01)
