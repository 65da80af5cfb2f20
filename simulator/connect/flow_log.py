"""Connect's flow logs: one entry per block a contact runs while logging is on (the instance's
setting and the flow's Set logging behavior block), in the shape Connect writes to the log group
`/aws/connect/<instance-alias>`. The Invoke block's entry is seed 003's, field for field; other
blocks carry their module type (Connect's name where known, else the action's type), identifier,
parameters and, when something went wrong in them, `Results`. Pure: the caller stamps the time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from simulator.connect.flow import Action, Flow
from simulator.connect.invoke import InvokeOutcome, flow_log_record
from simulator.deployment.flow_log_notes import EntryRenderer, Note, Template, log_timestamp

# The ContactFlowModuleType Connect writes for each action type (others: the action's own type).
MODULE_TYPES = {
    "InvokeLambdaFunction": "InvokeExternalResource", "UpdateFlowLoggingBehavior": "SetLoggingBehavior",
    "MessageParticipant": "PlayPrompt", "MessageParticipantIteratively": "PlayPrompt",
    "GetParticipantInput": "GetUserInput", "ConnectParticipantWithLexBot": "GetUserInput",
    "UpdateContactAttributes": "SetAttributes", "Compare": "CheckAttribute", "TransferToFlow": "Transfer",
    "TransferContactToQueue": "Transfer", "TransferParticipantToThirdParty": "Transfer",
    "DequeueContactAndTransferToQueue": "Transfer", "TransferContactToAgent": "Transfer",
    "UpdateContactTargetQueue": "SetQueue", "DisconnectParticipant": "Disconnect", "Loop": "Loop",
    "Wait": "Wait", "CheckHoursOfOperation": "CheckHoursOfOperation", "CheckMetricData": "CheckQueueStatus",
    "UpdateContactRecordingBehavior": "SetRecordingBehavior", "EndFlowExecution": "EndFlowExecution",
}
INSTANCE_ID = "00000000-0000-4000-8000-000000000000"


def flow_arn(region: str, account: str, instance_id: str, flow: Flow) -> str:
    return f"arn:aws:connect:{region}:{account}:instance/{instance_id}/contact-flow/{flow.id}"


def block_entry(*, contact_id: str, flow: Flow, flow_id: str, action: Action, at: float,
                outcome: InvokeOutcome | None = None, fault: str | None = None) -> dict[str, Any]:
    """The flow log entry of one block run at emulated time `at` (`flow_id`: the flow's ARN)."""
    block = (outcome.block or flow.blocks.get(action.identifier)) if outcome is not None else None
    if outcome is not None and block is not None:
        return flow_log_record(block, outcome, contact_id=contact_id, flow_id=flow_id, flow_name=flow.name, now=at)
    entry: dict[str, Any] = {
        "ContactId": contact_id, "ContactFlowId": flow_id, "ContactFlowName": flow.name,
        "ContactFlowModuleType": MODULE_TYPES.get(action.type, action.type), "Identifier": action.identifier,
        "Timestamp": log_timestamp(at),
        "Parameters": {k: v if isinstance(v, str) else str(v) for k, v in action.parameters.items()},
    }
    if fault is not None:
        entry["Results"] = fault
    return entry


_CONTACT, _STAMP = "\x00contact\x00", "\x00stamp\x00"  # markers no entry's fixed fields hold


# A block as the instance noted it when it ran: (emulated time, contact id, flow, action, outcome, fault)
NotedBlock = tuple[float, str, Flow, Action, "InvokeOutcome | None", "str | None"]


class EntryText:
    """Flow log entries of noted blocks, byte for byte `orjson.dumps(block_entry(...))`, as notes
    (simulator.deployment.flow_log_notes) or text: what is fixed for a block (its flow, module type,
    identifier, parameters, an error's Results) is a template, serialised once and found by the
    identity of its action and flow and how it ended; a note adds its contact, time and, for an Invoke
    block that succeeded, its ExternalResults. tests/connect/test_flow_log.py holds it to block_entry."""

    def __init__(self) -> None:
        # template ids by the identity of a block's action and flow and how it ended (the flow and
        # action are kept in the value, so that their ids stay theirs)
        self.noted: dict[tuple[int, int, Any], tuple[int, bool, Action, Flow]] = {}
        self.templates: dict[int, Template] = {}  # by id; an id is never reused
        self.next_id = 0
        self.renderer = EntryRenderer()

    def note(self, at: float, contact_id: str, flow: Flow, action: Action, outcome: InvokeOutcome | None,
             fault: str | None, flow_id: Callable[[Flow], str]) -> Note:
        """A block's note as it ran: one lookup of its template (made the first time)."""
        ended = fault if outcome is None else outcome.branch == "Success"  # a bool: never a fault's words
        found = self.noted.get((id(action), id(flow), ended))
        if found is None:
            found = self._noted(flow, flow_id(flow), action, outcome, fault, ended)
        return found[0], at, contact_id, outcome.external if found[1] else None  # type: ignore[union-attr]

    def notes(self, blocks: list[NotedBlock], flow_id: Callable[[Flow], str]) -> list[Note]:
        """The notes of noted blocks, in their order (a batch: the bound is kept before it)."""
        self.bounded([])
        note = self.note
        return [note(*block, flow_id) for block in blocks]

    def bounded(self, pending: list[Note]) -> None:
        """Past 4,096 templates (a fault's words may name each contact), forget those no `pending`
        note names: called between batches, never under one's notes."""
        if len(self.noted) <= 4096:
            return
        kept = {note[0] for note in pending}
        self.templates = {i: template for i, template in self.templates.items() if i in kept}
        self.noted = {key: found for key, found in self.noted.items() if found[0] in kept}

    def texts(self, blocks: list[NotedBlock], flow_id: Callable[[Flow], str]) -> list[str]:
        """The entries of noted blocks, in their order."""
        return self.renderer.render(self.templates, self.notes(blocks, flow_id))

    def _noted(self, flow: Flow, flow_id: str, action: Action, outcome: InvokeOutcome | None, fault: str | None,
               ended: Any) -> tuple[int, bool, Action, Flow]:
        block = (outcome.block or flow.blocks.get(action.identifier)) if outcome is not None else None
        invoked = outcome is not None and block is not None
        head, middle, tail, with_external = self._parts(flow, flow_id, action, outcome if invoked else None,
                                                        None if invoked else fault)
        template_id, self.next_id = self.next_id, self.next_id + 1
        self.templates[template_id] = (head, middle, tail[:-1] if with_external else tail, with_external)
        found = self.noted[(id(action), id(flow), ended)] = (template_id, with_external, action, flow)
        return found

    @staticmethod
    def _parts(flow: Flow, flow_id: str, action: Action, outcome: InvokeOutcome | None,
               fault: str | None) -> tuple[str, str, str, bool]:
        entry = block_entry(contact_id=_CONTACT, flow=flow, flow_id=flow_id, action=action, at=0.0,
                            outcome=outcome, fault=fault)
        entry["Timestamp"] = _STAMP
        with_external = "ExternalResults" in entry
        entry.pop("ExternalResults", None)
        text = orjson.dumps(entry).decode()
        head, _, rest = text.partition(orjson.dumps(_CONTACT).decode())
        middle, _, tail = rest.partition(orjson.dumps(_STAMP).decode()[1:-1])
        return head, middle, tail, with_external
