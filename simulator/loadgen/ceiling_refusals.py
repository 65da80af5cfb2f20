"""The requests the emulator refused at its own ceilings (where AWS would have taken them) during one
test, from its health route: a run they touched is not what the scenario asks, and its verdict is
withheld (report.verdict). A web UI's tests share one emulator, so each test counts from its start."""

from __future__ import annotations

from typing import Any

from simulator.client.admin_client import emulator_health
from simulator.loadgen.bridge import AsyncioBridge

Refusals = dict[str, dict[str, int]]  # by ceiling: {"requests": n, "ceiling": the ceiling's value}


class CeilingRefusals:
    """What the emulator at `endpoint` has refused, counted from the test's start (no endpoint: AWS,
    where nothing is refused by shiftsim)."""

    def __init__(self, bridge: AsyncioBridge) -> None:
        self.bridge = bridge
        self.endpoint: str | None = None
        self.before: Refusals = {}

    def test_started(self, endpoint: str | None) -> None:
        self.endpoint = endpoint
        self.before = self._so_far() or {}

    def during_test(self) -> Refusals:
        """Those refused since the test started, by ceiling."""
        now = self._so_far()
        if now is None:
            return {}
        refused = {}
        for kind, at_end in now.items():
            before = self.before.get(kind, {}).get("requests", 0)
            if at_end["requests"] > before:
                refused[kind] = {"requests": at_end["requests"] - before, "ceiling": at_end["ceiling"]}
        return refused

    def _so_far(self) -> Refusals | None:
        """All the emulator has refused; None with none answering (its death is said as such, not here)."""
        if not self.endpoint:
            return None
        try:
            health: dict[str, Any] = self.bridge.run(emulator_health(self.endpoint), timeout=10)
        except Exception:
            return None
        return dict(health.get("refused_at_ceilings") or {})
