"""What the person on the line does where a flow waits for them: the digits they press, the intent
a Lex bot hears, silence; and what the contact center's state says (hours of operation, queue
metrics, room in the queue). Seeded, so a seeded rehearsal takes the same paths.

Per block (by its identifier) a scenario gives weighted choices; a choice `"timeout"` is silence.
With none given, a caller picks uniformly among the answers the block's conditions test, and never
times out: every path the flow offers is walked.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

TIMEOUT = "timeout"


@dataclass(frozen=True)
class CallerSpec:
    """A scenario's `[callers]`: weighted choices per block, the hours and the queue's state."""

    choices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # block -> answer -> weight
    in_hours: float = 1.0  # the chance a CheckHoursOfOperation finds the center open
    metrics: Mapping[str, float] = field(default_factory=dict)  # queue metric -> value
    queue_at_capacity: float = 0.0  # the chance a TransferContactToQueue finds the queue full
    third_party_seconds: float = 60.0  # a third-party call the flow goes on after (emulated seconds)
    outbound_call_status: str = "CallAnswered"  # what CheckOutboundCallStatus finds
    voice_id: str = "NotEnrolled"  # what CheckVoiceId finds: a simulated caller has no voiceprint
    # a contact's $.SegmentAttributes (an email's connect:EmailSubject, ...): key -> value -> weight, drawn at its start
    segment_attributes: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # what a bot conversation leaves in $.Lex.SessionAttributes: key -> value -> weight, drawn per conversation
    lex_session_attributes: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # the numbers contacts call from ($.CustomerEndpoint.Address): pattern -> weight, each # a digit drawn per contact
    numbers: Mapping[str, float] = field(default_factory=dict)
    # the contacts' channels ($.Channel): channel -> weight, drawn per contact; none given: every contact is CHAT
    channel: Mapping[str, float] = field(default_factory=dict)


class CallerModel:
    """One contact's caller, drawing from its own seeded generator."""

    def __init__(self, spec: CallerSpec, rng: random.Random) -> None:
        self.spec, self.rng = spec, rng

    def answer(self, block: str, offered: Sequence[str]) -> str:
        """What the caller says or presses at `block`; `TIMEOUT` for silence. `offered`: the
        answers the block's conditions test (the default's choices)."""
        weights = self.spec.choices.get(block)
        if weights:
            answers = list(weights)
            return self.rng.choices(answers, weights=[weights[a] for a in answers])[0]
        return self.rng.choice(list(offered)) if offered else TIMEOUT

    def segment_attributes(self) -> dict[str, str]:
        """The contact's segment attributes, each drawn by its weights."""
        return self._drawn(self.spec.segment_attributes)

    def lex_session_attributes(self) -> dict[str, str]:
        """The session attributes a bot conversation ends with, each drawn by its weights."""
        return self._drawn(self.spec.lex_session_attributes)

    def channel(self) -> str:
        """This contact's channel, drawn by weight."""
        return self._pick(self.spec.channel)

    def number(self) -> str:
        """The number this contact calls from: a pattern drawn by weight, each # a digit."""
        return "".join(str(self.rng.randrange(10)) if c == "#" else c for c in self._pick(self.spec.numbers))

    def _drawn(self, table: Mapping[str, Mapping[str, float]]) -> dict[str, str]:
        return {key: self._pick(weights) for key, weights in table.items()}

    def _pick(self, weights: Mapping[str, float]) -> str:
        """One value by weight (a single value costs no draw)."""
        values = list(weights)
        return values[0] if len(values) == 1 else self.rng.choices(values, [weights[v] for v in values])[0]

    def in_hours(self) -> bool:
        return self.rng.random() < self.spec.in_hours

    def percent(self) -> int:
        """DistributeByPercentage's draw: a whole number from 1 to 100."""
        return self.rng.randint(1, 100)

    def queue_full(self) -> bool:
        return self.rng.random() < self.spec.queue_at_capacity

    def metric(self, name: str) -> float:
        return float(self.spec.metrics.get(name, 0.0))
