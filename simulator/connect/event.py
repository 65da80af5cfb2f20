"""The `ContactFlowEvent` Amazon Connect sends to a Lambda function (the shape of seed 001)."""

from __future__ import annotations

import random
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
    # $.MediaStreams.Customer.Audio: null until a Start media streaming block starts the customer's
    # stream; replaced, never changed in place (an event not yet sent may hold it)
    customer_audio: dict[str, str] | None = None

    def contact_data(self) -> dict[str, Any]:
        endpoint_type = _ENDPOINT_TYPES.get(self.channel, "CHAT")  # (_endpoint_type)
        data: dict[str, Any] = {
            "Attributes": dict(self.attributes),
            "Channel": self.channel,
            "ContactId": self.contact_id,
            "CustomerEndpoint": {"Address": self.customer_address, "Type": endpoint_type},
            "InitialContactId": self.initial_contact_id or self.contact_id,
            "InitiationMethod": self.initiation_method,
            "InstanceARN": self.instance_arn,
            "MediaStreams": {"Customer": {"Audio": self.customer_audio}},
            "PreviousContactId": self.previous_contact_id or self.contact_id,
            "Queue": self.queue,
            "SystemEndpoint": {"Address": self.system_address, "Type": endpoint_type},
        }
        if self.segment_attributes:  # those [callers.segment_attributes] gives, typed as Connect's event types them
            data["SegmentAttributes"] = {key: {"ValueString": value} for key, value in self.segment_attributes.items()}
        return data


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
    "MediaStreams": lambda c: {"Customer": {"Audio": c.customer_audio}},
    "PreviousContactId": lambda c: c.previous_contact_id or c.contact_id, "Queue": lambda c: c.queue,
    "SystemEndpoint": lambda c: {"Address": c.system_address, "Type": _endpoint_type(c)},
}


def stream_customer_audio(contact: Contact, enabled: bool, rng: random.Random, now: float) -> None:
    """A Start (`enabled`) or Stop media streaming block, as the contact's data shows it from then on to
    references and functions ($.MediaStreams.Customer.Audio): started, the stream's ARN in Kinesis Video
    Streams and where it starts (a fragment number and epoch milliseconds); stopped, where it stops as
    well. Connect streams voice contacts only: another channel's stays null. Started again after a stop,
    the same stream starts at a new fragment."""
    if contact.channel != "VOICE":
        return
    audio = contact.customer_audio
    millis = str(int(now * 1000))
    if enabled:
        if audio is not None and "StopTimestamp" not in audio:
            return  # streaming already
        start = rng.randrange(10 ** 46, 10 ** 47 - 10 ** 30)
        arn = audio["StreamARN"] if audio is not None else _stream_arn(contact, millis)
        contact.customer_audio = {"StartFragmentNumber": str(start), "StartTimestamp": millis, "StreamARN": arn}
    elif audio is not None and "StopTimestamp" not in audio:
        stop = int(audio["StartFragmentNumber"]) + rng.randrange(1, 10 ** 12)
        contact.customer_audio = {**audio, "StopFragmentNumber": str(stop), "StopTimestamp": millis}


def _stream_arn(contact: Contact, millis: str) -> str:
    """A contact's Kinesis video stream, named as Connect names it: the prefix and the instance's alias
    in it are the instance's settings, "shiftsim" and the instance's id here."""
    _, partition, _, region, account, resource = contact.instance_arn.split(":", 5)
    instance = resource.rpartition("/")[2]
    return (f"arn:{partition}:kinesisvideo:{region}:{account}:stream/"
            f"shiftsim-connect-{instance}-contact-{contact.contact_id}/{millis}")


def contact_flow_event(contact: Contact, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The event of one Invoke AWS Lambda function block: contact data plus the block's parameters."""
    return {
        "Details": {"ContactData": contact.contact_data(), "Parameters": dict(parameters or {})},
        "Name": "ContactFlowEvent",
    }
