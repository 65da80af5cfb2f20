"""The services shiftsim does not own, answered on the emulator's own endpoint by moto's backends,
routed by the request's SigV4 service: through boto3, and from a function's own code."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from simulator.scenario.reader import parse_scenario
from tests.helpers import TESTS, RunningEmulator, http_request

CODE = TESTS / "user_code"


@pytest.fixture(scope="module")
def emulator():
    stack = f"""
[[functions]]
name = "Remember"
[[functions.versions]]
code = "{CODE}"
handler = "app.remember_caller"
environment = {{ TABLE = "callers" }}
[[functions.aliases]]
name = "live"
version = "1"
"""
    running = RunningEmulator(parse_scenario(stack, str(CODE / "s.toml")))
    try:
        yield running
    finally:
        running.close()


def test_dynamodb_s3_sqs_sns_ssm_and_secrets_on_the_same_endpoint(emulator):
    ddb = emulator.boto3("dynamodb")
    ddb.create_table(TableName="customers", KeySchema=[{"AttributeName": "phone", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "phone", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="customers", Item={"phone": {"S": "+15550100"}, "name": {"S": "Ana"}})
    assert ddb.get_item(TableName="customers", Key={"phone": {"S": "+15550100"}})["Item"]["name"] == {"S": "Ana"}
    with pytest.raises(ClientError) as info:
        ddb.get_item(TableName="absent", Key={"phone": {"S": "x"}})
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"

    s3 = emulator.boto3("s3")
    s3.create_bucket(Bucket="recordings")
    s3.put_object(Bucket="recordings", Key="calls/a b.json", Body=b'{"ok": true}')
    assert s3.get_object(Bucket="recordings", Key="calls/a b.json")["Body"].read() == b'{"ok": true}'

    sqs = emulator.boto3("sqs")
    queue = sqs.create_queue(QueueName="callbacks")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="call me")
    assert sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"] == "call me"

    assert emulator.boto3("sns").create_topic(Name="alerts")["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:alerts"
    ssm = emulator.boto3("ssm")
    ssm.put_parameter(Name="/connect/greeting", Value="Hello", Type="String")
    assert ssm.get_parameter(Name="/connect/greeting")["Parameter"]["Value"] == "Hello"
    secrets = emulator.boto3("secretsmanager")
    secrets.create_secret(Name="crm", SecretString="token")
    assert secrets.get_secret_value(SecretId="crm")["SecretString"] == "token"

    assert emulator.boto3("lambda").get_alias(FunctionName="Remember", Name="live")["FunctionVersion"] == "1"  # still ours


def test_a_functions_own_code_reads_and_writes_dynamodb(emulator):
    emulator.boto3("dynamodb").create_table(
        TableName="callers", KeySchema=[{"AttributeName": "phone", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "phone", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    lam = emulator.boto3()
    answers = [json.loads(lam.invoke(FunctionName="Remember:live", Payload=b'{"phone": "+15550111"}')["Payload"].read())
               for _ in range(3)]
    assert [a.get("calls") for a in answers] == ["1", "2", "3"], answers
    item = emulator.boto3("dynamodb").get_item(TableName="callers", Key={"phone": {"S": "+15550111"}})["Item"]
    assert item["calls"] == {"N": "3"}


def test_the_guard_still_refuses_web_pages_for_every_service(emulator):
    host, port = emulator.url.removeprefix("http://").rsplit(":", 1)
    status, body = http_request(host, int(port), "POST", "/", b"{}", {
        "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0",
        "Origin": "http://evil.example", "Authorization": "AWS4-HMAC-SHA256 Credential=x/20261201/us-east-1/dynamodb/aws4_request"})
    assert status == 403 and b"web pages may not call it" in body


def test_motos_own_api_is_not_reachable_through_the_emulator(emulator, tmp_path, monkeypatch):
    """moto's reset, recorder and dashboard are not AWS: a request for them, however it is signed,
    is refused and changes nothing (a reset would have emptied every table)."""
    ddb = emulator.boto3("dynamodb")
    ddb.create_table(TableName="kept", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/dynamodb/aws4_request, "
                               "SignedHeaders=host, Signature=0"}
    monkeypatch.chdir(tmp_path)
    for method, path in (("POST", "/moto-api/reset"), ("GET", "/moto-api/"), ("POST", "/moto-api/recorder/start-recording"),
                         ("POST", "/MOTO-API/reset")):
        for headers in (signed, {"X-Amz-Target": "DynamoDB_20120810.ListTables"}, {}):
            status, _ = emulator.request(method, path, b"", headers)
            assert status in (403, 404), (method, path, headers, status)
    assert "kept" in ddb.list_tables()["TableNames"]
    assert not (tmp_path / "moto_recording").exists()
