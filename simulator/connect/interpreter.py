"""A contact's run through loaded flows, as Amazon Connect runs it: each action's parameters,
branches and errors. No I/O: invoking a function, playing a prompt or waiting are the caller's
(`FlowHooks`), and what the caller (the person) does comes from a `CallerModel`. Whatever goes wrong in
a block takes its error branch; never an exception out of a contact.
"""

from __future__ import annotations

import asyncio
import functools
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from simulator.connect.actions import NOTHING_FOUND, RECORDED_AND_GO_ON
from simulator.connect.caller import TIMEOUT, CallerModel, CallerSpec
from simulator.connect.event import (
    EMAIL_ADDRESSES,
    SYSTEM_DATA,
    Contact,
    contact_flow_event,
    stream_customer_audio,
)
from simulator.connect.flow import Action, Flow, FlowSet, loads_result
from simulator.connect.function_map import UnmappedFunction
from simulator.connect.invoke import InvokeBlock, InvokeOutcome
from simulator.connect.jsonpath import REFERENCE, REFERENCE_STARTS, parts, references_in


class FlowHooks(Protocol):
    """What the interpreter asks of its caller: run an invoke block, play a prompt, wait."""

    async def invoke(self, block: InvokeBlock, event: dict[str, Any], flow: Flow) -> InvokeOutcome: ...

    async def prompt(self, text: str) -> None: ...

    async def wait(self, seconds: float) -> None: ...

    # Optional: told of each block the contact ran (for flow logs and Connect's metrics), with the
    # invocation's outcome for an Invoke block, and what went wrong when the block took its error branch.
    # def block_ran(self, flow: Flow, action: Action, state: ContactState,
    #               outcome: InvokeOutcome | None, fault: str | None) -> None: ...
    # Optional: the contact's clock, epoch seconds (a rehearsal's emulated time), for the times a
    # contact's data carries (a media stream's start and stop); without it, the wall clock.
    # def now(self) -> float: ...


@dataclass
class ContactState:
    """What a contact carries through its flows."""

    contact: Contact
    external: Any = None
    loop_counters: dict[tuple[str, str], int] = field(default_factory=dict)
    flow_logging: bool = False  # on from a Set logging behavior block that enables it (Connect's rule)
    last_outcome: InvokeOutcome | None = None  # the last synchronous invocation's, for the block's log
    entries: int = 0  # flow entries: the first plus every transfer (the looping flow's loops)
    invocations: int = 0
    errors: int = 0
    versions: set[str] = field(default_factory=set)
    met: set[tuple[str, str]] = field(default_factory=set)  # (function ARN, version) of each invocation
    spoken: list[str] = field(default_factory=list)
    flow_errors: list[tuple[str, str, str]] = field(default_factory=list)  # (flow, block, what went wrong)
    last_flow: Flow | None = None  # the flow and action the contact was last in (`last`)
    last_action: Action | None = None
    stored_input: str | None = None  # $.StoredCustomerInput
    lex: dict[str, Any] = field(default_factory=dict)  # $.Lex: IntentName, SessionAttributes
    metrics: dict[str, float] = field(default_factory=dict)  # $.Metrics
    queue: str | None = None
    callback_number: str | None = None
    callback: bool = False  # a callback was created: the contact ends as one
    lambda_invocation: dict[str, str] = field(default_factory=dict)  # $.LambdaInvocation.InvocationId
    pending: dict[str, asyncio.Future[InvokeOutcome]] = field(default_factory=dict)  # asynchronous ones, by id
    flow_attributes: dict[str, str] = field(default_factory=dict)  # $.FlowAttributes: the current flow's only
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # action type -> the parameters it last set
    modules: list[tuple[Flow, str | None]] = field(default_factory=list)  # (caller flow, its next action) per module call

    @property
    def last(self) -> tuple[str, str]:
        """The names of the flow and block the contact was last in (empty before its first block)."""
        if self.last_flow is None or self.last_action is None:
            return "", ""
        return self.last_flow.name, self.last_action.identifier


@dataclass(frozen=True)
class ContactLimits:
    """When a contact is a runaway: stopped, and said so (a flow that loops on an answer that never
    comes would otherwise invoke for ever)."""

    max_invocations: int = 1000
    max_steps: int = 100_000
    # blocks run in a row with no invocation: a loop waiting for what a simulated contact never gets
    # (a bot's session attribute, say) would otherwise hold its user until the time limit
    max_steps_without_invoking: int = 1000
    too_long: Callable[[], bool] = lambda: False  # the caller's clock: past its time limit


class _FlowFault(Exception):
    """Something a block cannot do at run time: it takes the block's error branch (`branch`, else
    NoMatchingError), as in Connect."""

    def __init__(self, message: str, branch: str = "NoMatchingError") -> None:
        super().__init__(message)
        self.branch = branch


def resolve(value: Any, state: ContactState) -> Any:
    """A JSONPath operand (`$.External.x`, `$.Attributes.x`, `$.ContactId`, ...) or a literal.
    Raises KeyError when the path does not resolve."""
    if not (isinstance(value, str) and value.startswith(REFERENCE_STARTS)):  # (is_reference, inline)
        return value
    getter = _GETTERS.get(value)
    if getter is None:
        if len(_GETTERS) >= 4096:  # a flow's references are few; bounded all the same
            _GETTERS.clear()
        getter = _GETTERS[value] = _getter(value)
    return getter(state)


def _getter(reference: str) -> Callable[[ContactState], Any]:
    """What a reference reads from a contact's state, worked out once per reference (it is resolved at
    every step that names it); each call raises KeyError when the path does not resolve."""
    try:
        steps = parts(reference)
    except KeyError:
        return functools.partial(_unresolved, reference)
    head, rest = steps[0], steps[1:]
    if head == _STORED_INPUT and not rest:
        return functools.partial(_stored_input, reference)
    flow_data = _FLOW_DATA.get(head)
    if flow_data is not None:
        return lambda state: _walk(flow_data(state), rest, reference)
    system = SYSTEM_DATA.get(head)  # system data: $.ContactId, $.Channel ...
    if system is None:
        return functools.partial(_unresolved, reference)
    return lambda state: _walk(system(state.contact), rest, reference)


def _unresolved(reference: str, state: ContactState) -> Any:
    raise KeyError(reference)


def _stored_input(reference: str, state: ContactState) -> str:
    if state.stored_input is None:
        raise KeyError(reference)
    return state.stored_input


_GETTERS: dict[str, Callable[[ContactState], Any]] = {}


_STORED_INPUT = "StoredCustomerInput"  # $.StoredCustomerInput, whole
_FLOW_DATA: dict[str, Callable[[ContactState], Any]] = {
    "External": lambda s: s.external, "Attributes": lambda s: s.contact.attributes, "Lex": lambda s: s.lex,
    "Metrics": lambda s: s.metrics, "LambdaInvocation": lambda s: s.lambda_invocation,
    "FlowAttributes": lambda s: s.flow_attributes, "SegmentAttributes": lambda s: s.contact.segment_attributes,
    "AwsRegion": lambda s: s.contact.instance_arn.split(":")[3],  # the instance's (not in a function's event)
}


def references_without_data(flows: FlowSet, callers: CallerSpec) -> list[str]:
    """The references a simulated contact has no data for (a namespace of Connect's it does not
    model, a segment attribute the scenario does not give), a line per flow and what is missing, with
    the blocks that read them: said at start, as those blocks have no value for them in a rehearsal."""
    found: dict[tuple[str, str], tuple[dict[str, None], dict[str, None]]] = {}  # (flow, what) -> references, blocks
    for flow in flows.flows.values():
        for action in flow.actions.values():
            for reference in references_in(action.parameters):
                try:
                    steps = parts(reference)
                except KeyError:
                    continue
                head = steps[0]
                if head == "SegmentAttributes" and len(steps) > 1 and steps[1] not in callers.segment_attributes:
                    what = "the contacts have no such segment attribute (give it in [callers.segment_attributes])"
                elif head == "Lex" and steps[1:2] == ("SessionAttributes",) and len(steps) > 2:
                    if steps[2] in callers.lex_session_attributes:
                        continue
                    what = ("the callers' bot conversations set no such session attribute (give it in "
                            "[callers.lex_session_attributes])")
                elif head == "Lex" and len(steps) > 1 and steps[1] not in ("IntentName", "SessionAttributes"):
                    what = "a simulated caller's bot conversation gives its intent and session attributes only"
                elif head not in _FLOW_DATA and head not in SYSTEM_DATA and head != _STORED_INPUT:
                    what = f"a simulated contact has no {head} data (Connect's, not modelled)"
                elif head == "Channel" and not callers.channel:
                    what = _EVERY_CONTACT_CHAT
                else:
                    continue
                references, blocks = found.setdefault((flow.name, what), ({}, {}))
                references[reference] = blocks[action.identifier] = None
    return [f"flow {flow}: {', '.join(references)}: {what}: read by {'block' if len(blocks) == 1 else 'blocks'} "
            f"{', '.join(blocks)}, which "
            + ("read CHAT for every contact" if what == _EVERY_CONTACT_CHAT else
               f"{'has' if len(blocks) == 1 else 'have'} no value for it in the rehearsal (the summary counts the "
               "error branches taken on it)")
            for (flow, what), (references, blocks) in found.items()]


_EVERY_CONTACT_CHAT = "every simulated contact is a CHAT contact (give the channels in [callers] channel)"


def rehearsal_notes(flows: FlowSet, callers: CallerSpec) -> list[str]:
    """What of the flows a rehearsal does not play or has no data for, a line each: said at start (a
    rehearsal, a Locust run, `validate`) and in the summary."""
    return flows.unloaded_hooks + references_without_data(flows, callers) + streaming_without_voice(flows, callers)


def streaming_without_voice(flows: FlowSet, callers: CallerSpec) -> list[str]:
    """The Start media streaming blocks of contacts that are never voice contacts: Connect streams a
    voice contact's audio only, so the functions after them read no stream ($.MediaStreams.Customer.Audio
    stays null) where production's voice calls have one."""
    if callers.channel.get("VOICE", 0) > 0:
        return []
    lines = []
    for flow in flows.flows.values():
        blocks = [action.identifier for action in flow.actions.values()
                  if action.type == "UpdateContactMediaStreamingBehavior"
                  and str(action.parameters.get("MediaStreamingState", "Enabled")) == "Enabled"]
        if blocks:
            who = _EVERY_CONTACT_CHAT if not callers.channel else "no simulated contact is a VOICE contact ([callers] channel)"
            one = len(blocks) == 1
            lines.append(f"flow {flow.name}: {'block' if one else 'blocks'} {', '.join(blocks)} "
                         f"{'starts' if one else 'start'} the customer's audio stream, which Connect does for voice contacts only: {who}, so functions "
                         "find $.MediaStreams.Customer.Audio null where production's voice calls have a stream")
    return lines


def _walk(node: Any, parts: Sequence[str], original: str) -> Any:
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            raise KeyError(original)
        node = node[part]
    return node


def interpolate(text: str, state: ContactState) -> str:
    """Prompt text with `$.External.version`-style references filled in; one that does not resolve
    is played as nothing, as Connect plays it (never its JSONPath read aloud)."""
    pieces = _pieces(text)
    if len(pieces) == 1:
        return text
    spoken = list(pieces)
    for i in range(1, len(pieces), 2):
        try:
            spoken[i] = str(resolve(pieces[i], state))
        except KeyError:
            spoken[i] = ""
    return "".join(spoken)


@functools.lru_cache(maxsize=4096)
def _pieces(text: str) -> tuple[str, ...]:
    """A prompt's text split once: literal text at even places, references at odd ones."""
    return tuple(re.split(f"({REFERENCE.pattern})", text))


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
                      limits: ContactLimits = ContactLimits(), caller: CallerModel | None = None) -> str:
    """Run a contact until its IVR part ends, `keep_going` says stop (checked at each flow entry)
    or it runs past `limits`. Returns how it ended: "disconnected", "queued", "transferred to an
    agent", "transferred to a third party", "callback", "flow ended", "stopped" (by the caller of this function), "error" (an error
    with no branch to take) or "runaway". Whatever goes wrong in a block takes its error branch and
    is noted in `state.flow_errors`, never raised."""
    caller = caller or CallerModel(CallerSpec(), random.Random(0))
    told = getattr(hooks, "block_ran", None)
    now: Callable[[], float] = getattr(hooks, "now", time.time)
    if caller.spec.segment_attributes and not state.contact.segment_attributes:
        state.contact.segment_attributes = caller.segment_attributes()
    if caller.spec.channel:
        state.contact.channel = caller.channel()
        if state.contact.channel == "EMAIL":
            state.contact.customer_address, state.contact.system_address = EMAIL_ADDRESSES
    if caller.spec.numbers and state.contact.channel != "EMAIL":
        state.contact.customer_address = caller.number()
    flow = flows.start
    state.entries = 1
    current: str | None = flow.start
    invoked, quiet_since = state.invocations, 0
    # the limits as locals: they are checked at every step
    max_quiet, max_invocations, too_long = limits.max_steps_without_invoking, limits.max_invocations, limits.too_long
    waited = True  # time passes only in a step that may wait: the clock is asked after one (and at the start)
    for step in range(limits.max_steps):
        if current is None:
            return "flow ended"
        invocations = state.invocations
        if invocations != invoked:
            invoked, quiet_since = invocations, step
        elif step - quiet_since >= max_quiet:
            return "runaway"
        if invocations >= max_invocations or (waited and too_long()):
            return "runaway"
        action = flow.actions[current]
        state.last_flow, state.last_action = flow, action
        state.last_outcome = None
        try:
            waited = action.type in _WAITING
            if waited:
                current, transfer = await _step(action, flow, flows, state, hooks, caller, now)
            else:
                current, transfer = _step_now(action, flow, state, caller, now)
            if transfer is not None:
                module = target = None
                if transfer.startswith(_MODULE):
                    transfer = transfer[len(_MODULE):]
                    module = flows.find(transfer)
                    if module is None:
                        raise _FlowFault(flows.why_not(transfer).replace("transfer to a flow", "module"))
                else:
                    target = flows.find(transfer)
                    if target is None:
                        raise _FlowFault(flows.why_not(transfer))
        except _FlowFault as fault:
            state.flow_errors.append((flow.name, action.identifier, str(fault)))
            if told is not None:
                told(flow, action, state, None, str(fault))
            current = _error_branch(action, fault.branch)
            if current is None:
                return "error"
            continue
        if told is not None:
            told(flow, action, state, state.last_outcome, None)
        if transfer is not None:
            if module is not None:  # an Invoke module block: the module runs, then the flow goes on after it
                state.modules.append((flow, action.next_action))
                flow, current = module, module.start
            elif target is not None:
                flow = target
                state.entries += 1
                state.flow_attributes = {}  # flow attributes are not carried over to the next flow
                if not keep_going(state):
                    return "stopped"
                current = flow.start
        elif current is not None and current.startswith("__"):  # (both markers begin so; an action's id may too)
            if current == _RETURN:  # the module's Return block: back to the flow that invoked it
                if not state.modules:
                    return "flow ended"
                flow, current = state.modules.pop()
            elif current.startswith(_END):
                ended = current[len(_END):]
                return "callback" if ended == "disconnected" and state.callback else ended
    return "runaway"


_END = "__end__:"  # a step's next action that ends the IVR part, with how
_RETURN = "__return__"  # a step's next action that returns from a module
_MODULE = "__module__:"  # a step's transfer that invokes a module (the flow goes on after it)
# Action types whose step may wait (an invocation, a prompt, a wait): the others run without a coroutine
_WAITING = frozenset({"InvokeLambdaFunction", "MessageParticipant", "MessageParticipantIteratively",
                      "GetParticipantInput", "ConnectParticipantWithLexBot", "Wait", "TransferParticipantToThirdParty"})


async def _counted(invoking: Awaitable[InvokeOutcome], block: InvokeBlock, state: ContactState) -> InvokeOutcome:
    outcome = await invoking
    _count(outcome, block, state)
    return outcome


def _count(outcome: InvokeOutcome, block: InvokeBlock, state: ContactState) -> None:
    if outcome.executed_version:
        state.versions.add(outcome.executed_version)
        state.met.add((block.function_arn, outcome.executed_version))


def _took(action: Action, state: ContactState, outcome: InvokeOutcome) -> str | None:
    """The branch an invocation's outcome takes: next with its result as $.External, or the error."""
    state.last_outcome = outcome
    if outcome.ok:
        state.external = outcome.external
        return action.next_action
    state.errors += 1
    return _error_branch(action)


def _error_branch(action: Action, *kinds: str) -> str | None:
    """The first error branch of `kinds` the action has, else its NoMatchingError, else any."""
    for kind in (*kinds, "NoMatchingError"):
        if kind in action.errors:
            return action.errors[kind]
    return next(iter(action.errors.values()), None)


def _matching(action: Action, value: str) -> str | None:
    """The target of the first condition `value` satisfies, else the NoMatchingCondition branch."""
    for operator, operands, target in action.conditions:
        if operands and _compare(operator, value, operands[0]):
            return target
    return _error_branch(action, "NoMatchingCondition")


def _offered(action: Action) -> list[str]:
    return [operands[0] for _, operands, _ in action.conditions if operands]


async def _say(p: dict[str, Any], state: ContactState, hooks: FlowHooks) -> None:
    text = p.get("Text") or p.get("SSML") or (f"prompt {p['PromptId']}" if p.get("PromptId") else "")
    if text:
        spoken = interpolate(str(text), state)
        state.spoken.append(spoken)
        await hooks.prompt(spoken)


def _resolved(p: dict[str, Any], key: str, state: ContactState, branch: str = "NoMatchingError") -> Any:
    try:
        return resolve(p.get(key), state)
    except KeyError as missing:
        raise _FlowFault(f"unresolved reference {missing.args[0]}", branch) from None


async def _step(action: Action, flow: Flow, flows: FlowSet, state: ContactState, hooks: FlowHooks,
                caller: CallerModel, now: Callable[[], float]) -> tuple[str | None, str | None]:
    """Run one action that may wait (see _WAITING); return (next action, flow to transfer to)."""
    kind, p = action.type, action.parameters
    if kind == "InvokeLambdaFunction":
        block = flow.blocks.get(action.identifier)  # every Invoke block but those loading a result
        if block is None and loads_result(action):
            invocation = next(str(_resolved(p, k, state)) for k, v in p.items()
                              if isinstance(v, str) and v.startswith("$.LambdaInvocation."))
            pending = state.pending.pop(invocation, None)
            if pending is None:
                raise _FlowFault(f"no asynchronous invocation {invocation!r} to load the result of")
            return _took(action, state, await pending), None
        if block is None:
            raise KeyError(f"no Invoke block {action.identifier!r} in flow {flow.name!r}")
        if block.function_arn.startswith(REFERENCE_STARTS):  # a function named at run time
            value = str(_resolved(p, "LambdaFunctionARN", state))
            try:
                block = flows.block_for(flow, action.identifier, value)
            except UnmappedFunction as exc:
                raise _FlowFault(f"LambdaFunctionARN {value!r} {exc}") from None
        event = contact_flow_event(state.contact, _resolved_parameters(block.parameters, state))
        state.invocations += 1
        if block.asynchronous:  # the contact goes on; the result waits for a Load Lambda Result block
            invocation = f"{state.contact.contact_id}-{state.invocations}"
            state.lambda_invocation = {"InvocationId": invocation}
            state.pending[invocation] = asyncio.ensure_future(_counted(hooks.invoke(block, event, flow), block, state))
            await asyncio.sleep(0)  # sent now, as Connect sends it, before the next block runs
            return action.next_action, None
        outcome = await hooks.invoke(block, event, flow)
        _count(outcome, block, state)
        return _took(action, state, outcome), None
    if kind in ("MessageParticipant", "MessageParticipantIteratively"):
        messages = p.get("Messages") if kind == "MessageParticipantIteratively" else None
        await _say(messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else p,
                   state, hooks)
        return action.next_action, None
    if kind in ("GetParticipantInput", "ConnectParticipantWithLexBot"):
        await _say(p, state, hooks)
        stored = kind == "GetParticipantInput" and str(p.get("StoreInput", "False")).lower() == "true"
        # a bot whose block tests no intent (an AI agent, say) goes on to the block's next action when the
        # conversation is over: the caller finishes it, unless the scenario's choices say otherwise
        finished = kind == "ConnectParticipantWithLexBot" and not action.conditions and action.next_action is not None
        answer = caller.answer(action.identifier, ["1"] if stored else [""] if finished else _offered(action))
        if answer == TIMEOUT:
            return _error_branch(action, "InputTimeLimitExceeded"), None
        if stored:
            state.stored_input = answer
            return action.next_action, None
        if kind == "ConnectParticipantWithLexBot":
            state.lex = {"IntentName": answer, "SessionAttributes": caller.lex_session_attributes()}
        return (action.next_action if finished else _matching(action, answer)), None
    if kind == "Wait":
        seconds = _resolved(p, "TimeoutSeconds", state)
        try:
            await hooks.wait(float(seconds or 0))
        except (TypeError, ValueError):
            raise _FlowFault(f"TimeoutSeconds {seconds!r} is not a number") from None
        return action.errors.get("WaitCompleted") or action.errors.get("Timeout") or action.next_action, None
    if kind == "TransferParticipantToThirdParty":
        if str(p.get("ContinueFlowExecution", "True")).lower() == "false":
            return _END + "transferred to a third party", None
        await hooks.wait(caller.spec.third_party_seconds)  # the call with the third party, then the flow goes on
        return action.next_action, None
    return _step_now(action, flow, state, caller, now)


def _step_now(action: Action, flow: Flow, state: ContactState, caller: CallerModel,
              now: Callable[[], float]) -> tuple[str | None, str | None]:
    """Run one action that waits for nothing (no coroutine to make for it); return (next action, flow to
    transfer to)."""
    kind, p = action.type, action.parameters
    if kind == "UpdateContactAttributes":
        attributes = p.get("Attributes") or {}
        if not isinstance(attributes, dict):
            raise _FlowFault(f"Attributes is not an object: {attributes!r:.60}")
        values = {k: str(_resolved(attributes, k, state)) for k in attributes}  # all or none
        state.contact.attributes.update(values)
        return action.next_action, None
    if kind == "Compare":
        try:
            left = str(resolve(p.get("ComparisonValue"), state))
        except KeyError:
            left = ""
        return _matching(action, left), None
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
        return None, str(_resolved(p, "ContactFlowId", state)) or flow.id
    if kind == "UpdateFlowLoggingBehavior":
        state.flow_logging = p.get("FlowLoggingBehavior", "Enabled") == "Enabled"
        return action.next_action, None
    if kind == "CheckHoursOfOperation":
        return _matching(action, "True" if caller.in_hours() else "False"), None
    if kind == "CheckMetricData":
        return _matching(action, f"{caller.metric(str(p.get('MetricType', ''))):g}"), None
    if kind == "GetMetricData":
        state.metrics = dict(caller.spec.metrics)
        return action.next_action, None
    if kind == "UpdateContactTargetQueue":
        state.queue = queue = str(_resolved(p, "QueueId", state))
        arn = queue if queue.startswith("arn:") else f"{state.contact.instance_arn}/queue/{queue}"
        # the working queue, as the contact's data has it from now on ($.Queue.Name, a function's event);
        # a queue the export does not name is known by its id
        state.contact.queue = {"ARN": arn, "Name": flow.queue_names.get(action.identifier) or arn.rpartition("/")[2]}
        return action.next_action, None
    if kind == "UpdateContactCallbackNumber":
        state.callback_number = str(_resolved(p, "CallbackNumber", state, "InvalidCallbackNumber"))
        return action.next_action, None
    if kind == "CreateCallbackContact":
        state.callback = True
        return action.next_action, None
    if kind in ("TransferContactToQueue", "DequeueContactAndTransferToQueue"):
        if caller.queue_full():
            return _error_branch(action, "QueueAtCapacity"), None
        return _END + "queued", None
    if kind == "TransferContactToAgent":
        return _END + "transferred to an agent", None
    if kind == "InvokeFlowModule":
        return action.next_action, _MODULE + str(_resolved(p, "FlowModuleId", state))
    if kind == "EndFlowModuleExecution":
        return _RETURN, None
    if kind == "EndFlowExecution":
        return _END + "flow ended", None
    if kind == "DisconnectParticipant":
        return _END + "disconnected", None
    if kind == "DistributeByPercentage":
        return _matching(action, str(caller.percent())), None
    if kind == "CheckOutboundCallStatus":
        return _matching(action, caller.spec.outbound_call_status), None
    if kind == "CheckVoiceId":
        return _matching(action, caller.spec.voice_id), None
    if kind == "UpdateFlowAttributes":
        attributes = p.get("FlowAttributes") or {}
        if not isinstance(attributes, dict):
            raise _FlowFault(f"FlowAttributes is not an object: {attributes!r:.60}")
        values = {k: str(_resolved(v if isinstance(v, dict) else {"Value": v}, "Value", state))
                  for k, v in attributes.items()}  # all or none
        state.flow_attributes.update(values)
        return action.next_action, None
    if kind in NOTHING_FOUND:  # no profile, no case for a simulated caller: Connect's branch for none found
        return _error_branch(action, "NoneFoundError"), None
    if kind == "UpdateContactMediaStreamingBehavior":  # recorded too (below)
        stream_customer_audio(state.contact, str(p.get("MediaStreamingState", "Enabled")) == "Enabled",
                              caller.rng, now())
    if kind in RECORDED_AND_GO_ON:
        state.settings[kind] = dict(p)
        return action.next_action, None
    raise _FlowFault(f"action type {kind!r} has no rehearsal semantics")  # a type added to the catalogue only


def _resolved_parameters(parameters: dict[str, str], state: ContactState) -> dict[str, str]:
    resolved = {}
    for key, value in parameters.items():
        try:
            resolved[key] = str(resolve(value, state))
        except KeyError:
            resolved[key] = ""
    return resolved
