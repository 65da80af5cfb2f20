"""Every action type of Amazon Connect's published flow-language reference, by the reference's own
groups, and what a rehearsal does with each: the catalogue `flow.py` loads against and
`interpreter.py` runs by. docs/flows.md's table covers each type; tests/connect/test_flow_actions.py holds
the three together.
"""

from __future__ import annotations

# The reference's groups (docs.aws.amazon.com/connect/latest/APIReference/flow-language-actions.html).
CONTACT_ACTIONS = (
    "CompleteOutboundCall", "CreateCase", "CreateTask", "CreateWisdomSession", "DequeueContactAndTransferToQueue",
    "EndFlowModuleExecution", "GetCase", "InvokeFlowModule", "ResumeContact", "StartOutboundChatContact",
    "TagContact", "TransferContactToAgent", "TransferContactToQueue", "UnTagContact", "UpdateCase",
    "UpdateContactAttributes", "UpdateContactCallbackNumber", "UpdateContactData", "UpdateContactEventHooks",
    "UpdateContactMediaProcessing", "UpdateContactMediaStreamingBehavior",
    "UpdateContactRecordingAndAnalyticsBehavior", "UpdateContactRecordingBehavior", "UpdateContactRoutingBehavior",
    "UpdateContactTargetQueue", "UpdateContactTextToSpeechVoice", "UpdatePreviousContactParticipantState",
)
FLOW_CONTROL_ACTIONS = (
    "CheckHoursOfOperation", "CheckMetricData", "CheckOutboundCallStatus", "CheckVoiceId", "Compare",
    "DistributeByPercentage", "EndFlowExecution", "GetMetricData", "Loop", "StartVoiceIdStream", "TransferToFlow",
    "UpdateFlowAttributes", "UpdateFlowLoggingBehavior", "UpdateRoutingCriteria", "Wait",
)
INTERACTIONS = (
    "AssociateContactToCustomerProfile", "CreateCallbackContact", "CreateCustomerProfile",
    "GetCalculatedAttributesForCustomerProfile", "GetCustomerProfile",
    "GetCustomerProfileObject", "InvokeLambdaFunction", "UpdateCustomerProfile",
)
PARTICIPANT_ACTIONS = (
    "ConnectParticipantWithLexBot", "DisconnectParticipant", "GetParticipantInput", "MessageParticipant",
    "MessageParticipantIteratively", "ShowView", "TransferParticipantToThirdParty",
)
REFERENCE = CONTACT_ACTIONS + FLOW_CONTROL_ACTIONS + INTERACTIONS + PARTICIPANT_ACTIONS

# Settings for later parts of the contact (the queue, the agent, the recording, streaming, analytics,
# tags, cases and tasks made on the side): the IVR's path does not depend on them. Recorded as set
# (ContactState.settings), then the next action.
RECORDED_AND_GO_ON = (
    "CompleteOutboundCall", "CreateCase", "CreateTask", "CreateWisdomSession", "ResumeContact",
    "StartOutboundChatContact", "TagContact", "UnTagContact", "UpdateCase", "UpdateContactData",
    "UpdateContactEventHooks", "UpdateContactMediaProcessing", "UpdateContactMediaStreamingBehavior",
    "UpdateContactRecordingAndAnalyticsBehavior", "UpdateContactRecordingBehavior", "UpdateContactRoutingBehavior",
    "UpdateContactTextToSpeechVoice", "UpdatePreviousContactParticipantState", "StartVoiceIdStream",
    "UpdateRoutingCriteria", "AssociateContactToCustomerProfile", "CreateCustomerProfile",
    "UpdateCustomerProfile", "ShowView",
)
# Lookups in services the rehearsal has no data of (Customer Profiles, Cases): a simulated caller
# has no profile and no case, so they take the branch Connect takes when nothing is found.
NOTHING_FOUND = ("GetCase", "GetCustomerProfile", "GetCustomerProfileObject",
                 "GetCalculatedAttributesForCustomerProfile")
