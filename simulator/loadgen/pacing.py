"""Rate control for an open workload: every invocation has an intended start time, handed out at a
fixed rate whether or not a user is ready. Latency counts from that time, and an invocation that
starts later than the threshold is late: a generator that cannot keep up is reported, never hidden.
Also the prompt-time distributions (a caller listening to a MessageParticipant).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Ticket:
    intended: float  # wall epoch seconds
    lag: float       # how late the invocation starts, seconds (0 when on time)
    late: bool


class Pacer:
    """Hands out intended start times at `rate` per second (0: no pacing, start at once)."""

    def __init__(self, rate: float, late_threshold_s: float = 0.02,
                 now: Callable[[], float] = time.time, coalesce_s: float = 0.001) -> None:
        self.rate, self.late_threshold_s, self.now = rate, late_threshold_s, now
        # A ticket due within `coalesce_s` starts at once (at most that early, never late): one timer
        # and one loop iteration per invocation would cost more than the accuracy they buy.
        self.coalesce_s = coalesce_s
        self.next_at: float | None = None

    def restart(self) -> None:
        self.next_at = None

    async def ticket(self) -> Ticket:
        now = self.now()
        if self.rate <= 0:
            return Ticket(now, 0.0, False)
        if self.next_at is None:
            self.next_at = now
        intended = self.next_at
        self.next_at += 1.0 / self.rate
        if intended - now > self.coalesce_s:
            await asyncio.sleep(intended - now)
            now = self.now()
        lag = max(0.0, now - intended)
        return Ticket(intended, lag, lag > self.late_threshold_s)


class DistributionError(ValueError):
    pass


def parse_duration_distribution(spec: str, rng: random.Random) -> Callable[[], float]:
    """`fixed:S`, `uniform:LO:HI`, `exp:MEAN` or `normal:MEAN:SD` (seconds) -> a sampler."""
    kind, *raw = spec.split(":")
    try:
        values = [float(v) for v in raw]
    except ValueError:
        raise DistributionError(f"prompt time {spec!r}: numbers expected after the kind") from None
    if any(v < 0 for v in values):
        raise DistributionError(f"prompt time {spec!r}: seconds cannot be negative")
    if kind == "fixed" and len(values) == 1:
        return lambda: values[0]
    if kind == "uniform" and len(values) == 2 and values[0] <= values[1]:
        return lambda: rng.uniform(values[0], values[1])
    if kind == "exp" and len(values) == 1:
        return lambda: rng.expovariate(1.0 / values[0]) if values[0] > 0 else 0.0
    if kind == "normal" and len(values) == 2:
        return lambda: max(0.0, rng.gauss(values[0], values[1]))
    raise DistributionError(f"prompt time {spec!r}: expected fixed:S, uniform:LO:HI, exp:MEAN or normal:MEAN:SD")


def mean_duration(spec: str) -> float:
    """The mean of a valid prompt-time spec, in seconds (a normal's clipping at 0 left aside)."""
    kind, *raw = spec.split(":")
    values = [float(v) for v in raw]
    return (values[0] + values[1]) / 2 if kind == "uniform" else values[0]
