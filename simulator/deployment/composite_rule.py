"""Composite alarms' rules: `ALARM(name)`, `OK(name)`, `INSUFFICIENT_DATA(name)`, `TRUE`, `FALSE`,
`NOT`, `AND`, `OR` and parentheses (NOT binds tightest, then AND, then OR), over alarms named by
name or ARN, quoted or not. Parsed once into a tree; evaluated against the states of the alarms it
names. No I/O, no state of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_RULE = 10_240  # characters, as PutCompositeAlarm takes at most
MAX_ALARMS = 100  # underlying alarms one rule may name
STATE_FUNCTIONS = ("ALARM", "OK", "INSUFFICIENT_DATA")

_TOKEN = re.compile(r'\s*(?:(?P<open>\()|(?P<close>\))|"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<word>[^\s()"]+))')


class RuleError(ValueError):
    """An alarm rule CloudWatch would refuse; the message says what and where."""


@dataclass(frozen=True)
class Rule:
    """A parsed rule: `holds(state_of)` says whether it is true, `state_of(name)` giving an alarm's
    state (None for an alarm that does not exist: no state function of it is true)."""

    holds: Callable[[Callable[[str], str | None]], bool]
    alarms: frozenset[str]


def alarm_name(reference: str) -> str:
    """An alarm named by its name or its ARN (arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME)."""
    if reference.startswith("arn:") and ":alarm:" in reference:
        return reference.split(":alarm:", 1)[1]
    return reference


def parse_rule(text: str) -> Rule:
    if not text or not text.strip():
        raise RuleError("AlarmRule is empty")
    if len(text) > MAX_RULE:
        raise RuleError(f"AlarmRule is longer than {MAX_RULE:,} characters")
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        found = _TOKEN.match(text, position)
        if found is None:
            raise RuleError(f"AlarmRule: unexpected character at {position + 1}")
        kind = found.lastgroup or ""
        value = found.group(kind) if kind in ("quoted", "word") else kind
        tokens.append((kind, value.replace('\\"', '"') if kind == "quoted" else value, found.start(kind) + 1))
        position = found.end()
    parser = _Parser(tokens)
    holds = parser.disjunction()
    if parser.index < len(tokens):
        raise RuleError(f"AlarmRule: unexpected {tokens[parser.index][1]!r} at {tokens[parser.index][2]}")
    if len(parser.alarms) > MAX_ALARMS:
        raise RuleError(f"AlarmRule names {len(parser.alarms)} alarms; at most {MAX_ALARMS}")
    return Rule(holds, frozenset(parser.alarms))


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]]) -> None:
        self.tokens, self.index, self.alarms = tokens, 0, set[str]()

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self, kind: str, what: str) -> tuple[str, str, int]:
        token = self._peek()
        if token is None or token[0] != kind:
            where = f"at {token[2]}" if token else "at the end"
            raise RuleError(f"AlarmRule: expected {what} {where}")
        self.index += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token[0] == "word" and token[1] == word:
            self.index += 1
            return True
        return False

    def disjunction(self) -> Callable[[Callable[[str], str | None]], bool]:
        terms = [self.conjunction()]
        while self._keyword("OR"):
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda state: any(term(state) for term in terms))

    def conjunction(self) -> Callable[[Callable[[str], str | None]], bool]:
        terms = [self.negation()]
        while self._keyword("AND"):
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else (lambda state: all(term(state) for term in terms))

    def negation(self) -> Callable[[Callable[[str], str | None]], bool]:
        if self._keyword("NOT"):
            inner = self.negation()
            return lambda state: not inner(state)
        return self.atom()

    def atom(self) -> Callable[[Callable[[str], str | None]], bool]:
        token = self._peek()
        if token is None:
            raise RuleError("AlarmRule: expected an expression at the end")
        if token[0] == "open":
            self.index += 1
            inner = self.disjunction()
            self._take("close", "')'")
            return inner
        if token[0] == "word" and token[1] in ("TRUE", "FALSE"):
            self.index += 1
            constant = token[1] == "TRUE"
            return lambda state: constant
        if token[0] == "word" and token[1] in STATE_FUNCTIONS:
            self.index += 1
            self._take("open", f"'(' after {token[1]}")
            name_token = self._peek()
            if name_token is None or name_token[0] not in ("quoted", "word"):
                raise RuleError(f"AlarmRule: expected an alarm name after {token[1]}( at {token[2]}")
            self.index += 1
            self._take("close", "')'")
            name, wanted = alarm_name(name_token[1]), token[1]
            self.alarms.add(name)
            return lambda state: state(name) == wanted
        raise RuleError(f"AlarmRule: unexpected {token[1]!r} at {token[2]}")
