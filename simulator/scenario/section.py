"""A table of a scenario file (TOML) as it is read: typed getters whose errors name the file and
the key path, and unknown keys reported (a typo silently ignored is a rehearsal of the wrong thing)."""

from __future__ import annotations

import math
from typing import Any, NoReturn

from simulator.scenario.spec import ScenarioError


class Section:
    """A TOML table being read: typed getters that name the key path, unknown keys reported."""

    def __init__(self, source: str, path: str, data: Any) -> None:
        self.source, self.path = source, path
        if not isinstance(data, dict):
            self.fail(f"must be a table, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def where(self, key: str | None = None) -> str:
        parts = [p for p in (self.path, key) if p]
        return ".".join(parts) or "(top level)"

    def fail(self, message: str, key: str | None = None) -> NoReturn:
        raise ScenarioError(f"{self.source}: {self.where(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key)

    def string(self, key: str, default: str | None = None, choices: tuple[str, ...] = ()) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.fail(f"must be a string, got {value!r}", key)
        if choices and value not in choices:
            self.fail(f"must be one of {', '.join(choices)}; got {value!r}", key)
        return value

    def number(
        self, key: str, default: float | None = None, low: float | None = None,
        high: float | None = None, integer: bool = False,
    ) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            integer and not isinstance(value, int)
        ) or not math.isfinite(value):
            kind = "a whole number" if integer else "a number"
            self.fail(f"must be {kind}, got {value!r}", key)
        if low is not None and value < low or high is not None and value > high:
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            self.fail(f"must be {bounds}, got {value!r}", key)
        return value

    def table(self, key: str) -> Section | None:
        value = self.raw(key)
        return None if value is None else Section(self.source, self.where(key), value)

    def tables(self, key: str) -> list[Section]:
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail("must be an array of tables ([[...]])", key)
        return [Section(self.source, f"{self.where(key)}[{i}]", v) for i, v in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            self.fail(f"unknown key(s): {', '.join(unknown)}")


def string_table(s: Section | None) -> dict[str, str]:
    """A table of strings (`[environment]`, `[flow_map]`), each checked; {} when it is absent."""
    return {key: s.string(key) for key in list(s.data)} if s is not None else {}
