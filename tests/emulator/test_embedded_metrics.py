"""CloudWatch's embedded metric format: the metrics a function's printed JSON lines embed (as
Powertools' Metrics prints them) are CloudWatch metrics, which an alarm of the deployment group can
read; lines that are not valid EMF stay plain log lines. The format's reading, a real emulator
through boto3, and a rehearsal whose only alarm reads such a metric."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

from simulator.emulator.logs.emf import emf_data
from tests.helpers import ROOT, RunningEmulator

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def emf(metrics: list[dict], dimensions: list[list[str]], **members) -> str:
    return json.dumps({"_aws": {"Timestamp": 1765000000000, "CloudWatchMetrics": [
        {"Namespace": "ConnectApp", "Dimensions": dimensions, "Metrics": metrics}]}, **members})


def test_an_emf_line_is_its_metrics_at_the_invocations_time_and_weight():
    line = emf([{"Name": "Lookups", "Unit": "Count"}, {"Name": "LatencyMs", "Unit": "Milliseconds"}],
               [["service"], ["service", "flow"]], service="connect", flow="main", Lookups=1, LatencyMs=[12, 14.5],
               note="members the directives do not name are kept in the log line only")
    ((namespace, data),) = emf_data(line, at=1234.0, weight=30.0)
    assert namespace == "ConnectApp"
    assert [(d["MetricName"], d.get("Dimensions"), d["Values"], d["Counts"], d["Unit"], d["Timestamp"]) for d in data] == [
        ("Lookups", [{"Name": "service", "Value": "connect"}], [1.0], [30.0], "Count", 1234.0),
        ("Lookups", [{"Name": "service", "Value": "connect"}, {"Name": "flow", "Value": "main"}], [1.0], [30.0],
         "Count", 1234.0),
        ("LatencyMs", [{"Name": "service", "Value": "connect"}], [12.0, 14.5], [30.0, 30.0], "Milliseconds", 1234.0),
        ("LatencyMs", [{"Name": "service", "Value": "connect"}, {"Name": "flow", "Value": "main"}], [12.0, 14.5],
         [30.0, 30.0], "Milliseconds", 1234.0)]
    ((_, [plain]),) = emf_data(emf([{"Name": "Lookups"}], [[]], Lookups=2), at=1.0)
    assert "Dimensions" not in plain and "Unit" not in plain and plain["Values"] == [2.0]
    # Node.js's console.log in Lambda's text format: time, request id and level before the document
    node = "2026-12-07T10:00:00.123Z\tc9a7cdcd-78b3-467c-b4bd-33c8fef02f2c\tINFO\t" + emf([{"Name": "Lookups"}], [[]], Lookups=3)
    assert [d["Values"] for _, data in emf_data(node, at=1.0) for d in data] == [[3.0]]


@pytest.mark.parametrize("line", [
    "START RequestId: 1 Version: 1",                                                 # not JSON
    "lookup done: " + emf([{"Name": "Lookups"}], [[]], Lookups=1),                    # text before the JSON
    emf([{"Name": "Lookups"}], [[]], Lookups=1) + " and more",                        # and after it
    emf([{"Name": "Lookups"}], [["service"]], Lookups=1),                             # a dimension with no value
    emf([{"Name": "Lookups"}], [["service"]], service=3, Lookups=1),                  # a dimension value not a string
    emf([{"Name": "Lookups"}], [[]], Lookups="1"),                                    # a value not a number
    emf([{"Name": "Lookups"}], [[]], Lookups=True),
    emf([{"Name": "Lookups"}], [[]]),                                                 # the metric's member missing
    json.dumps({"_aws": {"CloudWatchMetrics": []}, "Lookups": 1}),                    # no Timestamp
    json.dumps([{"_aws": {}}]),                                                       # not an object
])
def test_what_is_not_valid_emf_is_no_metric(line):
    assert emf_data(line, at=1.0) == []


HANDLER = '''import json, time
def handler(event, context):
    print("looking up")
    print(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{"Namespace": "ConnectApp",
        "Dimensions": [["service"]], "Metrics": [{"Name": "FailedLookups", "Unit": "Count"}]}]},
        "service": "connect", "FailedLookups": event.get("failed", 0)}))
    return {"ok": "yes"}
'''


def test_a_functions_printed_emf_lines_are_cloudwatch_metrics():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    running = RunningEmulator(code_uploads=True)
    try:
        lam, cw = running.boto3("lambda"), running.boto3("cloudwatch")
        lam.create_function(FunctionName="Lookup", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": buffer.getvalue()}, Publish=True)
        lam.get_waiter("function_active_v2").wait(FunctionName="Lookup", WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
        for failed in (0, 1, 1):
            out = lam.invoke(FunctionName="Lookup", Qualifier="1", Payload=json.dumps({"failed": failed}).encode())
            assert json.loads(out["Payload"].read()) == {"ok": "yes"}
        now = time.time()
        points = cw.get_metric_statistics(Namespace="ConnectApp", MetricName="FailedLookups",
                                          Dimensions=[{"Name": "service", "Value": "connect"}], StartTime=now - 3600,
                                          EndTime=now + 3600, Period=3600, Statistics=["Sum", "SampleCount"])["Datapoints"]
        assert [(p["Sum"], p["SampleCount"], p["Unit"]) for p in points] == [(2.0, 3.0, "Count")]
        assert cw.list_metrics(Namespace="ConnectApp")["Metrics"] == [
            {"Namespace": "ConnectApp", "MetricName": "FailedLookups", "Dimensions": [{"Name": "service", "Value": "connect"}]}]
    finally:
        running.close()


BUSINESS = '''import json, time
def lambda_handler(event, context):
    failed = {failed}  # the lookup behind the greeting: the change breaks it, and answers Connect all the same
    print(json.dumps({{"_aws": {{"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{{"Namespace": "ConnectApp",
        "Dimensions": [["service"]], "Metrics": [{{"Name": "FailedLookups", "Unit": "Count"}}]}}]}},
        "service": "greeting", "FailedLookups": failed}}))
    return {{"version": context.function_version, "greeting": "Hello" if not failed else "Hello, caller"}}
'''
ALARM = """  FailedLookupsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: ConnectApp
      MetricName: FailedLookups
      Dimensions:
        - Name: service
          Value: greeting
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
"""


@pytest.mark.long(30)
def test_a_rehearsal_rolls_back_on_an_alarm_that_reads_only_the_codes_embedded_metrics(tmp_path):
    """The change fails its lookups and still answers Connect: Lambda counts no error, and only the
    business metric the code embeds in its log lines shows it. The group's one alarm reads that metric,
    as it would in production, and CodeDeploy rolls the change back."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "examples" / "sam-connect", project)
    template = project / "template.yaml"
    text = template.read_text().replace("- !Ref AliasErrorMetricGreaterThanZeroAlarm", "- !Ref FailedLookupsAlarm")
    template.write_text(text.replace("Resources:\n", "Resources:\n" + ALARM, 1))
    (project / "src" / "app.py").write_text(BUSINESS.format(failed=0))
    (project / "src-v2" / "app.py").write_text(BUSINESS.format(failed=1))
    settings = project / "rehearsal.toml"  # the load after the rollback: what this test needs of it
    settings.write_text(settings.read_text().replace("tail = 10", "tail = 2"))
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(project / "rehearsal.toml"),
                           "--results", str(tmp_path / "run")], capture_output=True, text=True, timeout=400)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    deployment = summary["deployment"]
    assert deployment["outcome"] == "rolled_back", done.stdout[-3000:] + done.stderr[-3000:]
    assert {t["alarm"] for t in deployment["alarm_transitions"] if t["state"] == "ALARM"} == {"FailedLookupsAlarm"}
    assert summary["errors"] == 0  # Lambda saw no error: the embedded metric was the only sign
    # said at start: nothing the stack declares publishes there, which the code may, as this code does
    assert "namespace ConnectApp: nothing the stack runs publishes there" in done.stdout
    assert "metrics embedded in its log lines, EMF, which a rehearsal reads as CloudWatch does" in done.stdout
