"""No sequence of requests fills the emulator (simulator/emulator/holdings.py): each kind of thing a
request can make stops at its ceiling with AWS's error for a full quota, log events let their oldest
go, and a real `shiftsim serve` flooded past its ceilings keeps its memory within them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from simulator.emulator.holdings import Holdings
from tests.helpers import CREDENTIALS, ROOT, running_emulator

SMALL = {"log groups": 3, "log streams": 4, "log bytes": 10_000, "metrics": 3, "metric datapoints": 5, "alarms": 3,
         "dashboards": 2, "dashboard bytes": 100_000, "tags": 2, "aliases": 2, "applications": 2,
         "deployment groups": 2, "deployment configurations": 1, "regions": 2, "upload bytes": 1_500}


def refused(call, code):
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == code, caught.value.response["Error"]
    assert "holds at most" in caught.value.response["Error"]["Message"] or "at most" in caught.value.response["Error"]["Message"]
    return caught.value.response["Error"]["Message"]


def test_every_kind_stops_at_its_ceiling_with_awss_error():
    with running_emulator(holdings=Holdings(SMALL)) as running:
        logs, cw, lam, cd = (running.boto3(s) for s in ("logs", "cloudwatch", "lambda", "codedeploy"))
        for n in range(3):
            logs.create_log_group(logGroupName=f"g{n}")
        said = refused(lambda: logs.create_log_group(logGroupName="g3"), "LimitExceededException")
        assert said == ("Resource limit exceeded: the shiftsim emulator holds at most 3 log groups "
                        "(its limit, so that no sequence of requests fills it).")
        logs.delete_log_group(logGroupName="g2")
        logs.create_log_group(logGroupName="g3")  # a deleted group gives its place back
        for n in range(4):
            logs.create_log_stream(logGroupName="g0", logStreamName=f"s{n}")
        refused(lambda: logs.create_log_stream(logGroupName="g1", logStreamName="s"), "LimitExceededException")

        cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": f"m{n}", "Value": 1.0} for n in range(3)])
        refused(lambda: cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": "m3", "Value": 1.0}]), "LimitExceeded")
        now = time.time()
        cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": "m0", "Value": 1.0, "Timestamp": now - 100}])
        refused(lambda: cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": "m0", "Value": 1.0, "Timestamp": now - s}
                                                                       for s in range(200, 210)]), "LimitExceeded")
        assert cw.list_metrics(Namespace="N", MetricName="m3")["Metrics"] == []  # nothing of a refused call kept

        cw.put_metric_alarm(AlarmName="a0", Namespace="N", MetricName="m0", Statistic="Sum", Period=60,
                            EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
        cw.put_composite_alarm(AlarmName="c", AlarmRule="ALARM(a0)")  # the third, with the stack's own
        refused(lambda: cw.put_composite_alarm(AlarmName="d", AlarmRule="TRUE"), "LimitExceeded")
        arn = cw.describe_alarms(AlarmNames=["a0"])["MetricAlarms"][0]["AlarmArn"]
        cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "k1", "Value": "v"}, {"Key": "k2", "Value": "v"}])
        with pytest.raises(ClientError):
            cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "k3", "Value": "v"}])
        for n in range(2):
            cw.put_dashboard(DashboardName=f"d{n}", DashboardBody="{}")
        refused(lambda: cw.put_dashboard(DashboardName="d2", DashboardBody="{}"), "LimitExceeded")

        lam.create_alias(FunctionName="ConnectLambdaFunction", Name="ONE", FunctionVersion="1")
        refused(lambda: lam.create_alias(FunctionName="ConnectLambdaFunction", Name="TWO", FunctionVersion="1"),
                "InvalidParameterValueException")  # PROD is the first

        cd.create_application(applicationName="A", computePlatform="Lambda")
        refused(lambda: cd.create_application(applicationName="B", computePlatform="Lambda"),
                "ApplicationLimitExceededException")  # the stack's own application is one

        s3 = running.boto3("s3")
        s3.create_bucket(Bucket="uploads")
        s3.put_object(Bucket="uploads", Key="k", Body=b"x" * 1_000)
        refused(lambda: s3.put_object(Bucket="uploads", Key="k2", Body=b"x" * 1_000), "LimitExceededException")

        def in_region(region):
            return boto3.client("lambda", endpoint_url=running.url, region_name=region,
                                config=Config(retries={"total_max_attempts": 1}), **CREDENTIALS)

        assert in_region("eu-west-3").list_functions()["Functions"] == []  # the second region
        refused(lambda: in_region("eu-west-1").list_functions(), "InvalidParameterValueException")

        # the health route tallies each refusal by ceiling: a run it touches is not judged (test_verdict)
        with urllib.request.urlopen(f"{running.url}/_shiftsim/health", timeout=30) as answer:
            tally = json.loads(answer.read())["refused_at_ceilings"]
        assert tally == {kind: {"requests": 1, "ceiling": SMALL[kind]} for kind in SMALL  # those refused above
                         if kind not in ("log bytes", "dashboard bytes", "deployment groups", "deployment configurations",
                                         "tags")}  # 50 tags a resource is AWS's own limit too


def test_log_events_let_their_oldest_go_past_the_ceiling_of_bytes():
    with running_emulator(holdings=Holdings({"log bytes": 10_000})) as running:
        logs = running.boto3("logs")
        for group in ("small", "big"):
            logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_log_events(logGroupName="small", logStreamName="s",
                            logEvents=[{"timestamp": 1_000, "message": "a" * 1_000}])
        start = int(time.time() * 1000)
        for n in range(30):
            logs.put_log_events(logGroupName="big", logStreamName="s",
                                logEvents=[{"timestamp": start + n, "message": f"{n:04d}" + "b" * 996}])
        held = running.emulator.holdings.held["log bytes"]
        assert held <= 10_000
        big = [e["message"][:4] for e in logs.get_log_events(logGroupName="big", logStreamName="s",
                                                             startFromHead=True)["events"]]
        assert big == [f"{n:04d}" for n in range(30 - len(big), 30)] and 5 <= len(big) <= 9  # the newest kept
        assert len(logs.get_log_events(logGroupName="small", logStreamName="s")["events"]) == 1  # the largest gave


MIB = 1 << 20
FLOOD_CEILINGS = {"log bytes": 8 * MIB, "upload bytes": 8 * MIB, "metric datapoints": 20_000, "dashboard bytes": 4 * MIB}


def resident_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.long(20)
def test_a_flooded_emulator_holds_no_more_memory_than_its_ceilings():
    """`shiftsim serve` flooded with four times its ceilings (lowered for the test) of log events,
    S3 objects, metric datapoints and dashboards: what it holds grows by about its ceilings, not by
    what it was sent (about 130 MiB more without them, measured)."""
    env = {**os.environ, "SHIFTSIM_EMULATOR_CEILINGS": json.dumps(FLOOD_CEILINGS), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = process.stdout.readline().split(" on ")[1].strip()

        def client(service):
            return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                                config=Config(retries={"total_max_attempts": 1}), **CREDENTIALS)

        logs, s3, cw = client("logs"), client("s3"), client("cloudwatch")
        logs.create_log_group(logGroupName="flood")
        logs.create_log_stream(logGroupName="flood", logStreamName="s")
        s3.create_bucket(Bucket="flood")
        now = int(time.time())

        def flood(rounds, first=0):
            refusals = 0
            for n in range(first, first + rounds):
                logs.put_log_events(logGroupName="flood", logStreamName="s", logEvents=[
                    {"timestamp": now * 1000 + i, "message": f"{n}:{i}:" + "x" * 990} for i in range(1_000)])
                for call in (lambda n=n: s3.put_object(Bucket="flood", Key=f"k{n}", Body=os.urandom(1 << 20)),
                             lambda n=n: cw.put_metric_data(Namespace="Flood", MetricData=[
                                 {"MetricName": f"m{n % 20}", "Value": 1.0, "Timestamp": now - 3 * i - n % 3}
                                 for i in range(1_000)]),
                             lambda n=n: cw.put_dashboard(DashboardName=f"d{n}", DashboardBody=json.dumps(
                                 {"widgets": [], "note": "y" * (1 << 19)}))):
                    try:
                        call()
                    except ClientError as exc:
                        assert exc.response["Error"]["Code"] in ("LimitExceeded", "LimitExceededException"), exc
                        refusals += 1
            return refusals

        flood(2)  # every path once, so that what is measured next is what is kept
        before = resident_mib(process.pid)
        refusals = flood(50, first=2)
        after = resident_mib(process.pid)
        assert refusals >= 50  # the ceilings were reached: S3, metrics and dashboards refused
        held = sum(FLOOD_CEILINGS[k] for k in ("log bytes", "upload bytes", "dashboard bytes")) / MIB
        assert after - before < held + 40, (before, after)  # datapoints, objects' overhead, the allocator's slack
        assert logs.get_log_events(logGroupName="flood", logStreamName="s", limit=1)["events"][0]["message"].startswith("51:")
    finally:
        process.terminate()
        process.communicate(timeout=30)
