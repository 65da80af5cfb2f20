"""Connect's flow log entries as compact notes: the form in which whoever runs the contacts hands them
to whoever writes them out (the emulator's log group, as Connect writes its own; the run folder's file,
at the end of the test). A block's fixed fields are a template, serialised once: its JSON text up to
the contact id, from there to the time, and after it, and whether an Invoke's ExternalResults follow.
A note is (template id, emulated time, contact id, ExternalResults or None). `EntryRenderer` makes the
entries' text of notes, byte for byte `orjson.dumps` of the whole entry (tests/connect/test_flow_log.py).

The body that carries notes (`notes_body`, read back by `read_notes_body`) is JSON: the region, the log
group and stream, the weight its entries stand for, the templates its notes use (ids never reused within a
run), and the notes in order of time. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

Template = tuple[str, str, str, bool]  # JSON before the contact id, between it and the time, after; ExternalResults
Note = tuple[int, float, str, Any]  # template id, emulated time, contact id, ExternalResults (or None)

_MILLIS = [f"{ms:03d}Z" for ms in range(1000)]


def log_timestamp(epoch: float) -> str:
    """A flow log's Timestamp: ISO 8601, milliseconds, UTC."""
    stamp = datetime.fromtimestamp(epoch, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class EntryRenderer:
    """Entries' text of notes; keeps the text of recent seconds and contact ids (a contact writes some
    forty entries, a second thousands)."""

    def __init__(self) -> None:
        self.seconds: dict[int, str] = {}  # the Timestamp up to its milliseconds, per second
        self.contacts: dict[str, str] = {}  # a contact id as JSON

    def _second(self, second: int) -> str:
        head = self.seconds.get(second)
        if head is None:
            if len(self.seconds) > 4096:
                self.seconds.clear()
            head = self.seconds[second] = log_timestamp(float(second))[:-4]
        return head

    def _contact(self, contact_id: str) -> str:
        if len(self.contacts) > 8192:
            self.contacts.clear()
        contact = self.contacts[contact_id] = orjson.dumps(contact_id).decode()
        return contact

    def render(self, templates: dict[int, Template], notes: Iterable[Note]) -> list[str]:
        """The entries of `notes`, in their order (KeyError: a note's template is not in `templates`).
        Runs for every block every contact runs: written for the interpreter's speed."""
        contacts, millis, modf, dumps = self.contacts, _MILLIS, math.modf, orjson.dumps
        last_whole, second = -1.0, ""
        out: list[str] = []
        append = out.append
        for template, at, contact_id, external in notes:
            head, middle, tail, with_external = templates[template]
            contact = contacts.get(contact_id) or self._contact(contact_id)
            fraction, whole = modf(at)
            micros = round(fraction * 1e6)  # as datetime.fromtimestamp rounds (half to even)
            if fraction < 0 or micros >= 1_000_000:  # before 1970, or rounded up into the next second
                stamp = log_timestamp(at)
            else:
                if whole != last_whole:
                    last_whole, second = whole, self._second(int(whole))
                stamp = second + millis[micros // 1000]
            if with_external:
                append(f'{head}{contact}{middle}{stamp}{tail},"ExternalResults":{dumps(external).decode()}}}')
            else:
                append(f"{head}{contact}{middle}{stamp}{tail}")
        return out


def notes_body(region: str, group: str, stream: str, weight: float, templates: dict[int, Template],
               notes: Sequence[bytes]) -> bytes:
    """A body of notes: `notes` are JSON arrays of notes (each `orjson.dumps` of a list), joined here
    without being read again."""
    joined = b",".join(chunk[1:-1] for chunk in notes if len(chunk) > 2)
    head = orjson.dumps({"region": region, "logGroupName": group, "logStreamName": stream, "weight": weight, "templates": templates},
                        option=orjson.OPT_NON_STR_KEYS)
    return head[:-1] + b',"notes":[' + joined + b"]}"


def notes_piece(templates: dict[int, Template], notes: bytes) -> bytes:
    """One beat's notes as a JSON object of their own (a line of the run folder's notes file): the
    templates they use and `notes`, a JSON array of notes, put in without being read again."""
    return b'{"templates":' + orjson.dumps(templates, option=orjson.OPT_NON_STR_KEYS) + b',"notes":' + notes + b"}"


class NotesError(ValueError):
    """A body of notes that is not one: what is wrong, and where."""


def read_notes_body(data: bytes) -> tuple[str, str, str, float, dict[int, Template], list[Note]]:
    """A body of notes, checked: (region, group, stream, weight, templates, notes); NotesError if malformed."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise NotesError(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise NotesError("the body must be a JSON object")
    region, group, stream = body.get("region"), body.get("logGroupName"), body.get("logStreamName")
    weight = body.get("weight", 1.0)
    if not isinstance(region, str) or not region:
        raise NotesError("region must be a non-empty string")
    if not isinstance(group, str) or not group or not isinstance(stream, str) or not stream:
        raise NotesError("logGroupName and logStreamName must be non-empty strings")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < math.inf:
        raise NotesError(f"weight must be a positive number, not {weight!r}")
    return region, group, stream, float(weight), read_templates(body.get("templates")), read_notes(body.get("notes"))


def read_templates(raw: Any) -> dict[int, Template]:
    if not isinstance(raw, dict):
        raise NotesError("templates must be an object of template ids")
    templates: dict[int, Template] = {}
    for key, value in raw.items():
        if not (isinstance(value, list) and len(value) == 4 and all(isinstance(v, str) for v in value[:3])
                and isinstance(value[3], bool)):
            raise NotesError(f"template {key!r} must be [head, middle, tail, with_external]")
        try:
            templates[int(key)] = (value[0], value[1], value[2], value[3])
        except ValueError:
            raise NotesError(f"template id {key!r} is not an integer") from None
    return templates


def read_notes(raw: Any) -> list[Note]:
    if not isinstance(raw, list):
        raise NotesError("notes must be an array")
    for index, note in enumerate(raw):
        if not (isinstance(note, list) and len(note) == 4 and type(note[0]) is int
                and type(note[1]) in (int, float) and isinstance(note[2], str)):
            raise NotesError(f"note {index} must be [template id, time, contact id, external]")
    return raw  # type: ignore[return-value]  # lists of the tuple's fields, read alike
