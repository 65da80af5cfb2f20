"""The run folder's flow logs, made of notes: what the notes file held, made entries by the file's
thread when closed, in order, with templates carried from the line that first used them; a notes file
cut short by a kill still gives the entries of its whole lines."""

from __future__ import annotations

import orjson
import pytest

from simulator.deployment.flow_log_notes import EntryRenderer
from simulator.report.errors import RecordError
from simulator.report.flow_log_file import FlowLogFile, finish_flow_logs

TEMPLATES = {0: ('{"ContactId":', ',"Timestamp":"', '","ContactFlowModuleType":"PlayPrompt"}', False),
             1: ('{"ContactId":', ',"Timestamp":"', '","ContactFlowModuleType":"InvokeExternalResource"', True)}


def _notes(first, count):
    return [(i % 2, 1_796_400_000 + i / 7, f"c-{i // 4}", {"n": str(i)} if i % 2 else None)
            for i in range(first, first + count)]


def test_notes_written_in_pieces_are_made_the_entries_when_the_file_closes(tmp_path):
    file = FlowLogFile(tmp_path)
    pieces = [_notes(0, 3), _notes(3, 0), _notes(3, 50)]
    file.write_notes([({t: TEMPLATES[t] for t in {n[0] for n in notes}}, orjson.dumps(notes)) for notes in pieces[:2]])
    file.write_notes([({0: TEMPLATES[0]}, orjson.dumps(pieces[2]))])  # template 1 from an earlier line
    file.close()
    assert file.closed and file.error is None and not (tmp_path / "flow_logs.notes.jsonl").exists()
    expected = EntryRenderer().render(TEMPLATES, [note for notes in pieces for note in notes])
    assert (tmp_path / "flow_logs.jsonl").read_text().splitlines() == expected
    assert len(expected) == 53


def test_a_notes_file_cut_short_gives_the_entries_of_its_whole_lines(tmp_path):
    notes_path, entries_path = tmp_path / "flow_logs.notes.jsonl", tmp_path / "flow_logs.jsonl"
    whole = b'{"templates":' + orjson.dumps(TEMPLATES, option=orjson.OPT_NON_STR_KEYS) + b',"notes":' + \
        orjson.dumps(_notes(0, 8)) + b"}\n"
    notes_path.write_bytes(whole + whole[:40])
    assert finish_flow_logs(tmp_path) == 8  # what `shiftsim plot` does with a killed run's folder
    assert entries_path.read_text().splitlines() == EntryRenderer().render(TEMPLATES, _notes(0, 8))
    assert not notes_path.exists() and finish_flow_logs(tmp_path) is None


def test_a_notes_file_that_is_not_one_is_named_with_its_line_and_leaves_the_entries_as_they_were(tmp_path):
    notes_path, entries_path = tmp_path / "flow_logs.notes.jsonl", tmp_path / "flow_logs.jsonl"
    entries_path.write_bytes(b'{"an": "entry from before"}\n')
    whole = b'{"templates":' + orjson.dumps(TEMPLATES, option=orjson.OPT_NON_STR_KEYS) + b',"notes":' + \
        orjson.dumps(_notes(0, 8)) + b"}\n"
    notes_path.write_bytes(whole + b'{"templates":{},"notes":[[9, 1.0, "c", null]]}\n')
    for _ in range(2):  # tried again: still refused, and nothing made twice
        with pytest.raises(RecordError, match=r"flow_logs.notes.jsonl: line 2 is not flow log notes \(KeyError"):
            finish_flow_logs(tmp_path)
        assert notes_path.exists() and entries_path.read_bytes() == b'{"an": "entry from before"}\n'
