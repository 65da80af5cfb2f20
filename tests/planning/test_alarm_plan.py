"""`shiftsim plan --alarms`: over a thousand alarm definitions searched for each configuration,
written as a scenario fragment and a SAM snippet; and the proof by rehearsal: for each teaching
scenario whose lesson is a wrong alarm, the recommended alarms roll its bad version back, and a
healthy version rehearsed with them goes to 100 %."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from simulator.planning.inputs import alarm_model
from simulator.scenario.alarm_tables import load_alarm_fragment
from simulator.scenario.reader import parse_scenario
from tests.helpers import ROOT, RunningEmulator

HEALTHY = {"low-traffic-canary": ("[functions.staged.faults.error]\nrate = 1.0\n", ""),
           "wrong-alarm-dimensions": ("[functions.staged.faults.error]\nrate = 0.5\n", ""),
           "connect-rejects-answer": ('[functions.staged.faults.malformed]\nrate = 1.0\nkind = "nested"\n', "")}


def shiftsim(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def summary_of(done: subprocess.CompletedProcess, folder) -> dict:
    """The run's summary, or what the run said where it wrote none."""
    assert (folder / "summary.json").exists(), f"exit {done.returncode}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return json.loads((folder / "summary.json").read_text())


def test_the_search_covers_a_thousand_definitions_and_writes_a_fragment_and_a_sam_snippet(tmp_path):
    done = shiftsim("plan", "scenarios/low-traffic-canary.toml", "--alarms", "--simulations", "200",
                    "--results", str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "search.json").read_text())
    assert result["candidates"] >= 1000 and result["configurations"] == 9
    assert {r["config"].removeprefix("CodeDeployDefault.Lambda") for r in result["rows"]} >= {"AllAtOnce", "Canary10Percent5Minutes"}
    assert "alarm search: 1,056 alarm definitions x 9 configurations" in done.stdout and "recommended: " in done.stdout
    alarms = load_alarm_fragment(tmp_path / "alarms.toml")
    assert alarms and all(a.name.startswith("shiftsim-") for a in alarms)
    snippet = yaml.safe_load((tmp_path / "alarms.yaml").read_text())["Resources"]
    kinds = {r["Type"] for r in snippet.values()}
    assert kinds == {"AWS::CloudWatch::Alarm", "AWS::Serverless::Function"}
    preference = next(r for r in snippet.values() if r["Type"] == "AWS::Serverless::Function")
    assert preference["Properties"]["DeploymentPreference"]["Type"] == "Canary10Percent5Minutes"
    assert [ref["Ref"] for ref in preference["Properties"]["DeploymentPreference"]["Alarms"]] == [
        name for name, r in snippet.items() if r["Type"] == "AWS::CloudWatch::Alarm"]


def test_an_error_rate_alarm_in_metric_math_is_read_modelled_and_served():
    scenario = parse_scenario("""
[[alarms]]
name = "rate"
threshold = 5.0
evaluation_periods = 1
treat_missing_data = "notBreaching"
metrics = [
  { Id = "rate", Expression = "100 * errors / invocations", ReturnData = true },
  { Id = "errors", ReturnData = false, MetricStat = { Period = 60, Stat = "Sum", Metric = { Namespace = "AWS/Lambda", MetricName = "Errors", Dimensions = [ { Name = "FunctionName", Value = "ConnectLambdaFunction" }, { Name = "Resource", Value = "ConnectLambdaFunction:PROD" } ] } } },
  { Id = "invocations", ReturnData = false, MetricStat = { Period = 60, Stat = "Sum", Metric = { Namespace = "AWS/Lambda", MetricName = "Invocations", Dimensions = [ { Name = "FunctionName", Value = "ConnectLambdaFunction" }, { Name = "Resource", Value = "ConnectLambdaFunction:PROD" } ] } } },
]
[deployment]
""", "rate.toml")
    (alarm,) = scenario.alarms
    model = alarm_model(alarm, scenario, "2")
    assert (model.metric, model.scope, model.period, model.threshold) == ("ErrorRate", "alias", 60, 5.0)
    emulator = RunningEmulator(scenario)
    try:
        (served,) = emulator.boto3("cloudwatch").describe_alarms(AlarmNames=["rate"])["MetricAlarms"]
        assert [m["Id"] for m in served["Metrics"]] == ["rate", "errors", "invocations"]
    finally:
        emulator.close()


@pytest.mark.long(45)
@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_the_recommended_alarms_roll_the_bad_version_back_and_let_a_healthy_one_through(tmp_path, name):
    scenario = ROOT / "scenarios" / f"{name}.toml"
    plan = shiftsim("plan", str(scenario), "--alarms", "--simulations", "300", "--results", str(tmp_path / "plan"))
    assert plan.returncode == 0, plan.stderr
    alarms = tmp_path / "plan" / "alarms.toml"
    bad = shiftsim("rehearse", str(scenario), "--alarms", str(alarms), "--results", str(tmp_path / "bad"))
    summary = summary_of(bad, tmp_path / "bad")
    assert summary["deployment"]["outcome"] == "rolled_back", bad.stdout[-3000:]
    fault, nothing = HEALTHY[name]
    text = scenario.read_text()
    assert fault in text
    healthy = tmp_path / f"{name}-healthy.toml"
    healthy.write_text(text.replace(fault, nothing).split("[expect]")[0])  # the default gate
    good = shiftsim("rehearse", str(healthy), "--alarms", str(alarms), "--results", str(tmp_path / "good"))
    summary = summary_of(good, tmp_path / "good")
    assert summary["deployment"]["outcome"] == "succeeded", good.stdout[-3000:]
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-2000:]
