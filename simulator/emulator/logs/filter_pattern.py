"""CloudWatch Logs filter patterns, as FilterLogEvents and metric filters read them.

- Terms: `ERROR` (the event contains it), `"a phrase"`, several terms (all of them), `?ERROR ?WARN`
  (any of them), `-DEBUG` (not it), `%regex%`; an empty pattern matches every event.
- JSON: `{ SELECTOR OP VALUE }` on events that are JSON objects, with `$.a.b`, `$.a[0]`; `=` and `!=`
  on strings (with `*` wildcards, or `%regex%`) and numbers, `<`, `<=`, `>`, `>=` on numbers,
  `IS NULL`, `IS TRUE`, `IS FALSE`, `NOT EXISTS`, `EXISTS`; `&&` binds tighter than `||`, and
  parentheses group.
Space-delimited patterns (`[ip, user, ...]`) are refused as not supported, never matched loosely.
moto's CloudWatch Logs matches plain terms only, which is why this is written here.

A `%regex%` comes from a request: it runs on RE2 (linear time in the text, no backtracking), so no
pattern can hold the emulator's loop, and what RE2 cannot read (lookarounds, back-references, which
CloudWatch Logs does not take either) is refused as the pattern's error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2


class PatternError(ValueError):
    """A filter pattern that cannot be read; the message says where."""


Test = Callable[[Any], bool]
_MISSING = object()
_TOKEN = re.compile(r"""\s*(?:(?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))|(?P<quoted>"(?:[^"\\]|\\.)*")
                        |(?P<regex>%(?:[^%\\]|\\.)*%)|(?P<word>[^\s()=!<>&|"]+))""", re.VERBOSE)
_SELECTOR_PART = re.compile(r"\.([^.\[\]\s()=!<>&|\"]+)|\[(\d+)\]")


MAX_PATTERN_LENGTH = 1024  # CloudWatch Logs' limit on a filter pattern
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a user's bad pattern is their error to read, not a line on stderr


def _user_regex(term: str) -> Any:
    """`%...%` as a linear-time RE2 regex."""
    try:
        return re2.compile(term[1:-1], _RE2_OPTIONS)
    except re2.error as exc:
        why = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"cannot read regular expression {term}: {why}") from None


@dataclass(frozen=True)
class FilterPattern:
    text: str
    matches: Callable[[str], bool]
    json: bool

    def value(self, message: str, selector: str) -> Any:
        """A JSON event's value at `$.a.b` (a metric filter's metricValue), or None."""
        try:
            event = json.loads(message)
        except ValueError:
            return None
        found = _select(event, _path(selector))
        return None if found is _MISSING else found


def compile_pattern(text: str) -> FilterPattern:
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(f"longer than {MAX_PATTERN_LENGTH} characters ({len(text)})")
    stripped = text.strip()
    if stripped.startswith("{"):
        if not stripped.endswith("}"):
            raise PatternError("a JSON filter pattern ends with }")
        test = _Parser(stripped[1:-1]).parse()

        def matches(message: str) -> bool:
            try:
                event = json.loads(message)
            except ValueError:
                return False
            return isinstance(event, dict) and test(event)

        return FilterPattern(text, matches, True)
    if stripped.startswith("["):
        raise PatternError("space-delimited filter patterns ([...]) are not supported by the shiftsim emulator")
    return FilterPattern(text, _terms(stripped), False)


def _terms(text: str) -> Callable[[str], bool]:
    required: list[Callable[[str], bool]] = []
    optional: list[Callable[[str], bool]] = []
    excluded: list[Callable[[str], bool]] = []
    for match in re.finditer(r'([?\-]?)("(?:[^"\\]|\\.)*"|%(?:[^%\\]|\\.)*%|\S+)', text):
        sign, term = match.groups()
        {"?": optional, "-": excluded}.get(sign, required).append(_term(term))

    def matches(message: str) -> bool:
        return (all(t(message) for t in required) and not any(t(message) for t in excluded)
                and (not optional or any(t(message) for t in optional)))

    return matches


def _term(term: str) -> Callable[[str], bool]:
    if term.startswith('"'):
        phrase: str = json.loads(term)
        return lambda message: phrase in message
    if term.startswith("%") and len(term) > 1:
        regex = _user_regex(term)
        return lambda message: regex.search(message) is not None
    return lambda message: term in message


def _path(selector: str) -> list[str | int]:
    if not selector.startswith("$"):
        raise PatternError(f"a selector starts with $, got {selector!r}")
    parts: list[str | int] = []
    at = 1
    while at < len(selector):
        match = _SELECTOR_PART.match(selector, at)
        if match is None:
            raise PatternError(f"cannot read selector {selector!r} at {selector[at:]!r}")
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        at = match.end()
    return parts


def _select(event: Any, path: list[str | int]) -> Any:
    node = event
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return _MISSING
        elif not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class _Parser:
    """`expr := conj ('||' conj)*; conj := atom ('&&' atom)*; atom := '(' expr ')' | comparison`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        at = 0
        while at < len(text):
            match = _TOKEN.match(text, at)
            if match is None or match.end() == at:
                if text[at:].strip() == "":
                    break
                raise PatternError(f"cannot read {text[at:].strip()!r} in filter pattern {{{text}}}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            at = match.end()
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise PatternError(f"filter pattern {{{self.text}}} ends too soon")
        self.at += 1
        return token

    def parse(self) -> Test:
        test = self.expression()
        if self.peek() is not None:
            raise PatternError(f"unexpected {self.peek()[1]!r} in filter pattern {{{self.text}}}")  # type: ignore[index]
        return test

    def expression(self) -> Test:
        tests = [self.conjunction()]
        while self.peek() == ("op", "||"):
            self.take()
            tests.append(self.conjunction())
        return tests[0] if len(tests) == 1 else (lambda event: any(t(event) for t in tests))

    def conjunction(self) -> Test:
        tests = [self.atom()]
        while self.peek() == ("op", "&&"):
            self.take()
            tests.append(self.atom())
        return tests[0] if len(tests) == 1 else (lambda event: all(t(event) for t in tests))

    def atom(self) -> Test:
        if self.peek() == ("op", "("):
            self.take()
            test = self.expression()
            if self.peek() != ("op", ")"):
                raise PatternError(f"a ( is not closed in filter pattern {{{self.text}}}")
            self.take()
            return test
        kind, selector = self.take()
        if kind != "word":
            raise PatternError(f"expected a selector ($.field), got {selector!r}")
        path = _path(selector)
        kind, op = self.take()
        if kind == "word" and op.upper() in ("IS", "NOT", "EXISTS"):
            return self._keyword(path, op.upper())
        if kind != "op" or op not in ("=", "!=", "<", "<=", ">", ">="):
            raise PatternError(f"expected a comparison after {selector}, got {op!r}")
        kind, raw = self.take()
        return _comparison(path, op, kind, raw)

    def _keyword(self, path: list[str | int], word: str) -> Test:
        if word == "EXISTS":
            return lambda event: _select(event, path) is not _MISSING
        if word == "NOT":
            if self.take()[1].upper() != "EXISTS":
                raise PatternError("NOT is followed by EXISTS")
            return lambda event: _select(event, path) is _MISSING
        what = self.take()[1].upper()
        expected = {"NULL": None, "TRUE": True, "FALSE": False}
        if what not in expected:
            raise PatternError(f"IS is followed by NULL, TRUE or FALSE, got {what!r}")
        wanted = expected[what]
        return lambda event: (found := _select(event, path)) is not _MISSING and found is wanted


def _comparison(path: list[str | int], op: str, kind: str, raw: str) -> Test:
    if kind == "regex":
        regex = _user_regex(raw)
        if op not in ("=", "!="):
            raise PatternError(f"a %regex% compares with = or !=, not {op}")
        hit: Callable[[Any], bool] = lambda v: isinstance(v, str) and regex.search(v) is not None  # noqa: E731
    else:
        text = json.loads(raw) if kind == "quoted" else raw
        number = _number(text) if kind == "word" else None
        if op in ("<", "<=", ">", ">="):
            if number is None:
                raise PatternError(f"{op} compares numbers, got {raw!r}")
            compare = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}[op]
            return lambda event: (isinstance(v := _select(event, path), (int, float)) and not isinstance(v, bool)
                                  and compare(float(v), number))
        if number is not None:
            hit = lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool) and float(v) == number) \
                or (isinstance(v, str) and v == text)  # noqa: E731
        elif "*" in text:  # the only wildcard: nothing else in the value is special
            glob = re2.compile("(?s)" + "".join(".*" if c == "*" else re.escape(c) for c in text) + r"\z",
                               _RE2_OPTIONS)
            hit = lambda v: isinstance(v, str) and glob.match(v) is not None  # noqa: E731
        else:
            hit = lambda v: (isinstance(v, str) and v == text) or (isinstance(v, bool) and str(v).lower() == text)  # noqa: E731
    if op == "=":
        return lambda event: hit(_select(event, path))
    return lambda event: (found := _select(event, path)) is not _MISSING and not hit(found)
