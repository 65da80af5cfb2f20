"""Why paced starts were late, from the record and the run's settings: too few users for the rate, a
lasting backlog (every start late for whole seconds, and the rate reached then), or short stalls."""

import numpy as np

from simulator.report.lateness import describe_late, late_summary, why_behind
from simulator.report.record import DTYPE

T0 = 1_700_000_000.0


def rows(rate, seconds, lag_of, invocation_s):
    """Starts intended at `rate` a second; each starts `lag_of(t)` late and takes `invocation_s`."""
    intended = T0 + np.arange(int(rate * seconds)) / rate
    lag = np.array([lag_of(t - T0) for t in intended])
    out = np.zeros(len(intended), dtype=DTYPE)
    out["intended"], out["start"] = intended, intended + lag
    out["end"] = out["start"] + invocation_s
    out["late"] = lag > 0.020
    return out


def test_too_few_users_for_the_rate_on_their_prompts_and_invocations():
    # 4 users, 20 ms prompts, 1.5 ms invocations: at most 4 / 0.0215 = 186 starts a second of the 3,000
    # asked; 3,000 x 0.0215 = 64.5 users busy at once
    late = late_summary(rows(3000, 3, lambda t: 0.5 * t, 0.0015), {"rate": 3000, "users": 4, "prompt_mean_s": 0.02})
    assert round(late["users_limit"]) == 186
    assert describe_late(late) == (
        "late starts: 4 users start at most about 186/s with invocations of 1.5 ms (median) and prompts of 20 ms "
        "(mean), fewer than the 3,000/s asked: add users (at least 66) or lower the rate")


def test_a_lasting_backlog_with_users_to_spare():
    # 64 users, no prompts, 50 ms invocations (1,280/s possible); from 3 s to 6 s every start 50 ms late
    late = late_summary(rows(1000, 10, lambda t: 0.05 if 3 <= t < 6 else 0.0, 0.05),
                        {"rate": 1000, "users": 64, "prompt_mean_s": 0.0})
    # by start time: [3, 4) holds only the first 950 late ones (intended from 3 s), [4, 5) and [5, 6)
    # 1,000 each; [6, 7) has on-time starts too
    assert late["seconds_all_behind"] == 3 and late["behind"] == 3000
    assert describe_late(late) == (
        "late starts: 3 s with every start late, at 983/s (98 % of the 1,000/s asked), while the users could "
        "have started about 1,280/s: the machine or the endpoint could not keep up; add processes or workers, "
        "or lower the rate")


def test_short_stalls():
    late = late_summary(rows(1000, 10, lambda t: 0.03 if 4 <= t < 4.2 else 0.0, 0.002),
                        {"rate": 1000, "users": 64, "prompt_mean_s": 0.0})
    assert late["behind"] == 200 and late["seconds_all_behind"] == 0
    assert describe_late(late) == "late starts: no whole second with every start late: short stalls, no lasting backlog"


def test_nothing_to_say_without_pacing_or_late_starts():
    assert late_summary(rows(1000, 2, lambda t: 0.0, 0.002), {"rate": 1000, "users": 8}) is None
    assert late_summary(rows(1000, 2, lambda t: 0.05, 0.002), {"rate": 0, "users": 8}) is None


def test_every_user_in_an_invocation_when_the_late_starts_were_due():
    # invocations of 1 s at 100/s: about 100 in flight at any time, so 8 users are all busy
    data = rows(100, 5, lambda t: 0.05, 1.0)
    found = why_behind(data["intended"], data["start"], data["end"], data["late"], users=8)
    assert found["all_users_busy"] > 0.75
    found = why_behind(data["intended"], data["start"], data["end"], data["late"], users=1000)
    assert found["all_users_busy"] == 0.0
