"""Every action type of Connect's flow-language reference loads and runs, one flow of our own per
group of actions: queues and agents end the IVR part; a third party's call goes on in the flow
unless ContinueFlowExecution says not; modules run and return; percentages, flow attributes,
outbound and Voice ID checks choose branches; streaming, recording, analytics, tags, cases, tasks
and profiles are recorded as set and the flow goes on. The catalogue, the interpreter and
docs/flows.md's table hold the same list; a flow set's refusal names every problem at once."""

from __future__ import annotations

import re

import pytest

from simulator.connect.actions import NOTHING_FOUND, RECORDED_AND_GO_ON, REFERENCE
from simulator.connect.caller import CallerSpec
from simulator.connect.flow import FlowError, load_flow
from tests.connect.test_flow import ARN, BYE, Hooks, act, write_flow
from tests.connect.test_flow_language import run
from tests.helpers import ROOT

DOCS = ROOT / "docs" / "flows.md"


def test_the_catalogue_is_connects_reference_and_the_docs_table_covers_it():
    assert len(set(REFERENCE)) == len(REFERENCE) >= 55
    rows = [line for line in DOCS.read_text().splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([A-Z][A-Za-z]+)`", row.split(" | ")[0])}
    assert set(REFERENCE) <= documented, sorted(set(REFERENCE) - documented)
    assert set(RECORDED_AND_GO_ON) | set(NOTHING_FOUND) <= set(REFERENCE)


@pytest.mark.parametrize("kind", REFERENCE)
def test_each_action_type_loads_and_runs_without_a_fault(tmp_path, kind):
    """Each type, with no parameters beyond what it needs, in a flow of its own: it loads, and the
    contact passes it without a flow error (what it does is each group's test below)."""
    parameters = {"InvokeLambdaFunction": {"LambdaFunctionARN": ARN}, "InvokeFlowModule": {"FlowModuleId": "mod"},
                  "TransferToFlow": {"ContactFlowId": "mod"}, "UpdateContactTargetQueue": {"QueueId": "q"},
                  "UpdateContactCallbackNumber": {"CallbackNumber": "+15550100"}}.get(kind, {})
    write_flow(tmp_path, "mod", [act("back", "EndFlowModuleExecution")])
    flow = write_flow(tmp_path, "main", [act("it", kind, parameters, "bye", {"NoMatchingError": "bye"}), BYE])
    ended, state, _ = run(load_flow(flow))
    assert state.flow_errors == [], state.flow_errors
    assert ended in ("disconnected", "queued", "transferred to an agent", "flow ended", "callback")


def test_queues_and_agents_end_the_ivr_part(tmp_path):
    flow = write_flow(tmp_path, "main", [
        act("requeue", "DequeueContactAndTransferToQueue", {"QueueId": "q2"}, None,
            {"QueueAtCapacity": "agent", "NoMatchingError": "bye"}),
        act("agent", "TransferContactToAgent", {}, None, {"NoMatchingError": "bye"}), BYE])
    flows = load_flow(flow)
    assert run(flows)[0] == "queued"
    assert run(flows, CallerSpec(queue_at_capacity=1.0))[0] == "transferred to an agent"


@pytest.mark.parametrize("continue_flow, ended, invoked, waits", [
    (None, "disconnected", 1, [90.0]), ("True", "disconnected", 1, [90.0]),
    ("False", "transferred to a third party", 0, [])])
def test_a_third_party_call_goes_on_in_the_flow_unless_told_not_to(tmp_path, continue_flow, ended, invoked, waits):
    """ContinueFlowExecution absent or "True": when the third party hangs up the flow goes on (here
    to an Invoke block: the function is called); "False": the contact has left the flow."""
    parameters = {"ThirdPartyPhoneNumber": "+15550100", "ThirdPartyConnectionTimeoutSeconds": "30"}
    if continue_flow is not None:
        parameters["ContinueFlowExecution"] = continue_flow
    flow = write_flow(tmp_path, "pstn", [
        act("transfer", "TransferParticipantToThirdParty", parameters, "hand-off",
            {"CallFailed": "bye", "NoMatchingError": "bye"}),
        act("hand-off", "InvokeLambdaFunction", {"LambdaFunctionARN": ARN}, "bye", {"NoMatchingError": "bye"}), BYE])
    got, state, hooks = run(load_flow(flow), CallerSpec(third_party_seconds=90))
    assert (got, len(hooks.events), hooks.waits) == (ended, invoked, waits)


def test_a_module_runs_with_its_function_and_returns_to_the_flow_that_invoked_it(tmp_path):
    write_flow(tmp_path, "Authenticate", [
        act("lookup", "InvokeLambdaFunction", {"LambdaFunctionARN": ARN}, "done", {"NoMatchingError": "done"}),
        act("done", "EndFlowModuleExecution")])
    flow = write_flow(tmp_path, "main", [
        act("auth", "InvokeFlowModule", {"FlowModuleId": "arn:aws:connect:us-east-1:1:instance/i/flow-module/Authenticate"},
            "after", {"NoMatchingError": "bye"}),
        act("after", "MessageParticipant", {"Text": "Welcome back, version $.External.version"}, "bye"), BYE])
    ended, state, hooks = run(load_flow(flow), None)
    assert ended == "disconnected" and len(hooks.events) == 1 and hooks.prompts == ["Welcome back, version 1"]
    assert state.flow_errors == [] and state.modules == []


def test_a_module_that_is_not_beside_the_flow_is_refused_at_load(tmp_path):
    flow = write_flow(tmp_path, "main", [act("auth", "InvokeFlowModule", {"FlowModuleId": "Nowhere"}, "bye"), BYE])
    with pytest.raises(FlowError, match="action auth: InvokeFlowModule names flow 'Nowhere'"):
        load_flow(flow)


def test_distribute_by_percentage_splits_contacts_as_its_conditions_say(tmp_path):
    flow = write_flow(tmp_path, "ab", [
        act("split", "DistributeByPercentage", {}, None, {"NoMatchingCondition": "b"}, [("NumberLessThan", "31", "a")]),
        act("a", "EndFlowExecution"), act("b", "DisconnectParticipant")])
    flows = load_flow(flow)
    ended = [run(flows, seed=n)[0] for n in range(1000)]
    share = ended.count("flow ended") / len(ended)
    assert abs(share - 0.30) <= 5 * (0.3 * 0.7 / 1000) ** 0.5  # binomial(1000, 0.30), five deviations


def test_flow_attributes_are_set_read_and_left_behind_by_a_transfer(tmp_path):
    write_flow(tmp_path, "next", [
        act("check", "Compare", {"ComparisonValue": "$.FlowAttributes.tier"}, None, {"NoMatchingCondition": "bye"},
            [("Equals", "gold", "end")]), act("end", "EndFlowExecution"), BYE])
    flow = write_flow(tmp_path, "main", [
        act("set", "UpdateFlowAttributes", {"FlowAttributes": {"tier": {"Value": "gold", "DataType": "String"}}}, "check"),
        act("check", "Compare", {"ComparisonValue": "$.FlowAttributes.tier"}, None, {"NoMatchingCondition": "bye"},
            [("Equals", "gold", "go")]),
        act("go", "TransferToFlow", {"ContactFlowId": "next"}, None, {"NoMatchingError": "bye"}), BYE])
    ended, state, _ = run(load_flow(flow))
    assert ended == "disconnected" and state.last == ("next", "bye")  # not carried over: the next flow's check fails


def test_outbound_and_voice_id_checks_take_the_callers_branch(tmp_path):
    flow = write_flow(tmp_path, "out", [
        act("status", "CheckOutboundCallStatus", {}, None, {"NoMatchingCondition": "bye"},
            [("Equals", "VoicemailBeep", "end"), ("Equals", "CallAnswered", "voice")]),
        act("voice", "CheckVoiceId", {"CheckVoiceId": {"CheckType": "Authentication"}}, None,
            {"NoMatchingCondition": "bye"}, [("Equals", "Authenticated", "end")]),
        act("end", "EndFlowExecution"), BYE])
    flows = load_flow(flow)
    assert run(flows)[2].prompts == [] and run(flows)[0] == "disconnected"  # answered, not enrolled
    assert run(flows, CallerSpec(voice_id="Authenticated"))[0] == "flow ended"
    assert run(flows, CallerSpec(outbound_call_status="VoicemailBeep"))[0] == "flow ended"


def test_settings_are_recorded_and_the_flow_goes_on(tmp_path):
    settings = [
        ("stream", "UpdateContactMediaStreamingBehavior", {"MediaStreamingState": "Enabled", "MediaStreamType": "Audio",
                                                            "Participants": [{"ParticipantType": "Customer"}]}),
        ("record", "UpdateContactRecordingAndAnalyticsBehavior", {"VoiceBehavior": {"VoiceRecordingBehavior": {}}}),
        ("tag", "TagContact", {"Tags": {"team": "billing"}}),
        ("task", "CreateTask", {"Name": "follow up"}),
        ("previous", "UpdatePreviousContactParticipantState", {"PreviousContactParticipantState": "AgentOnHold"})]
    actions = [act(identifier, kind, parameters, settings[i + 1][0] if i + 1 < len(settings) else "profile")
               for i, (identifier, kind, parameters) in enumerate(settings)]
    flow = write_flow(tmp_path, "main", [
        *actions,
        act("profile", "GetCustomerProfile", {"ProfileRequestData": {"IdentifierName": "_phone"}}, "known",
            {"NoneFoundError": "unknown", "NoMatchingError": "bye"}),
        act("known", "MessageParticipant", {"Text": "known"}, "bye"),
        act("unknown", "MessageParticipant", {"Text": "new caller"}, "bye"), BYE])
    ended, state, hooks = run(load_flow(flow))
    assert ended == "disconnected" and hooks.prompts == ["new caller"]
    assert state.settings["TagContact"] == {"Tags": {"team": "billing"}}
    assert set(state.settings) == {kind for _, kind, _ in settings}


def test_a_flow_sets_refusal_names_every_problem_of_every_file_at_once(tmp_path):
    write_flow(tmp_path, "second", [
        act("x", "Teleport", {}, "y"), act("y", "Levitate", {}, "nowhere"), BYE])
    flow = write_flow(tmp_path, "main", [
        act("a", "PlayPrompt", {}, "b"),
        act("b", "TransferToFlow", {"ContactFlowId": "second"}, None, {"NoMatchingError": "bye"}),
        act("c", "TransferToFlow", {"ContactFlowId": "second"}, None, {"NoMatchingError": "bye"}), BYE])
    with pytest.raises(FlowError) as caught:
        load_flow(flow)
    message = str(caught.value)
    for problem in ("main.json: action a: type 'PlayPrompt'", "second.json: action x: type 'Teleport'",
                    "second.json: action y: type 'Levitate'", "second.json: action y: transition to unknown action"):
        assert message.count(problem) == 1, (problem, message)
    assert message.endswith("(4 problems in all)") and "\n" not in message


STREAM = {"MediaStreamType": "Audio", "Participants": [{"ParticipantType": "Customer", "MediaDirections": ["From", "To"]}]}


def streaming_flow(tmp_path):
    """Invoke, Start media streaming, invoke, a prompt that reads the stream, Stop, invoke."""
    def invoke(identifier, next_):
        return act(identifier, "InvokeLambdaFunction", {"LambdaFunctionARN": ARN}, next_, {"NoMatchingError": "bye"})
    return write_flow(tmp_path, "main", [
        invoke("before", "start"),
        act("start", "UpdateContactMediaStreamingBehavior", {"MediaStreamingState": "Enabled", **STREAM}, "during"),
        invoke("during", "say"),
        act("say", "MessageParticipant", {"Text": "$.MediaStreams.Customer.Audio.StreamARN"}, "stop"),
        act("stop", "UpdateContactMediaStreamingBehavior", {"MediaStreamingState": "Disabled", **STREAM}, "after"),
        invoke("after", "bye"), BYE])


def test_a_voice_contacts_audio_stream_is_in_its_data_once_started_and_stopped(tmp_path):
    """Connect's event always has $.MediaStreams.Customer.Audio: null until a Start media streaming
    block, then the stream's ARN and where it starts (what public transcription handlers read), and
    after a Stop where it stops too; a prompt reads it by reference. Each event keeps what it was sent with."""
    ended, state, hooks = run(load_flow(streaming_flow(tmp_path)))
    before, during, after = (event["Details"]["ContactData"]["MediaStreams"]["Customer"]["Audio"]
                             for event in hooks.events)
    contact = state.contact
    assert ended == "disconnected" and state.flow_errors == [] and before is None
    assert set(during) == {"StartFragmentNumber", "StartTimestamp", "StreamARN"}
    assert re.fullmatch(rf"arn:aws:kinesisvideo:us-east-1:123456789012:stream/shiftsim-connect-"
                        rf"{contact.instance_arn.rpartition('/')[2]}-contact-{contact.contact_id}/\d{{13}}",
                        during["StreamARN"])
    assert re.fullmatch(r"\d{47}", during["StartFragmentNumber"]) and re.fullmatch(r"\d{13}", during["StartTimestamp"])
    assert hooks.prompts == [during["StreamARN"]]
    assert after == {**during, "StopFragmentNumber": after["StopFragmentNumber"], "StopTimestamp": after["StopTimestamp"]}
    assert int(after["StopFragmentNumber"]) > int(during["StartFragmentNumber"])
    assert int(after["StopTimestamp"]) >= int(during["StartTimestamp"])
    assert state.settings["UpdateContactMediaStreamingBehavior"]["MediaStreamingState"] == "Disabled"


def test_a_streams_times_are_the_contacts_clock_not_the_machines(tmp_path):
    """A rehearsal runs on emulated time: the stream starts and stops at the hooks' clock's times."""
    class Clocked(Hooks):
        def __init__(self):
            super().__init__()
            self.times = iter([1_700_000_000.25, 1_700_000_090.5])

        def now(self):
            return next(self.times)

    _, _, hooks = run(load_flow(streaming_flow(tmp_path)), hooks=Clocked())
    during, after = (event["Details"]["ContactData"]["MediaStreams"]["Customer"]["Audio"] for event in hooks.events[1:])
    assert during["StartTimestamp"] == "1700000000250" and during["StreamARN"].endswith("/1700000000250")
    assert after["StopTimestamp"] == "1700000090500" and after["StartTimestamp"] == "1700000000250"


def test_a_chat_contact_has_no_stream_and_a_rehearsal_of_chats_says_so(tmp_path):
    from simulator.connect.event import Contact, stream_customer_audio
    from simulator.connect.interpreter import rehearsal_notes

    chat = Contact(channel="CHAT")
    stream_customer_audio(chat, True, __import__("random").Random(0), 1.0)
    assert chat.customer_audio is None and chat.contact_data()["MediaStreams"] == {"Customer": {"Audio": None}}
    flows = load_flow(streaming_flow(tmp_path))
    (said,) = rehearsal_notes(flows, CallerSpec())
    assert said.startswith("flow main: block start starts the customer's audio stream, which Connect does for "
                           "voice contacts only: every simulated contact is a CHAT contact")
    assert "no simulated contact is a VOICE contact" in rehearsal_notes(flows, CallerSpec(channel={"CHAT": 1}))[0]
    assert rehearsal_notes(flows, CallerSpec(channel={"VOICE": 1, "CHAT": 1})) == []
