"""Production's traffic on a compressed clock: contacts arrive at production's rate per emulated
minute (X times as many a real second at time scale X); above the generator's ceiling each stands for
several, CloudWatch counts them so, and the summary's counts are production's, with an interval. A run
at the full rate and a sampled run of the same scenario tell the same story."""

import json
import re
import subprocess
import sys

import pytest

from simulator.loadgen.traffic import plan_traffic
from simulator.report.analysis import count_interval, production_terms
from tests.test_rehearse import ENV, ROOT

SCENARIO = """
[scenario]
name = "production-traffic"
seed = 4
time_scale = 60
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
[functions.staged]
[functions.staged.faults.error]
rate = 0.5
after = 60
[[functions.aliases]]
name = "PROD"
version = "1"
[deployment]
config = "Linear10PercentEvery1Minute"
start_after = 2
[load]
contacts_per_minute = 60
loops_per_contact = 3
prompt_time = "fixed:6"
max_contacts_per_second = {ceiling}
tail = 2
max_duration = 60
[expect]
outcome = "rolled_back"
"""


def test_the_plan_derives_the_real_rate_the_users_and_the_weight():
    full = plan_traffic(60, 60, 0, 0.3)
    assert (full.needed_per_second, full.driven_per_second, full.weight, full.sampled) == (60.0, 60.0, 1.0, False)
    assert not full.limited_by_machine
    assert full.users == 28  # 60 a second for 0.3 s each, with half again as headroom, plus one
    sampled = plan_traffic(60, 60, 15, 0.3)
    assert (sampled.driven_per_second, sampled.weight, sampled.sampled) == (15.0, 4.0, True)
    assert "each standing for 4 production contacts" in sampled.describe()
    assert plan_traffic(600, 1, 0, 1.0).needed_per_second == 10.0  # at scale 1: production's own rate


def test_count_intervals_are_poissons_scaled_and_exact_without_sampling():
    assert count_interval(10, 1.0) == (10.0, 10.0)
    low, high = count_interval(10, 1.0001)
    assert low == pytest.approx(4.795, abs=0.02) and high == pytest.approx(18.39, abs=0.05)  # Garwood's
    assert count_interval(0, 5.0)[0] == 0 and count_interval(0, 5.0)[1] == pytest.approx(5 * 3.689, rel=0.01)
    assert count_interval(100, 3.0) == pytest.approx((3 * 81.37, 3 * 121.63), rel=0.003)


def test_without_stated_traffic_the_summary_says_its_counts_are_not_productions():
    terms = production_terms({}, {"time_scale": 60})
    assert not terms["stated"] and "1/60 of what production would" in terms["note"]
    assert production_terms({}, {"time_scale": 1})["note"] is None


def run_rehearsal(tmp_path, name, scenario, passing=(0,)):
    """`shiftsim rehearse` of the scenario's text into tmp_path/name; its exit code one of `passing`."""
    (tmp_path / f"{name}.toml").write_text(scenario)
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(tmp_path / f"{name}.toml"),
                           "--results", str(tmp_path / name)], capture_output=True, text=True, env=ENV, cwd=ROOT,
                          timeout=240)
    assert done.returncode in passing, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def rehearse(tmp_path, name, ceiling):
    done = run_rehearsal(tmp_path, name, SCENARIO.replace("{ceiling}", str(ceiling)))
    return json.loads((tmp_path / name / "summary.json").read_text()), done.stdout


@pytest.mark.xdist_group("flat-out")  # two runs' alarm times compared: on a machine of its own (pyproject.toml)
def test_a_full_rate_run_and_a_sampled_run_agree_in_productions_terms(tmp_path):
    full, full_out = rehearse(tmp_path, "full", 0)
    sampled, out = rehearse(tmp_path, "sampled", 15)
    # no ceiling: what the machine holds is measured at the start, and said with the plan
    assert "with no ceiling (max_contacts_per_second): what this machine holds is measured" in full_out
    assert "60.0 real contacts/s; driven for real (this process measured " in full_out
    assert "measured" not in out
    assert not full["production"]["sampled"] and full["production"]["weight"] == 1.0
    assert sampled["production"]["sampled"] and sampled["production"]["weight"] == pytest.approx(4.0)
    assert "each contact here stood for 4" in out and "(95 % " in out
    for summary, said in ((full, full_out), (sampled, out)):
        assert summary["contact_outcomes"]["late"] <= 0.05 * summary["contact_outcomes"]["ended"]
        # said as the run went, to its end: the contacts started since the users were there, of those due
        progress = [line for line in said.splitlines() if line.startswith("[")]
        last = re.search(r"\| started ([\d,]+) of the ([\d,]+) contacts due \(\d+\.\d %\)$", progress[-1])
        assert last is not None, progress
        started, due = (int(n.replace(",", "")) for n in last.groups())
        assert abs(started - due) <= 0.05 * due + 2, last.group(0)
        # the contacts started during the deployment, each by its start (as it ended, or its first invocation
        # if it was still in progress), are those its arrivals had due: the verdict takes its counts as they are
        delivered = summary["generator"]["delivered"]
        assert delivered["enough"] and abs(delivered["started"] - delivered["due"]) <= 0.05 * delivered["due"] + 1
    # the blast radius: the full run's count within the sampled run's interval, taken at 99.9 % (3.29
    # standard errors) so that the two runs' own randomness does not fail the test one time in twenty
    hurt = full["deployment"]["failed_contacts_during"]
    sampled_count = sampled["deployment"]["failed_contacts_during"]
    low, high = count_interval(sampled_count, 4.0, z=3.2905)
    assert low <= hurt <= high, (hurt, sampled_count, low, high)
    # the alarm judged both alike: counted from each run's own first error (the sampled run's comes tens of
    # seconds later, by chance: a tenth of its few invocations reach version 2 in the first step), it fired
    # at the end of its second breaching period, so within two periods of that error and within one period
    # of the other run's delay (the first error falls anywhere in its period), give or take the evaluation
    # timer's own lateness: up to 100 real ms, 6 emulated seconds at x60
    delays = [s["deployment"]["alarm_fired_at"] - s["deployment"]["first_target_error_at"] for s in (full, sampled)]
    assert all(0 < d <= 2 * 60.0 + 6.0 for d in delays), delays
    assert abs(delays[0] - delays[1]) <= 60.0 + 6.0, delays


def test_a_profile_over_the_day_parses_and_wraps_midnight():
    from simulator.loadgen.traffic import minute_of_day
    from simulator.scenario.day_profile import Profile, ProfileError

    profile = Profile.parse("09:00-17:00=600,17:00-09:00=30", default=5)
    assert (profile.at(9 * 60), profile.at(16 * 60 + 59), profile.at(17 * 60), profile.at(3 * 60)) == (600, 600, 30, 30)
    assert profile.peak == 600 and Profile.parse("09:00-10:00=60", default=5).at(11 * 60) == 5
    assert minute_of_day("23:59", 120) == 1
    for bad in ("9-17=600", "09:00-17:00=lots", "09:00-17:00=0", "25:00-26:00=1"):
        with pytest.raises(ProfileError):
            Profile.parse(bad)


PROFILED = """
[scenario]
name = "evening"
seed = 4
time_scale = 60
[load]
start_time = "16:58"
max_contacts_per_second = 20
loops_per_contact = 3
prompt_time = "fixed:6"
max_duration = 8
[[load.profile]]
from = "09:00"
to = "17:00"
contacts_per_minute = 300
[[load.profile]]
from = "17:00"
to = "09:00"
contacts_per_minute = 30
"""


def test_arrivals_follow_the_profile_across_its_boundary(tmp_path):
    # 16:58 at x60: two emulated minutes (two real seconds) of the day's peak, then the evening's tenth
    run_rehearsal(tmp_path, "run", PROFILED)
    folder = tmp_path / "run"
    from simulator.report.record import load_record

    record = load_record(folder)
    assert record.info["traffic"]["weight"] == pytest.approx(15.0)  # sized for the peak: 300/min at x60, 20/s
    first_seen: dict[int, float] = {}
    for contact, emulated in zip(record.rows["contact"].tolist(), record.rows["emulated"].tolist(), strict=True):
        first_seen[contact] = min(emulated, first_seen.get(contact, emulated))
    start = min(first_seen.values())
    before = sum(1 for t in first_seen.values() if t - start < 110) / 110  # a margin for the boundary's second
    after = sum(1 for t in first_seen.values() if t - start >= 130) / (max(first_seen.values()) - start - 130)
    assert 0.03 <= after / before <= 0.3, (before, after)  # 30 against 300 a minute: a tenth


FLOOD = """
[scenario]
name = "flood"
seed = 4
time_scale = 60
[load]
contacts_per_minute = 6000
loops_per_contact = 3
prompt_time = "fixed:0.6"
max_duration = 3
"""


def test_with_no_ceiling_a_rate_beyond_the_machine_is_sampled_at_what_it_was_measured_to_hold(tmp_path):
    # 6,000 real contacts/s at x60, 18,000 invocations/s: more than one process holds here, however quiet
    done = run_rehearsal(tmp_path, "run", FLOOD, passing=(0, 1, 3))  # a verdict, not a crash
    folder = tmp_path / "run"
    assert "is 6,000.0 real contacts/s, with no ceiling (max_contacts_per_second): what this machine holds is " \
           "measured as the test starts" in done.stdout
    said = next((line for line in done.stdout.splitlines() if "more than this machine holds" in line), None)
    assert said is not None, done.stdout + done.stderr
    assert "this process measured " in said and "DryRun invocations through the whole path" in said
    from simulator.report.record import load_record

    traffic = load_record(folder).info["traffic"]
    assert 0 < traffic["held_per_second"] == traffic["driven_per_second"] < 6_000
    assert traffic["weight"] == pytest.approx(6_000 / traffic["held_per_second"])
    assert f"each standing for {traffic['weight']:.3g} production contacts" in said


SLOW_FUNCTION = """
[scenario]
name = "slow-function"
seed = 3
time_scale = 60
[[functions]]
name = "ConnectLambdaFunction"
timeout = 3
[[functions.versions]]
handler = "tests.handlers:slow_answer"
[[functions.aliases]]
name = "PROD"
version = "1"
[load]
contacts_per_minute = 30
loops_per_contact = 3
prompt_time = "fixed:0.6"
max_duration = 10
"""


@pytest.mark.long(15, waits=True)
@pytest.mark.xdist_group("flat-out")  # a held rate: not beside the flat-out benchmarks (pyproject.toml)
def test_contacts_longer_than_planned_get_the_callers_they_need_not_a_generator_behind(tmp_path):
    """Users are sized for contacts of the planned length; a function taking 0.25 s makes each contact
    three quarters of a second longer, and 220 of 240 contacts started late, said as the machine
    falling behind. The rehearsal adds callers by the contacts' measured length instead."""
    done = run_rehearsal(tmp_path, "run", SLOW_FUNCTION, passing=(0, 3))  # 3: see below
    said = next((line for line in done.stdout.splitlines() if line.startswith("shiftsim: users: 20 -> ")), None)
    assert said is not None and "longer than planned" in said, done.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # the users were enough for contacts this long: any start still late is the machine's (a loaded CI
    # machine's), which the summary tells apart; with users sized for the planned length, most started
    # late for want of a user, and users_short named it
    assert "users_short" not in summary["generator"], summary["generator"]
    if done.returncode == 3:  # not judged: only for the loaded machine's late starts, said as such
        assert summary["generator"]["fell_behind"] and "the load generator fell behind" in \
            summary["verdict"]["why_not_judged"], summary["verdict"]
