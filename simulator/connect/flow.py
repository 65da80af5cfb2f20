"""The Amazon Connect flow language, as the flow designer exports it: load, validate and interpret.

Supported action types: InvokeLambdaFunction, UpdateContactAttributes, MessageParticipant, Compare,
Loop, TransferToFlow (to itself or to another flow file beside it), UpdateFlowLoggingBehavior and
DisconnectParticipant; Transitions with NextAction, Errors and Conditions; `$.External`,
`$.Attributes` and the contact's system data as JSONPath operands. Everything is checked at load
time: an unknown action type or a dangling transition names the action and the file.

The interpreter does no I/O: invoking a function and playing a prompt are the caller's (`FlowHooks`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from simulator.arn import ArnError, parse_alias_arn
from simulator.connect.event import Contact, contact_flow_event
from simulator.connect.function_map import FunctionMap, UnmappedFunction
from simulator.connect.invoke import BlockConfigError, InvokeBlock, InvokeOutcome

MAX_ACTIONS = 250
SUPPORTED = ("InvokeLambdaFunction", "UpdateContactAttributes", "MessageParticipant", "Compare",
             "Loop", "TransferToFlow", "UpdateFlowLoggingBehavior", "DisconnectParticipant")
_JSONPATH = re.compile(r"\$\.[A-Za-z0-9_.\-]+")


class FlowError(ValueError):
    """A flow file that cannot be run; the message names the file and the action."""


@dataclass(frozen=True)
class Action:
    identifier: str
    type: str
    parameters: dict[str, Any]
    next_action: str | None
    errors: dict[str, str | None]
    conditions: tuple[tuple[str, tuple[str, ...], str | None], ...]  # (operator, operands, next)


@dataclass
class Flow:
    id: str
    name: str
    start: str
    actions: dict[str, Action]
    source: str
    blocks: dict[str, InvokeBlock] = field(default_factory=dict)


@dataclass
class FlowSet:
    """A flow and every flow it can transfer to, by id (the file's stem)."""

    entry: str
    flows: dict[str, Flow]

    @property
    def start(self) -> Flow:
        return self.flows[self.entry]

    def block_targets(self) -> list[dict[str, str]]:
        """Each Invoke block: its flow, its identifier, the ARN it names and the alias it invokes."""
        return [{"flow": flow.name, "block": block_id, "named": flow.actions[block_id].parameters.get(
                    "LambdaFunctionARN", ""), "invokes": block.function_arn}
                for flow in self.flows.values() for block_id, block in flow.blocks.items()]


def load_flow(path: str | Path, *, functions: FunctionMap | None = None,
              retry_function_errors: bool = False) -> FlowSet:
    """Load a flow file and, transitively, the flows its TransferToFlow actions name; each Invoke
    block's function through `functions` (without it, each must name a qualified alias ARN)."""
    entry = Path(path)
    flows: dict[str, Flow] = {}
    pending = [entry]
    while pending:
        file = pending.pop()
        flow = _parse_file(file, functions, retry_function_errors)
        flows[flow.id] = flow
        for action in flow.actions.values():
            if action.type == "TransferToFlow":
                target = _flow_id(action.parameters.get("ContactFlowId", ""))
                if target is None:
                    continue  # a JSONPath: resolved at run time among loaded flows
                if target not in flows and all(p.stem != target for p in pending):
                    sibling = file.parent / f"{target}.json"
                    if not sibling.exists():
                        raise FlowError(f"{file}: action {action.identifier}: TransferToFlow names flow "
                                        f"{target!r}, but there is no {sibling}")
                    pending.append(sibling)
    return FlowSet(entry.stem, flows)


def _flow_id(value: str) -> str | None:
    """`arn:...:instance/X/contact-flow/ID` or `ID` -> ID; None for a JSONPath."""
    if not isinstance(value, str) or value.startswith("$."):
        return None
    return value.rsplit("/", 1)[-1]


def _parse_file(file: Path, functions: FunctionMap | None, retry_function_errors: bool) -> Flow:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FlowError(f"{file}: cannot read flow: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise FlowError(f"{file}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Actions"), list):
        raise FlowError(f"{file}: not an exported flow (expected an object with Version, StartAction, Actions)")
    actions_data = data["Actions"]
    if len(actions_data) > MAX_ACTIONS:
        raise FlowError(f"{file}: {len(actions_data)} actions, more than Connect's {MAX_ACTIONS}")
    actions: dict[str, Action] = {}
    for index, raw in enumerate(actions_data):
        action = _parse_action(file, index, raw)
        if action.identifier in actions:
            raise FlowError(f"{file}: action identifier {action.identifier!r} appears twice")
        actions[action.identifier] = action
    start = data.get("StartAction")
    if not isinstance(start, str) or start not in actions:
        raise FlowError(f"{file}: StartAction {start!r} is not one of the flow's actions")
    for action in actions.values():
        targets = [action.next_action, *action.errors.values(), *(c[2] for c in action.conditions)]
        for target in targets:
            if target is not None and target not in actions:
                raise FlowError(f"{file}: action {action.identifier}: transition to unknown action {target!r}")
    metadata = _shaped(data.get("Metadata"), dict, f"{file}: Metadata")
    name = metadata.get("name") if isinstance(metadata.get("name"), str) and metadata.get("name") else file.stem
    flow = Flow(file.stem, name, start, actions, str(file))
    for action in actions.values():
        if action.type == "InvokeLambdaFunction":
            flow.blocks[action.identifier] = _invoke_block(file, action, functions, retry_function_errors)
    return flow


def _parse_action(file: Path, index: int, raw: Any) -> Action:
    where = f"{file}: Actions[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("Identifier"), str):
        raise FlowError(f"{where}: an action needs an Identifier")
    identifier = raw["Identifier"]
    kind = raw.get("Type")
    if kind not in SUPPORTED:
        raise FlowError(f"{file}: action {identifier}: type {kind!r} is not supported "
                        f"(supported: {', '.join(SUPPORTED)})")
    where = f"{file}: action {identifier}"
    transitions = _shaped(raw.get("Transitions"), dict, f"{where}: Transitions")
    errors = {}
    for error in _shaped(transitions.get("Errors"), list, f"{where}: Transitions.Errors"):
        error = _shaped(error, dict, f"{where}: Transitions.Errors[]")
        errors[_text(error.get("ErrorType", ""), f"{where}: ErrorType")] = _target(error, where)
    conditions = []
    for condition in _shaped(transitions.get("Conditions"), list, f"{where}: Transitions.Conditions"):
        condition = _shaped(condition, dict, f"{where}: Transitions.Conditions[]")
        spec = _shaped(condition.get("Condition"), dict, f"{where}: Condition")
        operands = tuple(str(o) for o in _shaped(spec.get("Operands"), list, f"{where}: Condition.Operands"))
        operator = _text(spec.get("Operator", "Equals"), f"{where}: Condition.Operator")
        conditions.append((operator, operands, _target(condition, where)))
    parameters = _shaped(raw.get("Parameters"), dict, f"{where}: Parameters")
    return Action(identifier, kind, dict(parameters), _target(transitions, where), errors, tuple(conditions))


def _shaped(value: Any, kind: type, where: str) -> Any:
    """`value` when it is a `kind`; an empty one when absent or empty; else a FlowError naming it."""
    if value is None or (not value and not isinstance(value, (int, float))):
        return kind()
    if not isinstance(value, kind):
        raise FlowError(f"{where}: expected {'an object' if kind is dict else 'a list'}, got {value!r:.60}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise FlowError(f"{where}: expected a string, got {value!r:.60}")
    return value


def _target(transition: dict[str, Any], where: str) -> str | None:
    target = transition.get("NextAction")
    return None if target is None else _text(target, f"{where}: NextAction")


def _block_arn(file: Path, action: Action, functions: FunctionMap | None) -> str:
    """The alias a block invokes: as named (a qualified alias ARN) with no map, else the map's
    answer; a block the map cannot serve is refused, never sent to another function."""
    named = _text(action.parameters.get("LambdaFunctionARN", ""), f"{file}: action {action.identifier}: LambdaFunctionARN")
    if functions is None:
        try:
            parse_alias_arn(named)
        except ArnError as exc:
            raise FlowError(f"{file}: action {action.identifier}: LambdaFunctionARN: {exc}") from None
        return named
    try:
        return functions.resolve(named)
    except UnmappedFunction as exc:
        raise FlowError(f"{file}: action {action.identifier}: LambdaFunctionARN {named!r} {exc}") from None


def _invoke_block(file: Path, action: Action, functions: FunctionMap | None,
                  retry_function_errors: bool) -> InvokeBlock:
    p = action.parameters
    arn = _block_arn(file, action, functions)
    try:
        timeout = int(str(p.get("InvocationTimeLimitSeconds", "8")))
    except ValueError:
        raise FlowError(f"{file}: action {action.identifier}: InvocationTimeLimitSeconds "
                        f"{p.get('InvocationTimeLimitSeconds')!r} is not a whole number") from None
    where = f"{file}: action {action.identifier}"
    validation = _shaped(p.get("ResponseValidation"), dict, f"{where}: ResponseValidation").get(
        "ResponseType", "STRING_MAP")
    attributes = _shaped(p.get("LambdaInvocationAttributes"), dict, f"{where}: LambdaInvocationAttributes")
    try:
        return InvokeBlock(function_arn=arn, timeout_s=timeout, response_validation=validation,
                           parameters={str(k): str(v) for k, v in attributes.items()},
                           identifier=action.identifier, retry_function_errors=retry_function_errors)
    except BlockConfigError as exc:
        raise FlowError(f"{file}: {exc}") from None


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
            transfer_to = _flow_id(str(resolve(p.get("ContactFlowId", ""), state)))
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
