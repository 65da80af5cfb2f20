"""Flow log entries made in batches (`EntryText`), and made of notes that crossed JSON (the emulator's
flow log route, the run folder's file), are byte for byte the entries `block_entry` makes one by one:
the hand-made fast paths held to the reference. A malformed body of notes is one clear refusal."""

from __future__ import annotations

import json
import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.connect.flow_log import EntryText, block_entry
from simulator.connect.invoke import InvokeOutcome
from simulator.deployment.flow_log_notes import (
    EntryRenderer,
    NotesError,
    log_timestamp,
    notes_body,
    read_notes_body,
)
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


def test_a_batch_past_the_template_bound_keeps_every_template_its_notes_name(tmp_path_factory):
    """Faults whose words differ per contact (a contact's id in them) make a template each: past the
    bound, the cache is emptied between batches, never under a batch's earlier notes."""
    flow = _flow(tmp_path_factory)
    made = EntryText()
    for batch in range(3):
        noted = [(1_796_400_000.0 + i, f"contact-{batch}-{i}", flow, flow.actions["say"], None,
                  f"no asynchronous invocation 'contact-{batch}-{i}-1' to load the result of") for i in range(3000)]
        notes = made.notes(noted, lambda _: ARN)
        assert {note[0] for note in notes} <= set(made.templates)
        assert made.renderer.render(made.templates, notes) == [
            orjson.dumps(block_entry(contact_id=contact, flow=flow, flow_id=ARN, action=action, at=at, outcome=outcome,
                                     fault=fault)).decode() for at, contact, flow, action, outcome, fault in noted]
    assert len(made.templates) <= 3000 + 4096  # bounded across batches


def test_notes_made_as_blocks_run_keep_their_templates_past_the_bound_until_taken(tmp_path_factory):
    """The load path makes each block's note as it runs and takes them on a beat: past the bound, the
    templates of the notes not taken yet stay."""
    flow = _flow(tmp_path_factory)
    made = EntryText()
    made_notes = [made.note(1_796_400_000.0 + i, f"c{i}", flow, flow.actions["say"], None, f"no such thing c{i}",
                            lambda _: ARN) for i in range(5000)]
    pending = made_notes[4000:]  # the first 4,000 were taken, with their templates, in a piece of their own
    made.bounded(pending)
    assert set(made.templates) == {note[0] for note in pending} and len(made.noted) == len(pending)
    assert made.renderer.render(made.templates, pending)[0] == orjson.dumps(block_entry(
        contact_id="c4000", flow=flow, flow_id=ARN, action=flow.actions["say"], at=1_796_404_000.0, outcome=None,
        fault="no such thing c4000")).decode()
    again = made.note(1_796_409_000.0, "c4000", flow, flow.actions["say"], None, "no such thing c4000", lambda _: ARN)
    assert again[0] == pending[0][0]  # a kept template is still found by its block


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


@settings(max_examples=200, deadline=None)
@given(picks=st.lists(st.tuples(st.sampled_from(["log", "invoke", "say", "sorry", "bye"]), st.booleans(),
                                st.floats(min_value=0, max_value=4e9, allow_nan=False), st.text(max_size=12),
                                st.dictionaries(st.text(max_size=6), st.text(max_size=8), max_size=2)),
                      max_size=30), pieces=st.integers(1, 4))
def test_notes_carried_in_a_body_are_made_the_reference_entries(tmp_path_factory, picks, pieces):
    """The emulator's route and the run folder's file make entries of notes that crossed JSON: the
    body joins the pieces' arrays without reading them, and the entries are byte for byte the reference."""
    flow = _flow(tmp_path_factory)
    noted = []
    for which, ok, at, contact, external in picks:
        outcome = fault = None
        if which == "invoke":
            outcome = InvokeOutcome(branch="Success" if ok else "Error", reason=None if ok else "function_error",
                                    executed_version="1", attempts=1, latency_s=0.01, http_status=200,
                                    external=external if ok else None, block=flow.blocks["invoke"])
        elif not ok:
            fault = "no such queue"
        noted.append((at, contact, flow, flow.actions[which], outcome, fault))
    made = EntryText()
    step = max(1, len(noted) // pieces)
    chunks, templates = [], {}
    for start in range(0, len(noted), step):
        notes = made.notes(noted[start:start + step], lambda _: ARN)
        templates.update({note[0]: made.templates[note[0]] for note in notes})
        chunks.append(orjson.dumps(notes))
    chunks.append(b"[]")  # a beat with nothing noted
    body = notes_body("eu-west-2", "/aws/connect/x", "i-1", 24.0, templates, chunks)
    region, group, stream, weight, read, notes = read_notes_body(body)
    assert (region, group, stream, weight) == ("eu-west-2", "/aws/connect/x", "i-1", 24.0)
    assert EntryRenderer().render(read, notes) == [
        orjson.dumps(block_entry(contact_id=contact, flow=flow, flow_id=ARN, action=action, at=at, outcome=outcome,
                                 fault=fault)).decode() for at, contact, flow, action, outcome, fault in noted]


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                     max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(body=st.dictionaries(st.sampled_from(["region", "logGroupName", "logStreamName", "weight", "templates",
                                             "notes"]), _JSON) | _JSON)
def test_a_malformed_body_of_notes_is_refused_in_one_line(body):
    """Whatever JSON arrives, reading it either gives notes or raises NotesError (a 400 naming what is
    wrong), never anything else."""
    try:
        read_notes_body(json.dumps(body).encode())
    except NotesError as exc:
        assert "\n" not in str(exc) and str(exc)
