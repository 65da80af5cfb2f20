"""The AWS CLI, pointed at the emulator with --endpoint-url, works as it does against AWS."""

import json
import os
import shutil
import subprocess

import pytest

from tests.helpers import ALIAS_ARN

AWS = shutil.which("aws")


@pytest.mark.skipif(AWS is None, reason="the AWS CLI is installed by the dev extra (awscli)")
def test_aws_cli_invokes_the_alias_and_reads_it(emulator, tmp_path):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    base = [AWS, "--endpoint-url", emulator.url, "--output", "json", "lambda"]
    out = tmp_path / "response.json"
    invoked = subprocess.run([*base, "invoke", "--function-name", ALIAS_ARN, str(out)],
                             capture_output=True, text=True, env=env, timeout=60)
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout) == {"StatusCode": 200, "ExecutedVersion": "1"}
    assert json.loads(out.read_text()) == {"version": "1"}
    alias = subprocess.run([*base, "get-alias", "--function-name", "ConnectLambdaFunction", "--name", "PROD"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert alias.returncode == 0, alias.stderr
    assert json.loads(alias.stdout)["AliasArn"] == ALIAS_ARN
