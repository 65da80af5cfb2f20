"""Lambda's event sources the tracker pattern needs, through boto3 against one endpoint: an
asynchronous invocation retried twice after function errors (one and two emulated minutes apart), a
DynamoDB stream (moto's) that invokes its processor with batches of new records, in order, and an SQS
queue (moto's) whose failed messages come back, then go to its dead-letter queue."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from simulator.deployment.clock import ScaledClock
from simulator.scenario.reader import parse_scenario
from tests.helpers import TESTS, RunningEmulator, wait_for

CODE = TESTS / "user_code"


def function(name: str, handler: str) -> str:
    return f"""
[[functions]]
name = "{name}"
memory = 256
[[functions.versions]]
code = "{CODE}"
handler = "app.{handler}"
[[functions.aliases]]
name = "live"
version = "1"
"""


@pytest.fixture
def emulator():
    stack = (function("Processor", "record_batch") + function("Flaky", "fail_twice_then_succeed")
             + function("QueueProcessor", "record_messages"))
    # x60: the retries' one and two minutes are 1 and 2 real seconds, and the 30 emulated seconds the
    # check allows are half a real second of a loaded machine's lateness
    running = RunningEmulator(parse_scenario(stack, str(CODE / "s.toml")), clock=ScaledClock(60))
    try:
        yield running
    finally:
        running.close()


def test_an_event_invocation_is_retried_twice_after_function_errors(emulator):
    lam, logs = emulator.boto3(), emulator.boto3("logs")
    assert lam.invoke(FunctionName="Flaky:live", InvocationType="Event", Payload=b'{"key": "a"}')["StatusCode"] == 202

    def report_lines():
        try:
            streams = logs.describe_log_streams(logGroupName="/aws/lambda/Flaky")["logStreams"]
        except logs.exceptions.ResourceNotFoundException:  # no invocation has ended yet
            return []
        return [e for s in streams for e in logs.get_log_events(logGroupName="/aws/lambda/Flaky",
                                                                 logStreamName=s["logStreamName"])["events"]]

    events = wait_for(lambda: [e for e in report_lines() if e["message"] == "attempt 3"] and report_lines(), 60)
    starts = [e["timestamp"] for e in events if e["message"].startswith("START")]
    ends = [e["timestamp"] for e in events if e["message"].startswith("END")]
    assert len(starts) == len(ends) == 3
    gaps = [(start - end) / 1000 for end, start in zip(ends, starts[1:], strict=False)]  # a failure to the next try
    assert 60 <= gaps[0] < 90 and 120 <= gaps[1] < 150  # emulated seconds (x60): Lambda's one and two minutes
    assert sum("[ERROR] RuntimeError: attempt" in e["message"] for e in events) == 2


def test_a_dynamodb_stream_invokes_its_processor_with_new_records(emulator):
    ddb, lam = emulator.boto3("dynamodb"), emulator.boto3()
    for name in ("work", "results"):
        ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST",
                         **({"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}}
                            if name == "work" else {}))
    stream = ddb.describe_table(TableName="work")["Table"]["LatestStreamArn"]
    ddb.put_item(TableName="work", Item={"id": {"S": "before"}})  # before the mapping, from LATEST: not seen
    mapping = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="Processor:live",
                                              StartingPosition="LATEST", BatchSize=10)
    assert mapping["State"] == "Creating" and mapping["FunctionArn"].endswith(":function:Processor:live")
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["EventSourceArn"] == stream
    assert [m["UUID"] for m in lam.list_event_source_mappings(FunctionName="Processor")["EventSourceMappings"]] == [
        mapping["UUID"]]
    for n in range(5):
        ddb.put_item(TableName="work", Item={"id": {"S": f"job-{n}"}})
    done = wait_for(lambda: len(ddb.scan(TableName="results")["Items"]) == 5 and ddb.scan(TableName="results")["Items"], 60)
    assert sorted(item["id"]["S"] for item in done) == [f"job-{n}" for n in range(5)]
    assert {item["done_by"]["S"] for item in done} == {"1"}
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    with pytest.raises(ClientError) as info:
        lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_sqs_queue_invokes_its_processor_and_leaves_a_failed_batch_to_its_dead_letter_queue(emulator):
    ddb, lam, sqs = emulator.boto3("dynamodb"), emulator.boto3(), emulator.boto3("sqs")
    ddb.create_table(TableName="results", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    dead = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    work = sqs.create_queue(QueueName="work", Attributes={  # a failed batch is seen again after a second
        "VisibilityTimeout": "1", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 2})
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="QueueProcessor:live", BatchSize=1)
    assert "StartingPosition" not in mapping and mapping["BatchSize"] == 1
    for n in range(5):
        sqs.send_message(QueueUrl=work, MessageBody=f"job-{n}")
    sqs.send_message(QueueUrl=work, MessageBody="poison")
    done = wait_for(lambda: len(ddb.scan(TableName="results")["Items"]) == 5 and ddb.scan(TableName="results")["Items"], 60)
    assert sorted(item["id"]["S"] for item in done) == [f"job-{n}" for n in range(5)]
    assert {(item["done_by"]["S"], item["source"]["S"], item["batch"]["S"]) for item in done} == {("1", "aws:sqs", "1")}
    poisoned = wait_for(lambda: sqs.receive_message(QueueUrl=dead).get("Messages"), 60)  # failed twice, then moved
    assert [m["Body"] for m in poisoned] == ["poison"]


def test_an_sqs_mapping_made_before_its_queue_says_so_and_polls_it_once_it_is_there(emulator):
    ddb, lam, sqs = emulator.boto3("dynamodb"), emulator.boto3(), emulator.boto3("sqs")
    ddb.create_table(TableName="results", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    mapping = lam.create_event_source_mapping(EventSourceArn="arn:aws:sqs:us-east-1:123456789012:later",
                                              FunctionName="QueueProcessor:live")
    said = wait_for(lambda: "PROBLEM: cannot receive from the queue" in (
        result := lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"]) and result, 60)
    assert "NonExistentQueue" in said or "does not exist" in said, said
    url = sqs.create_queue(QueueName="later")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="job")
    assert wait_for(lambda: ddb.scan(TableName="results")["Items"], 60)[0]["id"]["S"] == "job"


def test_sources_other_than_dynamodb_streams_and_sqs_are_refused_with_a_reason(emulator):
    with pytest.raises(ClientError) as info:
        emulator.boto3().create_event_source_mapping(
            EventSourceArn="arn:aws:kinesis:us-east-1:123456789012:stream/s", FunctionName="Processor",
            StartingPosition="LATEST")
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "only DynamoDB stream and SQS event sources" in json.dumps(info.value.response["Error"])
    with pytest.raises(ClientError) as info:
        emulator.boto3().create_event_source_mapping(EventSourceArn="arn:aws:sqs:us-east-1:123456789012:q",
                                                     FunctionName="Processor", StartingPosition="LATEST")
    assert "StartingPosition is not valid for SQS event sources." in json.dumps(info.value.response["Error"])
