"""One contact's side of a load test: the interpreter's I/O (an Invoke block paced and sent through
the load's invoker, prompts and waits that take time, the blocks it ran told to the Connect
instance's reports) and each finished invocation as the load reports it to Locust and the record.
This is the per-invocation path: nothing here waits on Locust, and nothing is formatted that a
batch can format later. What it uses of the load is one `ContactPath`, the same for every contact."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.connect.flow import Action, Flow
from simulator.connect.interpreter import ContactState
from simulator.connect.invoke import ChainBudget, InvokeBlock, InvokeOutcome, Invoker, run_invoke_block

if TYPE_CHECKING:  # types only: importing this module must not import the clients before gevent patches ssl
    from simulator.client.coarse_timeouts import CoarseTimeouts
    from simulator.deployment.clock import Clock
    from simulator.loadgen.connect_telemetry import ConnectTelemetry
    from simulator.loadgen.pacing import Pacer


@dataclass(slots=True)  # not frozen: see RawInvocation
class Invocation:
    """One finished invocation, as the reporter needs it."""

    row: tuple[Any, ...]
    outcome: InvokeOutcome
    response_time_ms: float
    start: float
    response_length: int


@dataclass(slots=True)
class ContactPath:
    """What every contact of a load uses, on every invocation: made when its test starts (a load
    session's), or for contacts that are only measured (loadgen.capacity) or counted (bench)."""

    pacer: Pacer  # each invocation's intended start (unpaced: at once)
    clock: Clock  # the deployment's emulated time
    invoker: Invoker
    timeouts: CoarseTimeouts  # the Invoke blocks' time limits, on the loop's thread
    finished: deque[Invocation]  # for the reporter: Locust's statistics and the record
    node: str  # the record's worker column
    telemetry: ConnectTelemetry | None  # the Connect instance's reports, told of each block that ran
    qualifier: Callable[[str], str]  # the record's `Function:qualifier` of a block's function ARN
    emulated_prompts: bool = False  # production's terms: prompts play in emulated seconds
    result_attribute: str | None = None  # the flow's attribute whose value the record keeps, with when


class ContactHooks:
    """The interpreter's I/O for one contact: paced invocations, prompts that take time."""

    def __init__(self, path: ContactPath, state: ContactState, prompt_time: Callable[[], float]) -> None:
        self.path, self.state, self.prompt_time = path, state, prompt_time
        self.budget = ChainBudget()
        self.started = 0.0  # emulated
        self.result: str | None = None  # the result attribute's value, once the flow has set it
        self.result_s: float | None = None  # emulated seconds from the contact's start to it
        if not path.result_attribute:  # the interpreter tells the instance's reports directly
            self.block_ran = path.telemetry.block_ran if path.telemetry is not None else None  # type: ignore[assignment]
        self.now = path.clock.now  # the contact's data tells emulated time, as the deployment's clock does

    async def invoke(self, block: InvokeBlock, event: dict[str, Any], flow: Flow) -> InvokeOutcome:
        path = self.path
        ticket = await path.pacer.ticket()
        start, emulated = time.time(), path.clock.now()
        budget = ChainBudget(float(block.timeout_s)) if block.asynchronous else self.budget  # nobody waits on it
        outcome = await run_invoke_block(block, event, path.invoker, budget, timeout=path.timeouts.timeout)
        end = time.time()
        qualifier = path.qualifier(block.function_arn)
        row = (ticket.intended, start, end, emulated, self.state.contact.contact_id, self.state.entries,
               f"{flow.name}/{block.identifier}", qualifier, outcome.executed_version or "", outcome.branch,
               outcome.reason or "", outcome.retries, outcome.http_status or 0, outcome.injected or "",
               int(ticket.late), path.node)
        # Locust's response time counts from the intended start when late (the wait is the caller's too),
        # from the actual start when a slot woke it a little early: never below the invocation's own time
        path.finished.append(Invocation(row, outcome, (end - min(ticket.intended, start)) * 1000.0, start,
                                           outcome.response_bytes))
        return outcome

    def block_ran(self, flow: Flow, action: Action, state: ContactState, outcome: InvokeOutcome | None,
                  fault: str | None) -> None:
        if self.path.telemetry is not None:
            self.path.telemetry.block_ran(flow, action, state, outcome, fault)
        wanted = self.path.result_attribute
        if wanted and self.result is None and wanted in state.contact.attributes:
            self.result = state.contact.attributes[wanted]
            self.result_s = round(self.path.clock.now() - self.started, 3)

    async def prompt(self, text: str) -> None:
        self.budget.reset()
        seconds = self.prompt_time()
        if self.path.emulated_prompts:
            seconds /= self.path.clock.scale
        await asyncio.sleep(seconds)

    async def wait(self, seconds: float) -> None:
        """A Wait block: emulated seconds, as the deployment's clock counts them."""
        self.budget.reset()
        await asyncio.sleep(max(0.0, seconds) / self.path.clock.scale)
