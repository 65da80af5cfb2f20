"""A contact's run through loaded flows, as Amazon Connect runs it: each action's parameters,
branches and errors. No I/O: invoking a function, playing a prompt or waiting are the caller's
(`FlowHooks`), and what the caller (the person) does comes from a `CallerModel`. Whatever goes wrong in
a block takes its error branch; never an exception out of a contact.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from simulator.connect.event import Contact, contact_flow_event
from simulator.connect.flow import Action, Flow, FlowSet, flow_id
from simulator.connect.invoke import InvokeBlock, InvokeOutcome

_JSONPATH = re.compile(r"\$\.[A-Za-z0-9_.\-]+")


class FlowHooks(Protocol):
    """What the interpreter asks of its caller: run an invoke block, play a prompt."""

    async def invoke(self, block: InvokeBlock, event: dict[str, Any], flow: Flow) -> InvokeOutcome: ...

    async def prompt(self, text: str) -> None: ...


@dataclass
class ContactState:
    """What a contact carries through its flows."""

    contact: Contact
    external: Any = None
    loop_counters: dict[tuple[str, str], int] = field(default_factory=dict)
    flow_logging: bool = True
    entries: int = 0  # flow entries: the first plus every transfer (the looping flow's loops)
    invocations: int = 0
    errors: int = 0
    versions: set[str] = field(default_factory=set)
    met: set[tuple[str, str]] = field(default_factory=set)  # (function ARN, version) of each invocation
    spoken: list[str] = field(default_factory=list)
    flow_errors: list[tuple[str, str, str]] = field(default_factory=list)  # (flow, block, what went wrong)
    last: tuple[str, str] = ("", "")  # the flow and block the contact was last in


@dataclass(frozen=True)
class ContactLimits:
    """When a contact is a runaway: stopped, and said so (a flow that loops on an answer that never
    comes would otherwise invoke for ever)."""

    max_invocations: int = 1000
    max_steps: int = 100_000
    too_long: Callable[[], bool] = lambda: False  # the caller's clock: past its time limit


class _FlowFault(Exception):
    """Something a block cannot do at run time: it takes the block's error branch, as in Connect."""


def resolve(value: Any, state: ContactState) -> Any:
    """A JSONPath operand (`$.External.x`, `$.Attributes.x`, `$.ContactId`, ...) or a literal.
    Raises KeyError when the path does not resolve."""
    if not isinstance(value, str) or not value.startswith("$."):
        return value
    parts = value[2:].split(".")
    if parts[0] == "External":
        node: Any = state.external
    elif parts[0] == "Attributes":
        node = state.contact.attributes
    else:  # the contact's system data: $.ContactId, $.Channel, $.CustomerEndpoint.Address ...
        return _walk(state.contact.contact_data(), parts, value)
    return _walk(node, parts[1:], value)


def _walk(node: Any, parts: list[str], original: str) -> Any:
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            raise KeyError(original)
        node = node[part]
    return node


def interpolate(text: str, state: ContactState) -> str:
    """Prompt text with `$.External.version`-style references filled in (unresolved: left as is)."""
    def one(match: re.Match[str]) -> str:
        try:
            return str(resolve(match.group(0), state))
        except KeyError:
            return match.group(0)
    return _JSONPATH.sub(one, text)


_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "Equals": lambda a, b: a == b,
    "TextStartsWith": lambda a, b: a.startswith(b),
    "TextEndsWith": lambda a, b: a.endswith(b),
    "TextContains": lambda a, b: b in a,
    "NumberGreaterThan": lambda a, b: float(a) > float(b),
    "NumberLessThan": lambda a, b: float(a) < float(b),
    "NumberGreaterOrEqualTo": lambda a, b: float(a) >= float(b),
    "NumberLessOrEqualTo": lambda a, b: float(a) <= float(b),
}


def _compare(operator: str, left: str, operand: str) -> bool:
    test = _COMPARE.get(operator)
    try:
        return bool(test and test(left, operand))
    except ValueError:
        return False


async def run_contact(flows: FlowSet, state: ContactState, hooks: FlowHooks, *,
                      keep_going: Callable[[ContactState], bool] = lambda s: True,
                      limits: ContactLimits = ContactLimits()) -> str:
    """Run a contact until it disconnects, runs out of transitions, `keep_going` says stop (checked
    at each flow entry) or it runs past `limits`. Returns how it ended: "disconnected", "flow ended",
    "stopped" (by the caller), "error" (an error with no branch to take) or "runaway". Whatever goes
    wrong in a block takes its error branch and is noted in `state.flow_errors`, never raised."""
    flow = flows.start
    state.entries = 1
    current: str | None = flow.start
    for _ in range(limits.max_steps):
        if current is None:
            return "flow ended"
        if state.invocations >= limits.max_invocations or limits.too_long():
            return "runaway"
        action = flow.actions[current]
        state.last = (flow.name, action.identifier)
        try:
            current, transfer = await _step(action, flow, state, hooks)
            if transfer is not None and transfer not in flows.flows:
                raise _FlowFault(f"transfer to a flow that is not loaded: {transfer!r}")
        except _FlowFault as fault:
            state.flow_errors.append((flow.name, action.identifier, str(fault)))
            current = action.errors.get("NoMatchingError") or next(iter(action.errors.values()), None)
            if current is None:
                return "error"
            continue
        if transfer is not None:
            flow = flows.flows[transfer]
            state.entries += 1
            if not keep_going(state):
                return "stopped"
            current = flow.start
        elif current == "__disconnect__":
            return "disconnected"
    return "runaway"


async def _step(action: Action, flow: Flow, state: ContactState,
                hooks: FlowHooks) -> tuple[str | None, str | None]:
    """Run one action; return (next action, flow to transfer to)."""
    kind, p = action.type, action.parameters
    error_next = action.errors.get("NoMatchingError") or next(iter(action.errors.values()), None)
    if kind == "InvokeLambdaFunction":
        block = flow.blocks[action.identifier]
        event = contact_flow_event(state.contact, _resolved_parameters(block.parameters, state))
        outcome = await hooks.invoke(block, event, flow)
        state.invocations += 1
        if outcome.executed_version:
            state.versions.add(outcome.executed_version)
            state.met.add((block.function_arn, outcome.executed_version))
        if outcome.ok:
            state.external = outcome.external
            return action.next_action, None
        state.errors += 1
        return error_next, None
    if kind == "UpdateContactAttributes":
        try:
            attributes = p.get("Attributes") or {}
            if not isinstance(attributes, dict):
                raise _FlowFault(f"Attributes is not an object: {attributes!r:.60}")
            values = {k: str(resolve(v, state)) for k, v in attributes.items()}
        except KeyError as missing:  # all or none
            raise _FlowFault(f"unresolved reference {missing.args[0]}") from None
        state.contact.attributes.update(values)
        return action.next_action, None
    if kind == "MessageParticipant":
        text = str(p.get("Text") or p.get("SSML") or f"prompt {p.get('PromptId', '')}")
        spoken = interpolate(text, state)
        state.spoken.append(spoken)
        await hooks.prompt(spoken)
        return action.next_action, None
    if kind == "Compare":
        try:
            left = str(resolve(p.get("ComparisonValue"), state))
        except KeyError:
            left = ""
        for operator, operands, target in action.conditions:
            if operands and _compare(operator, left, operands[0]):
                return target, None
        return action.errors.get("NoMatchingCondition") or error_next, None
    if kind == "Loop":
        key = (flow.id, action.identifier)
        count = state.loop_counters.get(key, 0)
        try:
            limit = int(str(resolve(p.get("LoopCount", "0"), state)))
        except (KeyError, ValueError):
            raise _FlowFault(f"LoopCount {p.get('LoopCount')!r} is not a whole number") from None
        looping = "ContinueLooping" if count < limit else "DoneLooping"
        state.loop_counters[key] = count + 1 if looping == "ContinueLooping" else 0
        for _, operands, target in action.conditions:
            if operands and operands[0] == looping:
                return target, None
        return action.next_action, None
    if kind == "TransferToFlow":
        try:
            transfer_to = flow_id(str(resolve(p.get("ContactFlowId", ""), state)))
        except KeyError as missing:
            raise _FlowFault(f"unresolved reference {missing.args[0]}") from None
        return None, transfer_to or flow.id
    if kind == "UpdateFlowLoggingBehavior":
        state.flow_logging = p.get("FlowLoggingBehavior", "Enabled") == "Enabled"
        return action.next_action, None
    return "__disconnect__", None  # DisconnectParticipant


def _resolved_parameters(parameters: dict[str, str], state: ContactState) -> dict[str, str]:
    resolved = {}
    for key, value in parameters.items():
        try:
            resolved[key] = str(resolve(value, state))
        except KeyError:
            resolved[key] = ""
    return resolved
