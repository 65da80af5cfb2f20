"""One contact's side of a load test: the interpreter's I/O (an Invoke block paced and sent through
the session's invoker, prompts and waits that take time, the blocks it ran told to the Connect
instance's reports) and each finished invocation as the session reports it to Locust and the record.
This is the per-invocation path: nothing here waits on Locust, and nothing is formatted that a
batch can format later."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from simulator.connect.flow import Action, Flow
from simulator.connect.interpreter import ContactState
from simulator.connect.invoke import ChainBudget, InvokeBlock, InvokeOutcome, run_invoke_block


@dataclass(slots=True)  # not frozen: see RawInvocation
class Invocation:
    """One finished invocation, as the reporter needs it."""

    row: tuple[Any, ...]
    outcome: InvokeOutcome
    response_time_ms: float
    start: float
    response_length: int



class ContactHooks:
    """The interpreter's I/O for one contact: paced invocations, prompts that take time."""

    def __init__(self, session: Any, state: ContactState, prompt_time: Any) -> None:
        self.session, self.state, self.prompt_time = session, state, prompt_time
        self.budget = ChainBudget()
        self.started = 0.0  # emulated
        self.result: str | None = None  # the result attribute's value, once the flow has set it
        self.result_s: float | None = None  # emulated seconds from the contact's start to it
        if not session.options.result_attribute:  # the interpreter tells the instance's reports directly
            self.block_ran = session.telemetry.block_ran if session.telemetry is not None else None  # type: ignore[assignment]
        self.now = session.clock.now  # the contact's data tells emulated time, as the deployment's clock does

    async def invoke(self, block: InvokeBlock, event: dict[str, Any], flow: Flow) -> InvokeOutcome:
        session = self.session
        ticket = await session.pacer.ticket()
        start, emulated = time.time(), session.clock.now()
        assert session.invoker is not None
        budget = ChainBudget(float(block.timeout_s)) if block.asynchronous else self.budget  # nobody waits on it
        outcome = await run_invoke_block(block, event, session.invoker, budget,
                                         contact_id=self.state.contact.contact_id, flow_id=flow.id,
                                         flow_name=flow.name, timeout=session.timeouts.timeout)
        end = time.time()
        qualifier = session._qualifier(block.function_arn)
        row = (ticket.intended, start, end, emulated, self.state.contact.contact_id, self.state.entries,
               f"{flow.name}/{block.identifier}", qualifier, outcome.executed_version or "", outcome.branch,
               outcome.reason or "", outcome.retries, outcome.http_status or 0, outcome.injected or "",
               int(ticket.late), session.node)
        # Locust's response time counts from the intended start when late (the wait is the caller's too),
        # from the actual start when a slot woke it a little early: never below the invocation's own time
        session.finished.append(Invocation(row, outcome, (end - min(ticket.intended, start)) * 1000.0, start,
                                           outcome.response_bytes))
        return outcome

    def block_ran(self, flow: Flow, action: Action, state: ContactState, outcome: InvokeOutcome | None,
                  fault: str | None) -> None:
        if self.session.telemetry is not None:
            self.session.telemetry.block_ran(flow, action, state, outcome, fault)
        wanted = self.session.options.result_attribute
        if wanted and self.result is None and wanted in state.contact.attributes:
            self.result = state.contact.attributes[wanted]
            self.result_s = round(self.session.clock.now() - self.started, 3)

    async def prompt(self, text: str) -> None:
        self.budget.reset()
        seconds = self.prompt_time()
        if self.session.traffic is not None:  # production's terms: prompts play in emulated seconds
            seconds /= self.session.clock.scale
        await asyncio.sleep(seconds)

    async def wait(self, seconds: float) -> None:
        """A Wait block: emulated seconds, as the deployment's clock counts them."""
        self.budget.reset()
        await asyncio.sleep(max(0.0, seconds) / self.session.clock.scale)
