"""The user's Node.js code run as Lambda's Node.js runtimes run it (the system's `node`): the async and
callback forms, ES modules, Lambda's context and environment, console output in Lambda's format,
errors in Lambda's Node.js shape, cold then warm starts, a timeout, a crash; a handler a request sets
is the function's own code only; package.json dependencies installed as `sam build` does, and the
AWS SDK clients the runtime provides. Through boto3 against a real emulator; then a SAM project whose
function and PreTraffic hook are Node.js, rehearsed end to end."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.scenario.reader import parse_scenario
from simulator.scenario.spec import node_binary
from tests.helpers import ROOT, TESTS, RunningEmulator

pytestmark = pytest.mark.skipif(node_binary() is None, reason="no node on this machine (CI installs Debian's nodejs)")

CODE = TESTS / "node_code"
EXAMPLE = ROOT / "examples" / "sam-connect-node"
HANDLERS = {"answer": "app.answer", "callback": "app.callback", "callback_error": "app.callbackError",
            "raise": "app.raise", "nothing": "app.nothing", "sleep": "app.sleep", "crash_later": "app.crashLater",
            "reject": "app.reject", "nested": "app.nested.deeper", "shell": "app.shell", "sdk": "app.sdk",
            "builtin": "child_process.exec", "escape": "../app.answer", "missing": "app.notThere",
            "syntax": "syntax.handler", "esm": "esm/index.handler", "deps": "index.handler", "both": "app.both",
            "sdk_v2": "app.sdkV2"}
RUNTIMES = {"sdk_v2": "nodejs16.x"}  # the others: nodejs20.x


def stack() -> str:
    tables = []
    for name, handler in HANDLERS.items():
        folder = CODE / "deps" if name == "deps" else CODE
        tables.append(f"""
[[functions]]
name = "{name}"
timeout = 2
memory = 256
[[functions.versions]]
code = "{folder}"
handler = "{handler}"
runtime = "{RUNTIMES.get(name, 'nodejs20.x')}"
environment = {{ GREETING = "hi", AWS_REGION = "a variable Lambda's own overrides" }}
""")
    return "".join(tables)


@pytest.fixture(scope="module")
def lam():
    emulator = RunningEmulator(parse_scenario(stack(), str(CODE / "stack.toml")))
    try:
        yield emulator.boto3()
    finally:
        emulator.close()


def invoke(lam, name: str, payload: dict | None = None) -> tuple[dict, str, str | None]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {"n": 7}), LogType="Tail")
    return json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode(), out.get("FunctionError")


def test_an_async_handler_runs_with_lambdas_context_environment_and_console(lam):
    body, log, error = invoke(lam, "answer")
    assert error is None
    assert body["n"] == 7 and body["version"] == "$LATEST" and body["name"] == "answer" and body["memory"] == "256"
    assert body["arn"].endswith(":function:answer") and 0 < body["remaining"] <= 2000
    assert body["greeting"] == "hi" and body["region"] == "us-east-1"  # Lambda's own variables win
    lines = log.splitlines()
    said = next(line for line in lines if line.endswith("\tINFO\tasked 7"))
    stamp, request, _, _ = said.split("\t")
    assert stamp.endswith("Z") and request == body["request"]
    assert any(line.endswith("\tERROR\ta warning on stderr") for line in lines) and "raw stdout" in lines
    assert "Init Duration" in lines[-1]
    again, log, _ = invoke(lam, "answer")
    assert again["pid"] == body["pid"] and again["request"] != body["request"]  # warm: the same environment
    assert "Init Duration" not in log


@pytest.mark.parametrize("name, expected", [
    ("callback", {"via": "callback", "n": 7}), ("nothing", None), ("nested", {"nested": True}),
    ("esm", {"esm": True, "n": 7, "version": "$LATEST"})])
def test_each_form_of_handler_answers(lam, name, expected):
    body, _, error = invoke(lam, name)
    assert error is None and body == expected


@pytest.mark.parametrize("name, error_type, message", [
    ("raise", "TypeError", "Cannot read properties of undefined (reading 'toLowerCase')"),
    ("callback_error", "RangeError", "out of range")])
def test_an_error_is_in_lambdas_nodejs_shape(lam, name, error_type, message):
    body, log, error = invoke(lam, name)
    assert error == "Unhandled"
    assert list(body) == ["errorType", "errorMessage", "trace"]
    assert (body["errorType"], body["errorMessage"]) == (error_type, message)
    assert body["trace"][0] == f"{error_type}: {message}" and "app.js" in body["trace"][1]
    assert not any("bootstrap.js" in frame for frame in body["trace"])  # the user's frames, not the runtime's
    assert "\tERROR\tInvoke Error \t" in log


def test_a_timeout_and_a_crash_end_the_environment_as_lambda_does(lam):
    body, _, error = invoke(lam, "sleep")
    assert error == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    body, _, error = invoke(lam, "crash_later")
    assert error == "Unhandled" and (body["errorType"], body["errorMessage"]) == ("Error", "Error: thrown from a timer")
    body, _, error = invoke(lam, "reject")
    assert body["errorType"] == "Runtime.UnhandledPromiseRejection" and "nobody awaited this" in body["errorMessage"]


@pytest.mark.parametrize("name, error_type", [
    ("shell", "Runtime.HandlerNotFound"), ("builtin", "Runtime.ImportModuleError"),
    ("escape", "Runtime.ImportModuleError"), ("missing", "Runtime.HandlerNotFound"),
    ("syntax", "Runtime.UserCodeSyntaxError")])
def test_only_the_functions_own_code_is_a_handler(lam, name, error_type):
    """A module re-exporting child_process.exec, a built-in module, a path out of the task root:
    none runs, as with the Python runtime (a request setting such a handler must not run a shell)."""
    body, _, error = invoke(lam, name, {"n": 1})
    assert error == "Unhandled" and body["errorType"] == error_type, body


def test_a_request_cannot_make_a_reexported_shell_the_handler(lam, tmp_path):
    marker = tmp_path / "ran"
    lam.update_function_configuration(FunctionName="answer", Handler="app.shell")
    try:
        body, _, _ = invoke(lam, "answer", {"n": f"touch {marker}"})
    finally:
        lam.update_function_configuration(FunctionName="answer", Handler="app.answer")
    assert body["errorType"] == "Runtime.HandlerNotFound" and not marker.exists()


def test_the_handlers_own_sdk_calls_reach_the_emulator(lam):
    """@aws-sdk/client-lambda, which Lambda's runtime provides, installed for the code that imports it
    and pointed at the emulator by AWS_ENDPOINT_URL."""
    body, _, error = invoke(lam, "sdk")
    assert error is None, body
    assert set(body["functions"].split(",")) == set(HANDLERS)


def test_an_async_handler_that_also_calls_back_answers_once_and_stays_warm(lam):
    """The callback's answer, given first, is the answer; the promise's later one is ignored, as in
    Lambda's runtime. It broke the environment (a TypeError in the runtime), so every call was cold."""
    body, _, error = invoke(lam, "both")
    assert error is None and body["via"] == "callback"
    again, log, error = invoke(lam, "both")
    assert error is None and again == body and "Init Duration" not in log


def test_sdk_v2_is_there_for_the_runtimes_that_provide_it_and_reaches_the_emulator(lam):
    """`aws-sdk` (v2), which nodejs16.x and older provide, installed for the code that requires it
    and pointed at the emulator: v2 reads no endpoint from the environment."""
    body, _, error = invoke(lam, "sdk_v2")
    assert error is None, body
    assert set(body["functions"].split(",")) == set(HANDLERS)
    from simulator.scenario.dependencies import node_build

    assert (node_build(CODE, "nodejs16.x") / "node_modules" / "aws-sdk").is_dir()
    assert not (node_build(CODE, "nodejs20.x") / "node_modules" / "aws-sdk").exists()  # v3's clients only


def test_package_json_dependencies_are_installed_as_sam_build_does(lam):
    body, _, error = invoke(lam, "deps", {"value": "42"})
    assert error is None and body == {"numeric": True, "value": "42"}
    from simulator.scenario.dependencies import node_build

    built = node_build(CODE / "deps")
    assert built is not None and (built / "node_modules" / "is-number").is_dir()
    assert not (built / "node_modules" / "left-pad").exists()  # no dev dependencies, as sam build
    assert not (CODE / "deps" / "node_modules").exists()  # the user's folder as it was
    assert node_build(CODE / "deps") == built  # once per content


def test_a_typescript_function_sam_bundles_with_esbuild_runs_as_its_bundle():
    """SAM's TypeScript template (Metadata BuildMethod esbuild, EntryPoints app.ts): bundled as `sam
    build` bundles it (aws-lambda-builders, the package.json's esbuild), its dependency inside the
    bundle, the AWS SDK it leaves External provided beside it as the runtime provides it."""
    from simulator.scenario.reader import load_scenario
    from simulator.scenario.spec import StackSource

    scenario = load_scenario(None, StackSource(str(CODE / "typescript" / "template.yaml")))
    (typed,) = scenario.functions
    code = typed.versions[0].code
    assert json.loads(code.esbuild)["EntryPoints"] == ["app.ts"]
    bundle = (Path(code.dependencies) / "app.js").read_text()
    assert "interface" not in bundle and "is-number" in bundle  # TypeScript gone, the dependency inside
    assert not (CODE / "typescript" / "node_modules").exists()  # the user's folder as it was
    emulator = RunningEmulator(scenario)
    try:
        out = emulator.boto3().invoke(FunctionName="Typed", Payload=json.dumps(
            {"Details": {"ContactData": {"ContactId": "c"}, "Parameters": {"value": "42"}}}))
        assert out.get("FunctionError") is None
        assert json.loads(out["Payload"].read()) == {"version": "1", "numeric": "true", "region": "us-east-1"}
    finally:
        emulator.close()


def test_a_nodejs_layers_node_modules_are_found_as_lambdas_node_path_finds_them(tmp_path):
    """A layer laid out as Lambda wants it (nodejs/node_modules/...): `require` finds its package
    after the function's own folder, as Lambda's NODE_PATH has /opt/nodejs/node_modules."""
    from simulator.scenario.reader import load_scenario
    from simulator.scenario.spec import StackSource

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.js").write_text(
        "const greet = require('greet');\nexports.handler = async () => ({version: '1', said: greet()});\n")
    package = tmp_path / "layer" / "nodejs" / "node_modules" / "greet"
    package.mkdir(parents=True)
    (package / "index.js").write_text("module.exports = () => 'hello from the layer';\n")
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Shared:\n    Type: AWS::Serverless::LayerVersion\n"
        "    Properties: {ContentUri: layer/}\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: src/\n      Handler: index.handler\n      Runtime: nodejs20.x\n      AutoPublishAlias: live\n"
        "      DeploymentPreference: {Type: AllAtOnce}\n      Layers: [!Ref Shared]\n")
    emulator = RunningEmulator(load_scenario(None, StackSource(str(tmp_path / "template.yaml"))))
    try:
        out = emulator.boto3().invoke(FunctionName="Fn:live", Payload=b"{}")
        assert json.loads(out["Payload"].read()) == {"version": "1", "said": "hello from the layer"}
    finally:
        emulator.close()


@pytest.mark.parametrize("change, said", [
    ("EntryPoints: [app.ts]", "failed: Unexpected end of file at app.ts:2:0"),  # esbuild's error, where it is
    ("Minify: true", "BuildMethod esbuild needs BuildProperties EntryPoints"),
])
def test_a_typescript_build_that_fails_is_one_line(tmp_path, change, said):
    folder = tmp_path / "fn"
    folder.mkdir()
    (folder / "app.ts").write_text("export const handler = async (event: any) => { return {version: '1' };\n")
    (folder / "package.json").write_text('{"name": "f", "version": "1.0.0", "devDependencies": {"esbuild": "^0.19.0"}}')
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn, Handler: app.handler, Runtime: nodejs20.x}\n"
        f"    Metadata:\n      BuildMethod: esbuild\n      BuildProperties: {{{change}}}\n")
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", "--template", str(tmp_path / "template.yaml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert str(folder) in line and said in line and "Traceback" not in line


def test_a_dependency_npm_cannot_install_is_one_line(tmp_path):
    (tmp_path / "package.json").write_text('{"dependencies": {"no-such-package-shiftsim-test": "1.0.0"}}')
    (tmp_path / "index.js").write_text("exports.handler = async () => ({});\n")
    scenario = tmp_path / "s.toml"
    scenario.write_text(f'[[functions]]\nname = "F"\n[[functions.versions]]\ncode = "{tmp_path}"\n'
                        'handler = "index.handler"\nruntime = "nodejs20.x"\n')
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", str(scenario)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "npm could not install the dependencies" in done.stderr and "no-such-package-shiftsim-test" in done.stderr


@pytest.mark.long(25)
def test_a_nodejs_sam_project_rehearses_end_to_end(tmp_path):
    """examples/sam-connect-node: the rules-engine style function and its PreTraffic hook are
    Node.js. The hook calls the new version (its NEW_VERSION, the template's `!Ref Fn.Version`, set
    to the new one) and reports to CodeDeploy; the traffic shifts; the change's TypeError reaches
    callers; the alarm rolls it back."""
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(EXAMPLE / "rehearsal.toml"),
                           "--results", str(tmp_path / "run")], capture_output=True, text=True, cwd=ROOT,
                          timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "does not run here" not in done.stdout + done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["deployment"]["outcome"] == "rolled_back"
    versions = summary["versions"]
    assert versions["2"]["invocations"] > 0 and versions["2"]["errors"] == versions["2"]["invocations"]
    assert versions["1"]["errors"] == 0
    from simulator.report.record import load_record

    record = load_record(tmp_path / "run")
    assert set(np.unique(record.text("reason")[record.text("version") == "2"])) == {"function_error"}


@pytest.mark.parametrize("answer, status", [("String(7)", "Succeeded"), ("7", "Succeeded"), ("{points: 7}", "Failed")])
def test_a_nodejs_pretraffic_hook_decides_the_deployment(tmp_path, answer, status):
    """The hook's own check: an answer Connect would refuse (an object in the map) fails the
    deployment before any traffic reaches the new version; a number Connect reads as its text."""
    import asyncio

    from simulator.scenario.reader import load_scenario
    from simulator.scenario.spec import StackSource
    from tests.scenario.test_sam_template import deploy

    change = tmp_path / "change"
    change.mkdir()
    (change / "rules.js").write_text("exports.handler = async (event, context) => "
                                     f"({{version: context.functionVersion, score: {answer}}});\n")
    scenario = load_scenario(None, StackSource(str(EXAMPLE / "template.yaml"), new_code=str(change)))
    result = asyncio.run(deploy(scenario))
    assert result.status == status
