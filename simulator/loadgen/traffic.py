"""Production's traffic, driven on a compressed clock: contacts arrive at production's rate per
emulated minute, so at time scale X the generator starts X times as many a real second. Where that
is more than the machine (or the user's ceiling) allows, it starts fewer and each stands for `weight`
production contacts: CloudWatch counts each of their invocations `weight` times, and every count the
analysis reports is scaled back with its sampling interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.scenario.day_profile import clock_minutes

USERS_HEADROOM = 1.5  # users for 1.5 times the contacts in progress: arrivals come in bursts


@dataclass(frozen=True)
class TrafficPlan:
    contacts_per_minute: float  # production's arrivals, per emulated minute
    scale: float  # emulated seconds per real second
    needed_per_second: float  # real contact starts a second for production's rate
    driven_per_second: float  # real contact starts a second the generator makes
    weight: float  # production contacts each real one stands for (1: driven for real)
    contact_seconds: float  # a contact's expected length in real seconds
    users: int  # callers needed to start `driven_per_second` (arrival rate x contact length, with headroom)
    held_per_second: float = 0.0  # real contact starts a second the machine was measured to hold (0: not measured)
    capacity: str = ""  # how that was measured (or why not), said with the plan

    @property
    def sampled(self) -> bool:
        return self.weight > 1.0

    @property
    def limited_by_machine(self) -> bool:
        """Sampled because the machine cannot hold production's rate (not for the scenario's ceiling)."""
        return self.sampled and 0 < self.held_per_second and self.driven_per_second == self.held_per_second

    def need(self) -> str:
        return (f"production {self.contacts_per_minute:g} contacts/min at x{self.scale:g} is "
                f"{self.needed_per_second:,.1f} real contacts/s")

    def describe(self) -> str:
        what = self.need()
        if self.limited_by_machine:
            what += (f", more than this machine holds: {self.capacity}, {self.held_per_second:,.1f} contacts/s of "
                     f"this flow; so it samples: starting {self.driven_per_second:,.1f}/s, each standing for "
                     f"{self.weight:.3g} production contacts (CloudWatch counts them so; counts are scaled back "
                     "with their sampling interval)")
        elif self.sampled:
            what += (f"; above the ceiling (max_contacts_per_second), so it samples: starting "
                     f"{self.driven_per_second:,.1f}/s, each standing for {self.weight:.3g} production contacts "
                     "(CloudWatch counts them so; counts are scaled back with their sampling interval)")
        elif self.held_per_second > 0:
            what += f"; driven for real ({self.capacity}, {self.held_per_second:,.1f} contacts/s of this flow)"
        elif self.capacity:
            what += f"; driven for real, what this machine holds {self.capacity}"
        else:
            what += "; driven for real"
        return what + (f"; {self.users} users (arrivals x {self.contact_seconds:.2f} s a contact, with headroom); "
                       f"each Invoke a contact makes is {self.driven_per_second:,.0f} a second more of real load "
                       "(docs/speed.md: what one process sustains; Locust's --processes adds cores)")


def plan_traffic(contacts_per_minute: float, scale: float, max_per_second: float,
                 contact_seconds: float, held_per_second: float = 0.0, capacity: str = "") -> TrafficPlan:
    """The plan for `contacts_per_minute` of production at time scale `scale`, starting at most
    `max_per_second` real contacts a second (0: no ceiling) and at most `held_per_second`, what the
    machine was measured to hold (0: not measured; `capacity` says how); a contact lasts
    `contact_seconds` real seconds on average."""
    needed = contacts_per_minute / 60.0 * scale
    driven = min(needed, max_per_second) if max_per_second > 0 else needed
    if held_per_second > 0 and driven > held_per_second:
        driven = held_per_second
    weight = needed / driven if driven > 0 else 1.0
    return TrafficPlan(contacts_per_minute, scale, needed, driven, weight, contact_seconds,
                       users_for(driven, contact_seconds), held_per_second, capacity)


def users_for(per_second: float, contact_seconds: float) -> int:
    """The users that start `per_second` contacts of `contact_seconds` each: those in progress at
    once (Little's law), with headroom for bursts of arrivals."""
    return max(1, math.ceil(per_second * contact_seconds * USERS_HEADROOM) + 1)



def expected_contact_seconds(loops: int, prompt_seconds: float, scale: float) -> float:
    """A looping contact's real length: its prompts in emulated seconds, compressed, and a few
    milliseconds an invocation (an estimate to size the users; a shortfall shows as late starts)."""
    return loops * (prompt_seconds / scale + 0.005)


def minute_of_day(start_time: str, emulated_seconds_since_start: float) -> float:
    """The emulated time of day, in minutes, `emulated_seconds_since_start` after `start_time`."""
    return (clock_minutes(start_time) + emulated_seconds_since_start / 60.0) % 1440



def delivered_line(delivered: tuple[int, float, str] | None) -> str | None:
    """The generator's live keeping of its schedule, (started, due, what) since the users were all
    there, in words (None before a whole one is due)."""
    if delivered is None or delivered[1] < 1:
        return None
    started, due, what = delivered
    return f"started {started:,} of the {due:,.0f} {what} due ({100 * min(1.0, started / due):.1f} %)"
