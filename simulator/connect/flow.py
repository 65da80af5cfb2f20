"""Exported Amazon Connect flows: load and validate a flow and the flows it transfers to, so that
what can be refused is refused at load time with its file and action (`simulator.connect.interpreter`
runs them).

Every action type of Connect's flow-language reference (`actions.py`; docs/flows.md says what each
does); Transitions with NextAction, Errors and Conditions. A flow transfers to the flows beside it
(and invokes the modules beside it), found by file name, `Metadata.name`, ARN id, placeholder or the
scenario's `[flow_map]`. An unknown action type, a dangling transition or transfer, a malformed field
is refused here, naming the file and the action: every problem of every file the entry reaches, at once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simulator.connect.actions import REFERENCE
from simulator.connect.function_map import FunctionMap, UnmappedFunction
from simulator.connect.invoke import BlockConfigError, InvokeBlock
from simulator.connect.jsonpath import is_reference
from simulator.deployment.arn import ArnError, parse_alias_arn, parse_function_name
from simulator.input_error import InputError

MAX_ACTIONS = 250
SUPPORTED = REFERENCE  # every action type of Connect's flow-language reference (actions.py)


class FlowError(InputError):
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
    queue_names: dict[str, str] = field(default_factory=dict)  # a Set working queue block's queue, as the export names it
    # the flow a transfer, module or event hook names, as the designer shows it: (action, what) -> its name
    linked_names: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class FlowSet:
    """A flow and every flow it can transfer to, by id (the file's stem), with every name a
    transfer may use for each (its ARN's id, its `Metadata.name`, a placeholder, the scenario's
    `[flow_map]`)."""

    entry: str
    flows: dict[str, Flow]
    names: dict[str, str] = field(default_factory=dict)  # a reference -> the flow id
    functions: FunctionMap | None = None  # for blocks whose function is a JSONPath, resolved at run time
    unavailable: dict[str, str] = field(default_factory=dict)  # flows beside it no static path reaches that failed to load
    unloaded_hooks: list[str] = field(default_factory=list)  # event hooks naming a flow outside the set, said at start
    resolved_blocks: dict[tuple[str, str, str], InvokeBlock] = field(default_factory=dict)
    found: dict[str, Flow | None] = field(default_factory=dict, repr=False, compare=False)  # find's answers

    def block_for(self, flow: Flow, identifier: str, value: str) -> InvokeBlock:
        """The block `identifier` of `flow` invoking the function its JSONPath resolved to (`value`);
        UnmappedFunction if the map cannot serve it."""
        key = (flow.id, identifier, value)
        block = self.resolved_blocks.get(key)
        if block is None:
            if self.functions is not None:
                arn = self.functions.resolve(value)
            else:
                try:
                    parse_alias_arn(value)
                except ArnError as exc:
                    raise UnmappedFunction(str(exc)) from None
                arn = value
            block = self.resolved_blocks[key] = replace(flow.blocks[identifier], function_arn=arn)
        return block

    @property
    def start(self) -> Flow:
        return self.flows[self.entry]

    def find(self, value: str) -> Flow | None:
        """The loaded flow a TransferToFlow value (static or resolved at run time) names."""
        if value in self.found:  # a looping flow transfers to the same value every loop
            return self.found[value]
        flow_id = self.names.get(value) or self.names.get(reference(value))
        flow = self.flows.get(flow_id) if flow_id else None
        if len(self.found) < 4096:  # bounded, whatever values a flow resolves at run time
            self.found[value] = flow
        return flow

    def why_not(self, value: str) -> str:
        """Why a transfer to `value` finds no flow."""
        flow_id = self.names.get(value) or self.names.get(reference(value))
        if flow_id in self.unavailable:
            return f"transfer to a flow that could not be loaded: {self.unavailable[flow_id]}"
        return f"transfer to a flow that is not loaded: {value!r}"

    def block_targets(self) -> list[dict[str, str]]:
        """Each Invoke block: its flow, its identifier, the ARN it names and the alias it invokes."""
        return [{"flow": flow.name, "block": block_id, "named": flow.actions[block_id].parameters.get(
                    "LambdaFunctionARN", ""), "invokes": block.function_arn}
                for flow in self.flows.values() for block_id, block in flow.blocks.items()]

    def bypassing(self, alias_arn: str) -> dict[tuple[str, str], str]:
        """Each block (flow, identifier) that calls the deployed function other than through the alias
        its deployment shifts, said in a line: its callers never meet the shift."""
        alias = parse_alias_arn(alias_arn)
        found = {}
        for target in self.block_targets():
            try:
                ref = parse_function_name(target["invokes"])
            except ArnError:
                continue  # a JSONPath, resolved (and mapped) as the block runs
            if ref.name != alias.name or ref.qualifier == alias.qualifier:
                continue
            where = f"flow {target['flow']}, block {target['block']} names {target['named']!r}"
            if ref.qualifier == "$LATEST":
                fix = (f"name the alias ({alias_arn})" if _names_a_function(target["named"]) else
                       f"map it to the alias in [function_map] ({target['named']!r} = \"{alias.name}:{alias.qualifier}\")")
                said = (f"it calls {ref.name}'s $LATEST, never the alias {alias.qualifier} the deployment shifts: in "
                        "production its callers meet new code as soon as it is deployed, with no canary and no "
                        f"rollback, and the verdict fails on it; {fix}")
            else:
                said = (f"it calls {ref.name}:{ref.qualifier}, which the deployment of alias {alias.qualifier} never "
                        "shifts: its callers are not part of the rehearsal's shift")
            found[target["flow"], target["block"]] = f"{where}: {said}"
        return found


def _names_a_function(value: str) -> bool:
    """Whether a block's LambdaFunctionARN is a function's name or ARN (not a placeholder or blank)."""
    try:
        parse_function_name(value)
    except ArnError:
        return False
    return True


_PLACEHOLDER = re.compile(r"\{\{\s*contactFlows\.([^.}]+?)\.(?:arn|id)\s*\}\}")


def reference(value: str) -> str:
    """What a flow reference names: `arn:...:instance/X/contact-flow/ID` -> ID,
    `{{contactFlows.NAME.arn}}` -> NAME, anything else as it is."""
    placeholder = _PLACEHOLDER.fullmatch(value.strip())
    if placeholder:
        return placeholder[1]
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _described(data: Any) -> tuple[Any, dict[str, Any]]:
    """The flow language of a file: the file itself, or the Content of what `aws connect
    describe-contact-flow` (or `describe-contact-flow-module`) printed, with that answer's Name, Id
    and Arn. Content that is not JSON raises ValueError."""
    if isinstance(data, dict):
        described = data.get("ContactFlow") or data.get("ContactFlowModule")
        if isinstance(described, dict) and isinstance(described.get("Content"), str):
            return json.loads(described["Content"]), described
    return data, {}


def _index(folder: Path, flow_map: dict[str, str]) -> dict[str, Path]:
    """Every name a flow of the folder answers to -> its file: the file's stem, its Metadata.name
    (or, for a describe-contact-flow answer, its Name and Id), and the scenario's map (whose values
    are stems or names)."""
    index: dict[str, Path] = {}
    for file in sorted(folder.glob("*.json")):
        index[file.stem] = file
        try:
            data, described = _described(json.loads(file.read_text(encoding="utf-8")))
            names = [(data.get("Metadata") or {}).get("name"), described.get("Name"), described.get("Id")]
        except (OSError, ValueError, AttributeError):
            continue  # refused, with its reason, if a transfer ever names it
        for name in names:
            if isinstance(name, str) and name:
                index.setdefault(name, file)
    for key, target in flow_map.items():
        if target not in index:
            raise FlowError(f"[flow_map] {key!r} -> {target!r}: no flow in {folder} has that file name "
                            "(without .json) or Metadata.name")
        index[key] = index[target]
    return index


def load_flow(path: str | Path, *, functions: FunctionMap | None = None, flow_map: dict[str, str] | None = None,
              retry_function_errors: bool = False) -> FlowSet:
    """Load a flow file and, transitively, the flows its TransferToFlow actions name among the
    files of its folder (by ARN id, Metadata.name, placeholder, `flow_map`, or the name the export's
    metadata shows for the block's flow); each Invoke block's
    function through `functions` (without it, each must name a qualified alias ARN)."""
    entry = Path(path)
    index = _index(entry.parent, flow_map or {})
    flows: dict[str, Flow] = {}
    problems: list[str] = []  # every flow the entry reaches is checked; all their problems said at once
    unloaded_hooks: dict[tuple[Path, str, str], list[str]] = {}  # (file, hook, flow as named) -> its actions
    pending = [entry]
    seen = {entry}  # files read or to read: a file with problems is read once, its problems said once
    while pending:
        file = pending.pop()
        flow, found = _read_flow(file, functions, retry_function_errors)
        problems.extend(found)
        if flow is None:
            continue
        flows[flow.id] = flow
        for action, what, value in _flow_references(flow):
            if not isinstance(value, str) or is_reference(value):
                continue  # a JSONPath: resolved at run time
            target = index.get(value) or index.get(reference(value))
            shown = flow.linked_names.get((action.identifier, what))
            if target is None and shown is not None and shown in index:  # another instance's ARN: its flow by name
                target = index[value] = index[shown]
            if target is None and what.startswith("EventHooks."):  # run outside the IVR: never played here
                unloaded_hooks.setdefault((file, what, repr(value) + (f" ({shown})" if shown else "")), []).append(
                    action.identifier)
            elif target is None:
                problems.append(f"{file}: action {action.identifier}: {what} names flow {value!r}"
                                + (f" (the export shows it as {shown!r})" if shown else "") + f": no file in "
                                f"{entry.parent} has that name or Metadata.name, and [flow_map] does not map it")
            elif target.stem not in flows and target not in pending and target != file and target not in seen:
                pending.append(target)
                seen.add(target)
    if problems:
        raise FlowError("; ".join(problems) + (f" ({len(problems)} problems in all)" if len(problems) > 1 else ""))
    unavailable: dict[str, str] = {}
    for file in {f for f in index.values() if f.stem not in flows}:  # for transfers named at run time
        try:
            flow = _parse_file(file, functions, retry_function_errors)
            flows[flow.id] = flow
        except FlowError as exc:
            unavailable[file.stem] = str(exc)
    names = {name: file.stem for name, file in index.items()}
    hooks_said = [f"{file}: {'action' if len(ids) == 1 else 'actions'} {', '.join(ids)}: {what} names flow {named}, "
                  f"not in {entry.parent}: an event hook's flow runs outside the IVR (queue, hold, whisper, the agent's "
                  "screen), which a rehearsal does not play" for (file, what, named), ids in unloaded_hooks.items()]
    return FlowSet(entry.stem, flows, names, functions, unavailable=unavailable, unloaded_hooks=hooks_said)


def loads_result(action: Action) -> bool:
    """The block's Load Lambda Result mode: it names no function, and one of its parameters refers
    to an asynchronous invocation (`$.LambdaInvocation.InvocationId`). The export's key for it is not
    published, so the reference is what is recognised."""
    p = action.parameters
    return "LambdaFunctionARN" not in p and any(
        isinstance(v, str) and v.startswith("$.LambdaInvocation.") for v in p.values())


def _flow_references(flow: Flow) -> list[tuple[Action, str, Any]]:
    """The flows a flow names: its transfers, the modules it invokes, and the flows its event hooks
    set (hold, whisper, queue, the agent's screen), loaded where the set has them though the IVR's
    path does not run them."""
    found = []
    for action in flow.actions.values():
        if action.type == "TransferToFlow":
            found.append((action, "TransferToFlow", action.parameters.get("ContactFlowId", "")))
        elif action.type == "InvokeFlowModule":
            found.append((action, "InvokeFlowModule", action.parameters.get("FlowModuleId", "")))
        elif action.type == "UpdateContactEventHooks":
            hooks = action.parameters.get("EventHooks")
            for hook, value in (hooks.items() if isinstance(hooks, dict) else ()):
                found.append((action, f"EventHooks.{hook}", value))
    return found


def _parse_file(file: Path, functions: FunctionMap | None, retry_function_errors: bool) -> Flow:
    flow, problems = _read_flow(file, functions, retry_function_errors)
    if problems or flow is None:
        raise FlowError("; ".join(problems))
    return flow


def _read_flow(file: Path, functions: FunctionMap | None,
               retry_function_errors: bool) -> tuple[Flow | None, list[str]]:
    """A flow file read whole: the flow (None when the file is not one at all) and every problem
    in it, each naming the file and the action."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [f"{file}: cannot read flow: {exc.strerror or exc}"]
    except ValueError as exc:
        return None, [f"{file}: not valid JSON: {exc}"]
    try:
        data, described = _described(data)
    except ValueError as exc:
        return None, [f"{file}: ContactFlow.Content: not valid JSON: {exc}"]
    if isinstance(data, dict) and isinstance(data.get("modules"), list) and "start" in data:
        return None, [f"{file}: the console's older export format (modules), not the flow language: read the flow's "
                      "Content with `aws connect describe-contact-flow --instance-id ID --contact-flow-id ID` "
                      "(ContactFlow.Content), or export it again from the flow designer"]
    if not isinstance(data, dict) or not isinstance(data.get("Actions"), list):
        return None, [f"{file}: not an exported flow (expected an object with Version, StartAction, Actions)"]
    actions_data = data["Actions"]
    if len(actions_data) > MAX_ACTIONS:
        return None, [f"{file}: {len(actions_data)} actions, more than Connect's {MAX_ACTIONS}"]
    problems: list[str] = []
    actions: dict[str, Action] = {}
    for index, raw in enumerate(actions_data):
        try:
            action = _parse_action(file, index, raw)
        except FlowError as exc:
            problems.append(str(exc))
            continue
        if action.identifier in actions:
            problems.append(f"{file}: action identifier {action.identifier!r} appears twice")
        if action.type not in SUPPORTED:
            problems.append(f"{file}: action {action.identifier}: type {action.type!r} is not an action of "
                            "Connect's flow language (docs/flows.md lists them)")
        actions[action.identifier] = action
    start = data.get("StartAction")
    if not isinstance(start, str) or start not in actions:
        problems.append(f"{file}: StartAction {start!r} is not one of the flow's actions")
    for action in actions.values():
        targets = [action.next_action, *action.errors.values(), *(c[2] for c in action.conditions)]
        for target in targets:
            if target is not None and target not in actions:
                problems.append(f"{file}: action {action.identifier}: transition to unknown action {target!r}")
    try:
        metadata = _shaped(data.get("Metadata"), dict, f"{file}: Metadata")
    except FlowError as exc:
        problems.append(str(exc))
        metadata = {}
    name = next((n for n in (metadata.get("name"), described.get("Name")) if isinstance(n, str) and n), file.stem)
    flow = Flow(file.stem, name, start if isinstance(start, str) else "", actions, str(file),
                queue_names=_queue_names(metadata), linked_names=_linked_names(metadata))
    for action in actions.values():
        if action.type == "InvokeLambdaFunction" and not loads_result(action):
            try:
                flow.blocks[action.identifier] = _invoke_block(file, action, functions, retry_function_errors)
            except FlowError as exc:
                problems.append(str(exc))
    return flow, problems


def _linked_names(metadata: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The names the designer shows for the flows a block names (its export's metadata keeps them
    beside the ARN, which is another instance's in an export): by (action, what the block names it in)."""
    names = {}
    blocks = metadata.get("ActionMetadata")
    for identifier, block in (blocks.items() if isinstance(blocks, dict) else ()):
        parameters = block.get("parameters") if isinstance(block, dict) else None
        if not isinstance(parameters, dict):
            continue
        shown = {"TransferToFlow": parameters.get("ContactFlowId"), "InvokeFlowModule": parameters.get("FlowModuleId")}
        hooks = parameters.get("EventHooks")
        shown.update({f"EventHooks.{hook}": value for hook, value in (hooks.items() if isinstance(hooks, dict) else ())})
        for what, value in shown.items():
            name = value.get("displayName") if isinstance(value, dict) else None
            if isinstance(name, str) and name:
                names[(identifier, what)] = name
    return names


def _queue_names(metadata: dict[str, Any]) -> dict[str, str]:
    """The queues' names the flow designer kept in the export's metadata, by action: Connect puts the
    current queue's name in `$.Queue.Name`; the action itself holds only its ARN."""
    names = {}
    blocks = metadata.get("ActionMetadata")
    for identifier, block in (blocks.items() if isinstance(blocks, dict) else ()):
        if not isinstance(block, dict):
            continue
        queue, parameters = block.get("queue"), block.get("parameters")
        shown = parameters.get("QueueId") if isinstance(parameters, dict) else None
        name = (queue.get("text") if isinstance(queue, dict) else None) or (
            shown.get("displayName") if isinstance(shown, dict) else None)
        if isinstance(name, str) and name:
            names[identifier] = name
    return names


def _parse_action(file: Path, index: int, raw: Any) -> Action:
    where = f"{file}: Actions[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("Identifier"), str):
        raise FlowError(f"{where}: an action needs an Identifier")
    identifier = raw["Identifier"]
    kind = raw.get("Type")
    where = f"{file}: action {identifier}"
    if not isinstance(kind, str):
        raise FlowError(f"{where}: Type {kind!r} is not a string")
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
    if "LambdaFunctionARN" not in action.parameters:  # a hand-written flow's FunctionArn, say: Connect refuses it
        raise FlowError(f"{file}: action {action.identifier}: InvokeLambdaFunction names no LambdaFunctionARN (its "
                        f"parameters: {', '.join(action.parameters) or 'none'}), and Connect refuses such a flow; "
                        "name the function in LambdaFunctionARN")
    named = _text(action.parameters.get("LambdaFunctionARN", ""), f"{file}: action {action.identifier}: LambdaFunctionARN")
    if is_reference(named) and (functions is None or named not in functions.table):
        return named  # resolved at run time, then mapped as a static ARN is
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
    kind = str(p.get("InvocationType", "SYNCHRONOUS")).upper()
    if kind not in ("SYNCHRONOUS", "ASYNCHRONOUS"):
        raise FlowError(f"{file}: action {action.identifier}: InvocationType {p.get('InvocationType')!r} is "
                        "not SYNCHRONOUS or ASYNCHRONOUS")
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
                           identifier=action.identifier, retry_function_errors=retry_function_errors,
                           asynchronous=kind == "ASYNCHRONOUS")
    except BlockConfigError as exc:
        raise FlowError(f"{file}: {exc}") from None
