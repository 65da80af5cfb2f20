"""`shiftsim rehearse` on every shipped scenario, end to end at the scenarios' time scales: outcome,
order of events and the verdict's exit code; a failing expectation; bad input; redrawing a run."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def rehearse(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", *args], capture_output=True,
                          text=True, timeout=timeout, env=ENV, cwd=ROOT)


def kinds_in_order(folder):
    return [json.loads(line)["kind"] for line in (folder / "timeline.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name,outcome", [
    ("linear-rollback", "rolled_back"),
    ("canary-healthy", "succeeded"),
    ("all-at-once-breaks", "succeeded"),
    ("low-traffic-canary", "succeeded"),
    ("wrong-alarm-dimensions", "succeeded"),
])
def test_shipped_scenarios(tmp_path, name, outcome):
    folder = tmp_path / name
    done = rehearse(f"scenarios/{name}.toml", "--results", str(folder))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "verdict: PASS" in done.stdout
    progress = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert progress and not re.search(r"\b\d{4,} (invocations|errors)\b", done.stdout), progress  # 1,241, not 1241
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["deployment"]["outcome"] == outcome and summary["verdict"]["passed"]
    for produced in ("timeline.png", "timeline.svg", "locust.html", "locust_stats.csv", "invocations.bin",
                     "flow_logs.jsonl"):
        assert (folder / produced).stat().st_size > 0
    # the last line names the files a user reads, the flow logs among them
    assert done.stdout.splitlines()[-1] == (f"results: {folder} (summary.json, timeline.png, timeline.svg, "
                                            "flow_logs.jsonl, locust.html, locust_*.csv)")
    with open(folder / "locust_stats.csv", newline="") as stats:  # Locust's figures, to the last invocation
        counted = {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(stats)}
    assert counted["Aggregated"] == summary["invocations"] == sum(v["invocations"] for v in summary["versions"].values())
    kinds = kinds_in_order(folder)
    assert kinds[0] == "deployment" and "status" in kinds
    assert "provisioned" not in kinds and "provisioned concurrency" not in done.stdout  # the alias has none
    if outcome == "rolled_back":
        assert kinds.index("deployment") < kinds.index("weight") < kinds.index("rollback")
        d = summary["deployment"]
        assert d["first_target_error_at"] < d["alarm_fired_at"] <= d["rollback_at"]
    if name == "linear-rollback":  # why it samples production's busy hour, said at start
        assert ("shiftsim: traffic: production 600 contacts/min at x60 is 600.0 real contacts/s; above the ceiling "
                "(max_contacts_per_second), so it samples: starting 25.0/s, each standing for 24") in done.stdout
        assert "how soon a fault's first errors come (sparser calls: an alarm may fire, and CodeDeploy roll back, " \
               "a poll later)" in done.stdout  # and what sampling cannot reproduce, said in the summary
    if name == "wrong-alarm-dimensions":  # the lint said it at the start, with the fix
        assert ("shiftsim: alarm lint: alarm ErrorsOnTheFunction: dimensions {FunctionName=ConnectLambdaFunction, "
                "Resource=ConnectLambdaFunction}: Lambda publishes no metric with them") in done.stdout
        assert "fix: Resource = ConnectLambdaFunction:PROD" in done.stdout
        by_the_verdict = done.stdout[done.stdout.index("\ndeployment d-"):]  # and again in the summary
        assert ("  ALARM LINT: alarm ErrorsOnTheFunction: dimensions {FunctionName=ConnectLambdaFunction, "
                "Resource=ConnectLambdaFunction}: Lambda publishes no metric with them") in by_the_verdict
        assert summary["run_info"]["alarm_lint"][0].startswith("alarm ErrorsOnTheFunction: dimensions")
        states = {a["state"] for a in summary["deployment"]["alarm_transitions"]}
        assert states == {"INSUFFICIENT_DATA"}  # the alarm never saw a datapoint
        assert summary["versions"]["2"]["errors"] > 0
    if name in ("linear-rollback", "wrong-alarm-dimensions"):  # what the failed calls said, with how often
        said = summary["versions"]["2"]["errors_said"]
        assert said[0][0] == "function_error: InjectedFault: shiftsim injected an error into version 2"
        assert said[0][1] == summary["versions"]["2"]["errors_by_reason"]["function_error"]["injected"]
        assert (f"    what they said: function_error: InjectedFault: shiftsim injected an error into version 2 "
                f"({said[0][1]:,})") in done.stdout
        assert "errors_said" not in summary["versions"]["1"]
    if name == "all-at-once-breaks":
        assert summary["deployment"]["alarm_fired_at"] > summary["deployment"]["ended_at"]  # too late


def test_an_expectation_that_does_not_hold_exits_one(tmp_path):
    scenario = tmp_path / "strict.toml"
    text = (ROOT / "scenarios" / "canary-healthy.toml").read_text()
    scenario.write_text(text.replace('outcome = "succeeded"', 'outcome = "rolled_back"'))
    done = rehearse(str(scenario), "--results", str(tmp_path / "run"))
    assert done.returncode == 1
    assert "[FAIL] outcome: expected rolled_back, got succeeded" in done.stdout


def test_bad_input_exits_two_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[expect]\noutcome = 'maybe'\n")
    done = rehearse(str(bad))
    assert done.returncode == 2 and "expect.outcome: must be one of" in done.stderr
    assert "Traceback" not in done.stderr
    missing = rehearse(str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "cannot read scenario" in missing.stderr


def test_the_figure_is_redrawn_from_the_record_alone(tmp_path):
    folder = tmp_path / "run"
    assert rehearse("scenarios/linear-rollback.toml", "--results", str(folder)).returncode == 0
    kept = tmp_path / "kept"
    kept.mkdir()
    for name in ("invocations.bin", "strings.txt", "contacts.txt", "timeline.jsonl", "run.json", "record.json"):
        shutil.copy(folder / name, kept / name)
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "plot", str(kept)], capture_output=True,
                          text=True, timeout=120, env=ENV, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert (kept / "timeline.png").stat().st_size > 10_000 and (kept / "timeline.svg").exists()
    redrawn = json.loads((kept / "summary.json").read_text())
    original = json.loads((folder / "summary.json").read_text())
    assert redrawn["invocations"] == original["invocations"]
    assert redrawn["deployment"] == original["deployment"]


def test_a_flow_calling_another_function_is_refused_at_start(tmp_path):
    # It was sent whole to the deployment's alias: a polling flow polled the wrong function, exit 0.
    flow = json.loads((ROOT / "scenarios" / "flows" / "LambdaAlias-loop.json").read_text())
    for action in flow["Actions"]:
        if action["Type"] == "InvokeLambdaFunction":
            action["Parameters"]["LambdaFunctionARN"] = "arn:aws:lambda:us-east-1:123456789012:function:Poller:live"
    (tmp_path / "two.json").write_text(json.dumps(flow))
    scenario = tmp_path / "s.toml"
    scenario.write_text((ROOT / "scenarios" / "linear-rollback.toml").read_text().replace(
        "[load]", f"[load]\nflow = \"{tmp_path / 'two.json'}\"", 1))
    done = rehearse(str(scenario), "--results", str(tmp_path / "run"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "names function 'Poller', which the scenario does not declare" in done.stderr


PLANTED = """
import sys
from simulator.loadgen import contact_hooks

played = contact_hooks.ContactHooks.prompt
calls = [0]


async def prompt(self, text):
    calls[0] += 1
    if calls[0] % 50 == 0:  # a bug of shiftsim's own, planted in the contact path
        raise RuntimeError("planted in the contact path")
    await played(self, text)


contact_hooks.ContactHooks.prompt = prompt
from simulator.cli import entry

sys.argv = ["shiftsim", "rehearse", *sys.argv[1:]]
entry()
"""


def test_a_rehearsal_whose_load_broke_off_says_so_as_it_runs_and_gives_no_verdict(tmp_path):
    """The deployment rolls back as expected, and the record alone would pass: the contacts that
    broke off on shiftsim's own error make it exit 3, COULD NOT JUDGE, said from the first one."""
    done = subprocess.run([sys.executable, "-c", PLANTED, "scenarios/linear-rollback.toml", "--results",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=240, env=ENV, cwd=ROOT)
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr[-3000:]
    progress = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert any(re.search(r"\| the load broke off \d+ times? \(shiftsim's own error, not the deployment's: no "
                         r"verdict\)$", line) for line in progress), progress
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["deployment"]["outcome"] == "rolled_back"
    assert all(c["passed"] for c in summary["verdict"]["checks"])  # what the record alone says
    assert "verdict: COULD NOT JUDGE" in done.stdout
    assert done.stderr.count("Traceback") == 1  # the first of the error's tracebacks; the count is said
    assert "(first: RuntimeError: planted in the contact path)" in summary["verdict"]["why_not_judged"]


def test_the_aliass_provisioned_concurrency_is_said_per_version(tmp_path):
    """An alias with provisioned concurrency: the summary says, per version, what it served and what
    spilled over, as CloudWatch counted them (in production's terms, the sample's invocations weighted)."""
    scenario = tmp_path / "provisioned.toml"
    scenario.write_text((ROOT / "scenarios" / "all-at-once-breaks.toml").read_text()
                        .replace("[functions.staged.faults.error]\nrate = 1.0\n", "")
                        .replace('name = "PROD"\nversion = "1"\n', 'name = "PROD"\nversion = "1"\nprovisioned_concurrency = 3\n')
                        .replace("alarm_fires = true", "alarm_fires = false"))
    done = rehearse(str(scenario), "--results", str(tmp_path / "run"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert ("shiftsim: provisioned concurrency: ConnectLambdaFunction: 3 on alias PROD: each version keeps its share "
            "of it initialised") in done.stdout  # said at start, as rehearsed: not a NOTE of what is not
    assert "NOTE: ConnectLambdaFunction: 3" not in done.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    weight = summary["production"]["weight"]
    for version in ("1", "2"):
        stats = summary["versions"][version]
        usage = stats["provisioned"]
        assert usage["requested"] == 3 and usage["served"] > 0
        assert usage["served"] + usage["spilled"] == pytest.approx(stats["invocations"] * weight, rel=0.01)
        assert (f"    provisioned concurrency (3 on the alias, shared by weight): {usage['served']:,} served, "
                f"{usage['spilled']:,} spilled over") in done.stdout
