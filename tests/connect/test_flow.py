"""The flow interpreter: each action type, loop counters, transfers, error branches, `$.External`,
load-time errors, and the two shipped flows."""

import json

import pytest

from simulator.connect.event import Contact
from simulator.connect.flow import FlowError, load_flow
from simulator.connect.function_map import FunctionMap
from simulator.connect.interpreter import ContactLimits, ContactState, run_contact
from simulator.connect.invoke import InvokeOutcome
from tests.helpers import ROOT

FLOWS = ROOT / "scenarios" / "flows"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD"


class Hooks:
    """Answers invocations from a script of (ok, external) and records what the contact heard."""

    def __init__(self, *answers):
        self.answers = list(answers) or [(True, {"version": "1"})]
        self.events, self.prompts, self.waits = [], [], []

    async def invoke(self, block, event, flow):
        ok, external = self.answers[min(len(self.events), len(self.answers) - 1)]
        self.events.append(event)
        version = (external or {}).get("version")
        return InvokeOutcome("Success" if ok else "Error", None if ok else "function_error", version,
                             1, 0.01, 200, external=external if ok else None)

    async def prompt(self, text):
        self.prompts.append(text)

    async def wait(self, seconds):
        self.waits.append(seconds)


def write_flow(tmp_path, name, actions, start=None):
    flow = {"Version": "2019-10-30", "StartAction": start or actions[0]["Identifier"], "Actions": actions}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(flow))
    return path


def act(identifier, kind, parameters=None, next_=None, errors=None, conditions=None):
    transitions = {}
    if next_:
        transitions["NextAction"] = next_
    if errors:
        transitions["Errors"] = [{"NextAction": n, "ErrorType": t} for t, n in errors.items()]
    if conditions:
        transitions["Conditions"] = [{"NextAction": n, "Condition": {"Operator": op, "Operands": [v]}}
                                     for op, v, n in conditions]
    return {"Identifier": identifier, "Type": kind, "Parameters": parameters or {}, "Transitions": transitions}


def invoke_action(next_="bye", error="bye"):
    return act("inv", "InvokeLambdaFunction", {"LambdaFunctionARN": ARN, "InvocationTimeLimitSeconds": "3",
                                                "LambdaInvocationAttributes": {"who": "$.Attributes.name"}},
               next_, {"NoMatchingError": error})


BYE = act("bye", "DisconnectParticipant")


async def test_the_seed_test_flow_invokes_once_plays_the_version_and_disconnects():
    hooks = Hooks((True, {"version": "2"}))
    state = ContactState(Contact())
    ended = await run_contact(load_flow(FLOWS / "LambdaAlias-test.json"), state, hooks)
    assert ended == "disconnected" and state.invocations == 1 and state.versions == {"2"}
    assert hooks.prompts == ["You reached version 2 of the function."]
    assert hooks.events[0]["Details"]["Parameters"] == {"caller": state.contact.customer_address}


async def test_the_seed_loop_flow_transfers_to_itself_until_told_to_stop():
    hooks = Hooks((True, {"version": "1"}), (False, None), (True, {"version": "2"}))
    state = ContactState(Contact())
    flows = load_flow(FLOWS / "LambdaAlias-loop.json",
                      functions=FunctionMap("us-east-1", "123456789012", deployed=ARN.replace("PROD", "LIVE")))
    ended = await run_contact(flows, state, hooks, keep_going=lambda s: s.entries <= 5)
    assert ended == "stopped" and state.invocations == 5 and state.entries == 6
    assert hooks.prompts[:3] == ["You reached version 1 of the function.", "The function returned an error.",
                                 "You reached version 2 of the function."]
    assert state.errors == 1 and state.versions == {"1", "2"}
    assert flows.start.blocks["invoke-alias"].function_arn.endswith(":LIVE")


async def test_external_holds_the_latest_result_and_attributes_copy_it(tmp_path):
    flow = write_flow(tmp_path, "attrs", [
        invoke_action("save"),
        act("save", "UpdateContactAttributes", {"Attributes": {"lastVersion": "$.External.version"}}, "inv2"),
        act("inv2", "InvokeLambdaFunction", {"LambdaFunctionARN": ARN}, "say", {"NoMatchingError": "bye"}),
        act("say", "MessageParticipant", {"Text": "now $.External.version, before $.Attributes.lastVersion"}, "bye"),
        BYE])
    hooks = Hooks((True, {"version": "1"}), (True, {"version": "2"}))
    state = ContactState(Contact(attributes={"name": "Ada"}))
    await run_contact(load_flow(flow), state, hooks)
    assert hooks.prompts == ["now 2, before 1"]
    assert hooks.events[0]["Details"]["Parameters"] == {"who": "Ada"}
    assert hooks.events[1]["Details"]["ContactData"]["Attributes"] == {"name": "Ada", "lastVersion": "1"}


async def test_update_attributes_is_all_or_none(tmp_path):
    flow = write_flow(tmp_path, "none", [
        act("set", "UpdateContactAttributes", {"Attributes": {"a": "x", "b": "$.External.missing"}},
            "ok", {"NoMatchingError": "failed"}),
        act("ok", "MessageParticipant", {"Text": "ok"}, "bye"),
        act("failed", "MessageParticipant", {"Text": "failed"}, "bye"), BYE])
    hooks, state = Hooks(), ContactState(Contact())
    await run_contact(load_flow(flow), state, hooks)
    assert hooks.prompts == ["failed"] and state.contact.attributes == {}


async def test_compare_conditions_and_no_match(tmp_path):
    flow = write_flow(tmp_path, "cmp", [
        invoke_action("cmp"),
        act("cmp", "Compare", {"ComparisonValue": "$.External.version"}, None, {"NoMatchingCondition": "other"},
            [("Equals", "2", "two"), ("NumberGreaterThan", "2", "newer")]),
        act("two", "MessageParticipant", {"Text": "two"}, "bye"),
        act("newer", "MessageParticipant", {"Text": "newer"}, "bye"),
        act("other", "MessageParticipant", {"Text": "other"}, "bye"), BYE])
    for version, said in (("2", "two"), ("7", "newer"), ("1", "other")):
        hooks = Hooks((True, {"version": version}))
        await run_contact(load_flow(flow), ContactState(Contact()), hooks)
        assert hooks.prompts == [said]


async def test_loop_counts_per_action_and_resets(tmp_path):
    flow = write_flow(tmp_path, "loop", [
        act("loop", "Loop", {"LoopCount": "3"}, None, None,
            [("Equals", "ContinueLooping", "inv"), ("Equals", "DoneLooping", "done")]),
        invoke_action("loop", "loop"),
        act("done", "MessageParticipant", {"Text": "done"}, "bye"), BYE])
    hooks, state = Hooks(), ContactState(Contact())
    await run_contact(load_flow(flow), state, hooks)
    assert state.invocations == 3 and hooks.prompts == ["done"]
    assert state.loop_counters == {("loop", "loop"): 0}


async def test_error_branch_and_transfer_to_another_flow(tmp_path):
    write_flow(tmp_path, "fallback", [act("say", "MessageParticipant", {"Text": "fallback"}, "bye"), BYE])
    main = write_flow(tmp_path, "main", [
        invoke_action("bye", "xfer"),
        act("xfer", "TransferToFlow", {"ContactFlowId": "arn:aws:connect:us-east-1:1:instance/i/contact-flow/fallback"},
            "bye"), BYE])
    flows = load_flow(main)
    assert set(flows.flows) == {"main", "fallback"}
    hooks, state = Hooks((False, None)), ContactState(Contact())
    assert await run_contact(flows, state, hooks) == "disconnected"
    assert hooks.prompts == ["fallback"] and state.errors == 1 and state.entries == 2


def test_load_time_errors_name_the_file_and_action(tmp_path):
    cases = [
        ([act("x", "PlayPrompt")], "action x: type 'PlayPrompt' is not an action of Connect's flow language"),
        ([act("x", "MessageParticipant", {"Text": "hi"}, "nowhere")], "action x: transition to unknown action 'nowhere'"),
        ([act("x", "TransferToFlow", {"ContactFlowId": "ghost"})], "TransferToFlow names flow 'ghost'"),
        ([act("x", "InvokeLambdaFunction", {"LambdaFunctionARN": "arn:aws:lambda:us-east-1:123456789012:function:F"})],
         "action x: LambdaFunctionARN: "),
        ([act("x", "InvokeLambdaFunction", {"LambdaFunctionARN": ARN, "InvocationTimeLimitSeconds": "12"})],
         "InvocationTimeLimitSeconds must be a whole number of seconds from 1 to 8"),
    ]
    for actions, message in cases:
        path = write_flow(tmp_path, "bad", actions)
        with pytest.raises(FlowError) as info:
            load_flow(path)
        assert str(path) in str(info.value) and message in str(info.value)
    (tmp_path / "junk.json").write_text("{")
    with pytest.raises(FlowError, match="junk.json: not valid JSON"):
        load_flow(tmp_path / "junk.json")
    with pytest.raises(FlowError, match="cannot read flow"):
        load_flow(tmp_path / "missing.json")
    # the console's older export (modules, not the flow language): said as such, with where to get the flow
    (tmp_path / "old.json").write_text(json.dumps({"modules": [{"id": "a", "type": "Disconnect", "branches": []}],
                                                   "version": "1", "type": "contactFlow", "start": "a"}))
    with pytest.raises(FlowError, match=r"old.json: the console's older export format \(modules\), not the flow "
                                        r"language: read the flow's Content with `aws connect describe-contact-flow"):
        load_flow(tmp_path / "old.json")


# A flow whose blocks call several functions is never sent to one alias in silence.
START = "arn:aws:lambda:eu-west-2:999999999999:function:StartWork:live"
POLL = "arn:aws:lambda:eu-west-2:999999999999:function:PollWork:live"


def polling_flow(tmp_path, poll_arn=POLL):
    return write_flow(tmp_path, "polling", [
        act("start", "InvokeLambdaFunction", {"LambdaFunctionARN": START}, "poll", {"NoMatchingError": "bye"}),
        act("poll", "InvokeLambdaFunction", {"LambdaFunctionARN": poll_arn}, "bye", {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant"),
    ], start="start")


STACK = {"StartWork": frozenset({"PROD", "1", "$LATEST"}), "PollWork": frozenset({"live", "1", "$LATEST"})}
DEPLOYED = "arn:aws:lambda:us-east-1:123456789012:function:StartWork:PROD"


def local_map(**kwargs):
    return FunctionMap("us-east-1", "123456789012", **{"deployed": DEPLOYED, "stack": STACK, **kwargs})


def test_each_block_calls_its_own_function_in_the_stacks_account_and_region(tmp_path):
    flows = load_flow(polling_flow(tmp_path), functions=local_map())
    assert flows.block_targets() == [
        {"flow": "polling", "block": "start", "named": START, "invokes": DEPLOYED},
        {"flow": "polling", "block": "poll", "named": POLL,
         "invokes": "arn:aws:lambda:us-east-1:123456789012:function:PollWork:live"}]
    # on AWS, a function the deployment does not shift is invoked as the flow names it
    aws = load_flow(polling_flow(tmp_path), functions=FunctionMap("eu-west-2", "999999999999", deployed=DEPLOYED))
    assert aws.start.blocks["poll"].function_arn == POLL


def test_a_block_naming_a_function_the_stack_lacks_is_refused_not_redirected(tmp_path):
    with pytest.raises(FlowError) as caught:
        load_flow(polling_flow(tmp_path), functions=local_map(stack={"StartWork": STACK["StartWork"]}))
    assert str(caught.value) == (
        f"{tmp_path / 'polling.json'}: action poll: LambdaFunctionARN '{POLL}' names function 'PollWork', "
        "which the scenario does not declare: add it to [[functions]] or map the ARN in [function_map]")
    with pytest.raises(FlowError, match="needs a qualifier of 'PollWork' that the stack has"):
        load_flow(polling_flow(tmp_path, POLL.replace("live", "beta")), functions=local_map())


def test_an_invoke_block_without_lambdafunctionarn_is_refused_naming_what_it_has(tmp_path):
    """A hand-written flow (a public CDK project's) names its function in `FunctionArn`: Connect
    refuses it, and so does the rehearsal, with the block's parameters in the line."""
    flow = write_flow(tmp_path, "typo", [
        act("invoke", "InvokeLambdaFunction", {"FunctionArn": START, "InvocationTimeLimitSeconds": 8}, "bye",
            {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])
    with pytest.raises(FlowError) as caught:
        load_flow(flow, functions=local_map())
    assert str(caught.value) == (
        f"{flow}: action invoke: InvokeLambdaFunction names no LambdaFunctionARN (its parameters: FunctionArn, "
        "InvocationTimeLimitSeconds), and Connect refuses such a flow; name the function in LambdaFunctionARN")


def test_a_placeholder_needs_the_map(tmp_path):
    named = "{{lambdaFunctions.PollWork.arn}}"
    with pytest.raises(FlowError, match="is not a function ARN .* not in the scenario's \\[function_map\\]"):
        load_flow(polling_flow(tmp_path, named), functions=local_map())
    mapped = load_flow(polling_flow(tmp_path, named), functions=local_map(table={named: "PollWork:live"}))
    assert mapped.start.blocks["poll"].function_arn.endswith("function:PollWork:live")


@pytest.mark.parametrize("attribute,invoked,flow_errors", [
    ("PollWork:live", ["StartWork:PROD", "PollWork:live"], []),
    (POLL, ["StartWork:PROD", "PollWork:live"], []),  # the user's own ARN, mapped into the stack
    (None, ["StartWork:PROD"], [("polling", "poll", "unresolved reference $.Attributes.pollFunction")]),
    ("Elsewhere:live", ["StartWork:PROD"],
     [("polling", "poll", "LambdaFunctionARN 'Elsewhere:live' names function 'Elsewhere', which the scenario "
                          "does not declare: add it to [[functions]] or map the ARN in [function_map]")]),
])
async def test_a_function_named_at_run_time_is_resolved_then_mapped(tmp_path, attribute, invoked, flow_errors):
    flows = load_flow(polling_flow(tmp_path, "$.Attributes.pollFunction"), functions=local_map())
    hooks = Hooks()
    invoked_arns = []
    original = hooks.invoke

    async def invoke(block, event, flow):
        invoked_arns.append(block.function_arn.split(":function:")[1])
        return await original(block, event, flow)

    hooks.invoke = invoke
    state = ContactState(Contact(attributes={"pollFunction": attribute} if attribute else {}))
    assert await run_contact(flows, state, hooks) == "disconnected"
    assert invoked_arns == invoked and state.flow_errors == flow_errors


def test_the_map_by_function_name_keeps_the_blocks_qualifier_unless_it_names_one(tmp_path):
    renamed = POLL.replace("PollWork", "poll-work-prod")
    flows = load_flow(polling_flow(tmp_path, renamed), functions=local_map(table={"poll-work-prod": "PollWork"}))
    assert flows.start.blocks["poll"].function_arn.endswith("function:PollWork:live")


def test_blocks_of_the_deployed_function_go_to_its_alias(tmp_path):
    flows = load_flow(polling_flow(tmp_path, START.replace("live", "beta")), functions=local_map())
    assert [b["invokes"] for b in flows.block_targets()] == [DEPLOYED, DEPLOYED]
    assert flows.bypassing(DEPLOYED) == {}


@pytest.mark.parametrize("named,invoked", [
    (START.removesuffix(":live"), "StartWork:$LATEST"),  # no qualifier: Lambda runs $LATEST
    (START.replace("live", "$LATEST"), "StartWork:$LATEST"),
    (START.replace("live", "1"), "StartWork:1"),
    (START.replace("live", "BETA"), "StartWork:BETA"),  # another alias the stack has
])
def test_a_block_naming_the_deployed_functions_code_calls_that_code_and_is_said(tmp_path, named, invoked):
    """An ARN without an alias calls $LATEST or the version named, in production and here: the
    deployment never shifts it. It was sent to the alias, and the rehearsal showed a canary that in
    production protects none of that block's callers."""
    stack = {**STACK, "StartWork": STACK["StartWork"] | {"BETA"}}
    flows = load_flow(polling_flow(tmp_path, named), functions=local_map(stack=stack))
    assert flows.start.blocks["poll"].function_arn == f"arn:aws:lambda:us-east-1:123456789012:function:{invoked}"
    said = flows.bypassing(DEPLOYED)
    assert list(said) == [("polling", "poll")]
    assert said["polling", "poll"].startswith(f"flow polling, block poll names {named!r}: it calls ")
    if invoked.endswith("$LATEST"):
        assert "no canary and no rollback, and the verdict fails on it; name the alias (" + DEPLOYED + ")" in said[
            "polling", "poll"]
    else:
        assert f"{invoked}, which the deployment of alias PROD never shifts" in said["polling", "poll"]


def test_a_blank_arn_mapped_to_the_deployed_functions_latest_is_told_to_map_the_alias(tmp_path):
    """An export with its ARNs scrubbed ("") mapped to the function's name: the advice is the map's."""
    flows = load_flow(polling_flow(tmp_path, ""), functions=local_map(table={"": "StartWork"}))
    said = flows.bypassing(DEPLOYED)["polling", "poll"]
    assert said.endswith("""the verdict fails on it; map it to the alias in [function_map] ('' = "StartWork:PROD")""")


def test_an_unqualified_arn_of_another_function_calls_its_latest(tmp_path):
    flows = load_flow(polling_flow(tmp_path, POLL.removesuffix(":live")), functions=local_map())
    assert flows.start.blocks["poll"].function_arn.endswith("function:PollWork:$LATEST")


# What goes wrong in a block at run time takes its error branch, as in Connect; never an exception.

async def test_a_transfer_to_a_flow_not_loaded_takes_the_error_branch(tmp_path):
    flow = write_flow(tmp_path, "main", [
        act("set", "UpdateContactAttributes", {"Attributes": {"next": "elsewhere"}}, "go"),
        act("go", "TransferToFlow", {"ContactFlowId": "$.Attributes.next"}, None, {"NoMatchingError": "sorry"}),
        act("sorry", "MessageParticipant", {"Text": "Sorry"}, "bye"),
        act("bye", "DisconnectParticipant")])
    state, hooks = ContactState(Contact()), Hooks()
    assert await run_contact(load_flow(flow), state, hooks) == "disconnected"
    assert hooks.prompts == ["Sorry"]
    assert state.flow_errors == [("main", "go", "transfer to a flow that is not loaded: 'elsewhere'")]


async def test_an_error_with_no_branch_ends_the_contact_as_an_error(tmp_path):
    flow = write_flow(tmp_path, "main", [
        act("go", "TransferToFlow", {"ContactFlowId": "$.Attributes.missing"}),
        act("bye", "DisconnectParticipant")])
    state = ContactState(Contact())
    assert await run_contact(load_flow(flow), state, Hooks()) == "error"
    assert state.flow_errors == [("main", "go", "unresolved reference $.Attributes.missing")]
    assert state.last == ("main", "go")


async def test_an_invalid_value_takes_the_error_branch(tmp_path):
    flow = write_flow(tmp_path, "main", [
        act("loop", "Loop", {"LoopCount": "many"}, "bye", {"NoMatchingError": "bye"}),
        act("bye", "DisconnectParticipant")])
    state = ContactState(Contact())
    assert await run_contact(load_flow(flow), state, Hooks()) == "disconnected"
    assert state.flow_errors == [("main", "loop", "LoopCount 'many' is not a whole number")]


async def test_a_contact_that_polls_for_ever_is_stopped_as_a_runaway(tmp_path):
    flow = write_flow(tmp_path, "main", [
        invoke_action(next_="inv", error="inv"),  # an answer that never comes: invoke again, and again
        act("bye", "DisconnectParticipant")])
    state = ContactState(Contact())
    ended = await run_contact(load_flow(flow), state, Hooks(), limits=ContactLimits(max_invocations=25))
    assert ended == "runaway" and state.invocations == 25
    clock = iter(range(100))
    timed = ContactState(Contact())
    ended = await run_contact(load_flow(flow), timed, Hooks(),
                              limits=ContactLimits(too_long=lambda: next(clock) >= 7))
    assert ended == "runaway" and timed.invocations == 7


def test_what_describe_contact_flow_prints_is_a_flow_as_it_is(tmp_path):
    """`aws connect describe-contact-flow > main.json` holds the flow language as a string in
    ContactFlow.Content: read as the flow, named by its Name, and found by its Id when another flow
    transfers to its ARN."""
    instance = "arn:aws:connect:us-east-1:123456789012:instance/i-1"

    def described(name, flow_id, actions):
        content = {"Version": "2019-10-30", "StartAction": actions[0]["Identifier"], "Actions": actions}
        return {"ContactFlow": {"Arn": f"{instance}/contact-flow/{flow_id}", "Id": flow_id, "Name": name,
                                "Type": "CONTACT_FLOW", "State": "ACTIVE", "Content": json.dumps(content)}}

    main = [act("go", "TransferToFlow", {"ContactFlowId": f"{instance}/contact-flow/0b1f-menu"}, None,
                {"NoMatchingError": "bye"}), act("bye", "DisconnectParticipant")]
    (tmp_path / "main.json").write_text(json.dumps(described("Main IVR", "9a7c-main", main)))
    (tmp_path / "menu-export.json").write_text(json.dumps(described("Menu", "0b1f-menu", [act("end", "DisconnectParticipant")])))
    flows = load_flow(tmp_path / "main.json")
    assert {flow.name for flow in flows.flows.values()} == {"Main IVR", "Menu"}
    assert flows.find(f"{instance}/contact-flow/0b1f-menu").name == "Menu"
    (tmp_path / "broken.json").write_text(json.dumps({"ContactFlow": {"Name": "B", "Content": "{"}}))
    with pytest.raises(FlowError, match="broken.json: ContactFlow.Content: not valid JSON"):
        load_flow(tmp_path / "broken.json")
