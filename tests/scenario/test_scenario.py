"""Scenario files: defaults, a full example, and errors that name the file and the key."""

import re
import sys

import pytest

from simulator.scenario.reader import load_scenario, parse_scenario
from simulator.scenario.spec import ScenarioError, default_scenario

FULL = """
[scenario]
name = "faulty-candidate"
seed = 7
[aws]
region = "eu-west-2"
account = "111111111111"
[[functions]]
name = "Fn"
timeout = 8
reserved_concurrency = 50
[[functions.versions]]
description = "stable"
[[functions.versions]]
handler = "tests.handlers:greet"
[functions.versions.faults.error]
rate = 0.2
after = 60
[functions.versions.faults.latency]
distribution = "lognormal"
median_ms = 20
p99_ms = 300
[[functions.aliases]]
name = "LIVE"
version = "1"
additional_version_weights = { "2" = 0.1 }
"""


def test_default_is_the_seed_stack():
    scenario = default_scenario()
    assert scenario.alias_arn() == "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD"


def test_a_full_scenario():
    scenario = parse_scenario(FULL, "full.toml")
    fn = scenario.functions[0]
    assert (scenario.name, scenario.seed, scenario.region) == ("faulty-candidate", 7, "eu-west-2")
    assert fn.timeout == 8 and fn.reserved_concurrency == 50
    assert fn.versions[1].faults.error.rate == 0.2 and fn.versions[1].faults.error.after == 60
    assert fn.versions[1].faults.latency.params == {"median_ms": 20.0, "p99_ms": 300.0}
    assert fn.aliases[0].additional_version_weights == {"2": 0.1}
    assert scenario.alias_arn() == "arn:aws:lambda:eu-west-2:111111111111:function:Fn:LIVE"


@pytest.mark.parametrize("change,message", [
    (("rate = 0.2", "rate = 1.5"), "full.toml: functions[0].versions[1].faults.error.rate: must be between 0 and 1, got 1.5"),
    (("timeout = 8", "timeout = 8\ntimout = 3"), "full.toml: functions[0]: unknown key(s): timout"),
    (('"2" = 0.1', '"3" = 0.1'), "full.toml: functions[0].aliases[0]: version '3' is not one of the function's published versions 1..2"),
    (('distribution = "lognormal"', 'distribution = "gamma"'), "functions[0].versions[1].faults.latency.distribution: must be one of fixed, uniform, normal, lognormal; got 'gamma'"),
    (("p99_ms = 300", "p99_ms = 10"), "needs 0 < median_ms < p99_ms"),
    (('name = "LIVE"', 'name = "123"'), "functions[0].aliases[0].name: must be an alias name"),
    (('handler = "tests.handlers:greet"', 'handler = "nocolon"'), "functions[0].versions[1].handler: must be 'module:function'"),
    (('account = "111111111111"', 'account = "42"'), "aws.account: must be 12 digits"),
    (("seed = 7", "seed = 'x'"), "scenario.seed: must be a whole number, got 'x'"),
    (("[scenario]", "[scenario\n"), "full.toml: not valid TOML"),
    (("[scenario]", '[connect]\ninstance_alias = "my instance"\n[scenario]'),
     "full.toml: connect.instance_alias: must be 1 to 45 letters, digits and hyphens"),
    (("[scenario]", '[connect]\ninstance_alias = "d-123"\n[scenario]'), "connect.instance_alias: "),
    (("[scenario]", '[connect]\ninstance_id = "arn:aws:connect:us-east-1:1:instance/x"\n[scenario]'),
     "full.toml: connect.instance_id: must be the instance's id, a UUID (the last part of its ARN)"),
])
def test_errors_name_the_file_and_the_key(change, message):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(FULL.replace(*change), "full.toml")
    assert message in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="nope.toml: cannot read scenario"):
        load_scenario(tmp_path / "nope.toml")


@pytest.mark.parametrize("table,message", [
    ('"{{lambdaFunctions.X.arn}}" = "Nowhere:live"', "names function 'Nowhere', which [[functions]] does not declare"),
    ('"X" = "ConnectLambdaFunction:BETA"', "ConnectLambdaFunction has no qualifier 'BETA'"),
    ('"X" = 3', "must be a string"),
    ('"X" = "arn:aws:lambda:us-east-1:123456789012:function:Nowhere:live"',
     "names function 'Nowhere', which [[functions]] does not declare"),
    ('"X" = "ConnectLambdaFunction:PROD:extra"', "not a Lambda function name or ARN: 'ConnectLambdaFunction:PROD:extra'"),
])
def test_a_function_map_names_what_the_stack_has(table, message):
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario(f"[function_map]\n{table}\n", "s.toml")
    ok = parse_scenario('[function_map]\n"{{lambdaFunctions.X.arn}}" = "ConnectLambdaFunction:PROD"\n', "s.toml")
    assert ok.function_map == {"{{lambdaFunctions.X.arn}}": "ConnectLambdaFunction:PROD"}
    # the ARN the start's advice names, pasted as it is
    arn = parse_scenario('[function_map]\n"" = "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD"\n',
                         "s.toml")
    assert arn.function_map == {"": "ConnectLambdaFunction:PROD"}


def test_callers_and_flow_map_tables():
    scenario = parse_scenario("""
[callers]
in_hours = 0.8
[callers.metrics]
NumberOfAgentsAvailable = 3
[callers.choices.main-menu]
"1" = 2
timeout = 1
[callers.segment_attributes]
"connect:Subtype" = "connect:Email"
"connect:EmailSubject" = { "Credit Card statement" = 3, "Hello" = 1 }
[callers.lex_session_attributes]
toolResult = { COMPLETE = 1, ESCALATION = 1 }
[callers.numbers]
"+1206555####" = 9
"+15555550100" = 1
[callers.channel]
VOICE = 4
CHAT = 1
[flow_map]
"arn:aws:connect:eu-west-2:999999999999:instance/a/contact-flow/f1" = "Main menu"
""", "s.toml")
    assert scenario.callers == {"in_hours": 0.8, "queue_at_capacity": 0.0, "third_party_seconds": 60.0,
                                "outbound_call_status": "CallAnswered", "voice_id": "NotEnrolled",
                                "metrics": {"NumberOfAgentsAvailable": 3.0},
                                "choices": {"main-menu": {"1": 2.0, "timeout": 1.0}},
                                "segment_attributes": {"connect:Subtype": {"connect:Email": 1.0},
                                                       "connect:EmailSubject": {"Credit Card statement": 3.0, "Hello": 1.0}},
                                "lex_session_attributes": {"toolResult": {"COMPLETE": 1.0, "ESCALATION": 1.0}},
                                "numbers": {"+1206555####": 9.0, "+15555550100": 1.0},
                                "channel": {"VOICE": 4.0, "CHAT": 1.0}}
    assert scenario.flow_map == {"arn:aws:connect:eu-west-2:999999999999:instance/a/contact-flow/f1": "Main menu"}
    for bad, message in [("[callers]\nin_hours = 2\n", "callers.in_hours: must be between 0 and 1"),
                         ("[callers]\nmood = 1\n", "callers: unknown key(s): mood"),
                         ("[callers.choices.menu]\n\"1\" = -1\n", "callers.choices.menu.1: must be >= 0"),
                         ("[callers.choices.menu]\n\"1\" = 0\n", "needs at least one answer with a weight above 0"),
                         ("[callers.segment_attributes]\nx = 1\n",
                          "callers.segment_attributes.x: must be a string, or a table of values by weight"),
                         ("[callers.segment_attributes.x]\nv = 0\n",
                          "callers.segment_attributes.x: needs at least one value with a weight above 0"),
                         ('[callers]\nnumbers = "555-0100"\n',
                          "callers.numbers: '555-0100' is not a phone number in E.164 form: + and 2 to 15 digits"),
                         ("[callers]\nnumbers = 15555550100\n",
                          "callers.numbers: must be a string, or a table of values by weight"),
                         ('[callers]\nchannel = "PHONE"\n',
                          "callers.channel: 'PHONE' is not a channel of Connect's (VOICE, CHAT, TASK, EMAIL)"),
                         ("[flow_map]\nx = 1\n", "flow_map.x: must be a string")]:
        with pytest.raises(ScenarioError, match=re.escape(message)):
            parse_scenario(bad, "s.toml")


@pytest.mark.parametrize("content, said", [
    (b'[scenario]\nname = "caf\xe9"\n', "not UTF-8 text (byte 0xe9 on line 2): save the scenario as UTF-8"),
    (b'[load]\nprompt_time = "gaussian:8"\n', "load.prompt_time: prompt time 'gaussian:8': expected fixed:S"),
    (b'{"Version": "2019-10-30", "StartAction": "a", "Actions": []}', "is an exported contact flow (JSON), not a scenario"),
    (b"AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n", "is a SAM or CloudFormation template, not a scenario"),
    (b"\n  \n", "is empty: a scenario has tables"),
])
def test_files_a_newcomer_passes_by_mistake_are_one_line(tmp_path, content, said):
    """What validate says is what rehearse would: a Latin-1 file, a prompt time rehearse cannot sample,
    a flow or a template where a scenario goes (each was a traceback, an ok, or 'not valid TOML')."""
    path = tmp_path / "s.toml"
    path.write_bytes(content)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert said in str(info.value) and "\n" not in str(info.value)


def test_a_scenario_saved_with_a_bom_is_read(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(b'\xef\xbb\xbf[scenario]\nname = "bom"\n')
    assert load_scenario(path).name == "bom"


@pytest.mark.parametrize("value, message", [
    ("5", "expect.max_error_rate: is a share from 0 to 1 (5 % is 0.05), got 5: as written it can never fail"),
    ("1000", "expect.max_error_rate: must be between 0 and 1, got 1000"),
    ("-0.1", "expect.max_error_rate: must be between 0 and 1, got -0.1"),
])
def test_an_error_rate_expectation_is_a_share(value, message):
    """`max_error_rate = 5` meant 5 % and was taken as 500 %: a gate that could never fail."""
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario(f"[expect]\nmax_error_rate = {value}\n", "s.toml")
    assert parse_scenario("[expect]\nmax_error_rate = 0.05\n", "s.toml").expect == {"max_error_rate": 0.05}


def test_functions_code_that_runs_differently_here_is_said_as_a_templates_is(tmp_path):
    """[[functions]] code said as a template's: another Python is a note; a runtime that does not run
    here is a stand-in, which for the deployed function makes the rehearsal unfaithful."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    table = '[[functions]]\nname = "F"\n[[functions.versions]]\ncode = "code"\nhandler = "app.handler"\n' \
            'runtime = "{runtime}"\n[[functions.aliases]]\nname = "live"\nversion = "1"\n'
    older = parse_scenario(table.format(runtime="python3.8"), str(tmp_path / "s.toml"))
    assert older.notes == (f"F: python3.8 code runs on this machine's Python {sys.version_info.major}."
                           f"{sys.version_info.minor}",) and older.unfaithful == ()
    java = parse_scenario(table.format(runtime="java17"), str(tmp_path / "s.toml"))
    assert "F: runtime java17 does not run here; a stand-in handler answers {\"version\": N}" in java.notes
    assert java.unfaithful == ("the deployed function F's code does not run here (a stand-in answers for it): what its "
                               "versions do is not rehearsed",)
