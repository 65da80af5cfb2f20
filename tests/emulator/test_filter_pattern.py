"""CloudWatch Logs filter patterns against the kinds of events and patterns CloudWatch's documentation
shows (JSON selectors, wildcards, numbers, IS NULL/TRUE/FALSE, NOT EXISTS, && above ||, terms), and
a property: a JSON equality pattern built from an event's own field always matches it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.emulator.logs.filter_pattern import PatternError, compile_pattern

EVENT = json.dumps({
    "eventType": "UpdateTrail", "sourceIPAddress": "123.123.123.123", "arrayKey": ["value", "another value"],
    "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "SomeObject": None, "ThisFlag": True,
    "ThatFlag": False, "latency": 500, "user": {"id": 1, "email": "John.Stiles@example.com"},
    "users": [{"id": 2, "email": "John.Doe@example.com"}], "actions": ["GET", "PUT", "DELETE"],
    "coordinates": [[0, 1], [2, 3]], "ContactFlowModuleType": "InvokeExternalResource",
})


@pytest.mark.parametrize("pattern, matches", [
    ('{ $.eventType = "UpdateTrail" }', True),
    ('{ $.eventType = "Update*" }', True),
    ('{ $.eventType = UpdateTrail }', True),
    ('{ $.eventType != "UpdateTrail" }', False),
    ("{ $.sourceIPAddress != 123.123.* }", False),
    ("{ $.sourceIPAddress != 124.* }", True),
    ('{ $.arrayKey[0] = "value" }', True),
    ('{ $.arrayKey[1] = "value" }', False),
    ("{ $.objectList[1].id = 2 }", True),
    ("{ $.objectList[1].id > 2 }", False),
    ("{ $.latency >= 500 }", True),
    ("{ $.latency > 500 }", False),
    ("{ $.latency < 1000 }", True),
    ("{ $.SomeObject IS NULL }", True),
    ("{ $.SomeOtherObject NOT EXISTS }", True),
    ("{ $.SomeObject NOT EXISTS }", False),
    ("{ $.ThisFlag IS TRUE }", True),
    ("{ $.ThatFlag IS FALSE }", True),
    ("{ $.ThatFlag IS TRUE }", False),
    ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
    ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
    ('{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }', True),
    ('{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }', False),
    ("{ $.coordinates[0][1] = 1 }", True),
    ("{ $.user.email = %Stiles@example\\.com$% }", True),
    ("{ $.missing != \"x\" }", False),  # a field that is not there matches no comparison
    ('{ $.ContactFlowModuleType = "InvokeExternalResource" }', True),
])
def test_json_patterns(pattern, matches):
    assert compile_pattern(pattern).matches(EVENT) is matches


@pytest.mark.parametrize("pattern, message, matches", [
    ("", "anything", True),
    ("ERROR", "[ERROR] 400 BAD REQUEST", True),
    ("ERROR", "[INFO] all fine", False),
    ('"BAD REQUEST"', "[ERROR] 400 BAD REQUEST", True),
    ("ERROR 400", "[ERROR] 400 BAD REQUEST", True),
    ("ERROR 500", "[ERROR] 400 BAD REQUEST", False),
    ("?ERROR ?WARN", "[WARN] slow", True),
    ("?ERROR ?WARN", "[INFO] fine", False),
    ("ERROR -400", "[ERROR] 400 BAD REQUEST", False),
    ("%[45]0[0-9]%", "[ERROR] 404 NOT FOUND", True),
    ('{ $.a = 1 }', "not json at all", False),
])
def test_term_patterns(pattern, message, matches):
    assert compile_pattern(pattern).matches(message) is matches


@pytest.mark.parametrize("pattern, why", [
    ("{ $.a = 1", "ends with }"),
    ("{ $.a == 1 }", "expected"),
    ("{ a = 1 }", "starts with \\$"),
    ("{ ($.a = 1 }", "not closed"),
    ("{ $.a > high }", "compares numbers"),
    ("[ip, user, status]", "space-delimited"),
    ("{ $.a IS MAYBE }", "NULL, TRUE or FALSE"),
])
def test_bad_patterns_say_why(pattern, why):
    with pytest.raises(PatternError, match=why):
        compile_pattern(pattern)


keys = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="_-"), min_size=1, max_size=12)
values = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters=" _-.:/"), min_size=1, max_size=20)


@given(st.dictionaries(keys, values, min_size=1, max_size=5))
def test_an_equality_on_an_events_own_field_matches_it(event):
    message = json.dumps(event)
    for key, value in event.items():
        assert compile_pattern(f"{{ $.{key} = {json.dumps(value)} }}").matches(message)
        assert not compile_pattern(f"{{ $.{key} != {json.dumps(value)} }}").matches(message)
