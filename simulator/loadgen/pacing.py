"""Rate control for an open workload: every invocation has an intended start time, handed out at a
fixed rate whether or not a user is ready. Latency counts from that time (from the actual start if a
slot woke it a little earlier), and an invocation that starts later than the threshold is late: a
generator that cannot keep up is reported, never hidden.
Also the prompt-time distributions (a caller listening to a MessageParticipant).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from simulator.scenario.durations import parse_spec


@dataclass(slots=True)  # not frozen: one per invocation (see connect.invoke.RawInvocation)
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
        # and one loop iteration per invocation would cost more than the accuracy they buy. Later
        # tickets wait in slots of that width, woken together by one timer at the slot's middle (within
        # half a slot of their time): at thousands a second, a timer each is a good part of the loop's work.
        self.coalesce_s = coalesce_s
        self.next_at: float | None = None
        self._slots: dict[int, tuple[asyncio.AbstractEventLoop, list[asyncio.Future[None]]]] = {}
        self.paused = False  # set_rate(0): none start until a rate is set again
        self._resume: asyncio.Future[None] | None = None
        self._version = 0  # of the rate: a ticket that waited through a change takes a new time
        self.started = 0  # paced tickets handed out: starts, on time or late

    def restart(self) -> None:
        self.next_at = None

    def set_rate(self, rate: float) -> None:
        """A new rate from now on (production's arrivals in another span of the day); 0: none at all
        until a rate is set again, not unpaced. Tickets handed out and not yet due are taken again at
        the new rate, in their order, from the earliest of them: waiting users held tickets spaced by
        the old rate, which kept it for as long as they were queued (tens of emulated seconds)."""
        paused = rate <= 0
        if rate == self.rate and paused == self.paused:
            return
        self.rate, self.paused = rate, paused
        self._version += 1
        slots = sorted(self._slots)
        if paused:
            pass
        elif self._resume is not None:  # arrivals again: no catching up on the time none arrived
            resume, self._resume = self._resume, None
            self.next_at = self.now()
            if not resume.done():
                resume.set_result(None)
        elif self.next_at is not None:  # the earliest waiting keeps its time, unless one at the new rate is sooner
            now = self.now()
            self.next_at = max(now, min(slots[0] * self.coalesce_s if slots else self.next_at, now + 1.0 / rate))
        for slot in slots:  # in their order: they take their new times as they wake
            self._wake(slot)

    async def ticket(self) -> Ticket:
        now = self.now()
        if self.rate <= 0 and not self.paused:
            return Ticket(now, 0.0, False)
        while True:
            if self.paused:
                if self._resume is None:
                    self._resume = asyncio.get_running_loop().create_future()
                await asyncio.shield(self._resume)
                now = self.now()
                continue
            if self.next_at is None:
                self.next_at = now
            version = self._version
            intended = self.next_at
            self.next_at += 1.0 / self.rate
            if intended - now > self.coalesce_s:
                await self._wait_in_slot(intended, now)
                now = self.now()
                if self._version != version:  # the rate changed while it waited: a time by the new one
                    continue
            lag = max(0.0, now - intended)
            self.started += 1
            return Ticket(intended, lag, lag > self.late_threshold_s)

    def _wait_in_slot(self, intended: float, now: float) -> asyncio.Future[None]:
        slot = math.floor(intended / self.coalesce_s)
        waiting = self._slots.get(slot)
        if waiting is None:  # the slot's loop is asked for once (on Python 3.11, a getpid() call each time)
            loop = asyncio.get_running_loop()
            waiting = self._slots[slot] = (loop, [])
            loop.call_later((slot + 0.5) * self.coalesce_s - now, self._wake, slot)
        waiter = waiting[0].create_future()
        waiting[1].append(waiter)
        return waiter

    def _wake(self, slot: int) -> None:
        waiting = self._slots.pop(slot, None)  # woken by its timer, or sooner by a new rate
        if waiting is None:
            return
        for waiter in waiting[1]:
            if not waiter.done():  # its task was cancelled (a user stopped)
                waiter.set_result(None)


def parse_duration_distribution(spec: str, rng: random.Random) -> Callable[[], float]:
    """A prompt-time spec (see `parse_spec`) -> a sampler."""
    kind, values = parse_spec(spec)
    if kind == "fixed":
        return lambda: values[0]
    if kind == "uniform":
        return lambda: rng.uniform(values[0], values[1])
    if kind == "exp":
        return lambda: rng.expovariate(1.0 / values[0]) if values[0] > 0 else 0.0
    return lambda: max(0.0, rng.gauss(values[0], values[1]))


def mean_duration(spec: str) -> float:
    """The mean of a prompt-time spec, in seconds (a normal's clipping at 0 left aside)."""
    kind, values = parse_spec(spec)
    return (values[0] + values[1]) / 2 if kind == "uniform" else values[0]


def users_needed(rate: float, users: int, prompt_spec: str) -> int | None:
    """With one prompt between a user's invocations, each user starts at most 1/prompt a second: the
    users the rate needs when `users` are too few for it on prompts alone, else None."""
    prompt = mean_duration(prompt_spec)
    if rate <= 0 or users <= 0 or prompt < users / rate:
        return None
    return math.ceil(rate * prompt) + 1
