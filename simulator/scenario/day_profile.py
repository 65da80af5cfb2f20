"""Production's arrivals over the day, as a scenario's `traffic_profile` (or Locust's option) gives
them: spans of the day, each with its contacts a minute. The load generator drives it, the planner
and the alarm lint read its peak and its quietest hour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.scenario.reader import minute_of_day as scenario_minute_of_day


class ProfileError(ValueError):
    pass


def clock_minutes(clock: str) -> int:
    minutes = scenario_minute_of_day(clock)
    if minutes is None:
        raise ProfileError(f"{clock!r} is not a time of day HH:MM")
    return minutes


@dataclass(frozen=True)
class Profile:
    """Production's arrivals over the day: (from, to, contacts per minute), minutes of the day; a
    span may wrap past midnight. Outside every span, `default`."""

    spans: tuple[tuple[int, int, float], ...]
    default: float = 0.0

    @classmethod
    def parse(cls, text: str, default: float = 0.0) -> Profile:
        """`09:00-17:00=600,17:00-09:00=30` (Locust's option; a scenario's [[load.profile]] is the same)."""
        spans = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            window, _, rate = part.partition("=")
            start, _, end = window.partition("-")
            try:
                per_minute = float(rate)
            except ValueError:
                raise ProfileError(f"{part!r}: expected FROM-TO=CONTACTS_PER_MINUTE") from None
            if not per_minute > 0:
                raise ProfileError(f"{part!r}: contacts per minute must be > 0")
            spans.append((clock_minutes(start), clock_minutes(end), per_minute))
        return cls(tuple(spans), default)

    def at(self, minute_of_day: float) -> float:
        for start, end, per_minute in self.spans:
            inside = start <= minute_of_day < end if start < end else (minute_of_day >= start or minute_of_day < end)
            if inside:
                return per_minute
        return self.default

    def contacts_between(self, start_time: str, since_s: float, until_s: float) -> float:
        """The contacts due from `since_s` to `until_s` emulated seconds after `start_time` (the day's
        clock at the run's start): the rate minute by minute (spans fall on whole minutes)."""
        first = clock_minutes(start_time) * 60.0
        total, at = 0.0, since_s
        while at < until_s:
            following = min(until_s, at + 60.0 - (first + at) % 60.0)
            total += self.at(((first + at) / 60.0) % 1440) / 60.0 * (following - at)
            at = following
        return total

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> Profile:
        """A profile as a run's record keeps it (dataclasses.asdict)."""
        return cls(tuple((int(a), int(b), float(r)) for a, b, r in recorded["spans"]), float(recorded["default"]))

    @property
    def peak(self) -> float:
        return max([self.default, *(span[2] for span in self.spans)])

    @property
    def quietest(self) -> float:
        """The lowest rate of any hour with traffic (0: none at all)."""
        rates = [self.at(minute) for minute in range(0, 1440, 5)]
        return min((r for r in rates if r > 0), default=0.0)
