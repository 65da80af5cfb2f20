"""Flow log entries made in batches (`EntryText`) are, byte for byte, the entries `block_entry`
makes one by one, and PutLogEvents' body built here is the one botocore serialises: the hand-made
fast paths held to the reference and to the library."""

from __future__ import annotations

import json
import random

import botocore.session
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.connect.flow_log import EntryText, block_entry
from simulator.connect.invoke import InvokeOutcome, log_timestamp
from simulator.loadgen.connect_telemetry import batch_bounds, put_log_events_body
from tests.connect.test_connect_reports import flow_with

ARN = "arn:aws:connect:us-east-1:123456789012:instance/i/contact-flow/f"


@settings(max_examples=300, deadline=None)
@given(at=st.floats(min_value=1e9, max_value=4e9, allow_nan=False), contact=st.text(max_size=40),
       which=st.sampled_from(["log", "invoke", "say", "sorry", "bye"]), ok=st.booleans(),
       external=st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=3),
       fault=st.none() | st.text(max_size=30))
def test_entries_in_batches_are_the_reference_entries(tmp_path_factory, at, contact, which, ok, external, fault):
    flow = _flow(tmp_path_factory)
    action = flow.actions[which]
    outcome = None
    if which == "invoke":
        outcome = InvokeOutcome(branch="Success" if ok else "Error", reason=None if ok else "function_error",
                                executed_version="1", attempts=1, latency_s=0.01, http_status=200,
                                external=external if ok else None, block=flow.blocks["invoke"])
        fault = None
    reference = orjson.dumps(block_entry(contact_id=contact, flow=flow, flow_id=ARN, action=action, at=at,
                                         outcome=outcome, fault=fault)).decode()
    made = EntryText()
    for _ in range(2):  # the first call fills the caches, the second reads them
        noted = (at, contact, flow, action, outcome, fault)
        assert made.texts([noted, noted], lambda _: ARN) == [reference, reference]


def test_a_batch_of_many_contacts_blocks_and_seconds_is_the_reference_entries(tmp_path_factory):
    """The batch's caches (the second, the contact, the block's parts by identity) never hand one
    entry another's text: entries alternate contacts, blocks, outcomes and seconds."""
    flow = _flow(tmp_path_factory)
    rng = random.Random(7)
    noted = []
    for i in range(3000):
        which = rng.choice(["log", "invoke", "say", "sorry", "bye"])
        ok = rng.random() < 0.7
        outcome = fault = None
        if which == "invoke":
            outcome = InvokeOutcome(branch="Success" if ok else "Error", reason=None if ok else "function_error",
                                    executed_version="1", attempts=1, latency_s=0.01, http_status=200,
                                    external={"n": str(i)} if ok else None, block=flow.blocks["invoke"])
        elif not ok:
            fault = rng.choice(["Success", "Error", "no such queue"])  # a fault's words may be a branch's
        noted.append((1_796_400_000 + i * rng.choice([0.0004, 0.3, 1.7]), f"contact-{rng.randrange(40)}", flow,
                      flow.actions[which], outcome, fault))
    made = EntryText()
    assert made.texts(noted, lambda _: ARN) == [
        orjson.dumps(block_entry(contact_id=contact, flow=flow, flow_id=ARN, action=action, at=at, outcome=outcome,
                                 fault=fault)).decode() for at, contact, flow, action, outcome, fault in noted]


@settings(max_examples=500, deadline=None)
@given(at=st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_the_cached_timestamp_is_the_reference_one(tmp_path_factory, at):
    flow = _flow(tmp_path_factory)
    (text,) = EntryText().texts([(at, "c", flow, flow.actions["bye"], None, None)], lambda _: ARN)
    assert json.loads(text)["Timestamp"] == log_timestamp(at)


_FLOWS: dict = {}


def _flow(tmp_path_factory):
    if "flow" not in _FLOWS:
        _FLOWS["flow"] = flow_with(tmp_path_factory.mktemp("flow"), "Enabled").start
    return _FLOWS["flow"]


def test_the_put_log_events_body_is_botocores():
    model = botocore.session.get_session().get_service_model("logs").operation_model("PutLogEvents")
    from botocore.serialize import create_serializer

    events = [{"timestamp": 1_796_400_000_000 + i, "message": json.dumps({"i": i, "text": "é \"quoted\" \u2028"})}
              for i in range(50)]
    params = {"logGroupName": "/aws/connect/shiftsim", "logStreamName": "instance", "logEvents": events}
    theirs = create_serializer("json").serialize_to_request(params, model)["body"]
    assert json.loads(put_log_events_body("/aws/connect/shiftsim", "instance", events)) == json.loads(theirs)


def _greedy_bounds(messages, max_bytes, max_events):
    """PutLogEvents' batches as the limits read: add each event while the batch stays within them."""
    bounds, start, size = [], 0, 0
    for i, text in enumerate(messages):
        cost = len(text.encode()) + 26
        if i > start and (i - start == max_events or size + cost > max_bytes):
            bounds.append((start, i))
            start, size = i, 0
        size += cost
    return bounds + ([(start, len(messages))] if start < len(messages) else [])


@settings(max_examples=200, deadline=None)
@given(messages=st.lists(st.text(alphabet="ab\u00e9\u2603", max_size=60_000) | st.text(max_size=20), max_size=120),
       max_events=st.integers(1, 12))
def test_batches_are_the_greedy_batches_within_cloudwatch_logs_limits(messages, max_events):
    assert batch_bounds(messages, max_bytes=100_000, max_events=max_events) == _greedy_bounds(messages, 100_000,
                                                                                             max_events)
