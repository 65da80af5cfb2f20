"""Seed 002's tracker pattern end to end (examples/async-tracker, real time): the start function's
tracker item reaches the stream-triggered processor through moto's DynamoDB stream, the flow polls
the check function until done; a slower processor leaves callers without their result, and the run
fails saying so; Connect's native asynchronous mode on the same work needs one invocation a contact.
Also: a scenario's own tables, items and stream mappings, provisioned through DynamoDB's API."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from simulator.scenario.reader import load_scenario
from simulator.scenario.spec import ScenarioError
from tests.helpers import ROOT, TESTS, RunningEmulator, wait_for

EXAMPLE = ROOT / "examples" / "async-tracker"
CODE = TESTS / "user_code"


# The three rehearsals run in real time and mostly wait: started together, on one worker (its group),
# they hold it about as long as one does, not three times as long.
REHEARSALS = {"processor": ("rehearsal.toml", "--new-code", str(EXAMPLE / "processor")),
              "processor-slow": ("rehearsal.toml", "--new-code", str(EXAMPLE / "processor-slow")),
              "native-async": ("native-async.toml",)}
TOGETHER = pytest.mark.xdist_group("async-tracker")


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory):
    """Each rehearsal's (completed process, summary, run folder), all started at once on first use."""
    started = {}
    for name, (scenario, *extra) in REHEARSALS.items():
        folder = tmp_path_factory.mktemp(name) / "run"
        started[name] = (subprocess.Popen([sys.executable, "-m", "simulator.cli", "rehearse", str(EXAMPLE / scenario),
                                           "--results", str(folder), *extra], stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, cwd=ROOT), folder)
    done = {}
    try:
        for name, (process, folder) in started.items():
            stdout, stderr = process.communicate(timeout=400)
            summary = json.loads((folder / "summary.json").read_text()) if (folder / "summary.json").exists() else {}
            done[name] = (subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), summary, folder)
    finally:
        for process, _ in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return done


@TOGETHER
@pytest.mark.long(90, waits=True)  # real time: a worker held, a core idle
@pytest.mark.parametrize("processor, code", [("processor", 0), ("processor-slow", 1)])
def test_the_tracker_pattern_and_what_a_slower_processor_costs_callers(rehearsed, processor, code):
    done, summary, folder = rehearsed[processor]
    assert done.returncode == code, done.stdout + done.stderr
    results = summary["results"]
    assert summary["deployment"]["outcome"] == "succeeded"
    assert "NOTE: no contact invoked ProcessWork:live (the deployed function) itself" in done.stdout
    by_value = results["by_value"]
    assert by_value.get("1", {}).get("contacts", 0) > 0  # the old processor answered some contacts
    if processor == "processor":
        assert results["without_result"] == 0 and by_value["2"]["contacts"] > 0
        assert results["all"]["p95"] <= 20
    else:  # ten more seconds a batch: the polls run out for the contacts the new version serves
        assert results["without_result"] > 0
        assert "[FAIL] contacts that ended without their result" in done.stdout
        ended = [json.loads(line) for line in (folder / "contact_ends.jsonl").read_text().splitlines()]
        assert any(e["last"][1] in ("gave-up", "bye") and e["result"] is None for e in ended)
    functions = summary["functions"]
    starts, checks = functions["StartWork:live"]["invocations"], functions["CheckWork:live"]["invocations"]
    assert checks >= starts - 5 > 0  # a poll at least per contact that got its result


@TOGETHER
@pytest.mark.long(90, waits=True)  # real time: a worker held, a core idle
def test_connects_native_async_mode_on_the_same_work(rehearsed):
    done, summary, _ = rehearsed["native-async"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["results"]["without_result"] == 0
    assert summary["invocations"] <= summary["contacts"]  # one invocation a contact: no polling
    assert set(summary["results"]["by_value"]) <= {"1", "2"}


def test_a_scenarios_tables_items_and_stream_mappings(tmp_path):
    (tmp_path / "customers.jsonl").write_text('{"phone": "+15555550100", "name": "Ana", "balance": 12.5}\n'
                                              '{"phone": "+15555550101", "name": "Bo"}\n')
    (tmp_path / "s.toml").write_text(f"""
[[functions]]
name = "Processor"
memory = 256
[[functions.versions]]
code = "{CODE}"
handler = "app.record_batch"
[[tables]]
name = "customers"
key = "phone"
items = "customers.jsonl"
[[tables]]
name = "work"
key = "id"
stream = "NEW_IMAGE"
[[tables]]
name = "results"
key = "id"
[[event_sources]]
table = "work"
function = "Processor"
""")
    running = RunningEmulator(load_scenario(tmp_path / "s.toml"))
    try:
        ddb = running.boto3("dynamodb")
        item = ddb.get_item(TableName="customers", Key={"phone": {"S": "+15555550100"}})["Item"]
        assert item == {"phone": {"S": "+15555550100"}, "name": {"S": "Ana"}, "balance": {"N": "12.5"}}
        ddb.put_item(TableName="work", Item={"id": {"S": "job"}})
        done = wait_for(lambda: ddb.scan(TableName="results")["Items"], 60)
        assert done[0]["id"] == {"S": "job"}
    finally:
        running.close()


@pytest.mark.parametrize("table, why", [
    ('[[tables]]\nname = "t"\n', "needs name and key"),
    ('[[tables]]\nname = "t"\nkey = "k"\nitems = "absent.jsonl"\n', "cannot read"),
    ('[[tables]]\nname = "t"\nkey = "k"\nstream = "ALL"\n', "must be one of"),
    ('[[event_sources]]\ntable = "t"\n', "needs table"),
])
def test_bad_tables_are_one_line(tmp_path, table, why):
    (tmp_path / "s.toml").write_text(table)
    with pytest.raises(ScenarioError, match=why) as info:
        load_scenario(tmp_path / "s.toml")
    assert "\n" not in str(info.value)
