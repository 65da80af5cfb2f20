"""Lambda's control-plane operations through a real boto3 client over HTTP, with AWS's exact errors."""

import base64
import json

import pytest
from botocore.exceptions import ClientError

from tests.helpers import running_emulator

THREE_VERSIONS = """
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
description = "one"
[[functions.versions]]
description = "two"
[[functions.versions]]
description = "three"
[[functions.aliases]]
name = "PROD"
version = "1"
"""
FN = "ConnectLambdaFunction"
FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction"


@pytest.fixture
def lam():
    with running_emulator(THREE_VERSIONS) as running:
        yield running.boto3()


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_get_and_list_functions(lam):
    got = lam.get_function(FunctionName=FN)
    assert got["Configuration"]["FunctionArn"] == FN_ARN
    assert got["Configuration"]["Version"] == "$LATEST"
    assert lam.get_function(FunctionName=FN, Qualifier="2")["Configuration"]["Description"] == "two"
    assert lam.get_function(FunctionName=FN, Qualifier="PROD")["Configuration"]["Version"] == "1"
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == [FN]
    assert error_of(lam.get_function, FunctionName="Nope") == (
        404, "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:Nope")


def test_publish_and_list_versions(lam):
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=FN)["Versions"]]
    assert versions == ["$LATEST", "1", "2", "3"]
    published = lam.publish_version(FunctionName=FN, Description="four")
    assert published["Version"] == "4"
    assert published["FunctionArn"] == FN_ARN + ":4"
    # Publishing unchanged code again answers the same version, as AWS does.
    assert lam.publish_version(FunctionName=FN)["Version"] == "4"
    stale = error_of(lam.publish_version, FunctionName=FN, RevisionId="not-the-revision")
    assert stale[:2] == (412, "PreconditionFailedException")


def test_alias_lifecycle(lam):
    created = lam.create_alias(FunctionName=FN, Name="BETA", FunctionVersion="2",
                               Description="beta", RoutingConfig={"AdditionalVersionWeights": {"3": 0.25}})
    assert created["AliasArn"] == FN_ARN + ":BETA"
    assert created["RoutingConfig"] == {"AdditionalVersionWeights": {"3": 0.25}}
    got = lam.get_alias(FunctionName=FN, Name="BETA")
    assert got["FunctionVersion"] == "2" and got["RevisionId"] == created["RevisionId"]
    assert {a["Name"] for a in lam.list_aliases(FunctionName=FN)["Aliases"]} == {"PROD", "BETA"}
    assert [a["Name"] for a in lam.list_aliases(FunctionName=FN, FunctionVersion="3")["Aliases"]] == ["BETA"]

    updated = lam.update_alias(FunctionName=FN, Name="BETA", FunctionVersion="3",
                               RoutingConfig={"AdditionalVersionWeights": {}}, RevisionId=got["RevisionId"])
    assert updated["FunctionVersion"] == "3" and "RoutingConfig" not in updated  # empty map clears
    assert updated["RevisionId"] != got["RevisionId"]
    assert error_of(lam.update_alias, FunctionName=FN, Name="BETA", FunctionVersion="1",
                    RevisionId=got["RevisionId"]) == (
        412, "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")

    lam.delete_alias(FunctionName=FN, Name="BETA")
    assert error_of(lam.get_alias, FunctionName=FN, Name="BETA")[:2] == (404, "ResourceNotFoundException")


def test_routing_errors_are_the_real_ones(lam):
    update = lam.update_alias
    assert error_of(update, FunctionName=FN, Name="PROD",
                    RoutingConfig={"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}}) == (
        400, "InvalidParameterValueException",
        "Number of items in AdditionalVersionWeights cannot be greater than 1")
    assert error_of(update, FunctionName=FN, Name="PROD",
                    RoutingConfig={"AdditionalVersionWeights": {"2": 2.0}}) == (
        400, "ValidationException",
        "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' "
        "failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less "
        "than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]")
    assert error_of(update, FunctionName=FN, Name="PROD",
                    RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}) == (
        400, "InvalidParameterValueException",
        "Invalid function version 1. Function version 1 is already included in routing configuration.")
    assert error_of(update, FunctionName=FN, Name="PROD",
                    RoutingConfig={"AdditionalVersionWeights": {"10": 0.5}}) == (
        404, "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:10")
    assert error_of(lam.create_alias, FunctionName=FN, Name="LATEST", FunctionVersion="$LATEST",
                    RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}) == (
        400, "InvalidParameterValueException",
        "$LATEST is not supported for an alias pointing to more than 1 version")
    assert error_of(lam.create_alias, FunctionName=FN, Name="PROD", FunctionVersion="2") == (
        409, "ResourceConflictException",
        "Alias already exists: arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD")
    assert error_of(lam.create_alias, FunctionName=FN, Name="123", FunctionVersion="2")[:2] == (
        400, "ValidationException")
    # Nothing above changed the alias.
    assert "RoutingConfig" not in lam.get_alias(FunctionName=FN, Name="PROD")


def test_concurrency_operations(lam):
    assert lam.put_function_concurrency(FunctionName=FN, ReservedConcurrentExecutions=5)[
        "ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=FN)["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName=FN)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    lam.delete_function_concurrency(FunctionName=FN)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=FN)


def test_function_names_in_every_form(lam):
    for name in (FN, "123456789012:function:" + FN, FN_ARN):
        assert lam.get_alias(FunctionName=name, Name="PROD")["FunctionVersion"] == "1"
    other_account = "arn:aws:lambda:us-east-1:999999999999:function:" + FN
    assert error_of(lam.get_function, FunctionName=other_account)[:2] == (404, "ResourceNotFoundException")


# Requests AWS rejects are 400s with Lambda's error shape, never an emulator 500. Strings: botocore's
# Lambda model (the LogType enum) and public Lambda answers for the client context.
ALIASES = "/2015-03-31/functions/ConnectLambdaFunction/aliases"


@pytest.mark.parametrize("method,path,body,code", [
    ("POST", ALIASES, {"Name": "X", "FunctionVersion": "1", "RoutingConfig": "50/50"},
     "InvalidRequestContentException"),
    ("POST", ALIASES, {"Name": "X", "FunctionVersion": "1", "RoutingConfig": [1, 2]},
     "InvalidRequestContentException"),
    ("PUT", f"{ALIASES}/PROD", {"RoutingConfig": {"AdditionalVersionWeights": ["2", 0.5]}},
     "InvalidRequestContentException"),
    ("PUT", f"{ALIASES}/PROD", {"RoutingConfig": 7}, "InvalidRequestContentException"),
])
def test_malformed_alias_requests_are_validation_errors(method, path, body, code):
    with running_emulator() as running:
        status, answer = running.request(method, path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        assert status == 400, answer
        assert json.loads(answer)["message"].startswith("Could not parse request body into json")


def test_invoke_headers_lambda_rejects():
    # The client context's message is Lambda's as public SDK tests quote it (aws-sdk-rust's naughty-strings
    # test: "InvalidRequestContentException: Client context must be a valid Base64-encoded JSON object.").
    with running_emulator() as running:
        lam = running.boto3()
        with pytest.raises(ClientError) as caught:
            lam.invoke(FunctionName="ConnectLambdaFunction:PROD", LogType="Bogus")
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        assert caught.value.response["Error"]["Message"] == (
            "1 validation error detected: Value 'Bogus' at 'logType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [None, Tail]")
        for context in ("not base64!", base64.b64encode(b"not json").decode()):
            with pytest.raises(ClientError) as caught:
                lam.invoke(FunctionName="ConnectLambdaFunction:PROD", ClientContext=context)
            assert caught.value.response["Error"]["Code"] == "InvalidRequestContentException"
            assert caught.value.response["Error"]["Message"] == \
                "Client context must be a valid Base64-encoded JSON object."
        good = base64.b64encode(b'{"custom": {"a": "b"}}').decode()
        assert lam.invoke(FunctionName="ConnectLambdaFunction:PROD", ClientContext=good,
                          LogType="None")["StatusCode"] == 200


def test_function_configuration_pages_unknown_operations_and_user_frames_only():
    stack = """
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
[[functions.versions]]
[[functions.versions]]
[[functions.aliases]]
name = "PROD"
version = "1"
[[functions.aliases]]
name = "BETA"
version = "2"
[[functions.aliases]]
name = "GAMMA"
version = "3"
[[functions]]
name = "Broken"
[[functions.versions]]
handler = "tests.handlers:raises"
"""
    with running_emulator(stack) as running:
        lam = running.boto3()
        config = lam.get_function_configuration(FunctionName="ConnectLambdaFunction", Qualifier="2")
        assert config["Version"] == "2" and config["FunctionArn"].endswith(":ConnectLambdaFunction:2")
        first = lam.list_aliases(FunctionName="ConnectLambdaFunction", MaxItems=2)
        assert len(first["Aliases"]) == 2 and first["NextMarker"]
        rest = lam.list_aliases(FunctionName="ConnectLambdaFunction", Marker=first["NextMarker"], MaxItems=2)
        assert len(rest["Aliases"]) == 1 and "NextMarker" not in rest
        pages = lam.get_paginator("list_versions_by_function").paginate(
            FunctionName="ConnectLambdaFunction", PaginationConfig={"PageSize": 1})
        assert [v["Version"] for page in pages for v in page["Versions"]] == ["$LATEST", "1", "2", "3"]
        with pytest.raises(ClientError) as caught:
            lam.get_policy(FunctionName="ConnectLambdaFunction")  # not served here: AWS's error shape
        assert caught.value.response["Error"]["Code"] == "UnknownOperationException"
        assert "is not an operation the shiftsim emulator serves" in caught.value.response["Error"]["Message"]
        error = json.loads(lam.invoke(FunctionName="Broken:1")["Payload"].read())
        assert error["errorType"] == "ValueError" and error["stackTrace"]
        assert all("simulator" not in line for line in error["stackTrace"]), error["stackTrace"]
        assert any("tests/handlers.py" in line and "in raises" in line for line in error["stackTrace"])


def test_state_is_per_region_as_on_aws():
    with running_emulator() as running:
        east, west = running.boto3("lambda"), boto3_in(running, "lambda", "us-west-1")
        assert east.get_alias(FunctionName="ConnectLambdaFunction", Name="PROD")["AliasArn"].startswith(
            "arn:aws:lambda:us-east-1:")
        with pytest.raises(ClientError) as caught:  # the scenario's stack lives in its own region
            west.get_alias(FunctionName="ConnectLambdaFunction", Name="PROD")
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
        with pytest.raises(ClientError):
            west.invoke(FunctionName="ConnectLambdaFunction:PROD")  # the fast path too
        cw_west, cw_east = boto3_in(running, "cloudwatch", "us-west-1"), running.boto3("cloudwatch")
        cw_west.put_metric_alarm(AlarmName="WestOnly", Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum",
                                 Period=60, EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold")
        west_alarm = cw_west.describe_alarms(AlarmNames=["WestOnly"])["MetricAlarms"][0]
        assert west_alarm["AlarmArn"].startswith("arn:aws:cloudwatch:us-west-1:")
        assert cw_east.describe_alarms(AlarmNames=["WestOnly"])["MetricAlarms"] == []
        assert boto3_in(running, "codedeploy", "us-west-1").list_applications()["applications"] == []
        assert running.boto3("codedeploy").list_applications()["applications"] == ["ServerlessDeploymentApplication"]


def boto3_in(running, service, region):
    import boto3

    from tests.helpers import CREDENTIALS

    return boto3.client(service, endpoint_url=running.url, region_name=region, **CREDENTIALS)
