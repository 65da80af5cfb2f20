"""The run's record: one row per invocation, append-only, flushed in batches, so a run killed at
any moment leaves a readable record up to its last batch; plus the deployment's timeline events.

Format (compact: 55 bytes a row, so a million invocations take 55 MB on disk and in memory):
- `invocations.bin`: fixed-width rows of `DTYPE`, loadable in one call:
  `numpy.fromfile("invocations.bin", dtype=simulator.report.record.DTYPE)`;
- `contacts.txt` and `strings.txt`: the strings the rows refer to by number (contact ids in the first;
  versions, reasons, actions, ... in the second), one per line, line N is string N; always written
  before the rows that use them;
- `timeline.jsonl`: the deployment's events, one JSON object per line; an event noted before a
  batch of rows is on disk (synced) before them, so a run killed at any moment never has rows its
  timeline is behind;
- `contact_ends.jsonl`: one JSON object per contact that ended: how (disconnected, flow ended,
  stopped, error, runaway), where (flow and block), what went wrong in its blocks, the versions it met;
- `record.json`: the format's description (columns, what the codes mean).
`load_record()` decodes it all; `Record.to_pandas()` gives a DataFrame when pandas is installed.
Rows from distributed workers are merged by the master, the only writer.

One run, one folder: a writer creates its files (it never appends to another run's), `claim_folder`
refuses a folder that holds a run unless asked to replace it, and never one that holds anything else
(the project's sources, say); the run's id is in `record.json`, `run.json` and every timeline event,
and `load_record` refuses a folder whose ids disagree.
"""

from __future__ import annotations

import collections
import json
import os
import struct
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from simulator.report.errors import RecordError

COLUMNS = ("intended", "start", "end", "emulated", "contact", "loop", "action", "qualifier",
           "version", "outcome", "reason", "retries", "status", "injected", "late", "worker")
STRING_COLUMNS = ("contact", "action", "qualifier", "version", "reason", "injected", "worker")
DTYPE = np.dtype([
    ("intended", "<f8"), ("start", "<f8"), ("end", "<f8"), ("emulated", "<f8"),
    ("contact", "<u4"), ("loop", "<u2"), ("action", "<u2"), ("qualifier", "<u2"), ("version", "<u2"),
    ("status", "<u2"), ("injected", "<u2"), ("worker", "<u2"), ("reason", "<u2"), ("outcome", "<u1"),
    ("retries", "<u1"), ("late", "<u1"),
])
# A row as DTYPE lays it out (little-endian, packed; numpy's type codes are struct's): rows are packed
# as they come, and a batch is written as one string of bytes, about a third of what numpy's
# conversion of tuples costs per row
_ROW = struct.Struct("<" + "".join(np.dtype(field[1]).char for field in DTYPE.descr))
assert _ROW.size == DTYPE.itemsize
OUTCOMES = ("Success", "Error")
_OUTCOME_CODES = {name: code for code, name in enumerate(OUTCOMES)}
ROW_FILE, STRINGS_FILE, TIMELINE_FILE, META_FILE = "invocations.bin", "strings.txt", "timeline.jsonl", "record.json"
RUN_FILE, CONTACTS_FILE, CONTACT_ENDS_FILE = "run.json", "contacts.txt", "contact_ends.jsonl"


# What a run leaves in its folder besides the record: the analysis, the figure, Locust's reports, flow
# logs (and while the test runs, or after a run was killed, their notes: simulator.report.flow_log_file)
FLOW_LOGS_FILE, FLOW_LOG_NOTES_FILE = "flow_logs.jsonl", "flow_logs.notes.jsonl"
RESULT_FILES = ("summary.json", "timeline.png", "timeline.svg", FLOW_LOGS_FILE, FLOW_LOG_NOTES_FILE, "locust.html")
RESULT_PREFIXES = ("locust_", "locust.")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]


class RunFolderError(ValueError):
    """A results folder a run may not use: it holds another run, or files that are no run's."""


def _run_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(a run's files, anything else) in `folder`."""
    ours = {ROW_FILE, STRINGS_FILE, TIMELINE_FILE, META_FILE, RUN_FILE, CONTACTS_FILE, CONTACT_ENDS_FILE,
            *RESULT_FILES}
    runs: list[Path] = []
    others: list[Path] = []
    for path in sorted(folder.iterdir()):
        is_ours = path.is_file() and (path.name in ours or path.name.startswith(RESULT_PREFIXES))
        (runs if is_ours else others).append(path)
    return runs, others


_claimed: set[Path] = set()  # folders this process claimed for a run whose record is not yet created


def claim_folder(folder: Path, *, replace: bool = False, option: str = "--results") -> None:
    """Make `folder` this run's: new or empty; one holding a run only when `replace` (its run's files are
    removed first); never one holding anything else. A folder this process already claimed for the run
    about to record (a rehearsal's, whose Locust reports start first) is this run's already."""
    if folder.resolve() in _claimed:
        return
    try:
        _claim(folder, replace, option)
    except OSError as exc:  # unwritable, a full disk, a path through a file
        raise RunFolderError(f"{option}: cannot use {folder}: {exc.strerror or exc}") from None
    _claimed.add(folder.resolve())


def _claim(folder: Path, replace: bool, option: str) -> None:
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{option}: {folder} is a file, not a folder")
    if folder.exists():
        runs, others = _run_files(folder)
        if others:
            names = ", ".join(p.name for p in others[:3]) + (" ..." if len(others) > 3 else "")
            raise RunFolderError(f"{option}: {folder} holds files that are not a shiftsim run's ({names}): "
                                 "give a new or empty folder")
        if runs and not replace:
            raise RunFolderError(f"{option}: {folder} already holds a run ({_run_id_of(folder) or 'its record'}): "
                                 "give a new folder, or --replace-results to replace that run")
        for path in runs:
            path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / ".shiftsim-writable"
    probe.write_bytes(b"")  # a folder it cannot write to is said now, not as a traceback mid-run
    probe.unlink()


def _run_id_of(folder: Path) -> str | None:
    try:
        return json.loads((folder / META_FILE).read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


class RecordWriter:
    """Appends invocation rows (tuples in COLUMNS order) and timeline events to a run folder."""

    def __init__(self, folder: Path, batch: int = 1024, every_s: float = 1.0, run_id: str | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        _claimed.discard(folder.resolve())  # the claim ends here: a second run into it must claim again
        self.folder, self.batch = folder, batch
        self.run_id = run_id or folder.name
        self.path = folder / ROW_FILE
        try:  # created, never appended to: another run's files here are an error, not more rows
            with (folder / META_FILE).open("x", encoding="utf-8") as meta:
                meta.write(json.dumps({
                    "format": "shiftsim-record-1", "run_id": self.run_id, "dtype": DTYPE.descr,
                    "strings": STRINGS_FILE, "string_columns": list(STRING_COLUMNS), "outcome": list(OUTCOMES),
                    "load": "numpy.fromfile('invocations.bin', dtype=simulator.report.record.DTYPE)"}, indent=1))
            self._rows = self.path.open("xb")
            self.timeline = (folder / TIMELINE_FILE).open("x", encoding="utf-8")
            self.contact_ends = (folder / CONTACT_ENDS_FILE).open("xb")
        except FileExistsError:
            raise RunFolderError(f"{folder} already holds a run ({_run_id_of(folder) or 'its record'}): "
                                 "a run never adds to another's record") from None
        self.strings = _StringTable(folder / STRINGS_FILE, limit=int(np.iinfo(np.uint16).max) + 1)
        self.contacts = _StringTable(folder / CONTACTS_FILE, limit=int(np.iinfo(np.uint32).max) + 1)
        self.pending: list[bytes] = []  # rows packed as DTYPE
        self._coded: dict[tuple[Any, ...], tuple[int, ...]] = {}
        self.every_s = every_s
        self.flushed_at = time.monotonic()
        self.noted: collections.deque[dict[str, Any]] = collections.deque()  # from any thread

    def add(self, rows: list[Any]) -> None:
        string, contact_number, pending, coded = self.strings.id, self.contacts.id, self.pending, self._coded
        pack, contact_numbers = _ROW.pack, self.contacts.ids
        for (intended, start, end, emulated, contact, loop, action, qualifier, version, outcome, reason,
             retries, status, injected, late, worker) in rows:
            # the same few strings on almost every row: numbered once per combination
            key = (action, qualifier, version, injected, worker, reason, outcome)
            codes = coded.get(key)
            if codes is None:
                if len(coded) >= 4096:  # bounded, whatever the strings
                    coded.clear()
                codes = coded[key] = (string(action), string(qualifier), string(version), string(injected),
                                      string(worker), string(reason), _OUTCOME_CODES[outcome])
            number = contact_numbers.get(contact)  # a contact's later rows: its number, without a call
            pending.append(pack(
                intended, start, end, emulated, contact_number(contact) if number is None else number,
                loop if loop < 65535 else 65535, codes[0], codes[1], codes[2], status, codes[3], codes[4], codes[5],
                codes[6], retries if retries < 255 else 255, late))
        if len(pending) >= self.batch or time.monotonic() - self.flushed_at >= self.every_s:
            self.flush()

    def describe_run(self, info: dict[str, Any]) -> None:
        """What the run was (scenario, alias, time scale, options): read back by plots and summaries."""
        (self.folder / RUN_FILE).write_text(json.dumps({"run_id": self.run_id, **info}, indent=1, default=str))

    def contacts_ended(self, ends: list[dict[str, Any]]) -> None:
        """Contacts that ended (written with the next flush of rows)."""
        self.contact_ends.write(b"".join([orjson.dumps(end) + b"\n" for end in ends]))

    def note_event(self, event: dict[str, Any]) -> None:
        """A timeline event, from any thread: written with the next batch of rows, before them."""
        self.noted.append(event)

    def event(self, event: dict[str, Any]) -> None:
        """A timeline event, written now (with any noted before it)."""
        self.note_event(event)
        self.write_events()

    def write_events(self) -> bool:
        """The events noted so far, on disk (flushed to the system); whether there were any."""
        noted = self.noted
        if not noted:
            return False
        lines = []
        while noted:
            lines.append(json.dumps({**noted.popleft(), "run_id": self.run_id}) + "\n")
        self.timeline.write("".join(lines))
        self.timeline.flush()
        return True

    def flush(self) -> None:
        if self.write_events():  # the events these rows follow, on disk first
            os.fsync(self.timeline.fileno())
        self.strings.flush()  # strings first: a row never refers to a string not on disk
        self.contacts.flush()
        if self.pending:
            self._rows.write(b"".join(self.pending))
            self.pending.clear()
        self._rows.flush()
        self.contact_ends.flush()
        os.fsync(self._rows.fileno())
        self.flushed_at = time.monotonic()

    def close(self) -> None:
        self.flush()
        self._rows.close()
        self.strings.close()
        self.contacts.close()
        self.timeline.close()
        self.contact_ends.close()


class _StringTable:
    """Strings numbered in order of first use, appended to a file, one per line."""

    def __init__(self, path: Path, limit: int) -> None:
        self.file = path.open("x", encoding="utf-8")
        self.ids: dict[str, int] = {}
        self.new: list[str] = []
        self.limit = limit

    def id(self, value: Any) -> int:
        found = self.ids.get(value)  # the common case: a string seen before
        if found is not None:
            return found
        text = str(value).replace("\n", " ")
        found = self.ids.get(text)
        if found is None:
            if len(self.ids) >= self.limit:
                raise OverflowError(f"{self.file.name}: more than {self.limit} distinct strings")
            found = self.ids[text] = len(self.ids)
            self.new.append(text)
        return found

    def flush(self) -> None:
        if self.new:
            self.file.write("".join(s + "\n" for s in self.new))
            self.file.flush()
            os.fsync(self.file.fileno())
            self.new.clear()

    def close(self) -> None:
        self.flush()
        self.file.close()


@dataclass
class Record:
    """A loaded record: the rows as one numpy structured array, the strings, the timeline."""

    rows: np.ndarray
    strings: list[str]
    contacts: list[str]
    timeline: list[dict[str, Any]]
    folder: Path
    info: dict[str, Any]
    contact_ends: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.rows)

    def text(self, column: str) -> np.ndarray:
        """A string column decoded (an array of str)."""
        table = np.array((self.contacts if column == "contact" else self.strings) + [""], dtype=object)
        return table[self.rows[column]]

    @property
    def ok(self) -> np.ndarray:
        return self.rows["outcome"] == 0

    def to_pandas(self) -> Any:
        import pandas as pd  # optional: not a dependency

        frame = pd.DataFrame(self.rows)
        for column in STRING_COLUMNS:
            frame[column] = self.text(column)
        frame["outcome"] = np.array(OUTCOMES)[self.rows["outcome"]]
        return frame


def load_record(folder: str | Path) -> Record:
    """Load a run folder's record; a torn last row (a crash mid-write) is left out."""
    folder = Path(folder)
    path = folder / ROW_FILE
    if not path.exists():
        raise RecordError(f"{folder}: no {ROW_FILE}: not a shiftsim run folder")
    raw = path.read_bytes()
    usable = len(raw) - len(raw) % DTYPE.itemsize
    rows = np.frombuffer(raw[:usable], dtype=DTYPE)
    strings, contacts = (_lines(folder / name) for name in (STRINGS_FILE, CONTACTS_FILE))
    timeline, contact_ends = (_json_lines(folder / name) for name in (TIMELINE_FILE, CONTACT_ENDS_FILE))
    run_path = folder / RUN_FILE
    info = json.loads(run_path.read_text(encoding="utf-8")) if run_path.exists() else {}
    ids = {i for i in (_run_id_of(folder), info.get("run_id"), *(e.get("run_id") for e in timeline)) if i}
    if len(ids) > 1:
        raise RecordError(f"{folder}: holds the record of more than one run ({', '.join(sorted(ids))}): "
                          "its analysis would mix them; rehearse again into a new folder")
    for event in timeline:
        event.pop("run_id", None)
    return Record(rows, strings, contacts, timeline, folder, info, contact_ends)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON-lines file, up to a torn last line (a crash mid-write)."""
    objects = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                objects.append(json.loads(line))
            except ValueError:
                break
    return objects


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1] if path.exists() else []
