"""Deployment configurations and the traffic plan they imply: the weights CodeDeploy gives the target
version and when, relative to the start of AllowTraffic. Pure functions, shared by emulator and driver.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.deployment.vocabulary import PREDEFINED_LAMBDA_CONFIGS, PREFIX
from simulator.scenario.spec import TrafficRouting

MAX_PERCENT_PER_STEP = 99
MAX_SHIFT_MINUTES = 2880


@dataclass(frozen=True)
class Shift:
    """At `offset` seconds into AllowTraffic, the target gets `weight`; None is the final flip."""

    offset: float
    weight: float | None


def predefined_configs() -> dict[str, TrafficRouting]:
    return {PREFIX + short: TrafficRouting(kind, pct, minutes)
            for short, (kind, pct, minutes) in PREDEFINED_LAMBDA_CONFIGS.items()}


def check_routing(routing: TrafficRouting) -> str | None:
    """Why CodeDeploy would refuse this routing, or None."""
    if routing.type == "AllAtOnce":
        return None
    if not 1 <= routing.percentage <= MAX_PERCENT_PER_STEP:
        return f"The traffic percentage must be between 1 and {MAX_PERCENT_PER_STEP}."
    if routing.interval_minutes < 1:
        return "The interval must be at least 1 minute."
    steps = 1 if routing.type == "TimeBasedCanary" else -(-100 // routing.percentage) - 1
    if steps * routing.interval_minutes > MAX_SHIFT_MINUTES:
        return (f"The total time from the first to the last traffic shift cannot exceed "
                f"{MAX_SHIFT_MINUTES} minutes.")
    return None


def traffic_plan(routing: TrafficRouting, final_flip_after_intervals: int = 1) -> list[Shift]:
    """The shifts of a configuration. Linear: +p % each interval while below 100 %, then the flip
    `final_flip_after_intervals` intervals after the last weighted step (unsettled on AWS; 1 by
    default, 2 matches the docs' "Linear10PercentEvery10Minutes completes in 100 minutes")."""
    if routing.type == "AllAtOnce":
        return [Shift(0.0, None)]
    interval = routing.interval_minutes * 60.0
    if routing.type == "TimeBasedCanary":
        return [Shift(0.0, routing.percentage / 100), Shift(interval, None)]
    shifts, k = [], 1
    while k * routing.percentage < 100:
        shifts.append(Shift((k - 1) * interval, round(k * routing.percentage / 100, 6)))
        k += 1
    shifts.append(Shift(shifts[-1].offset + final_flip_after_intervals * interval, None))
    return shifts
