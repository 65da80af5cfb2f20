"""Composite alarms' rules (simulator/deployment/composite_rule.py): the grammar, precedence and
refusals, and a property test against Python's own boolean evaluation of the same formula."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.deployment.composite_rule import RuleError, parse_rule

STATES = {"a": "ALARM", "b": "OK", "c": "INSUFFICIENT_DATA", "My Alarm": "ALARM"}


@pytest.mark.parametrize(("rule", "holds"), [
    ("ALARM(a)", True), ("OK(a)", False), ('ALARM("a")', True), ("INSUFFICIENT_DATA(c)", True),
    ("ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:a)", True), ('ALARM("My Alarm")', True),
    ("NOT ALARM(b)", True), ("ALARM(a) AND OK(b)", True), ("ALARM(b) OR ALARM(c)", False),
    ("TRUE AND FALSE OR TRUE", True), ("TRUE AND (FALSE OR FALSE)", False), ("NOT TRUE OR TRUE", True),
    ("NOT (TRUE OR TRUE)", False), ("ALARM(nobody)", False), ("OK(nobody) OR INSUFFICIENT_DATA(nobody)", False),
])
def test_rules_hold_as_cloudwatch_reads_them(rule, holds):
    assert parse_rule(rule).holds(STATES.get) is holds


@pytest.mark.parametrize(("rule", "said"), [
    ("", "empty"), ("ALARM(a", "expected ')'"), ("ALARM a", "expected '(' after ALARM"), ("a AND", "unexpected 'a'"),
    ("ALARM(a) AND", "expected an expression"), ("ALARM(a) ALARM(b)", "unexpected 'ALARM'"),
    ("x" * 10_241, "longer than 10,240"), (" OR ".join(f"ALARM(a{i})" for i in range(101)), "at most 100"),
])
def test_a_rule_cloudwatch_would_refuse_is_refused_saying_where(rule, said):
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert said in str(caught.value)


def formulas(depth: int = 3):
    atom = st.sampled_from(["TRUE", "FALSE", "ALARM(a)", "OK(a)", "ALARM(b)", "OK(b)", "INSUFFICIENT_DATA(c)"])
    if depth == 0:
        return atom
    inner = formulas(depth - 1)
    return st.one_of(atom, inner.map(lambda f: f"NOT {f}"), inner.map(lambda f: f"({f})"),
                     st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(" ".join))


@settings(max_examples=300, deadline=None)
@given(formulas())
def test_precedence_is_not_then_and_then_or(formula):
    """The same formula in Python (whose not/and/or bind the same way) gives the same answer."""
    python = formula
    for word, value in (("INSUFFICIENT_DATA(c)", "True"), ("ALARM(a)", "True"), ("OK(a)", "False"),
                        ("ALARM(b)", "False"), ("OK(b)", "True"), ("TRUE", "True"), ("FALSE", "False"),
                        ("NOT", "not"), ("AND", "and"), ("OR", "or")):
        python = python.replace(word, value)
    assert parse_rule(formula).holds(STATES.get) is eval(python)  # noqa: S307 (a formula of our own)
