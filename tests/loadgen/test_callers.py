"""The callers' live count of the load's schedule (loadgen.callers), on a clock the test moves: what
is due counts from when the users were all there to when the test began to stop, at the sample's
weight and this process's share, by the day's profile when there is one."""

from collections import deque

from simulator.client.coarse_timeouts import CoarseTimeouts
from simulator.connect.caller import CallerSpec
from simulator.connect.flow import load_flow
from simulator.loadgen.callers import Callers
from simulator.loadgen.contact_hooks import ContactPath
from simulator.loadgen.pacing import Pacer
from simulator.loadgen.traffic import delivered_line, plan_traffic
from simulator.scenario.day_profile import Profile
from tests.helpers import ROOT
from tests.loadgen.test_pacing import options


class Clock:
    """Emulated time that moves only when the test says."""

    scale = 60.0

    def __init__(self):
        self.at = 1_700_000_000.0

    def now(self):
        return self.at

    def advance(self, seconds):
        self.at += seconds


def callers_at(clock, traffic, processes=1, profile=None):
    flows = load_flow(ROOT / "scenarios" / "flows" / "LambdaAlias-loop.json")
    callers = Callers(flows, CallerSpec(), "arn:aws:connect:us-east-1:123456789012:instance/x", "local", deque())
    path = ContactPath(Pacer(0.0), clock, lambda arn, payload: None, CoarseTimeouts(), deque(), "local", None, str)
    chosen = options(None)
    if profile is not None:
        import dataclasses

        chosen = dataclasses.replace(chosen, traffic_profile=profile, start_time="08:30")
    callers.test_started(chosen, path, Pacer(1.0), traffic, clock.now(), processes)
    return callers


def test_what_is_due_counts_from_the_users_all_there_to_the_stop_at_the_samples_weight_and_share():
    clock = Clock()
    traffic = plan_traffic(600, 60, 25, 2.0)  # each contact started stands for 24 of production's
    callers = callers_at(clock, traffic, processes=2)
    assert callers.delivered_so_far() is None  # the users are not all there yet
    clock.advance(30)
    callers.arrivals_began()
    clock.advance(120)  # two emulated minutes: 1,200 of production's contacts, 50 to start, 25 of them here
    callers.contacts_started = 24
    assert callers.delivered_so_far() == (24, 25.0, "contacts")
    assert delivered_line(callers.delivered_so_far()) == "started 24 of the 25 contacts due (96.0 %)"
    callers.test_stopping()
    clock.advance(600)  # the users stop: nothing more is due
    assert callers.delivered_so_far() == (24, 25.0, "contacts")


def test_a_day_profile_makes_what_is_due_minute_by_minute():
    clock = Clock()
    traffic = plan_traffic(600, 60, 0, 2.0)
    profile = Profile.parse("08:30-08:31=60,08:31-09:00=600", default=5)
    callers = callers_at(clock, traffic, profile=profile)
    callers.arrivals_began()
    clock.advance(120)  # a minute at 60 a minute, then one at 600
    assert callers.delivered_so_far() == (0, 660.0, "contacts")
