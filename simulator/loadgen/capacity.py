"""The rate this process can hold, measured when the test starts: contacts run the scenario's flows
through the whole per-invocation path (the interpreter, the Invoke blocks, the fast invoker and its
connections, the contact's hooks, the flow log entries formatted and their PutLogEvents body built),
each Invoke sent as Lambda's DryRun, so that nothing runs, is counted or is routed. The process's CPU
per invocation, on this machine as busy as it is now, sets how many invocations a second it can hold;
production's traffic above that is sampled (`traffic.plan_traffic`), and the start says so."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from simulator.client.coarse_timeouts import CoarseTimeouts
from simulator.connect.event import Contact
from simulator.connect.flow import FlowSet
from simulator.connect.interpreter import ContactLimits, ContactState, run_contact
from simulator.connect.invoke import RawInvocation
from simulator.loadgen.connect_telemetry import ConnectTelemetry
from simulator.loadgen.contact_hooks import ContactHooks, ContactPath
from simulator.loadgen.pacing import Pacer
from simulator.scenario.spec import ConnectInstance

# The share of one core the invocations may take: the rest is Locust's statistics, the record, the
# reports' publishing and the machine's slow moments (bench/rate.py: at 90 % of the best closed loop,
# starts fall behind whenever the core slows down; at 50 to 80 % they keep to the rate).
HOLD_SHARE = 0.5


@dataclass(frozen=True)
class Capacity:
    cpu_per_invocation_s: float  # this process's CPU seconds per invocation, measured
    invocations: int  # invocations measured (past the warm-up)
    invocations_per_contact: float  # as the flows ran with DryRun's empty answers

    @property
    def invocations_per_second(self) -> float:
        """What one process can hold: HOLD_SHARE of a core, at the measured cost."""
        return HOLD_SHARE / self.cpu_per_invocation_s if self.cpu_per_invocation_s > 0 else float("inf")

    def describe(self) -> str:
        return (f"this process measured {1e6 * self.cpu_per_invocation_s:,.0f} us of CPU per invocation "
                f"({self.invocations:,} DryRun invocations through the whole path), so it holds about "
                f"{self.invocations_per_second:,.0f} invocations/s ({100 * HOLD_SHARE:.0f} % of a core)")


async def measure_capacity(flows: FlowSet, dry_runs: Callable[[str, bytes], Awaitable[RawInvocation]], clock: Any,
                           connect: ConnectInstance, *, region: str, account: str, loops_per_contact: int,
                           concurrency: int = 32, warm: int = 200, counted: int = 2000,
                           max_seconds: float = 3.0) -> Capacity:
    """Run contacts `concurrency` at a time, `warm` invocations unmeasured then about `counted`
    measured (fewer if `max_seconds` of wall time pass first: a machine that slow has its answer)."""
    telemetry = ConnectTelemetry(connect, region=region, account=account, now=clock.now)  # bodies built, never sent
    # no pacing; rows and flow log notes made and dropped, nothing published
    path = ContactPath(Pacer(0.0), clock, dry_runs, CoarseTimeouts(), deque(), "capacity", telemetry, str)
    instance_arn = connect.arn(region, account)
    limits = ContactLimits(max_invocations=max(10, 10 * loops_per_contact))

    async def contacts(target: int, deadline: float) -> tuple[int, int]:
        invocations = contacts_run = 0

        async def caller() -> None:
            nonlocal invocations, contacts_run
            while invocations < target and time.monotonic() < deadline:
                state = ContactState(Contact(channel="CHAT", instance_arn=instance_arn))
                hooks = ContactHooks(path, state, lambda: 0.0)
                await run_contact(flows, state, hooks, keep_going=lambda s: s.entries <= loops_per_contact,
                                  limits=limits)
                invocations += state.invocations
                contacts_run += 1
                path.finished.clear()
                if state.invocations == 0:  # a flow that invokes nothing here: nothing to measure
                    return

        await asyncio.gather(*(caller() for _ in range(concurrency)))
        telemetry.take_bodies()
        return invocations, contacts_run

    await contacts(warm, time.monotonic() + max_seconds)
    cpu = time.process_time()
    invocations, contacts_run = await contacts(counted, time.monotonic() + max_seconds)
    used = time.process_time() - cpu
    telemetry.close()
    return Capacity(used / invocations if invocations else 0.0, invocations,
                    invocations / contacts_run if contacts_run else 0.0)
