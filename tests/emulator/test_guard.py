"""Nobody but the user chooses the code the emulator runs, and web pages cannot call it: the
reproducers of the remote-code hole (a handler set by a request, then invoked), through a real
`shiftsim serve` process and raw HTTP on 127.0.0.1."""

import io
import json
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

from simulator.deployment.admin_token import ADMIN_TOKEN_HEADER
from simulator.emulator.guard import Guard
from simulator.scenario.reader import parse_scenario
from tests.helpers import TESTS, RunningEmulator, http_request
from tests.test_cli import ENV, ROOT, shiftsim

INVOKE = "/2015-03-31/functions/ConnectLambdaFunction/invocations?Qualifier=PROD"


def serve(tmp_path: Path, *args: str, env=None):
    """A `shiftsim serve` writing its token to tmp_path; yields (process, port, token)."""
    token_file = tmp_path / "admin.token"
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--admin-token-file",
         str(token_file), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env or ENV, cwd=ROOT)
    line = process.stdout.readline()
    assert line.startswith("shiftsim emulator listening on http://"), process.stderr.read()
    return process, int(line.rsplit(":", 1)[1]), token_file


@pytest.fixture
def served(tmp_path):
    process, port, token_file = serve(tmp_path)
    try:
        yield port, token_file
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def request(port: int, method: str, path: str, body: bytes = b"", headers=None):
    return http_request("127.0.0.1", port, method, path, body, headers)


def invoke_payload(port: int, payload: bytes) -> tuple[int, dict]:
    status, body = request(port, "POST", INVOKE, payload)
    return status, json.loads(body)


@pytest.mark.parametrize("handler", ["pty:spawn", "shutil:rmtree", "os:system"])
def test_a_request_cannot_choose_the_code_the_emulator_runs(served, tmp_path, handler):
    port, token_file = served
    victim = tmp_path / "victim"
    victim.mkdir()
    evil = json.dumps({"handler": handler}).encode()
    for route in ("POST /_shiftsim/functions/ConnectLambdaFunction/versions",
                  "PUT /_shiftsim/functions/ConnectLambdaFunction/code"):
        method, path = route.split()
        # The reproducer as a web page would send it: text/plain, no token.
        status, body = request(port, method, path, evil, {"Content-Type": "text/plain"})
        assert status == 401, body
        assert ADMIN_TOKEN_HEADER in json.loads(body)["error"]
        # Even with the token, the handler must be one named when the emulator started.
        token = token_file.read_text().strip()
        status, body = request(port, method, path, evil, {ADMIN_TOKEN_HEADER: token})
        assert status == 403, body
        assert f"handler {handler!r} was not named when this emulator started" in json.loads(body)["error"]
        status, body = request(port, method, path, evil, {ADMIN_TOKEN_HEADER: token + "x"})
        assert status == 401
    # $LATEST and the versions are unchanged: an Invoke with the attack's body runs the seed's echo.
    status, answer = invoke_payload(port, json.dumps(["sh", "-c", f"rmdir {victim}"]).encode())
    assert status == 200 and answer == {"version": "1"}
    status, answer = request(port, "POST", "/2015-03-31/functions/ConnectLambdaFunction/invocations",
                             json.dumps(str(victim)).encode())
    assert status == 200 and json.loads(answer) == {"version": "$LATEST"}
    assert victim.is_dir()


def test_the_token_file_is_the_users_alone_and_removed_at_the_end(tmp_path):
    process, port, token_file = serve(tmp_path)
    try:
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        assert len(token_file.read_text().strip()) >= 32
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert process.returncode == 0 and not token_file.exists()


@pytest.mark.parametrize("path,method", [(INVOKE, "POST"), ("/_shiftsim/health", "GET"),
                                         ("/2015-03-31/functions/ConnectLambdaFunction/aliases", "GET")])
def test_web_pages_and_foreign_hosts_are_refused(served, path, method):
    port, _ = served
    refused = [{"Host": "evil.example"}, {"Host": f"attacker.test:{port}"},
               {"Origin": "http://evil.example"}, {"Origin": "null"},
               {"Origin": f"http://127.0.0.1:{port + 1}"}, {"Origin": f"https://127.0.0.1:{port}"},
               {"Origin": f"http://6.6.6.6:{port}", "Content-Type": "application/x-www-form-urlencoded"},
               {"Host": f"6.6.6.6:{port}"}]
    for headers in refused:
        status, body = request(port, method, path, b"{}" if method == "POST" else b"", headers)
        assert status == 403, (headers, body)
        assert json.loads(body)["__type"] == "AccessDeniedException"
    served_fine = [{}, {"Host": f"127.0.0.1:{port}"}, {"Host": f"localhost:{port}"}, {"Host": "[::1]"},
                   {"Origin": f"http://127.0.0.1:{port}"}, {"Origin": f"http://localhost:{port}"}]
    for headers in served_fine:
        status, body = request(port, method, path, b"{}" if method == "POST" else b"", headers)
        assert status == 200, (headers, body)


def test_aws_clients_are_served_and_a_refusal_is_a_client_error(served):
    port, _ = served
    lam = boto3.client("lambda", endpoint_url=f"http://localhost:{port}", region_name="us-east-1",
                       aws_access_key_id="a", aws_secret_access_key="b")
    assert lam.invoke(FunctionName="ConnectLambdaFunction:PROD")["ExecutedVersion"] == "1"
    deploy = boto3.client("codedeploy", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="a", aws_secret_access_key="b")
    assert deploy.list_applications()["applications"] == ["ServerlessDeploymentApplication"]


def test_an_allowed_handler_is_staged_with_the_token(tmp_path):
    process, port, token_file = serve(tmp_path, "--allow-handler", "tests.handlers:greet")
    url = f"http://127.0.0.1:{port}"
    try:
        staged = shiftsim("stage", "--endpoint", url, "--handler", "tests.handlers:greet", "--publish",
                          "--admin-token-file", str(token_file))
        assert staged.returncode == 0, staged.stderr
        assert '"Version": "2"' in staged.stdout
        env = {**ENV, "SHIFTSIM_ADMIN_TOKEN": token_file.read_text().strip()}
        refused = shiftsim("stage", "--endpoint", url, "--handler", "tests.handlers:sleepy", env=env)
        assert refused.returncode == 2
        assert refused.stderr.count("\n") == 1 and "'tests.handlers:sleepy' was not named" in refused.stderr
        no_token = shiftsim("stage", "--endpoint", url, "--admin-token-file", str(tmp_path / "none"))
        assert no_token.returncode == 2 and "no admin token for" in no_token.stderr
        assert "Traceback" not in no_token.stderr + refused.stderr
        lam = boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="a", aws_secret_access_key="b")
        answer = json.loads(lam.invoke(FunctionName="ConnectLambdaFunction:2")["Payload"].read())
        assert answer["greeting"] == "hello caller" and answer["version"] == "2"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_an_allowed_handler_that_cannot_be_imported_is_one_line_at_start(tmp_path):
    result = shiftsim("serve", "--port", "0", "--allow-handler", "nowhere:fn")
    assert result.returncode == 2
    assert result.stderr.startswith("shiftsim: error: --allow-handler: handler 'nowhere:fn': cannot import")
    assert result.stderr.count("\n") == 1


def test_binding_beyond_loopback_warns_what_it_exposes(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--host", "0.0.0.0",
                                "--port", "0", "--admin-token-file", str(tmp_path / "t")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    line = process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert line.startswith("shiftsim emulator listening on http://0.0.0.0:")
    assert "warning: listening on 0.0.0.0: every machine that can reach it can invoke" in err
    quiet = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--port", "0",
                              "--admin-token-file", str(tmp_path / "u")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    quiet.stdout.readline()
    quiet.send_signal(signal.SIGTERM)
    assert "warning" not in quiet.communicate(timeout=20)[1]


def test_guard_rules():
    guard = Guard("t", hosts=["dev-box"])
    guard.port = 4566
    assert guard.refusal("dev-box:4566", None) is None
    assert guard.refusal("10.1.2.3:4566", None) is not None  # not an address it listens on
    assert guard.refusal("127.0.0.2:4566", None) is None and guard.refusal("[::1]:4566", None) is None
    assert guard.refusal(None, "http://6.6.6.6:4566") is not None  # an IP literal is no origin of its
    assert guard.refusal(None, "http://127.0.0.1:4566") is None
    everywhere = Guard("t", hosts=["0.0.0.0"])
    everywhere.port = 4566
    assert everywhere.refusal("10.1.2.3:4566", None) is None  # a client on another machine, by address
    assert everywhere.refusal(None, "http://10.1.2.3:4566") is not None
    assert guard.refusal("dev-box.evil.example", None) is not None
    assert guard.refusal(None, "http://dev-box:4566") is None
    assert guard.refusal(None, "http://dev-box:4567") is not None


STDLIB_HANDLERS = ["pty.spawn", "os.system", "subprocess.run", "shutil.rmtree", "borrowed.system",
                   "borrowed.run", "borrowed.rmtree", "../../usr/lib/python3/pty.spawn"]


USER_CODE = TESTS / "user_code"
OWN_CODE_STACK = f"""
[[functions]]
name = "own"
[[functions.versions]]
code = "{USER_CODE}"
handler = "app.answer"
[[functions.aliases]]
name = "live"
version = "1"
"""


def _zip_of(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in folder.glob("*.py"):
            archive.write(file, file.name)
    return buffer.getvalue()


def test_no_lambda_operation_makes_a_standard_library_callable_the_handler(tmp_path):
    """Every way a Lambda request sets a handler (CreateFunction, UpdateFunctionConfiguration, then
    UpdateFunctionCode and PublishVersion on top), with code uploads allowed: a handler that names a
    callable of the standard library, directly or through a name the user's module imported, fails
    its init as Lambda's handler errors do, and the command in the payload never runs."""
    code = USER_CODE
    emulator = RunningEmulator(parse_scenario(OWN_CODE_STACK, str(code / "stack.toml")), code_uploads=True)
    marker = tmp_path / "ran"
    payload = json.dumps(["sh", "-c", f"touch {marker}"]).encode()
    package = _zip_of(code)
    try:
        lam = emulator.boto3()

        def refused(**invoke) -> None:
            answer = lam.invoke(Payload=payload, **invoke)
            body = json.loads(answer["Payload"].read())
            assert answer.get("FunctionError") == "Unhandled", (invoke, body)
            assert body["errorType"] in ("Runtime.HandlerNotFound", "Runtime.ImportModuleError"), body

        for n, handler in enumerate(STDLIB_HANDLERS):
            lam.update_function_configuration(FunctionName="own", Handler=handler)
            refused(FunctionName="own", Qualifier="$LATEST")
            version = lam.publish_version(FunctionName="own")["Version"]
            refused(FunctionName="own", Qualifier=version)
            lam.update_function_code(FunctionName="own", ZipFile=package)
            refused(FunctionName="own", Qualifier="$LATEST")
            lam.create_function(FunctionName=f"uploaded{n}", Runtime="python3.12", Handler=handler,
                                Role="arn:aws:iam::123456789012:role/r", Code={"ZipFile": package})
            refused(FunctionName=f"uploaded{n}")
        lam.update_function_configuration(FunctionName="own", Handler="app.answer")
        assert json.loads(lam.invoke(FunctionName="own", Payload=b"{}")["Payload"].read())["version"] == "$LATEST"
    finally:
        emulator.close()
    assert not marker.exists()


def test_the_admin_routes_take_no_code_folder_from_a_request(tmp_path):
    """With the token and a handler named at start, a request still cannot point the function at a
    folder of its choosing: only the code folders the emulator started with."""
    code = USER_CODE
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "app.py").write_text("def answer(event, context):\n    return {'planted': 'yes'}\n")
    emulator = RunningEmulator(parse_scenario(OWN_CODE_STACK, str(code / "stack.toml")))
    try:
        token = emulator.server.guard.admin_token
        body = json.dumps({"code": str(planted), "handler": "app.answer"}).encode()
        status, answer = emulator.request("PUT", "/_shiftsim/functions/own/code", body,
                                          {ADMIN_TOKEN_HEADER: token})
        assert status == 403, answer
        assert "code folder" in json.loads(answer)["error"]
        same = json.dumps({"code": str(code), "handler": "app.answer"}).encode()
        status, answer = emulator.request("PUT", "/_shiftsim/functions/own/code", same, {ADMIN_TOKEN_HEADER: token})
        assert status == 200, answer
        body = json.loads(emulator.boto3().invoke(FunctionName="own", Payload=b"{}")["Payload"].read())
        assert "planted" not in body and body["version"] == "$LATEST"
    finally:
        emulator.close()
