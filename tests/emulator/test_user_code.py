"""The user's Python code run as Lambda runs it: worker processes with Lambda's environment, cold
and warm starts, and Lambda's answer when a handler times out, crashes, raises or blocks the CPU,
invoked through boto3 against a real emulator that keeps serving meanwhile."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from simulator.scenario.reader import parse_scenario
from tests.helpers import TESTS, RunningEmulator, wait_for

CODE = TESTS / "user_code"
HANDLERS = ("answer", "sleep_past_timeout", "exit_interpreter", "segfault", "raise_error", "block_cpu",
            "not_json", "grow", "list_functions", "hoard")


def stack() -> str:
    tables = []
    for handler in HANDLERS:
        tables.append(f"""
[[functions]]
name = "{handler}"
timeout = {30 if handler == "grow" else 3}
[[functions.versions]]
code = "{CODE}"
handler = "app.{handler}"
environment = {{ GREETING = "hi", AWS_REGION = "a variable Lambda's own overrides" }}
[[functions.aliases]]
name = "live"
version = "1"
""")
    tables.append(f"""
[[functions]]
name = "warmed"
[[functions.versions]]
code = "{CODE}"
handler = "app.answer"
[[functions.aliases]]
name = "live"
version = "1"
[[functions]]
name = "broken_import"
[[functions.versions]]
code = "{CODE}"
handler = "broken_import.handler"
[[functions]]
name = "node"
[[functions.versions]]
code = "{CODE}"
handler = "index.handler"
runtime = "java21"
""")
    return "".join(tables)


@pytest.fixture(scope="module")
def running():
    emulator = RunningEmulator(parse_scenario(stack(), str(CODE / "stack.toml")))
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture(scope="module")
def lam(running):
    return running.boto3()


def invoke(lam, name: str, n: int = 0) -> tuple[dict, str]:
    out = lam.invoke(FunctionName=f"{name}:live" if name in HANDLERS else name,
                     Payload=json.dumps({"n": n}), LogType="Tail")
    body = json.loads(out["Payload"].read())
    if out.get("FunctionError"):
        assert out["FunctionError"] == "Unhandled"
        body["FunctionError"] = True
    return body, base64.b64decode(out["LogResult"]).decode()


def test_a_handler_runs_with_lambdas_environment_and_is_reused_warm(lam):
    first, first_log = invoke(lam, "answer", 1)
    second, second_log = invoke(lam, "answer", 2)
    assert first["version"] == "1" and first["name"] == "answer" and first["greeting"] == "hi"
    assert first["region"] == "us-east-1"  # reserved variables win over the function's own
    assert 0 < int(first["remaining"]) <= 3000
    assert "Init Duration:" in first_log and "Init Duration:" not in second_log  # one cold start
    assert (second["pid"], second["imported_at"]) == (first["pid"], first["imported_at"])  # warm reuse
    assert "answering 2" in second_log  # what it printed
    assert "[INFO]\t" in second_log and "\tversion 1" in second_log  # what it logged, Lambda's format


def warm(running, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{running.url}/_shiftsim/functions/{path}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_warming_leaves_an_idle_environment_the_next_invocation_starts_in(running, lam):
    """What a rehearsal does before its load: production's versions have served traffic, so they are warm."""
    assert warm(running, "warmed/warm?qualifier=live") == (200, {"FunctionName": "warmed", "Warmed": ["1"]})
    assert warm(running, "warmed/warm?qualifier=live") == (200, {"FunctionName": "warmed", "Warmed": []})  # idle one
    assert warm(running, "warmed/warm?qualifier=live&idle=3") == (200, {"FunctionName": "warmed", "Warmed": ["1"]})
    pids = set()
    for _ in range(3):  # three at once: each in an environment started before, none cold
        with ThreadPoolExecutor(3) as pool:
            outs = list(pool.map(lambda _: lam.invoke(FunctionName="warmed:live", Payload=b"{}", LogType="Tail"),
                                 range(3)))
        for out in outs:
            body, log = json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode()
            assert body["version"] == "1" and "Init Duration:" not in log
            pids.add(body["pid"])
    assert len(pids) <= 3
    status, answer = warm(running, "nowhere/warm?qualifier=live")
    assert status == 404 and answer["error"].startswith("Function not found: ")
    assert warm(running, "warmed/warm?qualifier=live&idle=100") == (400, {"error": "idle must be from 1 to 64, got 100"})


def test_a_warm_up_the_emulator_refuses_is_one_line_naming_what(running):
    from simulator.client.admin_client import warm_functions
    from simulator.client.errors import TargetError

    arn = "arn:aws:lambda:us-east-1:123456789012:function:nowhere:live"
    with pytest.raises(TargetError, match=re.escape(f"{running.url}: warming {arn}: HTTP 404: Function not found: ")):
        asyncio.run(warm_functions(running.url, [arn]))


def test_a_handler_past_its_timeout_is_timed_out_and_its_environment_ended(lam):
    body, log = invoke(lam, "sleep_past_timeout")
    assert body == {"errorMessage": "Task timed out after 3.00 seconds", "errorType": "Sandbox.Timedout",
                    "FunctionError": True}
    assert "Task timed out after 3.00 seconds" in log


@pytest.mark.parametrize("name, words", [("exit_interpreter", "exit status 3"),
                                          ("segfault", "signal: segmentation fault")])
def test_a_crashed_interpreter_is_a_runtime_exit_error(lam, name, words):
    for n in range(2):  # the next invocation starts a new environment, and fails the same way
        body, log = invoke(lam, name, n)
        assert body["errorType"] == "Runtime.ExitError"
        assert body["errorMessage"].startswith("RequestId: ")
        assert body["errorMessage"].endswith(f"Error: Runtime exited with error: {words}")
        assert "Init Duration:" in log


def test_a_raised_error_carries_the_handlers_own_frames_only(lam):
    body, log = invoke(lam, "raise_error", 7)
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "bad input 7"
    assert len(body["stackTrace"]) == 2
    assert all("user_code/app.py" in frame for frame in body["stackTrace"])
    assert "in raise_error" in body["stackTrace"][0] and "in helper" in body["stackTrace"][1]
    assert not any("simulator" in frame or "bootstrap" in frame for frame in body["stackTrace"])
    assert "[ERROR] ValueError: bad input 7" in log


def test_an_unserialisable_answer_is_a_marshal_error(lam):
    body, _ = invoke(lam, "not_json")
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["errorMessage"] == "Unable to marshal response: Object of type object is not JSON serializable"


def test_a_handler_cannot_take_more_memory_than_its_setting_allows(lam):
    """Three gigabytes asked of a 128 MB function: the environment's address space is bounded by the
    function's memory (it took 3 GB of the machine's before), and the answer is Lambda's."""
    body, _ = invoke(lam, "hoard")
    assert body["errorType"] == "Runtime.OutOfMemory", body
    assert invoke(lam, "answer")[0]["version"] == "1"  # the emulator and other environments go on


def test_an_idle_environment_that_died_is_not_handed_the_next_invocation(running, lam):
    """Killed while idle (the machine's OOM killer, a user's kill): the next Invoke starts a new
    environment instead of meeting a dead one (a spurious Runtime.ExitError before)."""
    import os
    import signal

    invoke(lam, "answer")
    idle = [env for sandbox in running.emulator.lambda_.sandboxes for env in sandbox.idle
            if env.variables["AWS_LAMBDA_FUNCTION_NAME"] == "answer"]
    assert idle
    for env in idle:
        os.kill(env.process.pid, signal.SIGKILL)
    for env in idle:
        wait_for(lambda env=env: not env.alive(), 30)
    for n in range(3):
        body, _ = invoke(lam, "answer", n)
        assert body.get("version") == "1", body


def test_memory_past_the_setting_is_out_of_memory(lam):
    body, log = invoke(lam, "grow")
    assert body["errorType"] == "Runtime.OutOfMemory"
    assert body["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    used = int(log.split("Max Memory Used: ")[1].split(" MB")[0])
    assert used > 128


def test_the_handlers_own_boto3_calls_reach_the_emulator(lam):
    body, _ = invoke(lam, "list_functions")
    assert set(body["functions"].split(",")) == {*HANDLERS, "warmed", "broken_import", "node"}


def test_a_module_that_fails_to_import_is_lambdas_import_error(lam):
    body, _ = invoke(lam, "broken_import")
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'broken_import': No module named 'not_a_module_anywhere'"


def test_another_runtime_gets_a_stand_in_and_a_warning(lam):
    body, _ = invoke(lam, "node")
    assert body == {"version": "$LATEST"}
    config = lam.get_function_configuration(FunctionName="node")
    assert config["Runtime"] == "java21" and config["Handler"] == "index.handler"


def test_a_handler_blocking_the_cpu_blocks_nothing_else(lam):
    """While one invocation spins until its timeout, others are answered: the emulator and other
    environments are not held up (the spinner is counted as a timeout, after the others)."""
    finished: list[str] = []
    blocked: dict = {}

    def spin() -> None:
        blocked["body"], _ = invoke(lam, "block_cpu")
        finished.append("block_cpu")

    spinner = threading.Thread(target=spin)
    spinner.start()
    for n in range(5):
        body, _ = invoke(lam, "answer", n)
        assert body["version"] == "1"
        finished.append(f"answer {n}")
    spinner.join(60)
    assert finished[-1] == "block_cpu"
    assert blocked["body"]["errorType"] == "Sandbox.Timedout"


def test_a_closed_emulator_leaves_no_execution_environment_still_running():
    """Stopping the emulator kills its functions' processes and waits until they have exited: none is
    left dying when its loop closes, for the garbage collector to find running (a ResourceWarning)."""
    running = RunningEmulator(parse_scenario(stack(), str(CODE / "stack.toml")))  # an emulator of its own
    try:
        for _ in range(3):
            running.boto3().invoke(FunctionName="warmed:live", Payload=b"{}")
        pids = [env.process.pid for handler in running.emulator.lambda_.sandboxes
                for env in (*handler.idle, *handler.busy)]
        assert pids  # warm environments, waiting for the next invocation
    finally:
        running.close()  # the server's stop closes the emulator, on its loop
    for pid in pids:  # exited: a zombie its watcher reaps, or reaped already
        try:
            assert os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None, pid
        except ChildProcessError:
            pass
