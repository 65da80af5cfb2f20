"""Lambda's function API through boto3 and the AWS CLI against a real emulator: CreateFunction from
a zip, UpdateFunctionCode (with Publish), UpdateFunctionConfiguration, DeleteFunction, with AWS's
validation and error shapes; and code uploads refused unless the emulator was started to allow them."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.helpers import RunningEmulator

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
AWS = shutil.which("aws")


def package(source: str, name: str = "app.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


V1 = package("import os\ndef handler(event, context):\n    return {'v': 'one', 'color': os.environ.get('COLOR', '')}\n")
V2 = package("def handler(event, context):\n    return {'v': 'two'}\n")


@pytest.fixture(scope="module")
def emulator():
    running = RunningEmulator(code_uploads=True)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def lam(emulator):
    return emulator.boto3()


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def payload(lam, **kwargs):
    return json.loads(lam.invoke(**kwargs)["Payload"].read())


def test_create_invoke_update_publish_and_delete(lam):
    created = lam.create_function(FunctionName="Orders", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": V1}, Timeout=5, MemorySize=256, Publish=True,
                                  Environment={"Variables": {"COLOR": "blue"}})
    assert created["Version"] == "1" and created["State"] == "Pending"
    assert (created["Runtime"], created["Handler"], created["Timeout"], created["MemorySize"]) == (
        "python3.12", "app.handler", 5, 256)
    lam.get_waiter("function_active_v2").wait(FunctionName="Orders", WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    assert payload(lam, FunctionName="Orders", Qualifier="1") == {"v": "one", "color": "blue"}

    same = lam.update_function_code(FunctionName="Orders", ZipFile=V1, Publish=True)
    assert same["Version"] == "1" and same["CodeSha256"] == created["CodeSha256"]  # unchanged code: nothing new
    updated = lam.update_function_code(FunctionName="Orders", ZipFile=V2, Publish=True)
    assert updated["Version"] == "2" and updated["CodeSha256"] != created["CodeSha256"]
    assert payload(lam, FunctionName="Orders", Qualifier="2") == {"v": "two"}
    assert payload(lam, FunctionName="Orders", Qualifier="1") == {"v": "one", "color": "blue"}  # versions are immutable

    lam.update_function_code(FunctionName="Orders", ZipFile=V1)
    config = lam.update_function_configuration(FunctionName="Orders", Environment={"Variables": {"COLOR": "red"}},
                                               Timeout=9)
    assert config["Version"] == "$LATEST" and config["Timeout"] == 9
    assert config["Environment"]["Variables"] == {"COLOR": "red"}
    assert payload(lam, FunctionName="Orders") == {"v": "one", "color": "red"}  # new environments, new variables
    assert lam.publish_version(FunctionName="Orders")["Version"] == "3"  # a configuration change is new

    lam.create_alias(FunctionName="Orders", Name="live", FunctionVersion="2")
    assert error_of(lam.delete_function, FunctionName="Orders", Qualifier="2") == (
        409, "ResourceConflictException", "Unable to delete version because the following aliases reference it: [live]")
    assert error_of(lam.delete_function, FunctionName="Orders", Qualifier="$LATEST") == (
        400, "InvalidParameterValueException", "$LATEST version cannot be deleted without deleting the function.")
    lam.delete_function(FunctionName="Orders", Qualifier="1")
    assert error_of(lam.invoke, FunctionName="Orders", Qualifier="1")[1] == "ResourceNotFoundException"
    lam.delete_function(FunctionName="Orders")
    status, code, message = error_of(lam.get_function, FunctionName="Orders")
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:Orders"


@pytest.mark.parametrize("kwargs, expected", [
    ({"Role": ROLE, "Code": {"ZipFile": V1}, "Handler": "app.handler"},
     (400, "InvalidParameterValueException",
      "Runtime and Handler are mandatory parameters for functions created with deployment packages.")),
    ({"Role": ROLE, "Code": {"ZipFile": b"not a zip"}, "Runtime": "python3.12", "Handler": "app.handler"},
     (400, "InvalidParameterValueException",
      "Could not unzip uploaded file. Please check your file, then try to upload again.")),
    ({"Role": ROLE, "Code": {"S3Bucket": "builds", "S3Key": "f.zip"}, "Runtime": "python3.12", "Handler": "a.b"},
     (400, "InvalidParameterValueException", "Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
      "S3 Error Message: The specified bucket does not exist")),
    ({"Role": ROLE, "Code": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/f:1"}, "PackageType": "Image"},
     (400, "InvalidParameterValueException",
      "Source image 123456789012.dkr.ecr.us-east-1.amazonaws.com/f:1 does not exist. Provide a valid source image.")),
    ({"Role": ROLE, "Code": {"ZipFile": V1}, "Runtime": "python3.12", "Handler": "app.handler", "Timeout": 901},
     (400, "ValidationException", "1 validation error detected: Value '901' at 'timeout' failed to satisfy "
      "constraint: Member must have value less than or equal to 900")),
    ({"Role": ROLE, "Code": {"ZipFile": V1}, "Runtime": "python3.12", "Handler": "app.handler", "MemorySize": 64},
     (400, "ValidationException", "1 validation error detected: Value '64' at 'memorySize' failed to satisfy "
      "constraint: Member must have value greater than or equal to 128")),
])
def test_create_function_is_validated_as_aws_validates_it(emulator, kwargs, expected):
    lam = emulator.boto3(parameter_validation=False)  # the service's checks, not botocore's own
    assert error_of(lam.create_function, FunctionName="Refused", **kwargs) == expected


def test_creating_an_existing_function_conflicts(lam):
    lam.create_function(FunctionName="Twice", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": V1})
    assert error_of(lam.create_function, FunctionName="Twice", Runtime="python3.12", Role=ROLE,
                    Handler="app.handler", Code={"ZipFile": V1}) == (
        409, "ResourceConflictException", "Function already exist: Twice")


def test_an_emulator_not_started_for_uploads_refuses_them():
    running = RunningEmulator()
    try:
        lam = running.boto3()
        status, code, message = error_of(lam.create_function, FunctionName="X", Runtime="python3.12", Role=ROLE,
                                         Handler="app.handler", Code={"ZipFile": V1})
        assert (status, code) == (403, "AccessDeniedException") and "--allow-code-upload" in message
        status, code, _ = error_of(lam.update_function_code, FunctionName="ConnectLambdaFunction", ZipFile=V1)
        assert (status, code) == (403, "AccessDeniedException")
        assert "X" not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    finally:
        running.close()


@pytest.mark.skipif(AWS is None, reason="the AWS CLI is installed by the dev extra (awscli)")
def test_the_aws_cli_creates_updates_publishes_and_deletes(emulator, tmp_path):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    (tmp_path / "v1.zip").write_bytes(V1)
    (tmp_path / "v2.zip").write_bytes(V2)

    def aws(*args: str) -> dict:
        done = subprocess.run([AWS, "--endpoint-url", emulator.url, "--output", "json", "lambda", *args],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    assert aws("create-function", "--function-name", "Cli", "--runtime", "python3.12", "--role", ROLE,
               "--handler", "app.handler", "--zip-file", f"fileb://{tmp_path / 'v1.zip'}")["Version"] == "$LATEST"
    assert aws("update-function-code", "--function-name", "Cli", "--zip-file", f"fileb://{tmp_path / 'v2.zip'}",
               "--publish")["Version"] == "1"
    assert aws("update-function-configuration", "--function-name", "Cli", "--timeout", "7")["Timeout"] == 7
    aws("invoke", "--function-name", "Cli:1", str(tmp_path / "out.json"))
    assert json.loads((tmp_path / "out.json").read_text()) == {"v": "two"}
    aws("delete-function", "--function-name", "Cli")
    assert "Cli" not in {f["FunctionName"] for f in aws("list-functions")["Functions"]}


def test_an_uploaded_package_leaves_the_disk_with_its_function(emulator, lam):
    """What a client uploads is unpacked into the emulator's folder, and removed with DeleteFunction
    (it stayed until the emulator closed: a loop of create and delete filled the disk)."""
    packages = emulator.emulator.lambda_.packages
    before = set(packages.by_sha.values())
    for n in range(3):
        lam.create_function(FunctionName=f"Temp{n}", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": package(f"def handler(event, context):\n    return {{'n': {n}}}\n")})
    folders = [Path(folder) for folder in set(packages.by_sha.values()) - before]
    assert len(folders) == 3 and all((folder / "app.py").exists() for folder in folders)
    for n in range(3):
        lam.delete_function(FunctionName=f"Temp{n}")
    assert [folder for folder in folders if folder.exists()] == []
    assert all("Temp" not in f for f in [fn["FunctionName"] for fn in lam.list_functions()["Functions"]])


def test_every_runtime_botocores_model_lists_is_accepted_and_no_other(emulator):
    """Lambda's runtimes are the service model's: python3.14 and nodejs24.x, which AWS launched, are
    taken (a hand-kept list refused them); a name the model does not have is AWS's validation error."""
    import botocore.session

    lam = emulator.boto3(parameter_validation=False)
    listed = botocore.session.get_session().get_service_model("lambda").shape_for("Runtime").enum
    for runtime in ("python3.14", "nodejs24.x"):
        assert runtime in listed
        created = lam.create_function(FunctionName=f"On-{runtime.replace('.', '-')}", Runtime=runtime, Role=ROLE,
                                      Handler="app.handler", Code={"ZipFile": V1})
        assert created["Runtime"] == runtime
    status, code, message = error_of(lam.create_function, FunctionName="Nine", Runtime="python9.9", Role=ROLE,
                                     Handler="app.handler", Code={"ZipFile": V1})
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("1 validation error detected: Value 'python9.9' at 'runtime' failed to satisfy "
                              "constraint: Member must satisfy enum value set: [") and "python3.14" in message
