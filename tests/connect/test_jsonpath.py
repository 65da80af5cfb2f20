"""Connect's JSONPath references as flows write them: dots, or brackets for names with other
characters (`$['AwsRegion']`, `$.SegmentAttributes['connect:EmailSubject']`), whole in a parameter or
inside a prompt's text; segment attributes from the scenario's callers, and the references a
simulated contact has no data for, said before the run."""

from __future__ import annotations

import pytest

from simulator.connect.caller import CallerSpec
from simulator.connect.event import Contact, contact_flow_event
from simulator.connect.flow import load_flow
from simulator.connect.interpreter import ContactState, interpolate, references_without_data, resolve
from simulator.connect.jsonpath import REFERENCE, parts, references_in
from tests.connect.test_flow import act, write_flow
from tests.connect.test_flow_language import run


@pytest.mark.parametrize("reference, steps", [
    ("$.External.version", ("External", "version")),
    ("$['AwsRegion']", ("AwsRegion",)),
    ("$.Attributes['my attribute']", ("Attributes", "my attribute")),
    ('$.Attributes["my attribute"]', ("Attributes", "my attribute")),
    ("$.Attributes.['a.b'].c", ("Attributes", "a.b", "c")),
    ("$.SegmentAttributes['connect:EmailSubject']", ("SegmentAttributes", "connect:EmailSubject")),
])
def test_dots_and_brackets_name_the_same_steps(reference, steps):
    assert parts(reference) == steps


@pytest.mark.parametrize("text", ["$.", "$.A.", "$.A..B", "$.A['b", "$A", "A.B", "$.A b"])
def test_what_is_not_a_reference_as_a_whole_resolves_to_nothing(text):
    with pytest.raises(KeyError):
        parts(text)


def test_references_in_text_and_nested_parameters():
    text = "Your balance is $.External.balance. Region $['AwsRegion'], about $.Attributes['topic']!"
    assert REFERENCE.findall(text) == ["$.External.balance", "$['AwsRegion']", "$.Attributes['topic']"]
    assert list(references_in({"a": ["$.X.y", "Hi $.Attributes.n."], "b": {"c": "$['Channel']"}, "d": 3})) == [
        "$.X.y", "$.Attributes.n", "$['Channel']"]


def test_a_sentences_last_dot_is_played_after_the_value():
    state = ContactState(Contact(contact_id="c-1", attributes={"my topic": "billing"}))
    state.external = {"balance": "12"}
    assert interpolate("Your balance is $.External.balance.", state) == "Your balance is 12."
    assert resolve("$.Attributes['my topic']", state) == "billing" and resolve("$['ContactId']", state) == "c-1"
    assert resolve("$['AwsRegion']", state) == resolve("$.AwsRegion", state) == "us-east-1"  # the instance's region


def email_flow(tmp_path):
    return load_flow(write_flow(tmp_path, "email", [
        act("subject", "UpdateContactAttributes",
            {"Attributes": {"Subject": "$.SegmentAttributes['connect:EmailSubject']"}}, "route",
            {"NoMatchingError": "route"}),
        act("route", "Compare", {"ComparisonValue": "$.SegmentAttributes['connect:EmailSubject']"}, None,
            {"NoMatchingCondition": "general"}, [("TextContains", "Credit Card", "cards")]),
        act("cards", "MessageParticipant", {"Text": "Cards: $.Attributes.Subject"}, "bye"),
        act("general", "MessageParticipant", {"Text": "General"}, "bye"),
        act("bye", "DisconnectParticipant")]))


def test_segment_attributes_come_from_the_callers_drawn_per_contact_by_weight(tmp_path):
    flows = email_flow(tmp_path)
    spec = CallerSpec(segment_attributes={"connect:Subtype": {"connect:Email": 1.0},
                                          "connect:EmailSubject": {"Credit Card statement": 3.0, "Hello": 1.0}})
    heard = []
    for seed in range(400):
        ended, state, hooks = run(flows, spec, seed=seed)
        assert state.flow_errors == [] and state.contact.segment_attributes["connect:Subtype"] == "connect:Email"
        heard.append(hooks.prompts[0])
        # and the functions' events carry them, typed as Connect's are (a handler reads ['connect:Subtype']['ValueString'])
        event = contact_flow_event(state.contact)["Details"]["ContactData"]
        assert event["SegmentAttributes"]["connect:Subtype"] == {"ValueString": "connect:Email"}
        assert event["SegmentAttributes"]["connect:EmailSubject"]["ValueString"] in ("Credit Card statement", "Hello")
    cards = heard.count("Cards: Credit Card statement")
    assert cards + heard.count("General") == 400
    assert 255 <= cards <= 345  # 3 in 4 of 400: 300, and beyond 45 either way has a chance under 0.1 %
    assert references_without_data(flows, spec) == []
    assert "SegmentAttributes" not in run(flows, seed=0)[1].contact.contact_data()  # none given: none sent


def test_callers_numbers_are_drawn_per_contact_from_their_patterns(tmp_path):
    """`[callers] numbers`: each # a digit drawn per contact, patterns by weight; without it every
    contact calls from the same number (a function keyed on the caller's number sees one caller)."""
    flows = load_flow(write_flow(tmp_path, "who", [
        act("say", "MessageParticipant", {"Text": "You called from $.CustomerEndpoint.Address"}, "bye"),
        act("bye", "DisconnectParticipant")]))
    spec = CallerSpec(numbers={"+1206555####": 9.0, "+15555550100": 1.0})
    heard = [run(flows, spec, seed=seed)[2].prompts[0].removeprefix("You called from ") for seed in range(400)]
    drawn = [n for n in heard if n != "+15555550100"]
    assert all(len(n) == 12 and n.startswith("+1206555") and n[1:].isdigit() for n in drawn)
    assert 340 <= len(drawn) <= 400 and len(set(drawn)) >= 300  # 9 in 10 of 400 (360), 10,000 numbers to draw
    assert {run(flows, seed=seed)[2].prompts[0] for seed in range(5)} == {"You called from +15555550100"}


def test_callers_channels_are_drawn_per_contact_with_their_endpoints(tmp_path):
    """`[callers] channel`: a flow's branch on $.Channel follows the drawn channel, and the Lambda event's
    endpoints are the channel's (a phone number for VOICE, an address for EMAIL); without it every
    contact is CHAT, which a flow reading $.Channel is told at start."""
    flows = load_flow(write_flow(tmp_path, "channel", [
        act("which", "Compare", {"ComparisonValue": "$.Channel"}, None, {"NoMatchingCondition": "other"},
            [("Equals", "VOICE", "voice"), ("Equals", "EMAIL", "email")]),
        act("voice", "MessageParticipant", {"Text": "Voice from $.CustomerEndpoint.Address"}, "bye"),
        act("email", "MessageParticipant", {"Text": "Email from $.CustomerEndpoint.Address"}, "bye"),
        act("other", "MessageParticipant", {"Text": "Other"}, "bye"),
        act("bye", "DisconnectParticipant")]))
    spec = CallerSpec(channel={"VOICE": 3.0, "EMAIL": 1.0}, numbers={"+1206555####": 1.0})
    heard, events = [], []
    for seed in range(400):
        _, state, hooks = run(flows, spec, seed=seed)
        heard.append(hooks.prompts[0])
        events.append(state.contact.contact_data())
    voice = [h for h in heard if h.startswith("Voice from +1206555")]
    assert heard.count("Email from customer@example.com") + len(voice) == 400
    assert 255 <= len(voice) <= 345  # 3 in 4 of 400: 300, and beyond 45 either way has a chance under 0.1 %
    assert {(e["Channel"], e["CustomerEndpoint"]["Type"], e["SystemEndpoint"]["Type"]) for e in events} == {
        ("VOICE", "TELEPHONE_NUMBER", "TELEPHONE_NUMBER"), ("EMAIL", "EMAIL_ADDRESS", "EMAIL_ADDRESS")}
    assert references_without_data(flows, spec) == []
    # without it a contact keeps the channel and number it was made with (a rehearsal makes CHAT contacts)
    assert {run(flows, seed=seed)[2].prompts[0] for seed in range(5)} == {"Voice from +15555550100"}
    assert references_without_data(flows, CallerSpec()) == [
        "flow channel: $.Channel: every simulated contact is a CHAT contact (give the channels in [callers] channel): "
        "read by block which, which read CHAT for every contact"]


def test_a_reference_a_simulated_contact_has_no_data_for_is_said_and_takes_the_error_branch(tmp_path):
    flows = email_flow(tmp_path)
    ended, state, hooks = run(flows, CallerSpec())
    assert hooks.prompts == ["General"] and [e[1] for e in state.flow_errors] == ["subject"]  # Compare: no match
    assert references_without_data(flows, CallerSpec()) == [
        "flow email: $.SegmentAttributes['connect:EmailSubject']: the contacts have no such segment attribute (give it "
        "in [callers.segment_attributes]): read by blocks subject, route, which have no value for it in the rehearsal "
        "(the summary counts the error branches taken on it)"]
    (tmp_path / "other").mkdir()
    profile = load_flow(write_flow(tmp_path / "other", "profile", [
        act("hi", "MessageParticipant", {"Text": "Hello $.Customer.FirstName"}, "bye"),
        act("bye", "MessageParticipant", {"Text": "Bye $.Customer.LastName, $.Customer.FirstName"}, "end"),
        act("end", "DisconnectParticipant")]))
    assert references_without_data(profile, CallerSpec()) == [
        "flow profile: $.Customer.FirstName, $.Customer.LastName: a simulated contact has no Customer data (Connect's, "
        "not modelled): read by blocks hi, bye, which have no value for it in the rehearsal (the summary counts the "
        "error branches taken on it)"]


def bot_flow(tmp_path):
    """An AI agent's bot (no intent tested) in a loop until it says the conversation is done."""
    return load_flow(write_flow(tmp_path, "agent", [
        act("bot", "ConnectParticipantWithLexBot", {"Text": "How can I help?", "LexV2Bot": {"AliasArn": "arn:lex"}},
            "check", {"NoMatchingError": "sorry"}),
        act("check", "Compare", {"ComparisonValue": "$.Lex.SessionAttributes.toolResult"}, None,
            {"NoMatchingCondition": "bot"}, [("Equals", "COMPLETE", "bye"), ("Equals", "ESCALATION", "agent")]),
        act("agent", "MessageParticipant", {"Text": "An agent, for $.Lex.SessionAttributes.reason"}, "queue"),
        act("queue", "TransferContactToQueue", {}, None, {"QueueAtCapacity": "bye", "NoMatchingError": "bye"}),
        act("sorry", "MessageParticipant", {"Text": "Sorry"}, "bye"),
        act("bye", "DisconnectParticipant")]))


def test_a_bot_that_tests_no_intent_goes_on_with_the_session_attributes_the_callers_give(tmp_path):
    flows = bot_flow(tmp_path)
    spec = CallerSpec(lex_session_attributes={"toolResult": {"COMPLETE": 1.0, "ESCALATION": 1.0, "CONTINUE": 2.0},
                                              "reason": {"billing": 1.0}})
    ended = []
    for seed in range(200):
        how, state, hooks = run(flows, spec, seed=seed)
        assert state.flow_errors == [] and "Sorry" not in hooks.prompts
        ended.append(how)
        if how == "queued":
            assert hooks.prompts[-1] == "An agent, for billing"
    assert set(ended) == {"queued", "disconnected"}
    assert references_without_data(flows, spec) == []


def test_a_loop_on_what_the_callers_never_give_is_said_and_stopped_as_a_runaway(tmp_path):
    flows = bot_flow(tmp_path)
    assert references_without_data(flows, CallerSpec()) == [
        "flow agent: $.Lex.SessionAttributes.toolResult, $.Lex.SessionAttributes.reason: the callers' bot conversations "
        "set no such session attribute (give it in [callers.lex_session_attributes]): read by blocks check, agent, which "
        "have no value for it in the rehearsal (the summary counts the error branches taken on it)"]
    how, state, hooks = run(flows, CallerSpec())
    assert how == "runaway" and state.last == ("agent", "check") and len(hooks.prompts) == 500  # 1,000 blocks, none invoking


def test_a_bots_intent_and_session_attributes_are_data_a_simulated_contact_has(tmp_path):
    flows = load_flow(write_flow(tmp_path, "bot", [
        act("say", "MessageParticipant", {"Text": "$.Lex.IntentName $.Lex.SessionAttributes $.Lex.Slots.date"}, "bye"),
        act("bye", "DisconnectParticipant")]))
    (said,) = references_without_data(flows, CallerSpec())
    assert said.startswith("flow bot: $.Lex.Slots.date: a simulated caller's bot conversation gives its intent and "
                           "session attributes only: read by block say,")
