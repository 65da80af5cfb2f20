"""How much state the emulator holds, whatever requests come: a ceiling for each kind of thing a
request can make (log groups, metrics, alarms, functions, deployments ...), shared by the models of
every region of one emulator. A request past a ceiling is refused by its service with AWS's error for
a full quota; data kept in rings (log events, alarm history) lets its oldest go instead. The
ceilings are far above what a rehearsal makes, and low enough that the emulator's memory stays
bounded (tests/emulator/test_holdings.py measures it).
"""

from __future__ import annotations

import json
import os
from collections import Counter

ENVIRONMENT = "SHIFTSIM_EMULATOR_CEILINGS"  # JSON, {"log bytes": 16777216, ...}: lower (or raise) ceilings

MIB = 1 << 20

CEILINGS: dict[str, int] = {
    "log groups": 5_000,
    "log streams": 50_000,
    "log bytes": 256 * MIB,  # the messages kept, all groups together; the oldest go first
    "metrics": 50_000,  # distinct metrics published with PutMetricData or by metric filters
    "metric datapoints": 500_000,  # their one-second buckets
    "alarms": 5_000,  # metric and composite
    "dashboards": 1_000,
    "dashboard bytes": 64 * MIB,
    "tags": 50,  # a resource's, as AWS allows
    "functions": 1_000,
    "versions": 10_000,
    "aliases": 10_000,
    "event source mappings": 1_000,
    "applications": 1_000,
    "deployment groups": 5_000,
    "deployment configurations": 1_000,
    "deployments": 10_000,
    "regions": 40,
    "upload bytes": 512 * MIB,  # bodies that write to the services moto answers (S3 objects, items ...)
}


class Full(Exception):
    """A kind at its ceiling; `words` say so for an error message."""

    def __init__(self, kind: str, ceiling: int) -> None:
        super().__init__(kind)
        self.kind, self.ceiling = kind, ceiling
        amount = f"{ceiling // MIB:,} MiB of {kind.removesuffix(' bytes')}" if kind.endswith("bytes") else f"{ceiling:,} {kind}"
        self.words = f"the shiftsim emulator holds at most {amount} (its limit, so that no sequence of requests fills it)"
        self.sentence = f"{self.words[0].upper()}{self.words[1:]}."  # an error message of its own


class Holdings:
    """What is held of each kind, against its ceiling."""

    def __init__(self, ceilings: dict[str, int] | None = None) -> None:
        self.ceilings = {**CEILINGS, **_from_environment(), **(ceilings or {})}
        self.held: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()  # requests refused at each ceiling (the health route says them)

    def take(self, kind: str, amount: int = 1) -> None:
        """Hold `amount` more of `kind`, or raise Full (holding nothing more)."""
        if amount > 0 and self.held[kind] + amount > self.ceilings[kind]:
            self.refused[kind] += 1
            raise Full(kind, self.ceilings[kind])
        self.held[kind] += amount

    def give(self, kind: str, amount: int = 1) -> None:
        self.held[kind] = max(0, self.held[kind] - amount)

    def over(self, kind: str) -> int:
        """How far `kind` is past its ceiling (what a ring must let go), 0 when within."""
        return max(0, self.held[kind] - self.ceilings[kind])


def _from_environment() -> dict[str, int]:
    """Ceilings given in $SHIFTSIM_EMULATOR_CEILINGS (a small machine's, a test's); unknown kinds refused."""
    text = os.environ.get(ENVIRONMENT)
    if not text:
        return {}
    try:
        given = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"${ENVIRONMENT} is not JSON ({exc}); give {{\"log bytes\": 16777216, ...}}") from None
    if not isinstance(given, dict) or set(given) - set(CEILINGS) or not all(
            isinstance(v, int) and v >= 0 for v in given.values()):
        raise ValueError(f"${ENVIRONMENT}: kinds are {', '.join(CEILINGS)}, each a whole number; got {text}")
    return given
