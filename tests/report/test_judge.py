"""The statistical judge: its tests against direct computation, a known difference flagged in the
first window it can judge, windows with too few invocations tested together with the next, and no false flag beyond the stated
rate over many seeded runs of two equal versions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.report.judge import fisher_greater, judge, mann_whitney_greater


@pytest.mark.parametrize("e_new, n_new, e_old, n_old", [(10, 100, 1, 100), (0, 50, 3, 60), (5, 20, 5, 200), (3, 3, 0, 3)])
def test_fisher_is_the_hypergeometric_tail(e_new, n_new, e_old, n_old):
    total, errors = n_new + n_old, e_new + e_old
    tail = sum(math.comb(errors, x) * math.comb(total - errors, n_new - x)
               for x in range(e_new, min(errors, n_new) + 1)) / math.comb(total, n_new)
    assert fisher_greater(e_new, n_new, e_old, n_old) == pytest.approx(tail, rel=1e-9)


def test_mann_whitney_counts_pairs():
    rng = np.random.default_rng(1)
    new, old = rng.normal(1.0, 1, 60), rng.normal(0.0, 1, 80)
    pairs = sum((a > b) + 0.5 * (a == b) for a in new for b in old)  # U of the new version, by its definition
    z = (pairs - 60 * 80 / 2 - 0.5) / math.sqrt(60 * 80 * 141 / 12)
    assert mann_whitney_greater(new, old) == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert mann_whitney_greater(old, new) > 0.99


def synthetic(rng, windows=10, per_window=200, p_new=0.05, p_old=0.05, shift=0.0):
    t, versions, ok, latency = [], [], [], []
    for w in range(windows):
        for version, p, extra in (("2", p_new, shift), ("1", p_old, 0.0)):
            t.append(rng.uniform(30 * w, 30 * w + 30, per_window))
            versions.append(np.full(per_window, version))
            ok.append(rng.random(per_window) >= p)
            latency.append(rng.lognormal(3.0, 0.5, per_window) + extra)
    windows_list = [(30.0 * w, 30.0 * w + 30) for w in range(windows)]
    return (np.concatenate(t), np.concatenate(versions), np.concatenate(ok), np.concatenate(latency), windows_list)


def test_a_known_difference_is_flagged_at_once():
    t, versions, ok, latency, windows = synthetic(np.random.default_rng(2), p_new=0.25)
    result = judge(t, versions, ok, latency, windows, "2", "1", 0.99)
    assert result["flagged_at"] == 30.0 and result["flag"]["on"] == ["errors"]
    t, versions, ok, latency, windows = synthetic(np.random.default_rng(3), shift=15.0)
    assert judge(t, versions, ok, latency, windows, "2", "1", 0.99)["flag"]["on"] == ["latency"]


def test_windows_with_too_few_invocations_are_tested_together_with_the_next():
    """10 invocations of each version a window, under the minimum of 20: the first window is carried
    into the second, and the two are tested as one (a version failing every call is flagged there)."""
    t, versions, ok, latency, windows = synthetic(np.random.default_rng(4), per_window=10, p_new=1.0)
    result = judge(t, versions, ok, latency, windows, "2", "1", 0.99)
    first, second = result["windows"][:2]
    assert first["verdict"] == "too few invocations" and "pooled_from" not in first
    assert second["pooled_from"] == 0.0 and (second["new"], second["old"]) == (20, 20)
    assert result["flagged_at"] == 60.0 and result["flag"]["on"] == ["errors"]
    assert result["tested"] == 5 and result["too_few"] == 5  # every other window, each with the one before


def test_a_run_that_never_has_enough_invocations_gives_no_verdict():
    t, versions, ok, latency, windows = synthetic(np.random.default_rng(4), per_window=1, p_new=1.0)
    result = judge(t, versions, ok, latency, windows, "2", "1", 0.99)
    assert result["flagged_at"] is None and result["tested"] == 0 and result["too_few"] == 10
    assert result["windows"][-1]["pooled_from"] == 0.0 and result["windows"][-1]["new"] == 10


@pytest.mark.parametrize("per_window, p", [(100, 0.05), (7, 0.1)])  # 7: windows tested three at a time, pooled
def test_equal_versions_are_flagged_no_more_often_than_the_stated_rate(per_window, p):
    """300 seeded runs of equal versions at 99 %: at most 1 % flagged in expectation; 9 or more of
    300 would have probability under 0.05 % if the rate held."""
    flagged = 0
    for seed in range(300):
        t, versions, ok, latency, windows = synthetic(np.random.default_rng(1000 + seed), windows=6,
                                                      per_window=per_window, p_new=p, p_old=p)
        flagged += judge(t, versions, ok, latency, windows, "2", "1", 0.99)["flagged_at"] is not None
    assert flagged < 9


def test_a_significant_but_tiny_latency_difference_is_not_flagged():
    """0.13 ms more on a 0.25 ms median (the emulator's own noise in a loaded run): significant with
    this many calls, but under the minimum effect (10 % and 5 ms), so never flagged."""
    rng = np.random.default_rng(5)
    t, versions, ok, latency, windows = synthetic(rng, per_window=2000)
    latency = np.where(versions == "2", 0.38, 0.25) + rng.normal(0, 0.02, len(latency))
    result = judge(t, versions, ok, latency, windows, "2", "1", 0.99)
    assert result["windows"][0]["latency_p"] < 1e-6 and result["flagged_at"] is None
    assert judge(t, versions, ok, latency, windows, "2", "1", 0.99, min_latency_increase_ms=0.1)["flag"]["on"] == ["latency"]


def test_the_judge_decides_each_window_with_what_it_knew_then():
    """A flag does not depend on how many windows follow it (no Bonferroni over the whole run): the
    same first windows give the same flag, alone or followed by twenty more."""
    for seed in range(20):
        t, versions, ok, latency, windows = synthetic(np.random.default_rng(200 + seed), windows=24, p_new=0.09)
        whole = judge(t, versions, ok, latency, windows, "2", "1", 0.99)
        first = judge(t, versions, ok, latency, windows[:4], "2", "1", 0.99)
        if first["flagged_at"] is not None:
            assert whole["flagged_at"] == first["flagged_at"]
        assert [w.get("alpha") for w in whole["windows"][:4]] == [w.get("alpha") for w in first["windows"]]
