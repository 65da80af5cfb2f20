"""A flow that calls several functions rehearses with each Invoke block calling its own function:
the deployment shifts one of them, its faults show in its rows alone, and the summary and figure
keep the functions apart. A real `shiftsim rehearse` of a start, poll-until-done, notify flow."""

import json
import subprocess
import sys

from simulator.report.analysis import analyse
from simulator.report.record import load_record
from tests.test_rehearse import ENV, ROOT

ACCOUNT_ARN = "arn:aws:lambda:eu-west-2:999999999999:function:{}:live"  # the user's account, as exported


def action(identifier, kind, parameters=None, next_=None, errors=None, conditions=None):
    transitions = {"NextAction": next_} if next_ else {}
    if errors:
        transitions["Errors"] = [{"NextAction": errors, "ErrorType": "NoMatchingError"}]
    if conditions:
        transitions["Conditions"] = [{"NextAction": n, "Condition": {"Operator": "Equals", "Operands": [v]}}
                                     for v, n in conditions]
    return {"Identifier": identifier, "Type": kind, "Parameters": parameters or {}, "Transitions": transitions}


def invoke(identifier, function, next_):
    return action(identifier, "InvokeLambdaFunction", {"LambdaFunctionARN": ACCOUNT_ARN.format(function),
                                                       "InvocationTimeLimitSeconds": "8"}, next_, "sorry")


FLOW = {"Version": "2019-10-30", "StartAction": "log", "Metadata": {"name": "poll-until-done"}, "Actions": [
    action("log", "UpdateFlowLoggingBehavior", {"FlowLoggingBehavior": "Enabled"}, "start"),
    invoke("start", "StartWork", "poll"),
    invoke("poll", "PollWork", "done?"),
    action("done?", "Compare", {"ComparisonValue": "$.External.status"}, None, "sorry",
           [("DONE", "notify"), ("PENDING", "hold")]),
    action("hold", "MessageParticipant", {"Text": "Still working on it"}, "poll"),
    invoke("notify", "Notify", "bye"),
    action("sorry", "MessageParticipant", {"Text": "Something went wrong"}, "bye"),
    action("bye", "DisconnectParticipant"),
]}

SCENARIO = """
[scenario]
name = "poll-until-done"
seed = 11
time_scale = 60
[[functions]]
name = "StartWork"
[[functions.versions]]
handler = "tests.handlers:start_work"
[[functions.aliases]]
name = "live"
version = "1"
[[functions]]
name = "PollWork"
[[functions.versions]]
handler = "tests.handlers:poll_work"
[functions.staged]
handler = "tests.handlers:poll_work"
[functions.staged.faults.error]
rate = 0.5
[[functions.aliases]]
name = "live"
version = "1"
[[functions]]
name = "Notify"
[[functions.versions]]
handler = "tests.handlers:notify"
[[functions.aliases]]
name = "live"
version = "1"
[[alarms]]
name = "PollWorkErrors"
dimensions = { FunctionName = "PollWork", Resource = "PollWork:live" }
[deployment]
function = "PollWork"
alias = "live"
config = "Canary10Percent5Minutes"
start_after = 2
[load]
users = 10
spawn_rate = 10
prompt_time = "fixed:0.05"
flow = "poll-until-done.json"
tail = 2
max_duration = 120
[expect]
outcome = "rolled_back"
[connect]
instance_id = "5f1c0de4-2b7a-4f4e-9d1e-0c6a0c0ffee0"
"""


def test_each_block_calls_its_own_function_and_the_faults_stay_in_the_deployed_ones_rows(tmp_path):
    (tmp_path / "poll-until-done.json").write_text(json.dumps(FLOW))
    (tmp_path / "s.toml").write_text(SCENARIO)
    folder = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(tmp_path / "s.toml"),
                           "--results", str(folder)], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = analyse(load_record(folder))
    functions = summary["functions"]
    assert set(functions) == {"PollWork:live", "StartWork:live", "Notify:live"}
    assert summary["deployed_function"] == "PollWork:live" and functions["PollWork:live"]["deployed"]
    assert functions["StartWork:live"]["blocks"] == ["poll-until-done/start"]  # the record: flow and block
    assert functions["Notify:live"]["blocks"] == ["poll-until-done/notify"]
    assert functions["PollWork:live"]["blocks"] == ["poll-until-done/poll"]
    for other in ("StartWork:live", "Notify:live"):  # their own version 1 only, no errors
        assert functions[other]["errors"] == 0 and set(functions[other]["versions"]) == {"1"}
        assert functions[other]["invocations"] > 0
    poll = functions["PollWork:live"]
    assert poll["errors"] > 0 and poll["errors_by_reason"] == {"function_error": poll["errors"]}
    assert summary["versions"]["1"]["errors"] == 0 and summary["versions"]["2"]["errors"] == poll["errors"]
    # the deployment's statistics count the deployed function alone
    assert sum(v["invocations"] for v in summary["versions"].values()) == poll["invocations"]
    assert summary["invocations"] == sum(f["invocations"] for f in functions.values())
    assert "StartWork:live (blocks poll-until-done/start):" in done.stdout
    assert "Notify:live (blocks poll-until-done/notify):" in done.stdout
    with (folder / "locust_stats.csv").open() as stats:  # the deployed function's versions by number
        names = {line.split(",")[1] for line in stats}
    assert {"invoke v1", "invoke v2", "invoke StartWork:live v1", "invoke Notify:live v1"} <= names
    # the contacts' instance is the scenario's, in the stack's region and account (the event's InstanceARN)
    entries = [json.loads(line) for line in (folder / "flow_logs.jsonl").read_text().splitlines()]
    notified = {e["ExternalResults"]["instance"] for e in entries if e["Identifier"] == "notify" and "ExternalResults" in e}
    assert notified == {"arn:aws:connect:us-east-1:123456789012:instance/5f1c0de4-2b7a-4f4e-9d1e-0c6a0c0ffee0"}
    blocks = json.loads((folder / "run.json").read_text())["blocks"]
    assert {b["block"]: b["invokes"].rsplit(":", 2)[1] for b in blocks} == {
        "start": "StartWork", "poll": "PollWork", "notify": "Notify"}


def test_validate_checks_each_blocks_function_against_the_stack(tmp_path):
    (tmp_path / "poll-until-done.json").write_text(json.dumps(FLOW))
    (tmp_path / "s.toml").write_text(SCENARIO)
    run = {"capture_output": True, "text": True, "env": ENV, "cwd": ROOT, "timeout": 60}
    ok = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", str(tmp_path / "s.toml")], **run)
    assert ok.returncode == 0, ok.stderr
    assert "poll-until-done/poll -> PollWork:live" in ok.stdout and "poll-until-done/notify -> Notify:live" in ok.stdout
    (tmp_path / "bad.toml").write_text(SCENARIO.replace('name = "Notify"', 'name = "Notifier"'))
    bad = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", str(tmp_path / "bad.toml")], **run)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert ("poll-until-done.json: action notify: LambdaFunctionARN 'arn:aws:lambda:eu-west-2:999999999999:"
            "function:Notify:live' names function 'Notify', which the scenario does not declare") in bad.stderr
    mapped = SCENARIO.replace('name = "Notify"', 'name = "Notifier"') + '[function_map]\n"Notify" = "Notifier"\n'
    (tmp_path / "mapped.toml").write_text(mapped)
    fixed = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", str(tmp_path / "mapped.toml")], **run)
    assert fixed.returncode == 0 and "poll-until-done/notify -> Notifier:live" in fixed.stdout


def test_validate_says_which_event_hooks_name_a_flow_outside_the_set(tmp_path):
    flow = json.loads(json.dumps(FLOW))
    flow["Actions"].append(action("ui", "UpdateContactEventHooks",
                                  {"EventHooks": {"DefaultAgentUI": "{{contactFlows.Agent screen.arn}}"}},
                                  flow["StartAction"], flow["StartAction"]))
    flow["StartAction"] = "ui"
    (tmp_path / "poll-until-done.json").write_text(json.dumps(flow))
    (tmp_path / "s.toml").write_text(SCENARIO)
    ok = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", str(tmp_path / "s.toml")],
                        capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert (f"note: {tmp_path / 'poll-until-done.json'}: action ui: EventHooks.DefaultAgentUI names flow "
            f"'{{{{contactFlows.Agent screen.arn}}}}', not in {tmp_path}: an event hook's flow runs outside the IVR") in ok.stdout


RUNAWAY_FLOW = {"Version": "2019-10-30", "StartAction": "which", "Metadata": {"name": "never-done"}, "Actions": [
    # about half the contacts (by their id) transfer to a flow named by an attribute never set; the others poll a
    # function whose answer never says DONE, for ever
    {"Identifier": "which", "Type": "Compare", "Parameters": {"ComparisonValue": "$.ContactId"},
     "Transitions": {"Conditions": [{"NextAction": "go", "Condition": {"Operator": "TextStartsWith", "Operands": [c]}}
                                    for c in "01234567"],
                     "Errors": [{"NextAction": "poll", "ErrorType": "NoMatchingCondition"}]}},
    action("go", "TransferToFlow", {"ContactFlowId": "$.Attributes.nextFlow"}, None, "bye"),  # never set
    invoke("poll", "PollWork", "done?"),
    action("done?", "Compare", {"ComparisonValue": "$.External.status"}, None, "poll", [("DONE", "bye")]),
    action("sorry", "MessageParticipant", {"Text": "Something went wrong"}, "bye"),
    action("bye", "DisconnectParticipant"),
]}
RUNAWAY_FLOW["Actions"][3]["Transitions"]["Errors"][0]["ErrorType"] = "NoMatchingCondition"


def test_a_runaway_contact_fails_the_rehearsal_and_flow_errors_are_counted_per_block(tmp_path):
    (tmp_path / "never-done.json").write_text(json.dumps(RUNAWAY_FLOW))
    scenario = SCENARIO.replace('flow = "poll-until-done.json"', 'flow = "never-done.json"\nmax_invocations_per_contact = 40')
    scenario = scenario.replace('outcome = "rolled_back"', 'max_flow_errors = 0').replace(
        "tests.handlers:poll_work", "tests.handlers:never_done")
    (tmp_path / "s.toml").write_text(scenario)
    folder = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(tmp_path / "s.toml"),
                           "--results", str(folder)], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((folder / "summary.json").read_text())
    (error,) = summary["flow_errors"]  # the transfer's error branch, counted for that block
    assert (error["flow"], error["block"]) == ("never-done", "go") and error["count"] > 0
    assert error["what"] == "unresolved reference $.Attributes.nextFlow"
    assert summary["contact_outcomes"]["by_outcome"]["runaway"] > 0
    assert summary["runaway_contacts"][0]["flow"] == "never-done"
    assert summary["runaway_contacts"][0]["block"] in ("poll", "done?")
    failed = {c["check"] for c in summary["verdict"]["checks"] if not c["passed"]}
    assert failed == {"contacts stopped as runaways (past a per-contact limit: invocations, blocks in a row without one, time)",
                      "flow errors (error branches taken for what went wrong in a block), at most"}
    assert "RUNAWAY:" in done.stdout and "never-done/go unresolved reference $.Attributes.nextFlow" in done.stdout


def test_a_contact_center_flow_set_rehearses_with_its_callers(tmp_path):
    from tests.connect.test_flow_language import contact_center

    flows = tmp_path / "flows"
    flows.mkdir()
    contact_center(flows)
    (tmp_path / "cc.toml").write_text("""
[scenario]
seed = 5
time_scale = 60
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
handler = "tests.handlers:poll_work"
[[functions.aliases]]
name = "PROD"
version = "1"
[callers]
in_hours = 0.9
[callers.choices.menu]
"8" = 1
[load]
users = 8
spawn_rate = 8
prompt_time = "fixed:0.02"
flow = "flows/main.json"
max_duration = 6
""")
    folder = tmp_path / "run"
    run = {"capture_output": True, "text": True, "env": ENV, "cwd": ROOT, "timeout": 120}
    valid = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", str(tmp_path / "cc.toml")], **run)
    assert valid.returncode == 0 and "flows: 29" in valid.stdout, valid.stderr
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(tmp_path / "cc.toml"),
                           "--results", str(folder)], **run)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((folder / "summary.json").read_text())
    outcomes = summary["contact_outcomes"]["by_outcome"]
    # menu answer 8 (complaints): its menu, then an agent's queue or the integration loop; closed: a callback
    assert set(outcomes) <= {"queued", "callback", "disconnected", "stopped"} and outcomes.get("queued", 0) > 0
    assert summary["flow_errors"] == [] and summary["invocations"] > 0
    blocks = {b for f in summary["functions"].values() for b in f["blocks"]}
    assert blocks == {"Integration/start", "Integration/poll"}


ASYNC_FLOW = {"Version": "2019-10-30", "StartAction": "start", "Metadata": {"name": "async-lookup"}, "Actions": [
    action("start", "InvokeLambdaFunction", {"LambdaFunctionARN": ACCOUNT_ARN.format("StartWork"),
                                             "InvocationType": "ASYNCHRONOUS", "InvocationTimeLimitSeconds": "30"},
           "hold", "sorry"),
    action("hold", "MessageParticipant", {"Text": "One moment"}, "load"),
    action("load", "InvokeLambdaFunction", {"LambdaInvocationRequestId": "$.LambdaInvocation.InvocationId"},
           "bye", "sorry"),
    action("sorry", "MessageParticipant", {"Text": "Something went wrong"}, "bye"),
    action("bye", "DisconnectParticipant"),
]}


def test_an_asynchronous_invocation_rehearses_and_is_recorded(tmp_path):
    flow = json.loads(json.dumps(ASYNC_FLOW))  # with a hold flow the set lacks: said at start and in the summary
    flow["Actions"].append(action("on-hold", "UpdateContactEventHooks",
                                  {"EventHooks": {"CustomerHold": "{{contactFlows.Hold.arn}}"}}, flow["StartAction"]))
    flow["StartAction"] = "on-hold"
    (tmp_path / "async.json").write_text(json.dumps(flow))
    scenario = SCENARIO.replace('flow = "poll-until-done.json"', 'flow = "async.json"').replace(
        "tests.handlers:start_work", "tests.handlers:sleepy")
    scenario = scenario.replace('name = "StartWork"', 'name = "StartWork"\ntimeout = 5')
    scenario = scenario[:scenario.index("[[alarms]]")] + scenario[scenario.index("[load]"):]  # no deployment
    scenario = scenario.replace("max_duration = 120", "max_duration = 8").replace('outcome = "rolled_back"', "")
    (tmp_path / "s.toml").write_text(scenario)
    folder = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(tmp_path / "s.toml"),
                           "--results", str(folder)], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((folder / "summary.json").read_text())
    start = summary["functions"]["StartWork:live"]
    # each a success: the handler's 1.5 s was waited for by nobody, and cut by no chained-invocation budget
    assert start["invocations"] > 0 and start["errors"] == 0 and start["blocks"] == ["async-lookup/start"]
    assert summary["flow_errors"] == []
    assert summary["contact_outcomes"]["by_outcome"].get("disconnected", 0) > 0
    hold = "action on-hold: EventHooks.CustomerHold names flow '{{contactFlows.Hold.arn}}', not in"
    assert f"shiftsim: note: {tmp_path / 'async.json'}: {hold}" in done.stdout + done.stderr
    assert f"  NOTE: {tmp_path / 'async.json'}: {hold}" in done.stdout  # the summary says it too
