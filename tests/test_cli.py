"""The `shiftsim` command as a user runs it: real subprocesses, real signals, real ports."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.helpers import ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def shiftsim(*args, timeout=60, env=None):
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env or ENV, cwd=ROOT)


# A proxy that refuses every connection, set the way a corporate machine sets it, with no NO_PROXY.
UNREACHABLE_PROXY = {**{k: v for k, v in ENV.items() if not k.lower().endswith("_proxy")},
                     "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}


def start_serve(*args):
    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    line = process.stdout.readline()
    return process, line


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
def test_serve_prints_one_line_serves_and_exits_zero_on_sigterm(event_loop):
    process, line = start_serve("--seed", "3", "--event-loop", event_loop)
    try:
        assert line.startswith("shiftsim emulator listening on http://127.0.0.1:")
        url = line.split(" on ")[1].strip()
        lam = boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="a", aws_secret_access_key="b")
        assert lam.invoke(FunctionName="ConnectLambdaFunction:PROD")["ExecutedVersion"] == "1"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert out == "" and "Traceback" not in err


def test_serve_exits_zero_on_sigint():
    process, line = start_serve()
    assert line.startswith("shiftsim emulator listening on")
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=20)
    assert process.returncode == 0


def test_stage_and_publish_a_faulty_version_during_a_run():
    process, line = start_serve()
    url = line.split(" on ")[1].strip()
    try:
        staged = shiftsim("stage", "--endpoint", url, "--faults", '{"error": {"rate": 1.0}}', "--publish")
        assert staged.returncode == 0, staged.stderr
        assert '"Version": "2"' in staged.stdout
        bad = shiftsim("stage", "--endpoint", url, "--handler", "nowhere:fn")
        assert bad.returncode == 2 and "handler 'nowhere:fn' was not named" in bad.stderr
        lam = boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="a", aws_secret_access_key="b")
        assert lam.invoke(FunctionName="ConnectLambdaFunction:2")["FunctionError"] == "Unhandled"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


@pytest.mark.parametrize("env", [ENV, UNREACHABLE_PROXY], ids=["no proxy", "a proxy set"])
def test_invoke_on_the_embedded_emulator(env):
    # The emulator shiftsim starts itself on loopback is never reached through a proxy.
    result = shiftsim("invoke", "--count", "30", "--seed", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert "30 contacts invoked arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD" in result.stdout
    assert "version    1:     30 invocations (100.0 %)  success 30" in result.stdout


def test_user_mistakes_are_one_line_and_exit_two(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[functions]]\nname = 'F'\ntimeout = 0\n")
    cases = [
        ("validate", str(bad)),
        ("invoke", "--alias-arn", "arn:aws:lambda:us-east-1:123456789012:function:F"),
        ("serve", "--scenario", str(tmp_path / "missing.toml")),
        ("invoke", "--block-timeout", "12"),
    ]
    for args in cases:
        result = shiftsim(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("shiftsim: error: ") and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert "bad.toml: functions[0].timeout: must be between 1 and 900, got 0" in shiftsim("validate", str(bad)).stderr


def test_a_rehearsal_interrupted_by_ctrl_c_keeps_its_record_and_says_where(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "rehearse", "scenarios/linear-rollback.toml",
                                "--results", str(tmp_path / "run")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=ENV, cwd=ROOT)
    try:
        assert process.stdout is not None
        while "deployment starts in " not in process.stdout.readline():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and "Traceback" not in err, err[-3000:]
    run = tmp_path / "run"
    assert f"shiftsim: interrupted: what was recorded is in {run} (shiftsim plot {run} analyses and draws it)" in out
    from simulator.report.record import load_record

    with (run / "locust_stats.csv").open() as file:
        counted = int([line for line in file if ",Aggregated," in line][0].split(",")[2])
    assert len(load_record(run)) == counted > 0


def test_port_in_use_is_a_clear_error():
    process, line = start_serve()
    port = line.rsplit(":", 1)[1].strip()
    try:
        result = shiftsim("serve", "--port", port)
        assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_time_scale_must_be_positive_and_within_what_a_rehearsal_serves():
    for value in ("0", "1e9"):
        result = shiftsim("serve", "--time-scale", value)
        assert result.returncode == 2 and "--time-scale: must be > 0 and at most 600" in result.stderr, value
        assert len(result.stderr.strip().splitlines()) == 1


def test_version_and_help_are_for_users():
    version = shiftsim("--version")
    assert version.returncode == 0 and version.stdout.startswith("shiftsim ")
    helped = shiftsim("--help")
    assert "Rehearse a Lambda traffic-shifting deployment" in helped.stdout and "no logic of its own" not in helped.stdout


def test_deploy_against_a_running_emulator():
    process, line = start_serve("--time-scale", "600")
    url = line.split(" on ")[1].strip()
    try:
        result = shiftsim("deploy", "--endpoint", url, "--config", "Linear10PercentEvery1Minute")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert "(CodeDeployDefault.LambdaLinear10PercentEvery1Minute)" in lines[0]
        assert lines[-1].endswith("deployment Succeeded")
        offsets = [int(line[1:3]) * 60 + int(line[4:6]) for line in lines]  # +mm:ss, in time order
        assert all(line.startswith("+") for line in lines) and offsets == sorted(offsets), lines
        again = shiftsim("deploy", "--endpoint", url, "--target-version", "2")
        assert again.returncode == 2 and "already points at version 2" in again.stderr
        bad = shiftsim("deploy", "--endpoint", url, "--config", "Canary50Percent")
        assert bad.returncode == 2 and "unknown deployment configuration 'Canary50Percent'" in bad.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_deploy_starts_its_own_emulator_as_invoke_does():
    result = shiftsim("deploy", "--time-scale", "600", "--config", "Linear10PercentEvery1Minute")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("embedded emulator at http://127.0.0.1:") and "time scale x600" in lines[0], lines
    assert "(CodeDeployDefault.LambdaLinear10PercentEvery1Minute)" in lines[1]
    assert lines[-1].endswith("deployment Succeeded"), lines
    watched = shiftsim("deploy", "--watch-only")
    assert watched.returncode == 2 and watched.stderr.count("\n") == 1 and "give its --endpoint" in watched.stderr


HANDLER_SCENARIO = """
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
handler = "my_team_handlers:answer"
[[functions.aliases]]
name = "PROD"
version = "1"
"""


def test_a_scenarios_handler_is_imported_from_the_current_folder_by_every_command(tmp_path):
    # The console script, as a user runs it: its sys.path does not hold the current folder.
    script = Path(sys.executable).parent / "shiftsim"
    if not script.exists():
        pytest.skip("the shiftsim console script is installed by the README's install command")
    (tmp_path / "my_team_handlers.py").write_text(
        "def answer(event, context):\n    return {'team': 'yes', 'version': context.function_version}\n")
    (tmp_path / "s.toml").write_text(HANDLER_SCENARIO)
    env = {**ENV, "PYTHONPATH": str(ROOT)}
    run = {"capture_output": True, "text": True, "timeout": 60, "env": env, "cwd": tmp_path}
    assert subprocess.run([script, "validate", "s.toml"], **run).returncode == 0
    invoked = subprocess.run([script, "invoke", "--scenario", "s.toml", "--count", "3"], **run)
    assert invoked.returncode == 0, invoked.stderr
    assert "success 3" in invoked.stdout
    (tmp_path / "broken.toml").write_text(HANDLER_SCENARIO.replace("my_team_handlers:answer",
                                                                   "my_team_handlers:missing"))
    broken = subprocess.run([script, "validate", "broken.toml"], **run)
    assert broken.returncode == 2 and broken.stderr.count("\n") == 1
    assert "handler 'my_team_handlers:missing': my_team_handlers has no callable 'missing'" in broken.stderr


@pytest.mark.parametrize("args,line", [
    (["invoke", "--endpoint", "127.0.0.1:4566"], "endpoint '127.0.0.1:4566' is not an http(s) URL with a host"),
    (["invoke", "--count", "-1"], "argument --count: must be at least 1, got -1"),
    (["serve", "--port", "99999"], "argument --port: must be from 0 to 65535 (0 picks a free port), got 99999"),
    (["serve", "--port", "-1"], "argument --port: must be from 0 to 65535 (0 picks a free port), got -1"),
    (["invoke", "--endpoint", "http://127.0.0.1:9", "--count", "2"], "no invocation of "),
    (["invoke", "--count", "2", "--alias-arn", "arn:aws:lambda:us-east-1:123456789012:function:Nope:PROD"],
     "no invocation of arn:aws:lambda:us-east-1:123456789012:function:Nope:PROD reached a version: not_found"),
])
def test_common_mistakes_are_one_line_and_exit_two(args, line):
    done = shiftsim(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert line in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_results_folder_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "taken").write_text("a file")
    done = shiftsim("rehearse", "scenarios/linear-rollback.toml", "--results", str(tmp_path / "taken"))
    assert done.returncode == 2 and done.stderr == f"shiftsim: error: --results: {tmp_path / 'taken'} is a file, not a folder\n"


def test_a_rehearsal_without_a_deployment_says_it_is_load_only(tmp_path):
    """canary-split states no [expect]: the default gate judges it, and its version 2, failing one call in
    five, fails the run (a stack that fails callers is not green)."""
    scenario = tmp_path / "split.toml"
    scenario.write_text((ROOT / "scenarios" / "canary-split.toml").read_text() + "\n[load]\nmax_duration = 3\n")
    done = shiftsim("rehearse", str(scenario), "--results", str(tmp_path / "run"), timeout=120)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "the scenario has no [deployment] table: a load-only rehearsal of 3 s" in done.stdout
    assert "not started" not in done.stdout and "none: load only" in done.stdout
    assert "verdict: FAIL (default expectations: the scenario states no [expect])" in done.stdout
    assert "[ok] version 1's error rate, at most: expected 0.05, got 0.0" in done.stdout
    assert "[FAIL] version 2's error rate, at most: expected 0.05, got 0." in done.stdout
    assert "outcome" not in done.stdout.split("verdict:")[1]  # no deployment: no outcome to expect


def test_stage_against_a_port_nobody_listens_on_says_so():
    """It spoke of a missing admin token, the symptom rather than the cause."""
    import socket

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    result = shiftsim("stage", "--endpoint", f"http://127.0.0.1:{port}", "--handler", "x:y")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"--endpoint http://127.0.0.1:{port}: nothing answers there" in result.stderr
