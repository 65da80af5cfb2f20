"""The analysis on records built for it: shares against weights, the routing check (seeded draws),
deployment timings, blast radius, and the verdict."""

import random

import pytest

from simulator.report.analysis import analyse, rate_interval
from simulator.report.record import RecordWriter, load_record
from simulator.report.summary_text import format_summary
from simulator.report.verdict import Expectations

T0 = 1_700_000_000.0


def synthetic_run(tmp_path, weights_honoured=True, seed=1, n=6000, rollback_s=270, observed=()):
    """A linear deployment, 10 % more each minute from T0, rolled back at +4.5 min (`rollback_s`); version 2 fails
    from +2 min on. Routing draws are seeded, so shares are reproducible."""
    rng = random.Random(seed)
    writer = RecordWriter(tmp_path)
    timeline = [
        {"t": T0, "kind": "deployment", "deployment_id": "d-TEST", "config": "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
         "routing": {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 1}},
         "current_version": "1", "target_version": "2"},
        {"t": T0, "kind": "lifecycle", "event": "AllowTraffic", "status": "InProgress"},
        {"t": T0 + 240, "kind": "alarm", "alarm": "A", "old": "OK", "state": "ALARM"},
        {"t": T0 + rollback_s, "kind": "status", "status": "Stopped"},
        {"t": T0 + rollback_s, "kind": "rollback", "rollback_deployment_id": "d-BACK"},
    ]
    timeline += [{"t": T0 + t, "kind": "weight", "primary": "1", "additional": {"2": w}} for t, w in observed]
    for event in sorted(timeline, key=lambda e: e["t"]):
        writer.event(event)
    rows = []
    for i in range(n):
        t = T0 - 60 + i * (420 / n)
        weight = 0.0 if t < T0 or t >= T0 + rollback_s else min(0.9, 0.1 * (1 + int((t - T0) // 60)))
        version = "2" if rng.random() < (weight if weights_honoured else weight / 2) else "1"
        failed = version == "2" and t >= T0 + 120
        rows.append((t, t, t + 0.01, t, f"c{i // 5}", i % 5 + 1, "invoke-alias", "PROD", version,
                     "Error" if failed else "Success", "function_error" if failed else "", 0, 200,
                     "error" if failed else "", 0, "local"))
    writer.add(rows)
    writer.close()
    return load_record(tmp_path)


def test_shares_follow_the_plan_and_timings_are_measured(tmp_path):
    summary = analyse(synthetic_run(tmp_path), window=30)
    d = summary["deployment"]
    assert d["outcome"] == "rolled_back" and d["rollback_at"] == 270 and d["alarm_fired_at"] == 240
    assert [s["additional"] for s in d["shifts"]][:3] == [{"2": 0.1}, {"2": 0.2}, {"2": 0.3}]
    assert 120 <= d["first_target_error_at"] < 125
    assert d["first_error_to_alarm_s"] == 240 - d["first_target_error_at"]
    assert summary["routing"]["follows"] is True
    routing = summary["routing"]  # the line counts what the check counted, and says so
    said = next(line for line in format_summary(summary).splitlines() if "routing vs weights" in line)
    assert said.startswith(f"  routing vs weights: of {routing['invocations_while_split']:,} invocations while the "
                           f"alias was split, {routing['observed']:,} on the new version, ")
    assert (f"{routing['left_out_near_changes']:,} within 50 ms of a weight change not counted" in said) == \
        bool(routing["left_out_near_changes"])
    assert all(w["within_band"] for w in summary["windows"] if "within_band" in w) or \
        sum(not w["within_band"] for w in summary["windows"] if "within_band" in w) <= 1  # 99 % bands
    before = [w for w in summary["windows"] if w["end"] <= 0]
    assert before and all(w["planned_weight"] == 0 and w["target_share"] == 0 for w in before)
    errors = summary["versions"]["2"]["errors_by_reason"]["function_error"]
    assert errors["injected"] == summary["versions"]["2"]["errors"] and errors["natural"] == 0
    assert d["failed_contacts_during"] > 0 and summary["contacts_meeting_both_versions"] > 0


def test_a_stop_at_the_instant_of_a_planned_shift_ends_the_plan_before_it(tmp_path):
    # CodeDeploy polls its alarms before it shifts: the shift planned for +4 min never happened
    shifts = analyse(synthetic_run(tmp_path, rollback_s=240), window=30)["deployment"]["shifts"]
    assert [(s["t"], s["additional"]) for s in shifts] == [
        (0, {"2": 0.1}), (60, {"2": 0.2}), (120, {"2": 0.3}), (180, {"2": 0.4}), (240, {})]


@pytest.mark.parametrize("seen_at_half", [False, True])
def test_a_shift_due_just_before_the_stop_is_planned_only_if_the_alias_showed_it(tmp_path, seen_at_half):
    # the stop's timer woke 40 ms after the +4 min shift was due: whether it came first, the alias says
    observed = [(0.5, 0.1), (60.5, 0.2), (120.5, 0.3), (180.5, 0.4)] + ([(240.02, 0.5)] if seen_at_half else [])
    shifts = analyse(synthetic_run(tmp_path, rollback_s=240.04, observed=observed), window=30)["deployment"]["shifts"]
    assert [s["additional"] for s in shifts] == [{"2": 0.1}, {"2": 0.2}, {"2": 0.3}, {"2": 0.4}] + (
        [{"2": 0.5}] if seen_at_half else []) + [{}]
    assert shifts[-1]["t"] == 240.04


def test_routing_that_ignores_the_weights_is_caught(tmp_path):
    summary = analyse(synthetic_run(tmp_path, weights_honoured=False))
    assert summary["routing"]["follows"] is False and summary["routing"]["p_value"] < 1e-6


def test_verdict_and_text(tmp_path):
    record = synthetic_run(tmp_path)
    passing = analyse(record, expectations=Expectations(outcome="rolled_back", rollback_within_minutes=5,
                                                        alarm_fires=True, routing_follows_weights=True))
    assert passing["verdict"]["passed"]
    failing = analyse(record, expectations=Expectations(outcome="succeeded", max_failed_contacts=0))
    assert not failing["verdict"]["passed"]
    assert [c["passed"] for c in failing["verdict"]["checks"]] == [False, False]
    text = format_summary(failing)
    assert "verdict: FAIL" in text and "[FAIL] outcome: expected succeeded, got rolled_back" in text


def test_a_rate_interval_covers_the_true_rate_as_often_as_it_says():
    """Measured, not assumed: the exact chance (binomial sums) that the 95 % interval of a window of 3
    to 2,000 invocations holds a true rate of 1 to 99 %. Wilson's interval holds it 95.0 to 95.6 % of
    the time on average over the rates, for every window size, and 83 % at worst (3 invocations); a
    normal approximation's would be a point at 0 or 1 of a handful, covering nothing there."""
    from bench.calibration import WINDOW_RATES, WINDOW_SIZES, rate_interval_coverage

    for trials in WINDOW_SIZES:
        coverages = [rate_interval_coverage(trials, rate) for rate in WINDOW_RATES]
        assert 0.945 <= sum(coverages) / len(coverages) <= 0.96, trials
        assert min(coverages) >= 0.83, trials
    assert rate_interval(3, 3)[0] < 0.5 and rate_interval(3, 3)[1] == 1.0  # three of three: wide
    assert rate_interval(0, 10_000) == (0.0, pytest.approx(0.00038, abs=0.00002))
