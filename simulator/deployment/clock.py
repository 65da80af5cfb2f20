"""The emulated clock shared by the emulator's services and the deployment controller.

Emulated time runs `scale` times faster than wall time, so a 100-minute linear deployment can be
rehearsed in 100 s (scale 60). Everything that waits on deployment time waits on a `Clock`, never on
`asyncio.sleep` directly; tests use `ManualClock` and move time themselves.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

# The fastest clock a rehearsal runs on: an emulated 10 minutes a real second. Faster, alarm periods,
# CodeDeploy's polls and the generator's arrivals come closer together than one process serves them.
MAX_SCALE = 600.0
# Production's arrivals a rehearsal models: beyond them (a contact center of a million contacts a
# minute), sampling weights pass what CloudWatch's counts hold faithfully.
MAX_CONTACTS_PER_MINUTE = 1_000_000.0


class Clock(Protocol):
    """Emulated epoch seconds, and waiting in emulated seconds."""

    scale: float

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    async def sleep_until(self, when: float) -> None: ...


class ScaledClock:
    """Wall time sped up by `scale`, starting at the wall-clock epoch of its creation."""

    def __init__(self, scale: float = 1.0, start: float | None = None) -> None:
        if not scale > 0:
            raise ValueError(f"time scale must be > 0, got {scale}")
        self.scale = float(scale)
        self._origin_wall = time.monotonic()
        self._origin = time.time() if start is None else float(start)

    def now(self) -> float:
        return self._origin + (time.monotonic() - self._origin_wall) * self.scale

    def to_wall_seconds(self, emulated_seconds: float) -> float:
        return emulated_seconds / self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)

    async def sleep_until(self, when: float) -> None:
        # Re-check after waking: monotonic sleeps may end a hair early.
        while (remaining := when - self.now()) > 0:
            await asyncio.sleep(remaining / self.scale)


class ManualClock:
    """A clock that moves only when a test calls `advance`; sleepers wake in deadline order."""

    scale = 1.0

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + max(0.0, seconds))

    async def sleep_until(self, when: float) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._order), future))
        await future

    async def advance(self, seconds: float, settle_rounds: int = 20) -> None:
        """Move time forward, waking every sleeper whose deadline passes, in order."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, when)
            if not future.done():
                future.set_result(None)
            await settle(settle_rounds)
        self._now = target
        await settle(settle_rounds)


async def settle(rounds: int = 20) -> None:
    """Let ready tasks run (including ones that in turn wake others) before moving on."""
    for _ in range(rounds):
        await asyncio.sleep(0)
