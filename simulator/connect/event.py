"""The `ContactFlowEvent` Amazon Connect sends to a Lambda function (the shape of seed 001)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_INSTANCE_ARN = (
    "arn:aws:connect:us-east-1:123456789012:instance/00000000-0000-4000-8000-000000000000"
)


@dataclass
class Contact:
    """One contact as Connect knows it while a flow runs."""

    contact_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    channel: str = "VOICE"
    customer_address: str = "+15555550100"
    system_address: str = "+15555550199"
    instance_arn: str = DEFAULT_INSTANCE_ARN
    initiation_method: str = "INBOUND"
    initial_contact_id: str | None = None
    previous_contact_id: str | None = None
    queue: dict[str, str] | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    segment_attributes: dict[str, str] = field(default_factory=dict)  # $.SegmentAttributes: connect:Subtype, ...

    def contact_data(self) -> dict[str, Any]:
        endpoint_type = _endpoint_type(self)
        return {
            "Attributes": dict(self.attributes),
            "Channel": self.channel,
            "ContactId": self.contact_id,
            "CustomerEndpoint": {"Address": self.customer_address, "Type": endpoint_type},
            "InitialContactId": self.initial_contact_id or self.contact_id,
            "InitiationMethod": self.initiation_method,
            "InstanceARN": self.instance_arn,
            "PreviousContactId": self.previous_contact_id or self.contact_id,
            "Queue": self.queue,
            "SystemEndpoint": {"Address": self.system_address, "Type": endpoint_type},
        }


EMAIL_ADDRESSES = ("customer@example.com", "support@example.com")  # an EMAIL contact's customer and system addresses


_ENDPOINT_TYPES = {"VOICE": "TELEPHONE_NUMBER", "EMAIL": "EMAIL_ADDRESS"}  # a chat's or task's: "CHAT"


def _endpoint_type(contact: Contact) -> str:  # on every invocation's event: a lookup, no dict built
    return _ENDPOINT_TYPES.get(contact.channel, "CHAT")


# Each field of the contact data on its own, for a flow's `$.ContactId`-style references (resolving
# one does not build the rest); tests/connect/test_interpolate.py holds it to contact_data().
SYSTEM_DATA: dict[str, Callable[[Contact], Any]] = {
    "Attributes": lambda c: dict(c.attributes), "Channel": lambda c: c.channel, "ContactId": lambda c: c.contact_id,
    "CustomerEndpoint": lambda c: {"Address": c.customer_address, "Type": _endpoint_type(c)},
    "InitialContactId": lambda c: c.initial_contact_id or c.contact_id,
    "InitiationMethod": lambda c: c.initiation_method, "InstanceARN": lambda c: c.instance_arn,
    "PreviousContactId": lambda c: c.previous_contact_id or c.contact_id, "Queue": lambda c: c.queue,
    "SystemEndpoint": lambda c: {"Address": c.system_address, "Type": _endpoint_type(c)},
}


def contact_flow_event(contact: Contact, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The event of one Invoke AWS Lambda function block: contact data plus the block's parameters."""
    return {
        "Details": {"ContactData": contact.contact_data(), "Parameters": dict(parameters or {})},
        "Name": "ContactFlowEvent",
    }
