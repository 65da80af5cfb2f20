"""Connect's flow logs: one entry per block a contact runs while logging is on (the instance's
setting and the flow's Set logging behavior block), in the shape Connect writes to the log group
`/aws/connect/<instance-alias>`. The Invoke block's entry is seed 003's, field for field; other
blocks carry their module type (Connect's name where known, else the action's type), identifier,
parameters and, when something went wrong in them, `Results`. Pure: the caller stamps the time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson

from simulator.connect.flow import Action, Flow
from simulator.connect.invoke import InvokeOutcome, flow_log_record, log_timestamp

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


_MILLIS = [f"{ms:03d}Z" for ms in range(1000)]
_CONTACT, _STAMP = "\x00contact\x00", "\x00stamp\x00"  # markers no entry's fixed fields hold


# A block as the instance noted it when it ran: (emulated time, contact id, flow, action, outcome, fault)
NotedBlock = tuple[float, str, Flow, Action, "InvokeOutcome | None", "str | None"]


class EntryText:
    """Flow log entries as JSON text, byte for byte `orjson.dumps(block_entry(...))`, made in batches:
    what is fixed for a block (its flow, module type, identifier, parameters, an error's Results) is
    serialised once and cached, and each entry puts in its contact, time and, for an Invoke block that
    succeeded, its ExternalResults. tests/connect/test_flow_log.py holds it to block_entry."""

    def __init__(self) -> None:
        # a block's fixed parts, by the identity of its action and flow and how it ended
        # (the flow and action are kept in the value, so that their ids stay theirs)
        self.noted: dict[tuple[int, int, Any], tuple[str, str, str, bool, Action, Flow]] = {}
        self.seconds: dict[int, str] = {}  # the Timestamp up to its milliseconds, per second
        self.contacts: dict[str, str] = {}  # a contact id as JSON: a contact writes some forty entries

    def _second(self, second: int) -> str:
        head = self.seconds.get(second)
        if head is None:
            if len(self.seconds) > 4096:
                self.seconds.clear()
            head = self.seconds[second] = log_timestamp(float(second))[:-4]
        return head

    def _contact(self, contact_id: str) -> str:
        if len(self.contacts) > 8192:
            self.contacts.clear()
        contact = self.contacts[contact_id] = orjson.dumps(contact_id).decode()
        return contact

    def texts(self, blocks: list[NotedBlock], flow_id: Callable[[Flow], str]) -> list[str]:
        """The entries of noted blocks, in their order: the per-entry work is one lookup of the block's
        parts, the contact's and the second's cached text, and one f-string (this runs for every block
        every contact runs, so it is written for the interpreter's speed)."""
        noted, contacts, millis, modf = self.noted, self.contacts, _MILLIS, math.modf
        dumps, last_whole, second = orjson.dumps, -1.0, ""
        out: list[str] = []
        append = out.append
        for at, contact_id, flow, action, outcome, fault in blocks:
            ended = fault if outcome is None else outcome.branch == "Success"  # a bool: never a fault's words
            parts = noted.get((id(action), id(flow), ended))
            if parts is None:
                parts = self._noted(flow, flow_id(flow), action, outcome, fault, ended)
            head, middle, tail, with_external, _, _ = parts
            contact = contacts.get(contact_id) or self._contact(contact_id)
            fraction, whole = modf(at)
            micros = round(fraction * 1e6)  # as datetime.fromtimestamp rounds (half to even)
            if fraction < 0 or micros >= 1_000_000:  # before 1970, or rounded up into the next second
                stamp = log_timestamp(at)
            else:
                if whole != last_whole:
                    last_whole, second = whole, self._second(int(whole))
                stamp = second + millis[micros // 1000]
            if with_external:
                append(f'{head}{contact}{middle}{stamp}{tail},"ExternalResults":{dumps(outcome.external).decode()}}}')  # type: ignore[union-attr]
            else:
                append(f"{head}{contact}{middle}{stamp}{tail}")
        return out

    def _noted(self, flow: Flow, flow_id: str, action: Action, outcome: InvokeOutcome | None, fault: str | None,
               ended: Any) -> tuple[str, str, str, bool, Action, Flow]:
        block = (outcome.block or flow.blocks.get(action.identifier)) if outcome is not None else None
        invoked = outcome is not None and block is not None
        head, middle, tail, with_external = self._parts(flow, flow_id, action, outcome if invoked else None,
                                                        None if invoked else fault)
        if len(self.noted) > 4096:  # bounded, whatever the faults' words
            self.noted.clear()
        parts = self.noted[(id(action), id(flow), ended)] = (
            head, middle, tail[:-1] if with_external else tail, with_external, action, flow)
        return parts

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
