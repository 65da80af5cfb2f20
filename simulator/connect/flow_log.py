"""Connect's flow logs: one entry per block a contact runs while logging is on (the instance's
setting and the flow's Set logging behavior block), in the shape Connect writes to the log group
`/aws/connect/<instance-alias>`. The Invoke block's entry is seed 003's, field for field; other
blocks carry their module type (Connect's name where known, else the action's type), identifier,
parameters and, when something went wrong in them, `Results`. Pure: the caller stamps the time.
"""

from __future__ import annotations

from typing import Any

from simulator.connect.flow import Action, Flow
from simulator.connect.invoke import InvokeOutcome, flow_log_record, log_timestamp

# The ContactFlowModuleType Connect writes for each action type (others: the action's own type).
MODULE_TYPES = {
    "InvokeLambdaFunction": "InvokeExternalResource", "UpdateFlowLoggingBehavior": "SetLoggingBehavior",
    "MessageParticipant": "PlayPrompt", "MessageParticipantIteratively": "PlayPrompt",
    "GetParticipantInput": "GetUserInput", "ConnectParticipantWithLexBot": "GetUserInput",
    "UpdateContactAttributes": "SetAttributes", "Compare": "CheckAttribute", "TransferToFlow": "Transfer",
    "TransferContactToQueue": "Transfer", "TransferParticipantToThirdParty": "Transfer",
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
