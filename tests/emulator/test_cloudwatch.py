"""CloudWatch in the emulator: Lambda metrics under their exact dimension sets, alarms evaluated at
period boundaries of the emulated clock, and the three wire protocols through real botocore clients."""

import json
from datetime import UTC, datetime

import botocore.session
import pytest
from botocore.exceptions import ClientError

from simulator.deployment.clock import ManualClock
from tests.helpers import CREDENTIALS, MINUTE_ALIGNED, running_emulator

FAULTY_PROD = """
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
[[functions.versions]]
[functions.versions.faults.error]
rate = 1.0
[[functions.aliases]]
name = "PROD"
version = "{version}"
"""
SEED_DIMENSIONS = [{"Name": "FunctionName", "Value": "ConnectLambdaFunction"},
                   {"Name": "Resource", "Value": "ConnectLambdaFunction:PROD"}]


def alarm(cw, name="AliasErrorMetricGreaterThanZeroAlarm"):
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def put_alarm(cw, name, dimensions=SEED_DIMENSIONS, **overrides):
    params = dict(AlarmName=name, Namespace="AWS/Lambda", MetricName="Errors", Dimensions=dimensions,
                  Statistic="Sum", Period=60, EvaluationPeriods=2, Threshold=0,
                  ComparisonOperator="GreaterThanThreshold")
    cw.put_metric_alarm(**{k: v for k, v in {**params, **overrides}.items() if v is not None})


def invoke_prod(lam, times=3):
    for _ in range(times):
        lam.invoke(FunctionName="ConnectLambdaFunction:PROD", Payload=b"{}")


@pytest.fixture
def faulty():
    """PROD on an always-failing version 2, a clock aligned on the minute, and clients."""
    clock = ManualClock(MINUTE_ALIGNED)
    with running_emulator(FAULTY_PROD.format(version=2), clock=clock) as running:
        yield running, clock, running.boto3("lambda"), running.boto3("cloudwatch")


def test_seed_alarm_starts_unchecked_then_alarms_after_two_breaching_periods(faulty):
    running, clock, lam, cw = faulty
    first = alarm(cw)
    assert (first["StateValue"], first["StateReason"]) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")
    assert first["Dimensions"] == SEED_DIMENSIONS and first["Period"] == 60 and first["EvaluationPeriods"] == 2
    invoke_prod(lam)
    running.call(clock.advance(59))
    assert alarm(cw)["StateValue"] == "INSUFFICIENT_DATA"  # no boundary yet
    running.call(clock.advance(1))
    assert alarm(cw)["StateValue"] == "OK"  # one breaching datapoint of the two it needs
    invoke_prod(lam)
    running.call(clock.advance(60))
    state = alarm(cw)
    assert state["StateValue"] == "ALARM"
    assert state["StateUpdatedTimestamp"].timestamp() == MINUTE_ALIGNED + 120
    assert state["StateReason"].startswith("Threshold Crossed: 2 out of the last 2 datapoints [3, 3]")


def test_datapoints_to_alarm_one_of_two(faulty):
    running, clock, lam, cw = faulty
    put_alarm(cw, "fast", DatapointsToAlarm=1)
    invoke_prod(lam, 1)
    running.call(clock.advance(60))
    assert alarm(cw, "fast")["StateValue"] == "ALARM"


@pytest.mark.parametrize("treatment,state", [
    ("missing", "INSUFFICIENT_DATA"), ("notBreaching", "OK"), ("breaching", "ALARM"),
    ("ignore", "INSUFFICIENT_DATA")])
def test_missing_data_treatments_with_no_traffic(faulty, treatment, state):
    running, clock, lam, cw = faulty
    put_alarm(cw, "quiet", TreatMissingData=treatment)
    running.call(clock.advance(180))
    assert alarm(cw, "quiet")["StateValue"] == state


def test_ignore_keeps_the_last_state_when_data_stops(faulty):
    running, clock, lam, cw = faulty
    put_alarm(cw, "sticky", TreatMissingData="ignore", EvaluationPeriods=1)
    invoke_prod(lam, 1)
    running.call(clock.advance(60))
    assert alarm(cw, "sticky")["StateValue"] == "ALARM"
    running.call(clock.advance(300))
    assert alarm(cw, "sticky")["StateValue"] == "ALARM"


def test_an_alarm_with_the_wrong_dimensions_never_gets_data(faulty):
    running, clock, lam, cw = faulty
    put_alarm(cw, "forgot-the-alias", [{"Name": "FunctionName", "Value": "ConnectLambdaFunction"},
                                       {"Name": "Resource", "Value": "ConnectLambdaFunction"}])
    for _ in range(4):
        invoke_prod(lam)
        running.call(clock.advance(60))
    assert alarm(cw)["StateValue"] == "ALARM"
    assert alarm(cw, "forgot-the-alias")["StateValue"] == "INSUFFICIENT_DATA"


def test_healthy_traffic_keeps_the_alarm_ok():
    clock = ManualClock(MINUTE_ALIGNED)
    with running_emulator(FAULTY_PROD.format(version=1), clock=clock) as running:
        lam, cw = running.boto3(), running.boto3("cloudwatch")
        for _ in range(3):
            invoke_prod(lam)
            running.call(clock.advance(60))
        assert alarm(cw)["StateValue"] == "OK"


def test_metrics_per_dimension_set_and_executed_version(faulty):
    running, clock, lam, cw = faulty
    invoke_prod(lam, 4)
    lam.invoke(FunctionName="ConnectLambdaFunction:1", Payload=b"{}")
    window = dict(StartTime=MINUTE_ALIGNED, EndTime=MINUTE_ALIGNED + 60, Period=60,
                  Statistics=["Sum", "SampleCount"], Namespace="AWS/Lambda")

    def total(metric, dims):
        points = cw.get_metric_statistics(MetricName=metric, Dimensions=dims, **window)["Datapoints"]
        return points[0]["Sum"] if points else None

    fn = [{"Name": "FunctionName", "Value": "ConnectLambdaFunction"}]
    assert total("Invocations", []) == 5
    assert total("Invocations", fn) == 5
    assert total("Invocations", SEED_DIMENSIONS) == 4
    assert total("Errors", SEED_DIMENSIONS + [{"Name": "ExecutedVersion", "Value": "2"}]) == 4
    assert total("Errors", fn + [{"Name": "Resource", "Value": "ConnectLambdaFunction:1"}]) == 0
    assert total("Throttles", fn) is None
    data = cw.get_metric_data(StartTime=MINUTE_ALIGNED, EndTime=MINUTE_ALIGNED + 120, MetricDataQueries=[{
        "Id": "errors", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                                                  "Dimensions": SEED_DIMENSIONS}, "Period": 60, "Stat": "Sum"}}])
    assert data["MetricDataResults"][0]["Values"] == [4.0]


def test_set_alarm_state_and_delete(faulty):
    running, clock, lam, cw = faulty
    cw.set_alarm_state(AlarmName="AliasErrorMetricGreaterThanZeroAlarm", StateValue="ALARM", StateReason="drill")
    assert alarm(cw)["StateValue"] == "ALARM" and alarm(cw)["StateReason"] == "drill"
    cw.delete_alarms(AlarmNames=["AliasErrorMetricGreaterThanZeroAlarm"])
    assert cw.describe_alarms()["MetricAlarms"] == []
    with pytest.raises(ClientError) as info:
        cw.set_alarm_state(AlarmName="gone", StateValue="OK", StateReason="x")
    assert info.value.response["Error"]["Code"] == "ResourceNotFound"


def client_with_protocol(url, protocol, tmp_path):
    """A botocore CloudWatch client speaking `protocol`, from botocore's own model (as older clients)."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    model = loader.load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocol"] = protocol
    model["metadata"]["protocols"] = [protocol]
    folder = tmp_path / protocol / "cloudwatch" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    loader.search_paths.insert(0, str(tmp_path / protocol))
    return session.create_client("cloudwatch", endpoint_url=url, region_name="us-east-1", **CREDENTIALS)


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
def test_every_protocol_round_trips(faulty, protocol, tmp_path):
    running, clock, lam, _ = faulty
    cw = client_with_protocol(running.url, protocol, tmp_path)
    assert cw.meta.service_model.protocol == protocol
    put_alarm(cw, "wire", EvaluationPeriods=1, TreatMissingData="notBreaching")
    described = cw.describe_alarms(AlarmNames=["wire"])["MetricAlarms"][0]
    assert described["Dimensions"] == SEED_DIMENSIONS and described["Threshold"] == 0.0
    assert described["StateValue"] == "INSUFFICIENT_DATA"
    invoke_prod(lam, 2)
    running.call(clock.advance(60))
    described = cw.describe_alarms(AlarmNames=["wire"])["MetricAlarms"][0]
    assert described["StateValue"] == "ALARM"
    assert described["StateUpdatedTimestamp"].timestamp() == MINUTE_ALIGNED + 60
    points = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Errors", Dimensions=SEED_DIMENSIONS,
                                      StartTime=MINUTE_ALIGNED, EndTime=MINUTE_ALIGNED + 60, Period=60,
                                      Statistics=["Sum"])["Datapoints"]
    assert points[0]["Sum"] == 2.0
    cw.delete_alarms(AlarmNames=["no-such-alarm"])  # passed over, as CloudWatch passes it over
    cw.put_composite_alarm(AlarmName="gate", AlarmRule="ALARM(wire)", Tags=[{"Key": "team", "Value": "ivr"}])
    both = cw.describe_alarms(AlarmNames=["wire", "gate"], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert [a["AlarmName"] for a in both["MetricAlarms"]] == ["wire"]
    (gate,) = both["CompositeAlarms"]
    assert (gate["AlarmRule"], gate["StateValue"]) == ("ALARM(wire)", "ALARM")
    assert cw.list_tags_for_resource(ResourceARN=gate["AlarmArn"])["Tags"] == [{"Key": "team", "Value": "ivr"}]
    cw.put_dashboard(DashboardName="ops", DashboardBody='{"widgets": []}')
    (entry,) = cw.list_dashboards()["DashboardEntries"]
    assert entry["DashboardArn"] == "arn:aws:cloudwatch::123456789012:dashboard/ops" and entry["Size"] == 15
    assert entry["LastModified"].timestamp() == MINUTE_ALIGNED + 60
    assert cw.get_dashboard(DashboardName="ops")["DashboardBody"] == '{"widgets": []}'
    with pytest.raises(ClientError) as info:
        put_alarm(cw, "bad-period", Period=45)
    assert info.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_tallied_lambda_metrics_equal_one_datapoint_per_metric_and_dimension_set():
    """Invocations are tallied and published when read: the buckets are those of putting every
    invocation's datapoints one by one (the sums up to float rounding), reads in between included."""
    import random

    from simulator.emulator.cloudwatch.metric_data import MetricStore, lambda_dimension_sets
    from simulator.emulator.cloudwatch.models import CloudWatchBackend
    from simulator.emulator.lambda_.models import InvocationObserved

    rng = random.Random(5)
    backend = CloudWatchBackend(ManualClock(MINUTE_ALIGNED), region="us-east-1", account="123456789012")
    one_by_one = MetricStore()
    for i in range(6000):
        alias = rng.choice([None, "PROD", "live"])
        version = rng.choice(["$LATEST", "1", "2"] if alias is None else ["1", "2"])
        kind = rng.choice(["ok", "ok", "ok", "function_error", "throttled"])
        event = InvocationObserved(rng.choice(["A", "B"]), alias, version, MINUTE_ALIGNED + i / 997,
                                   rng.uniform(0.1, 900.0), kind)
        backend.record_lambda(event)
        values = ([("Throttles", 1.0)] if kind == "throttled" else
                  [("Invocations", 1.0), ("Errors", float(kind == "function_error")), ("Duration", event.duration_ms)])
        for name, value in values:
            for dimensions in lambda_dimension_sets(event.function, alias, version):
                one_by_one.put(("AWS/Lambda", name, dimensions), event.start, value)
        if i % 1500 == 1499:  # a read publishes what is tallied so far, mid-second
            backend.get_metric_statistics("AWS/Lambda", "Invocations", [], MINUTE_ALIGNED, MINUTE_ALIGNED + 60,
                                          60, ["Sum"])
    backend.get_metric_statistics("AWS/Lambda", "Invocations", [], MINUTE_ALIGNED, MINUTE_ALIGNED + 60, 60, ["Sum"])
    assert backend.metrics.series.keys() == one_by_one.series.keys()
    assert len(one_by_one.series) > 20
    for key, expected in one_by_one.series.items():
        got = backend.metrics.series[key]
        assert got.keys() == expected.keys(), key
        for second, bucket in expected.items():
            tallied = got[second]
            assert (tallied.count, tallied.low, tallied.high) == (bucket.count, bucket.low, bucket.high), key
            assert tallied.total == pytest.approx(bucket.total, rel=1e-12), key


# AWS's limits keep one request from holding the emulator's loop: the cost follows the data, not the
# range. The strings: public reports of real CloudWatch answers (cloud-custodian issue 7683 quotes
# the datapoint limit; the evaluation range is CloudWatch's documented one day).

EPOCH, YEAR_9999 = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)


def test_a_huge_range_is_refused_as_aws_refuses_it(faulty):
    running, clock, lam, cw = faulty
    with pytest.raises(ClientError) as caught:
        cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Errors", StartTime=EPOCH,
                                 EndTime=YEAR_9999, Period=60, Statistics=["Sum"])
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert caught.value.response["Error"]["Message"] == (
        "You have requested up to 4222846080 datapoints, which exceeds the limit of 1440. You may "
        "reduce the datapoints requested by increasing Period, or decreasing the time range.")
    for end in (MINUTE_ALIGNED, MINUTE_ALIGNED + 0.5):  # equal, or less than a second apart
        with pytest.raises(ClientError) as caught:
            cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Errors", StartTime=MINUTE_ALIGNED,
                                     EndTime=end, Period=60, Statistics=["Sum"])
        error = caught.value.response["Error"]
        assert (error["Code"], error["Message"]) == (
            "InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime.")
        with pytest.raises(ClientError) as caught:
            cw.get_metric_data(MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {
                "Namespace": "AWS/Lambda", "MetricName": "Errors"}, "Period": 60, "Stat": "Sum"}}],
                StartTime=MINUTE_ALIGNED, EndTime=end)
        error = caught.value.response["Error"]
        assert (error["Code"], error["Message"]) == (  # GetMetricData's own words (as moto's tests have them)
            "ValidationError", "The parameter StartTime must not equal parameter EndTime.")
    with pytest.raises(ClientError) as caught:
        cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Errors", StartTime=MINUTE_ALIGNED,
                                 EndTime=MINUTE_ALIGNED + 60, Period=60)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert caught.value.response["Error"]["Message"] == "Must specify either Statistics or ExtendedStatistics"


def test_a_huge_period_costs_what_the_data_does(faulty):
    running, clock, lam, cw = faulty
    invoke_prod(lam, 3)
    # One period over 8,000 years: it answered after a loop over each of its seconds before.
    points = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Errors", StartTime=EPOCH,
                                      EndTime=YEAR_9999, Period=10**12, Statistics=["Sum"])["Datapoints"]
    assert [p["Sum"] for p in points] == [3.0]
    assert running.get(f"{running.url}/_shiftsim/health")["ok"] is True


@pytest.mark.parametrize("period,evaluations", [(60, 3_000_000), (60, 1441), (3600, 169)])
def test_an_alarm_over_more_than_aws_evaluates_is_refused(faulty, period, evaluations):
    # CloudWatch's limit (a day; a week from one-hour periods) as its documentation states it; the message
    # as public CloudWatch-compatible services word it (Eucalyptus's), unsettled word for word
    running, clock, lam, cw = faulty
    with pytest.raises(ClientError) as caught:
        put_alarm(cw, "TooLong", Period=period, EvaluationPeriods=evaluations)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "Metrics cannot be checked across more than a" in caught.value.response["Error"]["Message"]
    put_alarm(cw, "OneDay", Period=60, EvaluationPeriods=1440)  # the longest AWS takes at 60 s
    assert alarm(cw, "OneDay")["EvaluationPeriods"] == 1440


@pytest.mark.parametrize("operation,params", [
    ("GetMetricData", {"MetricDataQueries": ["not an object", 3], "StartTime": 0, "EndTime": 60}),
    ("GetMetricData", {"MetricDataQueries": [{"Id": "m", "MetricStat": "x"}], "StartTime": 0, "EndTime": 60}),
    ("GetMetricStatistics", {"Namespace": "AWS/Lambda", "MetricName": "Errors", "StartTime": "inf",
                             "EndTime": "inf", "Period": 60, "Statistics": ["Sum"]}),
    ("GetMetricStatistics", {"Namespace": "AWS/Lambda", "MetricName": "Errors", "StartTime": "nan",
                             "EndTime": 1e400, "Period": 60, "Statistics": ["Sum"]}),
    ("GetMetricStatistics", {"Namespace": "AWS/Lambda", "MetricName": "Errors", "StartTime": "soon",
                             "EndTime": 60, "Period": 60, "Statistics": ["Sum"]}),
])
def test_malformed_requests_are_400s_not_500s(faulty, operation, params):
    running = faulty[0]
    status, body = running.post_json(
        "/", params, {"X-Amz-Target": f"GraniteServiceVersion20100801.{operation}",
                      "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400, body
    assert body["__type"] == "InvalidParameterValue"


def test_a_sampled_invocation_counts_as_the_production_invocations_it_stands_for(faulty):
    running, clock, lam, cw = faulty

    def weigh(request, **kwargs):
        request.headers["X-Shiftsim-Weight"] = "2.5"

    lam.meta.events.register("before-sign.lambda.Invoke", weigh)
    invoke_prod(lam, 4)  # version 2 fails every call
    points = {m: cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName=m, Dimensions=SEED_DIMENSIONS,
                                          StartTime=MINUTE_ALIGNED, EndTime=MINUTE_ALIGNED + 60, Period=60,
                                          Statistics=["Sum", "SampleCount", "Average"])["Datapoints"][0]
              for m in ("Invocations", "Errors")}
    assert points["Invocations"]["Sum"] == 10.0 and points["Errors"]["SampleCount"] == 10.0
    assert points["Errors"]["Average"] == 1.0
    status, body = running.request("POST", "/2015-03-31/functions/ConnectLambdaFunction/invocations",
                                   b"{}", {"X-Shiftsim-Weight": "0.5"})
    assert status == 400 and b"X-Shiftsim-Weight must be a number from 1 to 1e9" in body


# CloudWatch's API as teams use it around deployments (botocore's model names every member below)

def test_put_metric_data_takes_values_with_counts_and_statistic_sets_and_keeps_the_unit(faulty):
    running, clock, lam, cw = faulty
    at = datetime.fromtimestamp(MINUTE_ALIGNED + 1, UTC)
    cw.put_metric_data(Namespace="Team", MetricData=[
        {"MetricName": "Latency", "Timestamp": at, "Values": [10.0, 20.0], "Counts": [2.0, 4.0], "Unit": "Milliseconds"},
        {"MetricName": "Latency", "Timestamp": at, "StatisticValues": {"SampleCount": 6, "Sum": 42, "Minimum": 1,
                                                                       "Maximum": 12}, "Unit": "Milliseconds"}])
    (point,) = cw.get_metric_statistics(Namespace="Team", MetricName="Latency", StartTime=MINUTE_ALIGNED,
                                        EndTime=MINUTE_ALIGNED + 60, Period=60,
                                        Statistics=["SampleCount", "Sum", "Minimum", "Maximum"])["Datapoints"]
    assert (point["SampleCount"], point["Sum"], point["Minimum"], point["Maximum"]) == (12.0, 142.0, 1.0, 20.0)
    assert point["Unit"] == "Milliseconds"
    assert cw.get_metric_statistics(Namespace="Team", MetricName="Latency", StartTime=MINUTE_ALIGNED,
                                    EndTime=MINUTE_ALIGNED + 60, Period=60, Statistics=["Sum"],
                                    Unit="Seconds")["Datapoints"] == []
    # As AWS answers them (LocalStack's test validated against AWS, test_put_metric_data_validation):
    member = "MetricData.member.2"
    for bad, code, message in (
            ({"Value": 1.0, "Values": [1.0]}, "InvalidParameterCombination",
             f"The parameters {member}.Value and {member}.Values are mutually exclusive and you have specified both."),
            ({"Value": 1.0, "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}},
             "InvalidParameterCombination", f"The parameters {member}.Value and {member}.StatisticValues are "
             "mutually exclusive and you have specified both."),
            ({"Values": [1.0, 2.0], "Counts": [1.0]}, "InvalidParameterValue",
             f"The parameters {member}.Values and {member}.Counts must be of the same size."),
            ({"Value": float("nan")}, "InvalidParameterValue", f"The value NaN for parameter {member}.Value is invalid.")):
        with pytest.raises(ClientError) as caught:
            cw.put_metric_data(Namespace="Team", MetricData=[{"MetricName": "Y", "Value": 2.0}, {"MetricName": "X", **bad}])
        assert (caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]) == (code, message)
    assert not cw.list_metrics(Namespace="Team", MetricName="Y")["Metrics"]  # nothing of a refused call is kept
    cw.put_metric_data(Namespace="Team", MetricData=[{"MetricName": "Both", "Values": [1.0, 3.0], "StatisticValues": {
        "SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4}}])  # AWS takes these together: the summary counts
    (both,) = cw.get_metric_statistics(Namespace="Team", MetricName="Both", StartTime=MINUTE_ALIGNED - 7200,
                                       EndTime=MINUTE_ALIGNED + 7200, Period=60, Statistics=["SampleCount"])["Datapoints"]
    assert both["SampleCount"] == 4.0
    assert {"Namespace": "Team", "MetricName": "Latency", "Dimensions": []} in cw.list_metrics(Namespace="Team")["Metrics"]


def test_alarm_actions_history_metric_lookups_and_pages(faulty):
    running, clock, lam, cw = faulty
    topic = "arn:aws:sns:us-east-1:123456789012:pager"
    put_alarm(cw, "Paged", AlarmActions=[topic], OKActions=[topic], Unit="Count")
    described = alarm(cw, "Paged")
    assert described["AlarmActions"] == [topic] and described["OKActions"] == [topic] and described["Unit"] == "Count"
    cw.disable_alarm_actions(AlarmNames=["Paged"])
    assert alarm(cw, "Paged")["ActionsEnabled"] is False
    cw.enable_alarm_actions(AlarmNames=["Paged"])
    assert alarm(cw, "Paged")["ActionsEnabled"] is True
    by_metric = cw.describe_alarms_for_metric(Namespace="AWS/Lambda", MetricName="Errors", Dimensions=SEED_DIMENSIONS)
    assert {a["AlarmName"] for a in by_metric["MetricAlarms"]} == {"AliasErrorMetricGreaterThanZeroAlarm", "Paged"}
    first = cw.describe_alarms(MaxRecords=1)
    assert len(first["MetricAlarms"]) == 1 and first["NextToken"]
    assert len(cw.describe_alarms(MaxRecords=1, NextToken=first["NextToken"])["MetricAlarms"]) == 1
    for _ in range(2):  # two breaching minutes: the seed alarm's evaluation
        invoke_prod(lam, 3)
        running.call(clock.advance(60))
    running.call(clock.advance(61))
    history = cw.describe_alarm_history(AlarmName="AliasErrorMetricGreaterThanZeroAlarm")["AlarmHistoryItems"]
    fired = [h for h in history if h["HistorySummary"].endswith("to ALARM")]  # newest first
    assert len(fired) == 1
    assert json.loads(fired[0]["HistoryData"])["newState"]["stateReason"].startswith("Threshold Crossed")
    assert [h["Timestamp"] for h in history] == sorted((h["Timestamp"] for h in history), reverse=True)
    results = cw.get_metric_data(StartTime=MINUTE_ALIGNED, EndTime=MINUTE_ALIGNED + 180, MetricDataQueries=[
        {"Id": "e", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                                              "Dimensions": SEED_DIMENSIONS}, "Period": 60, "Stat": "Sum"},
         "ReturnData": False},
        {"Id": "i", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                                              "Dimensions": SEED_DIMENSIONS}, "Period": 60, "Stat": "Sum"}}])
    assert [r["Id"] for r in results["MetricDataResults"]] == ["i"]


def test_percentile_and_error_rate_alarms(faulty):
    # Members as botocore's model names them (ExtendedStatistic, Metrics, Expression, ReturnData); the
    # refusals' codes are AWS's, their words unsettled
    # p99 of Duration (ExtendedStatistic), and metric math: 100 * Errors / Invocations > 50
    running, clock, lam, cw = faulty
    put_alarm(cw, "SlowP99", MetricName="Duration", Statistic=None, ExtendedStatistic="p99", Threshold=10_000,
              EvaluationPeriods=1)
    rate = [{"Id": "errors", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                                                       "Dimensions": SEED_DIMENSIONS}, "Period": 60, "Stat": "Sum"},
             "ReturnData": False},
            {"Id": "calls", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                                                      "Dimensions": SEED_DIMENSIONS}, "Period": 60, "Stat": "Sum"},
             "ReturnData": False},
            {"Id": "rate", "Expression": "100 * errors / calls", "Label": "error rate", "ReturnData": True}]
    cw.put_metric_alarm(AlarmName="ErrorRate", Metrics=rate, EvaluationPeriods=1, Threshold=50,
                        ComparisonOperator="GreaterThanThreshold")
    described = alarm(cw, "ErrorRate")
    assert [m["Id"] for m in described["Metrics"]] == ["errors", "calls", "rate"] and "MetricName" not in described
    assert alarm(cw, "SlowP99")["ExtendedStatistic"] == "p99" and "Statistic" not in alarm(cw, "SlowP99")
    invoke_prod(lam, 4)  # every call fails: the rate is 100
    running.call(clock.advance(61))
    assert alarm(cw, "ErrorRate")["StateValue"] == "ALARM"
    assert alarm(cw, "SlowP99")["StateValue"] == "OK"  # fast calls: p99 well under 10 s
    point = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Duration", Dimensions=SEED_DIMENSIONS,
                                     StartTime=MINUTE_ALIGNED, EndTime=MINUTE_ALIGNED + 60, Period=60,
                                     ExtendedStatistics=["p50", "p99"])["Datapoints"][0]
    low, high = point["ExtendedStatistics"]["p50"], point["ExtendedStatistics"]["p99"]
    assert 0 < low <= high
    data = cw.get_metric_data(StartTime=MINUTE_ALIGNED, EndTime=MINUTE_ALIGNED + 60, MetricDataQueries=rate)
    assert [(r["Id"], r["Values"]) for r in data["MetricDataResults"]] == [("rate", [100.0])]
    for bad, code in [({"Metrics": [dict(rate[0], ReturnData=True), rate[2]]}, "ValidationError"),
                      ({"Metrics": [rate[0], rate[1], dict(rate[2], Expression="errors ** calls")]},
                       "ValidationError"),
                      ({"Metrics": rate, "MetricName": "Errors"}, "InvalidParameterCombination")]:
        with pytest.raises(ClientError) as caught:
            cw.put_metric_alarm(AlarmName="Bad", EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanThreshold", **bad)
        assert caught.value.response["Error"]["Code"] in (code, "InvalidParameterValue"), caught.value.response


def test_put_metric_data_and_metric_math_keep_awss_limits(faulty):
    """5,000 items, 31 dimensions, 151 values, a timestamp a year out, 1e308 (whose sums overflow to a
    non-JSON Infinity): refused as CloudWatch refuses them; a 50,000-term expression is a 400, not a
    500 of a recursion."""
    _, clock, _, cw = faulty
    now = clock.now()

    def datum(**extra):
        return {"MetricName": "Probe", "Value": 1.0, **extra}

    refused = [
        [datum() for _ in range(1001)],
        [datum(Dimensions=[{"Name": f"d{i}", "Value": "v"} for i in range(31)])],
        [{"MetricName": "Probe", "Values": [1.0] * 151}],
        [datum(Timestamp=now + 365 * 86400)],
        [datum(Timestamp=now - 15 * 86400)],
        [datum(Value=1e308), datum(Value=1e308)],
    ]
    for data in refused:
        with pytest.raises(ClientError) as info:
            cw.put_metric_data(Namespace="Probe", MetricData=data)
        assert info.value.response["Error"]["Code"] == "InvalidParameterValue", data[:1]
    cw.put_metric_data(Namespace="Probe", MetricData=[datum(Timestamp=now - 3600) for _ in range(1000)])
    chain = "+".join(["m"] * 25_000)
    with pytest.raises(ClientError) as info:
        cw.get_metric_data(StartTime=now - 600, EndTime=now, MetricDataQueries=[
            {"Id": "m", "MetricStat": {"Metric": {"Namespace": "Probe", "MetricName": "Probe"}, "Period": 60,
                                       "Stat": "Sum"}, "ReturnData": False},
            {"Id": "e", "Expression": chain}])
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_every_comparison_and_statistic_botocore_knows_is_served_or_refused_saying_why(faulty):
    """The enumerations come from botocore's model: every threshold comparison and statistic it lists
    makes an alarm that is evaluated; the anomaly band's comparisons are refused, naming the band."""
    import botocore.session

    from simulator.deployment.alarm_rule import COMPARISONS

    running, clock, lam, cw = faulty
    model = botocore.session.get_session().get_service_model("cloudwatch")
    operators = model.shape_for("ComparisonOperator").enum
    for operator in operators:
        if "Lower" in operator or "Upper" in operator:
            with pytest.raises(ClientError) as caught:
                put_alarm(cw, f"band-{operator}", ComparisonOperator=operator)
            assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
            assert "anomaly detection band" in caught.value.response["Error"]["Message"]
        else:
            assert operator in COMPARISONS  # its meaning is known to the alarm rule
            put_alarm(cw, f"threshold-{operator}", ComparisonOperator=operator, EvaluationPeriods=1)
    for statistic in model.shape_for("Statistic").enum:
        put_alarm(cw, f"stat-{statistic}", Statistic=statistic)
    invoke_prod(lam)
    running.call(clock.advance(60))  # one period: 3 errors against a threshold of 0
    states = {a["AlarmName"]: a["StateValue"] for a in cw.describe_alarms(AlarmNamePrefix="threshold-")["MetricAlarms"]}
    assert states == {"threshold-GreaterThanOrEqualToThreshold": "ALARM", "threshold-GreaterThanThreshold": "ALARM",
                      "threshold-LessThanThreshold": "OK", "threshold-LessThanOrEqualToThreshold": "OK"}
    assert {a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix="stat-")["MetricAlarms"]} == {
        f"stat-{s}" for s in model.shape_for("Statistic").enum}
    with pytest.raises(ClientError) as caught:
        cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Errors", StartTime=MINUTE_ALIGNED,
                                 EndTime=MINUTE_ALIGNED + 60, Period=60, Statistics=["Median"])
    assert caught.value.response["Error"]["Message"] == (
        "The parameter Statistics must be one of SampleCount, Average, Sum, Minimum, Maximum "
        "(or ExtendedStatistics a percentile p0 to p100).")


def test_composite_alarms_follow_their_rule_over_other_alarms(faulty):
    """PutCompositeAlarm: judged at once and at every change of an alarm it names (composites of
    composites too); DescribeAlarms lists them only when AlarmTypes asks; loops and bad rules are refused."""
    running, clock, lam, cw = faulty
    put_alarm(cw, "errors", EvaluationPeriods=1)
    put_alarm(cw, "quiet", Statistic="SampleCount", ComparisonOperator="LessThanThreshold", Threshold=1,
              EvaluationPeriods=1, TreatMissingData="breaching")
    cw.put_composite_alarm(AlarmName="both", AlarmRule='ALARM("errors") AND NOT ALARM(quiet)')
    cw.put_composite_alarm(AlarmName="page", AlarmRule="ALARM(both) OR ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:none)",
                           AlarmActions=["arn:aws:sns:us-east-1:123456789012:pager"])

    def composite(name):
        return cw.describe_alarms(AlarmNames=[name], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"][0]

    assert composite("both")["StateValue"] == "OK"  # judged at once: no alarm it names is in ALARM
    assert composite("page")["AlarmActions"] == ["arn:aws:sns:us-east-1:123456789012:pager"]
    assert [a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"]] == ["AliasErrorMetricGreaterThanZeroAlarm", "errors", "quiet"]
    assert cw.describe_alarms()["CompositeAlarms"] == []  # metric alarms only, unless asked
    invoke_prod(lam)
    running.call(clock.advance(60))  # errors: 3 > 0; quiet: 3 invocations, not < 1
    assert (alarm(cw, "errors")["StateValue"], alarm(cw, "quiet")["StateValue"]) == ("ALARM", "OK")
    assert (composite("both")["StateValue"], composite("page")["StateValue"]) == ("ALARM", "ALARM")
    assert composite("both")["StateReason"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:errors transitioned to ALARM"
    history = cw.describe_alarm_history(AlarmName="page")["AlarmHistoryItems"]
    assert [(h["AlarmType"], json.loads(h["HistoryData"])["newState"]["stateValue"]) for h in history] == [
        ("CompositeAlarm", "ALARM"), ("CompositeAlarm", "OK")]
    running.call(clock.advance(60))  # no invocations: errors has no data (missing), quiet breaches
    assert composite("both")["StateValue"] == "OK"
    for name, rule, said in (("loop", "ALARM(loop)", "depend on itself"), ("both", "ALARM(page)", "depend on itself"),
                             ("bad", "ALARM(errors) AND", "expected an expression"),
                             ("errors", "TRUE", "is a metric alarm")):
        with pytest.raises(ClientError) as caught:
            cw.put_composite_alarm(AlarmName=name, AlarmRule=rule)
        assert said in caught.value.response["Error"]["Message"], name
    cw.delete_alarms(AlarmNames=["page"])
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]] == ["both"]
