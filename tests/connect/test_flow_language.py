"""The flow language as a contact center's exported flows use it (every value a string, as exports
have them): each supported action type's parameters and branches, the caller model where a flow
waits for the person, flow sets whose transfers name flows by ARN id, Metadata.name, placeholder or
the scenario's map, and a 29-flow contact center that loads with no refusal and runs."""

import asyncio
import json
import random
import re
from collections import Counter

import pytest

from simulator.connect.caller import CallerModel, CallerSpec
from simulator.connect.event import Contact
from simulator.connect.flow import FlowError, load_flow
from simulator.connect.interpreter import ContactState, run_contact
from tests.connect.test_flow import ARN, Hooks, act, write_flow

INSTANCE = "arn:aws:connect:eu-west-2:999999999999:instance/0b1c2d3e"


def run(flows, caller_spec=None, seed=0, hooks=None, attributes=None):
    state = ContactState(Contact(attributes=dict(attributes or {})))
    hooks = hooks or Hooks()
    caller = CallerModel(caller_spec or CallerSpec(), random.Random(seed))
    ended = asyncio.run(run_contact(flows, state, hooks, caller=caller))
    return ended, state, hooks


def menu(tmp_path):
    """A main menu: 1 sales queue, 2 a Lex bot, 3 a callback; silence twice, then goodbye."""
    write_flow(tmp_path, "q", [act("music", "MessageParticipantIteratively", {"Messages": [{"Text": "Please hold"}]},
                                   "end"), act("end", "EndFlowExecution")])  # the queue's flow, by its ARN's id
    return write_flow(tmp_path, "main", [
        act("hours", "CheckHoursOfOperation", {"Hours": {"Id": "arn:hours"}}, None, {"NoMatchingError": "closed"},
            [("Equals", "True", "menu"), ("Equals", "False", "closed")]),
        act("menu", "GetParticipantInput", {"Text": "Press 1 for sales, 2 to talk to us, 3 for a callback",
                                            "InputTimeLimitSeconds": "5", "StoreInput": "False"},
            None, {"InputTimeLimitExceeded": "again", "NoMatchingCondition": "invalid", "NoMatchingError": "bye"},
            [("Equals", "1", "sales-queue"), ("Equals", "2", "bot"), ("Equals", "3", "callback-number")]),
        act("again", "Loop", {"LoopCount": "1"}, None, None,
            [("Equals", "ContinueLooping", "menu"), ("Equals", "DoneLooping", "bye")]),
        act("invalid", "MessageParticipant", {"Text": "Sorry, that is not an option"}, "again"),
        act("sales-queue", "UpdateContactTargetQueue", {"QueueId": f"{INSTANCE}/queue/sales"}, "routing",
            {"NoMatchingError": "bye"}),
        act("routing", "UpdateContactRoutingBehavior", {"QueuePriority": "2"}, "hold-music"),
        act("hold-music", "UpdateContactEventHooks", {"EventHooks": {"CustomerQueue": f"{INSTANCE}/contact-flow/q"}},
            "to-queue"),
        act("to-queue", "TransferContactToQueue", {}, None, {"QueueAtCapacity": "full", "NoMatchingError": "bye"}),
        act("full", "MessageParticipant", {"Text": "All our agents are busy"}, "bye"),
        act("bot", "ConnectParticipantWithLexBot", {"Text": "How can I help?", "LexV2Bot": {"AliasArn": "arn:lex"}},
            None, {"InputTimeLimitExceeded": "bye", "NoMatchingCondition": "bye", "NoMatchingError": "bye"},
            [("Equals", "Balance", "say-intent"), ("Equals", "Agent", "sales-queue")]),
        act("say-intent", "MessageParticipant", {"Text": "You asked for $.Lex.IntentName"}, "bye"),
        act("callback-number", "UpdateContactCallbackNumber", {"CallbackNumber": "$.CustomerEndpoint.Address"},
            "create-callback", {"InvalidCallbackNumber": "bye", "NoMatchingError": "bye"}),
        act("create-callback", "CreateCallbackContact", {"QueueId": f"{INSTANCE}/queue/sales"}, "bye",
            {"NoMatchingError": "bye"}),
        act("closed", "MessageParticipant", {"Text": "We are closed"}, "end"),
        act("end", "EndFlowExecution"),
        act("bye", "DisconnectParticipant"),
    ], start="hours")


@pytest.mark.parametrize("choice,ended,heard", [
    ({"1": 1}, "queued", "Press 1 for sales, 2 to talk to us, 3 for a callback"),
    ({"3": 1}, "callback", None),
    ({"timeout": 1}, "disconnected", None),  # silence, a second chance, silence again: goodbye
    ({"9": 1}, "disconnected", "Sorry, that is not an option"),
])
def test_a_menu_takes_the_branch_of_what_the_caller_pressed(tmp_path, choice, ended, heard):
    flows = load_flow(menu(tmp_path))
    got, state, hooks = run(flows, CallerSpec(choices={"menu": choice}))
    assert got == ended
    if heard:
        assert heard in hooks.prompts
    if choice == {"timeout": 1}:
        assert hooks.prompts.count("Press 1 for sales, 2 to talk to us, 3 for a callback") == 2
    if ended == "queued":
        assert state.queue == f"{INSTANCE}/queue/sales"
    if ended == "callback":
        assert state.callback and state.callback_number


def test_a_lex_intent_sets_lex_and_takes_its_condition(tmp_path):
    flows = load_flow(menu(tmp_path))
    ended, state, hooks = run(flows, CallerSpec(choices={"menu": {"2": 1}, "bot": {"Balance": 1}}))
    assert ended == "disconnected" and hooks.prompts[-1] == "You asked for Balance"
    assert run(flows, CallerSpec(choices={"menu": {"2": 1}, "bot": {"Agent": 1}}))[0] == "queued"


def test_hours_and_a_full_queue_take_their_branches(tmp_path):
    flows = load_flow(menu(tmp_path))
    ended, _, hooks = run(flows, CallerSpec(in_hours=0.0))
    assert ended == "flow ended" and hooks.prompts == ["We are closed"]
    ended, _, hooks = run(flows, CallerSpec(choices={"menu": {"1": 1}}, queue_at_capacity=1.0))
    assert ended == "disconnected" and hooks.prompts[-1] == "All our agents are busy"


def test_the_default_caller_walks_every_offered_path_in_proportion(tmp_path):
    # uniform among 1, 2, 3; seeded, so the count is a property of the seed, checked against a bound
    flows = load_flow(menu(tmp_path))
    counts = Counter(run(flows, seed=n)[0] for n in range(600))
    assert set(counts) == {"queued", "callback", "disconnected"}
    assert 140 <= counts["callback"] <= 260  # binomial(600, 1/3): mean 200, sd 11.5


def test_checked_metrics_stored_input_and_waits(tmp_path):
    flow = write_flow(tmp_path, "m", [
        act("agents", "CheckMetricData", {"MetricType": "NumberOfAgentsAvailable", "QueueId": "q"}, None,
            {"NoMatchingCondition": "wait", "NoMatchingError": "bye"}, [("NumberGreaterThan", "0", "ask")]),
        act("wait", "Wait", {"TimeoutSeconds": "30"}, None, {"WaitCompleted": "agents", "NoMatchingError": "bye"}),
        act("ask", "GetParticipantInput", {"Text": "Your account number", "StoreInput": "True"}, "check",
            {"InputTimeLimitExceeded": "bye"}),
        act("check", "Compare", {"ComparisonValue": "$.StoredCustomerInput"}, None,
            {"NoMatchingCondition": "bye"}, [("Equals", "12345", "third-party")]),
        act("third-party", "TransferParticipantToThirdParty",
            {"ThirdPartyPhoneNumber": "+15550100", "ContinueFlowExecution": "False"}, "bye",
            {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])
    flows = load_flow(flow)
    ended, state, hooks = run(flows, CallerSpec(metrics={"NumberOfAgentsAvailable": 2},
                                                choices={"ask": {"12345": 1}}))
    assert ended == "transferred to a third party" and state.stored_input == "12345" and hooks.waits == []
    # no agent: the caller waits, the metric is checked again, and so on: a runaway, said as such
    from simulator.connect.interpreter import ContactLimits

    state = ContactState(Contact())
    hooks = Hooks()
    ended = asyncio.run(run_contact(flows, state, hooks, limits=ContactLimits(max_steps=50),
                                    caller=CallerModel(CallerSpec(), random.Random(0))))
    assert ended == "runaway" and hooks.waits[:3] == [30.0, 30.0, 30.0]


def exported(name, actions, start=None):
    return {"Version": "2019-10-30", "StartAction": start or actions[0]["Identifier"],
            "Metadata": {"name": name, "type": "contactFlow"}, "Actions": actions}


def test_transfers_find_flows_by_name_arn_id_placeholder_and_the_map(tmp_path):
    (tmp_path / "0a1b.json").write_text(json.dumps(exported("Sales menu", [
        act("say", "MessageParticipant", {"Text": "Sales"}, "next"),
        act("next", "TransferToFlow", {"ContactFlowId": "{{contactFlows.Support menu.arn}}"}, None,
            {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])))
    (tmp_path / "support.json").write_text(json.dumps(exported("Support menu", [
        act("say", "MessageParticipant", {"Text": "Support"}, "next"),
        act("next", "TransferToFlow", {"ContactFlowId": f"{INSTANCE}/contact-flow/legacy-id"}, None,
            {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])))
    (tmp_path / "goodbye.json").write_text(json.dumps(exported("Goodbye", [
        act("say", "MessageParticipant", {"Text": "Goodbye"}, "set"),
        act("set", "UpdateContactAttributes", {"Attributes": {"back": "Sales menu", "nowhere": "Gone"}}, "dyn"),
        act("dyn", "TransferToFlow", {"ContactFlowId": "$.Attributes.nowhere"}, None, {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])))
    main = tmp_path / "main.json"
    main.write_text(json.dumps(exported("Main", [
        act("go", "TransferToFlow", {"ContactFlowId": f"{INSTANCE}/contact-flow/0a1b"}, None,
            {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])))
    with pytest.raises(FlowError, match="TransferToFlow names flow '.*legacy-id'"):
        load_flow(main)
    flows = load_flow(main, flow_map={f"{INSTANCE}/contact-flow/legacy-id": "Goodbye"})
    assert set(flows.flows) == {"main", "0a1b", "support", "goodbye"}
    ended, state, hooks = run(flows)
    assert hooks.prompts == ["Sales", "Support", "Goodbye"] and ended == "disconnected"
    assert state.flow_errors == [("Goodbye", "dyn", "transfer to a flow that is not loaded: 'Gone'")]
    assert flows.find("Sales menu") is flows.flows["0a1b"]  # a run-time transfer by name


DEPARTMENTS = ["billing", "sales", "support", "claims", "renewals", "travel", "loyalty", "complaints"]


def contact_center(folder):
    """29 flows: a main menu; per department a menu, a queue flow and a whisper; a hold flow, a
    callback flow, an error flow; an integration loop (invoke, poll until done)."""
    def write(stem, name, actions, start=None):
        (folder / f"{stem}.json").write_text(json.dumps(exported(name, actions, start)))

    conditions = [("Equals", str(n + 1), f"to-{d}") for n, d in enumerate(DEPARTMENTS)]
    write("main", "Main menu", [
        act("log", "UpdateFlowLoggingBehavior", {"FlowLoggingBehavior": "Enabled"}, "voice"),
        act("voice", "UpdateContactTextToSpeechVoice", {"TextToSpeechVoice": "Joanna"}, "record"),
        act("record", "UpdateContactRecordingBehavior", {"RecordingBehavior": {"RecordedParticipants": ["Agent"]}},
            "hours"),
        act("hours", "CheckHoursOfOperation", {}, None, {"NoMatchingError": "error"},
            [("Equals", "True", "menu"), ("Equals", "False", "closed")]),
        act("menu", "GetParticipantInput", {"Text": "Choose a department", "InputTimeLimitSeconds": "5"},
            None, {"InputTimeLimitExceeded": "error", "NoMatchingCondition": "error", "NoMatchingError": "error"},
            conditions),
        *[act(f"to-{d}", "TransferToFlow", {"ContactFlowId": f"{{{{contactFlows.{d.title()} menu.arn}}}}"}, None,
              {"NoMatchingError": "error"}) for d in DEPARTMENTS],
        act("closed", "TransferToFlow", {"ContactFlowId": "{{contactFlows.Callback.arn}}"}, None,
            {"NoMatchingError": "error"}),
        act("error", "TransferToFlow", {"ContactFlowId": "{{contactFlows.Error.arn}}"}),
    ], start="log")
    for d in DEPARTMENTS:
        write(f"{d}-menu", f"{d.title()} menu", [
            act("data", "UpdateContactData", {"Name": d}, "ask"),
            act("ask", "GetParticipantInput", {"Text": f"{d}: 1 for an agent, 2 for self-service"}, None,
                {"InputTimeLimitExceeded": "agent", "NoMatchingCondition": "agent", "NoMatchingError": "agent"},
                [("Equals", "1", "agent"), ("Equals", "2", "self")]),
            act("agent", "TransferToFlow", {"ContactFlowId": f"{{{{contactFlows.{d.title()} queue.arn}}}}"}),
            act("self", "TransferToFlow", {"ContactFlowId": "{{contactFlows.Integration.arn}}"}),
        ])
        write(f"{d}-queue", f"{d.title()} queue", [
            act("target", "UpdateContactTargetQueue", {"QueueId": f"{INSTANCE}/queue/{d}"}, "whisper"),
            act("whisper", "UpdateContactEventHooks",
                {"EventHooks": {"AgentWhisper": f"{{{{contactFlows.{d.title()} whisper.arn}}}}"}}, "hold"),
            act("hold", "UpdateContactEventHooks", {"EventHooks": {"CustomerHold": "{{contactFlows.Hold.arn}}"}},
                "queue"),
            act("queue", "TransferContactToQueue", {}, None,
                {"QueueAtCapacity": "full", "NoMatchingError": "full"}),
            act("full", "TransferToFlow", {"ContactFlowId": "{{contactFlows.Callback.arn}}"}),
        ])
        write(f"{d}-whisper", f"{d.title()} whisper", [
            act("say", "MessageParticipant", {"Text": f"A {d} caller"}, "end"), act("end", "EndFlowExecution")])
    write("hold", "Hold", [act("music", "MessageParticipantIteratively",
                                {"Messages": [{"PromptId": "arn:prompt/hold"}], "InterruptFrequencySeconds": "30"},
                                "end"), act("end", "EndFlowExecution")])
    write("callback", "Callback", [
        act("number", "UpdateContactCallbackNumber", {"CallbackNumber": "$.CustomerEndpoint.Address"}, "create",
            {"InvalidCallbackNumber": "bye", "NoMatchingError": "bye"}),
        act("create", "CreateCallbackContact", {"QueueId": f"{INSTANCE}/queue/callbacks"}, "say",
            {"NoMatchingError": "bye"}),
        act("say", "MessageParticipant", {"Text": "We will call you back"}, "bye"),
        act("bye", "DisconnectParticipant")])
    write("error", "Error", [act("say", "MessageParticipant", {"Text": "Something went wrong"}, "bye"),
                             act("bye", "DisconnectParticipant")])
    write("integration", "Integration", [
        act("start", "InvokeLambdaFunction", {"LambdaFunctionARN": ARN, "InvocationTimeLimitSeconds": "8",
                                              "ResponseValidation": {"ResponseType": "STRING_MAP"}}, "poll",
            {"NoMatchingError": "oops"}),
        act("poll", "InvokeLambdaFunction", {"LambdaFunctionARN": ARN, "InvocationTimeLimitSeconds": "3"}, "done?",
            {"NoMatchingError": "oops"}),
        act("done?", "Compare", {"ComparisonValue": "$.External.status"}, None, {"NoMatchingCondition": "wait"},
            [("Equals", "DONE", "result")]),
        act("wait", "Wait", {"TimeoutSeconds": "2"}, None, {"WaitCompleted": "poll", "NoMatchingError": "oops"}),
        act("result", "MessageParticipant", {"Text": "Your result is ready"}, "bye"),
        act("oops", "TransferToFlow", {"ContactFlowId": "{{contactFlows.Error.arn}}"}),
        act("bye", "DisconnectParticipant")])
    return folder / "main.json"


def test_a_contact_centers_29_flows_load_with_no_refusal_and_run(tmp_path):
    flows = load_flow(contact_center(tmp_path))
    assert len(flows.flows) == len(list(tmp_path.glob("*.json"))) == 29  # event hooks' flows checked too
    answers = [(True, {"status": "PENDING"}), (True, {"status": "PENDING"}), (True, {"status": "DONE"})]
    outcomes, reached = Counter(), set()
    for n in range(400):
        hooks = Hooks(*answers)
        ended, state, hooks = run(flows, CallerSpec(in_hours=0.9, queue_at_capacity=0.1), seed=n, hooks=hooks)
        outcomes[ended] += 1
        reached.add(state.last[0])
        assert state.flow_errors == []
    assert set(outcomes) == {"queued", "callback", "disconnected"}
    assert {"Integration", "Callback"} <= reached


def test_every_problem_of_the_flows_the_entry_reaches_is_said_at_once(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(exported("A", [
        act("x", "Teleport", {}, "y"), act("y", "DisconnectParticipant")])))
    (tmp_path / "main.json").write_text(json.dumps(exported("Main", [
        act("go", "TransferToFlow", {"ContactFlowId": "{{contactFlows.A.arn}}"}, None, {"NoMatchingError": "b"}),
        act("b", "TransferToFlow", {"ContactFlowId": "{{contactFlows.Nowhere.arn}}"}, None, {"NoMatchingError": "c"}),
        act("c", "DisconnectParticipant")])))
    with pytest.raises(FlowError) as caught:
        load_flow(tmp_path / "main.json")
    message = str(caught.value)
    assert message.endswith(" (2 problems in all)") and "\n" not in message
    assert "main.json: action b: TransferToFlow names flow '{{contactFlows.Nowhere.arn}}'" in message
    assert "a.json: action x: type 'Teleport' is not an action of Connect's flow language" in message


def test_a_transfer_to_another_instances_arn_finds_its_flow_by_the_name_the_export_shows(tmp_path):
    """An export names its transfers by its own instance's ARNs; the designer's metadata keeps the
    target's name beside each, which finds the flow when no file's name or id is the ARN's."""
    other = "arn:aws:connect:us-east-1:274863560648:instance/fe82/contact-flow/d071"
    (tmp_path / "queue.json").write_text(json.dumps(exported("KVSQueueFlow", [
        act("say", "MessageParticipant", {"Text": "Queued"}, "q"),
        act("q", "TransferContactToQueue", {}, None, {"QueueAtCapacity": "bye", "NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])))
    main = exported("Main", [act("go", "TransferToFlow", {"ContactFlowId": other}, None, {"NoMatchingError": "bye"}),
                             act("bye", "DisconnectParticipant")])
    main["Metadata"]["ActionMetadata"] = {"go": {"parameters": {"ContactFlowId": {"displayName": "KVSQueueFlow"}}}}
    (tmp_path / "main.json").write_text(json.dumps(main))
    flows = load_flow(tmp_path / "main.json")
    ended, state, hooks = run(flows, CallerSpec(queue_at_capacity=0.0))
    assert ended == "queued" and hooks.prompts == ["Queued"] and state.flow_errors == []
    main["Metadata"]["ActionMetadata"]["go"]["parameters"]["ContactFlowId"]["displayName"] = "Renamed since"
    (tmp_path / "main.json").write_text(json.dumps(main))
    with pytest.raises(FlowError, match=re.escape(f"TransferToFlow names flow {other!r} (the export shows it as "
                                                  "'Renamed since'): no file in")):
        load_flow(tmp_path / "main.json")


def test_an_event_hook_naming_a_flow_outside_the_set_is_said_not_refused(tmp_path):
    """An agent's screen or a queue's flow is rarely exported with the IVR's; it never runs in a
    rehearsal, so the set loads and says which hooks name what (the same hook, its blocks together)."""
    view = "arn:aws:connect:us-east-1:111122223333:instance/i/view/agent-ui"
    (tmp_path / "main.json").write_text(json.dumps(exported("Main", [
        act("ui", "UpdateContactEventHooks", {"EventHooks": {"DefaultAgentUI": view}}, "ui2"),
        act("ui2", "UpdateContactEventHooks", {"EventHooks": {"DefaultAgentUI": view}}, "hold"),
        act("hold", "UpdateContactEventHooks", {"EventHooks": {"CustomerHold": "{{contactFlows.Hold.arn}}"}}, "q"),
        act("q", "TransferContactToQueue", {}, None, {"QueueAtCapacity": "bye", "NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])))
    flows = load_flow(tmp_path / "main.json")
    assert flows.unloaded_hooks == [
        f"{tmp_path / 'main.json'}: actions ui, ui2: EventHooks.DefaultAgentUI names flow {view!r}, not in {tmp_path}: "
        "an event hook's flow runs outside the IVR (queue, hold, whisper, the agent's screen), which a rehearsal "
        "does not play",
        f"{tmp_path / 'main.json'}: action hold: EventHooks.CustomerHold names flow '{{{{contactFlows.Hold.arn}}}}', "
        f"not in {tmp_path}: an event hook's flow runs outside the IVR (queue, hold, whisper, the agent's screen), "
        "which a rehearsal does not play"]
    ended, state, _ = run(flows, CallerSpec(queue_at_capacity=0.0))
    assert ended == "queued" and state.flow_errors == []


def test_a_run_time_transfer_reaches_any_flow_beside_it_or_says_why_not(tmp_path):
    (tmp_path / "extra.json").write_text(json.dumps(exported("Extra", [
        act("say", "MessageParticipant", {"Text": "Extra"}, "bye"), act("bye", "DisconnectParticipant")])))
    (tmp_path / "broken.json").write_text(json.dumps(exported("Broken", [act("x", "Teleport")])))
    (tmp_path / "main.json").write_text(json.dumps(exported("Main", [
        act("go", "TransferToFlow", {"ContactFlowId": "$.Attributes.next"}, None, {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])))
    flows = load_flow(tmp_path / "main.json")
    ended, state, hooks = run(flows, attributes={"next": "Extra"})
    assert hooks.prompts == ["Extra"] and state.flow_errors == []
    ended, state, hooks = run(flows, attributes={"next": "Broken"})
    ((_, block, what),) = state.flow_errors
    assert block == "go" and what.startswith("transfer to a flow that could not be loaded: ")
    assert "broken.json: action x: type 'Teleport' is not an action of Connect's flow language" in what


def test_an_asynchronous_invocation_lets_the_contact_go_on_and_its_result_is_loaded_later(tmp_path):
    flow = write_flow(tmp_path, "a", [
        act("start", "InvokeLambdaFunction", {"LambdaFunctionARN": ARN, "InvocationType": "ASYNCHRONOUS",
                                              "InvocationTimeLimitSeconds": "60"}, "music", {"NoMatchingError": "bye"}),
        act("music", "MessageParticipant", {"Text": "Please hold while we look"}, "load"),
        act("load", "InvokeLambdaFunction", {"LambdaInvocationRequestId": "$.LambdaInvocation.InvocationId"},
            "say", {"NoMatchingError": "sorry"}),
        act("say", "MessageParticipant", {"Text": "Found $.External.version"}, "bye"),
        act("sorry", "MessageParticipant", {"Text": "Sorry"}, "bye"),
        act("bye", "DisconnectParticipant")])
    flows = load_flow(flow)
    assert flows.start.blocks["start"].asynchronous and "load" not in flows.start.blocks
    order = []

    class Slow(Hooks):
        async def invoke(self, block, event, flow):
            order.append("invoked")
            await asyncio.sleep(0.05)
            order.append("answered")
            return await super().invoke(block, event, flow)

        async def prompt(self, text):
            order.append(text)
            await super().prompt(text)

    ended, state, hooks = run(flows, hooks=Slow((True, {"version": "2"})))
    assert ended == "disconnected" and hooks.prompts == ["Please hold while we look", "Found 2"]
    assert order[:3] == ["invoked", "Please hold while we look", "answered"]  # the contact did not wait
    ended, state, hooks = run(flows, hooks=Slow((False, None)))
    assert hooks.prompts[-1] == "Sorry" and state.errors == 1
    with pytest.raises(FlowError, match="InvocationTimeLimitSeconds must be a whole number of seconds from 1 to 8"):
        load_flow(write_flow(tmp_path, "b", [act("x", "InvokeLambdaFunction", {
            "LambdaFunctionARN": ARN, "InvocationTimeLimitSeconds": "60"}, "y"), act("y", "DisconnectParticipant")]))


def test_loading_a_result_nothing_started_is_a_flow_error(tmp_path):
    flow = write_flow(tmp_path, "a", [
        act("load", "InvokeLambdaFunction", {"Id": "$.LambdaInvocation.InvocationId"}, "bye", {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])
    ended, state, _ = run(load_flow(flow))
    assert ended == "disconnected" and state.flow_errors == [("a", "load", "unresolved reference $.LambdaInvocation.InvocationId")]


def test_an_unresolved_reference_in_a_prompt_plays_as_nothing(tmp_path):
    flow = write_flow(tmp_path, "p", [
        act("say", "MessageParticipant", {"Text": "Your balance is $.External.balance dollars"}, "bye"),
        act("bye", "DisconnectParticipant")])
    _, _, hooks = run(load_flow(flow))
    assert hooks.prompts == ["Your balance is  dollars"]


@pytest.mark.parametrize("metadata,name", [
    ({"queue": {"text": "eBook Queue"}}, "eBook Queue"),                          # the designer's queue block
    ({"parameters": {"QueueId": {"displayName": "eBook Queue"}}}, "eBook Queue"),
    (None, "582a6fea"),                                                            # not named: known by its id
])
def test_the_working_queue_is_the_contacts_queue_by_the_name_the_export_keeps(tmp_path, metadata, name):
    """Set working queue makes `$.Queue` the queue, as Connect does (a flow that copied `$.Queue.Name`
    into an attribute took its error branch at every contact), and a function's event carries it."""
    queue = f"{INSTANCE}/queue/582a6fea"
    path = write_flow(tmp_path, "main", [
        act("set", "UpdateContactTargetQueue", {"QueueId": queue}, "copy"),
        act("copy", "UpdateContactAttributes", {"Attributes": {"QueueName": "$.Queue.Name"}}, "call",
            {"NoMatchingError": "bye"}),
        act("call", "InvokeLambdaFunction", {"LambdaFunctionARN": ARN}, "bye", {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])
    if metadata is not None:
        flow = json.loads(path.read_text())
        flow["Metadata"] = {"ActionMetadata": {"set": metadata}}
        path.write_text(json.dumps(flow))
    ended, state, hooks = run(load_flow(path))
    assert ended == "disconnected" and state.flow_errors == []
    assert state.contact.attributes["QueueName"] == name
    assert hooks.events[0]["Details"]["ContactData"]["Queue"] == {"ARN": queue, "Name": name}
