"""The run folder's `flow_logs.jsonl`, made of notes. During the test each beat's flow log entries are
appended as notes (simulator.deployment.flow_log_notes: the templates they use and the notes, one
JSON line a beat) to `flow_logs.notes.jsonl`, by a thread of its own; when the file is closed, that
thread makes them entries in `flow_logs.jsonl` and removes the notes. So the contacts' process
spends nothing on an entry's text while the load runs; making the text afterwards takes about a
second per million entries (docs/speed.md). A run that is killed leaves the notes file, which
`shiftsim plot <run>` makes the entries of (`finish_flow_logs`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson

from simulator.deployment.flow_log_notes import (
    EntryRenderer,
    Template,
    notes_piece,
    read_notes,
    read_templates,
)
from simulator.report.background_file import BackgroundFile
from simulator.report.errors import RecordError
from simulator.report.record import FLOW_LOG_NOTES_FILE as NOTES_NAME
from simulator.report.record import FLOW_LOGS_FILE as FILE_NAME

log = logging.getLogger("shiftsim")


class FlowLogFile:
    """Notes appended in order by a thread; made entries by that thread when closed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.notes = BackgroundFile(folder / NOTES_NAME, what="the flow logs", then=self._render)
        self.error: str | None = None

    def write_notes(self, pieces: list[tuple[dict[int, Template], bytes]]) -> None:
        """Append notes: each piece, the templates its notes use and the notes as a JSON array."""
        self.notes.write(b"".join(notes_piece(templates, notes) + b"\n" for templates, notes in pieces))

    @property
    def closed(self) -> bool:
        return self.notes.closed

    def close(self, wait: bool = True) -> None:
        self.notes.close(wait)

    def _render(self) -> None:
        try:
            render_notes_file(self.folder / NOTES_NAME, self.folder / FILE_NAME)
        except (OSError, RecordError) as exc:  # the notes stay, for a later try
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("shiftsim: the flow logs could not be made from %s: %s", self.folder / NOTES_NAME, self.error)


def finish_flow_logs(folder: Path) -> int | None:
    """The entries of the notes a killed run left in `folder`, made now: how many (None: no notes)."""
    notes = folder / NOTES_NAME
    return render_notes_file(notes, folder / FILE_NAME) if notes.exists() else None


def render_notes_file(notes_path: Path, entries_path: Path) -> int:
    """Make the entries of a notes file, appended to `entries_path`, and remove the notes: how many
    (RecordError, naming the line, for a file that is not notes; the notes then stay, and the entries
    file is as it was, so that a later try makes each entry once)."""
    renderer = EntryRenderer()
    templates: dict[int, Template] = {}
    made = 0
    with notes_path.open("rb") as notes, entries_path.open("ab") as entries:
        before = entries.tell()
        for number, line in enumerate(notes, 1):
            if not line.endswith(b"\n"):  # a line cut short by a kill: its entries are lost
                break
            try:
                piece = orjson.loads(line)
                templates.update(read_templates(piece["templates"]))
                texts = renderer.render(templates, read_notes(piece["notes"]))
            except (ValueError, KeyError, TypeError) as exc:
                entries.truncate(before)
                raise RecordError(f"{notes_path}: line {number} is not flow log notes ({type(exc).__name__}: "
                                  f"{exc}); move it aside to go on without its flow logs") from None
            if texts:
                entries.write(("\n".join(texts) + "\n").encode())
                made += len(texts)
    notes_path.unlink()
    return made
