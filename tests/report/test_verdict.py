"""A verdict you can bet a release on: the default gate of a scenario with no [expect], what makes a
rehearsal unfaithful (code that did not load, alarms already in ALARM), a generator that fell behind
(said, never the deployment's fault), one run per folder, and the same exit code from Locust."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.report.analysis import analyse, generator_summary
from simulator.report.errors import RecordError
from simulator.report.record import RecordWriter, RunFolderError, claim_folder, load_record
from simulator.report.results import verdict_exit_code
from simulator.report.summary_text import format_summary
from simulator.report.verdict import Expectations
from tests.test_cli import ENV, ROOT

T0 = 1_700_000_000.0


def a_run(folder, *, new_fails=0.0, old_fails=0.0, status="Succeeded", alarm_before=False,
          reason="function_error", late_share=0.0, lag=2.0, n=4000, seed=3, new_slower_s=0.0, run_info=None,
          qualifier="PROD", old_injected=False, starts=False, silent=0, in_progress=0, from_t=None):
    """An all-at-once-like deployment from T0 to T0+240 with half the traffic on version 2 from T0;
    each version fails the given share of its calls (seeded), `late_share` of contacts start late;
    `starts`: each contact's end says when it started; `silent`: contacts that invoke nothing, spread
    over the deployment; `in_progress`: every so many contacts, one still running when the run stopped
    (no end); `from_t`: no contact before then (a run that began after the deployment)."""
    rng = random.Random(seed)
    writer = RecordWriter(folder)
    if run_info:
        writer.describe_run(run_info)
    timeline = [
        {"t": T0, "kind": "deployment", "deployment_id": "d-TEST", "config": "CodeDeployDefault.LambdaCanary10Percent5Minutes",
         "routing": {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 50, "canaryInterval": 4}},
         "current_version": "1", "target_version": "2"},
        {"t": T0 + 240, "kind": "status", "status": status},
    ]
    if alarm_before:
        timeline.insert(0, {"t": T0 - 30, "kind": "alarm", "alarm": "Errors", "old": "OK", "state": "ALARM"})
    for event in timeline:
        writer.event(event)
    rows, ends = [], []
    for i in range(n):
        t = T0 - 30 + i * (300 / n)
        if from_t is not None and T0 - 30 + (i - i % 4) * (300 / n) < from_t:
            continue
        version = "2" if T0 <= t < T0 + 240 and rng.random() < 0.5 else "1"
        failed = rng.random() < (new_fails if version == "2" else old_fails)
        late = int(rng.random() < late_share)
        start = t + (lag if late else 0.0)
        rows.append((t, start, start + 0.01 + (new_slower_s if version == "2" else 0.0), t, f"c{i // 4}", i % 4 + 1, "invoke-alias",
                     qualifier(i) if callable(qualifier) else qualifier, version, "Error" if failed else "Success", reason if failed else "", 0, 200,
                     "error" if failed and old_injected and version == "1" else "", late, "local"))
        if i % 4 == 3 and not (in_progress and (i // 4) % in_progress == 0):
            ends.append({"contact": f"c{i // 4}", "t": t, "outcome": "disconnected", "last": ["flow", "bye"],
                         "flow_errors": [], "met": {"": [version]}, "late": bool(late), "lag_s": lag if late else 0.0,
                         **({"started": T0 - 30 + (i - 3) * (300 / n)} if starts else {})})
    ends += [{"contact": f"s{k}", "t": T0 + 240 * k / silent + 1, "outcome": "disconnected", "last": ["flow", "bye"],
              "invocations": 0, "flow_errors": [], "met": {}, "late": False, "lag_s": 0.0, "started": T0 + 240 * k / silent}
             for k in range(silent)]
    writer.add(rows)
    writer.contacts_ended(ends)
    writer.close()
    return load_record(folder)


def judged(folder, expect=None, **run):
    summary = analyse(a_run(folder, **run), expectations=Expectations(**(expect or {})))
    return summary, summary["verdict"], {c["check"]: c for c in summary["verdict"]["checks"]}


def test_with_no_expectations_a_healthy_deployment_passes_and_says_the_gate_was_implicit(tmp_path):
    summary, verdict, checks = judged(tmp_path)
    assert verdict["passed"] and verdict["implicit"] and verdict_exit_code(summary) == 0
    assert checks["outcome"]["expected"] == "succeeded" and checks["outcome"]["implicit"]
    assert "verdict: PASS (default expectations: the scenario states no [expect])" in format_summary(summary)


@pytest.mark.parametrize("run, failing", [
    ({"new_fails": 1.0}, "version 2's error rate, at most"),                     # a disaster
    ({"new_fails": 1.0, "status": "Stopped"}, "outcome"),                         # rolled back
    ({"new_fails": 0.04, "old_fails": 0.0}, "the new version fails no more than the old"),  # worse, under 5 %
    ({"new_fails": 0.5, "old_fails": 0.5}, "version 1's error rate, at most"),    # a stack that fails everyone
])
def test_with_no_expectations_a_release_that_hurts_callers_fails(tmp_path, run, failing):
    summary, verdict, checks = judged(tmp_path, **run)
    assert not verdict["passed"] and verdict_exit_code(summary) == 1
    assert not next(c for name, c in checks.items() if name.startswith(failing))["passed"]


def test_a_small_difference_between_equal_versions_does_not_fail_the_default_gate(tmp_path):
    """Both versions fail 1 % of calls: noise, not a worse version (the practical threshold holds it)."""
    _, verdict, _ = judged(tmp_path, new_fails=0.01, old_fails=0.01)
    assert verdict["passed"]


@pytest.mark.parametrize("expect", [None, {"outcome": "stopped"}])
def test_alarms_already_in_alarm_make_the_rehearsal_unfaithful(tmp_path, expect):
    summary, verdict, checks = judged(tmp_path, expect, status="Stopped", alarm_before=True)
    assert not verdict["passed"]
    why = next(c for name, c in checks.items() if "already in ALARM" in name)
    assert "alarm(s) Errors already in ALARM when the deployment started" in why["check"]


@pytest.mark.parametrize("reason", ["Runtime.ImportModuleError", "Runtime.HandlerNotFound"])
def test_code_that_did_not_load_fails_the_verdict_with_the_reason(tmp_path, reason):
    summary, verdict, checks = judged(tmp_path, {"max_error_rate": 1.0}, new_fails=1.0, reason=reason)
    assert not verdict["passed"] and not verdict["implicit"]
    assert any(f"version 2's code did not load ({reason}" in name for name in checks)


@pytest.mark.parametrize("old_fails, injected, reason, unfaithful", [
    (1.0, False, "function_error", True),     # production's version broken here: a setting, a secret, a service
    (0.3, False, "function_error", False),    # failing some calls: the default gate's business, not the rehearsal's
    (1.0, True, "function_error", False),     # failing on purpose: the scenario injects it
    (1.0, False, "invalid_response", False),  # answers Connect rejects: so it does in production, nothing lacking
])
def test_productions_version_failing_before_the_deployment_makes_the_rehearsal_unfaithful(tmp_path, old_fails,
                                                                                          injected, reason, unfaithful):
    """A handler that cannot reach what it needs fails as version 1 before anything shifts; a scenario
    that expects the rollback would pass on it, judging nothing of the change. An answer the block's
    validation refuses is Connect's judgement, the same in production: the deployment's to be judged on."""
    summary, verdict, checks = judged(tmp_path, {"outcome": "stopped"}, status="Stopped", old_fails=old_fails,
                                      new_fails=old_fails, old_injected=injected, reason=reason)
    said = [name for name in checks if "the one production runs" in name]
    assert bool(said) == unfaithful and verdict["passed"] != unfaithful
    if unfaithful:
        assert said[0].startswith("rehearsed faithfully: version 1, the one production runs, failed 400 of its 400 "
                                  "calls before the deployment started (function_error 400): production's version "
                                  "does not work here")


def test_counts_of_contacts_are_written_with_their_thousands(tmp_path):
    summary, _, _ = judged(tmp_path)
    assert "  contacts ended: 1,000 (disconnected 1,000)" in format_summary(summary).splitlines()


def test_a_generator_behind_is_said_and_never_fails_a_judgeable_run(tmp_path):
    summary, verdict, _ = judged(tmp_path, late_share=0.2)
    assert summary["generator"]["fell_behind"] and summary["generator"]["judgeable"]
    assert verdict["passed"] and verdict_exit_code(summary) == 0
    assert "the load generator fell behind: " in format_summary(summary)


@pytest.mark.parametrize("contact_s, cause", [
    (0.8, "its 4 users start at most 5.0 contacts/s with contacts of 0.80 s, fewer than the 30.0/s asked: add users "
          "(at least 25); a rehearsal adds them itself"),
    (0.1, "a fact about this machine")])  # 4 users could start 40/s: the users were enough
def test_a_generator_behind_for_want_of_users_says_so_not_the_machine(tmp_path, contact_s, cause):
    """Late starts while the users were all in longer contacts than planned are the users' count; the
    summary said "a fact about this machine" either way."""
    callers = {"users": 4, "contact_s": contact_s, "driven_per_second": 30.0}
    summary, _, _ = judged(tmp_path, late_share=0.2, run_info={"callers": callers})
    assert f"contacts started late, up to 2.0 s ({cause}, not the deployment;" in format_summary(summary)
    summary, _, _ = judged(tmp_path / "thin", late_share=0.3, lag=20.0, n=80, run_info={"callers": callers})
    assert summary["verdict"]["why_not_judged"].endswith("invocations: " + (
        cause if contact_s == 0.8 else "this machine could not rehearse production's load"))


@pytest.mark.parametrize("late, behind", [(1, False), (2, True)])
def test_one_late_start_in_a_small_run_is_a_hiccup_not_a_generator_behind(late, behind):
    """Twelve contacts of a night-time run, every window thin: one start late on a busy machine used
    to void the verdict (more than 5 % of twelve); two late starts still do."""
    windows = [{"start": 60.0 * k, "end": 60.0 * (k + 1), "invocations": 5} for k in range(5)]
    found = generator_summary({"contact_outcomes": {"ended": 12, "late": late}}, windows, {"ended_at": 300.0}, 25.0)
    assert found["fell_behind"] is behind and found["judgeable"] is not behind


def test_a_generator_too_far_behind_to_judge_is_exit_3_not_a_verdict(tmp_path):
    # 16 invocations a minute: too few to judge, and contacts 20 s late moved a third of a window's load
    summary, verdict, _ = judged(tmp_path, late_share=0.3, lag=20.0, n=80)
    assert verdict["judged"] is False and verdict_exit_code(summary) == 3
    assert "verdict: COULD NOT JUDGE" in format_summary(summary)
    assert verdict["why_not_judged"].startswith("the load generator fell behind (6 of 20 contacts started late by "
                                                "more than 6 s, a tenth of a window, moving load out of the windows")


def test_late_starts_within_a_tenth_of_a_window_leave_a_thin_run_judged(tmp_path):
    """A low-traffic canary's windows are thin by design; on a busy machine contacts started tens of
    milliseconds late, which moves nothing out of a 60 s window, yet withheld the verdict (exit 3).
    Starts 2 s late in 60 s windows keep every window's load: the verdict stands, the lag is said."""
    summary, verdict, _ = judged(tmp_path, late_share=0.3, n=80)
    generator = summary["generator"]
    assert generator["fell_behind"] and generator["judgeable"] and generator["displaced_contacts"] == 0
    assert verdict["judged"] and verdict["passed"] and verdict_exit_code(summary) == 0
    assert ("contacts started late, up to 2.0 s (a fact about this machine, not the deployment; the verdict still "
            "judges every window: 6 of those starts were within 6 s, a tenth of a window") in format_summary(summary)


@pytest.mark.parametrize("lags, scale, judgeable", [
    ([0.05, 0.05, 0.05], 1.0, True),      # 50 ms in 60 s windows, real time
    ([0.05, 0.05, 0.05], 60.0, True),     # 3 emulated s at x60: still under 6 s
    ([0.2, 0.2, 0.2], 60.0, False),       # 12 emulated s at x60: a fifth of a window moved
    ([0.2, 0.01, 0.01], 60.0, True),      # one displaced start of twelve is a hiccup
    (None, 1.0, False)])                  # a record that does not say how late: every late start counts
def test_a_late_start_counts_against_the_verdict_by_its_share_of_a_window(lags, scale, judgeable):
    windows = [{"start": 60.0 * k, "end": 60.0 * (k + 1), "invocations": 5} for k in range(5)]
    summary = {"contact_outcomes": {"ended": 12, "late": 3}, "window_s": 60.0, "run_info": {"time_scale": scale}}
    found = generator_summary(summary, windows, {"ended_at": 300.0}, 25.0, lags)
    assert found["fell_behind"] and found["judgeable"] is judgeable


def test_errors_in_the_load_withhold_the_verdict_beside_a_generator_that_fell_behind(tmp_path):
    errors = [{"error": "TypeError: a bug", "count": 3}, {"error": "KeyError: 'x'", "count": 1}]
    summary, verdict, checks = judged(tmp_path, run_info={"load_errors": errors})
    assert all(c["passed"] for c in checks.values())  # the record alone would pass
    assert verdict["judged"] is False and verdict["passed"] is False and verdict_exit_code(summary) == 3
    assert verdict["why_not_judged"].startswith("the load itself failed 4 time(s), not the deployment "
                                                "(first: TypeError: a bug)")
    both = judged(tmp_path / "both", late_share=0.3, lag=20.0, n=80,
                  run_info={"load_errors": errors})[1]["why_not_judged"]
    assert both.startswith("the load generator fell behind") and "; the load itself failed 4 time(s)" in both
    clean = judged(tmp_path / "clean")[1]
    assert clean["judged"] is True and "why_not_judged" not in clean


def test_a_run_the_emulator_refused_at_its_ceilings_is_not_judged(tmp_path):
    refused = {"metric datapoints": {"requests": 3, "ceiling": 500_000}, "log groups": {"requests": 1, "ceiling": 5000}}
    summary, verdict, _ = judged(tmp_path, run_info={"emulator_refused": refused})
    assert verdict["judged"] is False and verdict_exit_code(summary) == 3
    assert verdict["why_not_judged"] == (
        "the emulator refused requests at its own ceilings, which AWS would have taken (log groups: 1 request past "
        "5,000, metric datapoints: 3 requests past 500,000): raise them with $SHIFTSIM_EMULATOR_CEILINGS "
        "(docs/emulator.md)")


def test_a_run_whose_workers_last_reports_never_came_is_not_judged(tmp_path):
    # The end of the run (the deployment's last windows, a rollback) is short of what ran.
    summary, verdict, _ = judged(tmp_path, run_info={"workers_unreported": {"host_b2": 812}})
    assert verdict["judged"] is False and verdict_exit_code(summary) == 3
    assert verdict["why_not_judged"] == (
        "1 Locust worker (host_b2) sent no report after the test stopped: its last invocations never reached "
        "the master, so the record's end is short of what ran")
    assert "workers whose last report never came (their rows before it are kept): host_b2 (812 invocations)" \
        in format_summary(summary)


def test_what_the_instance_could_not_publish_withholds_the_verdict_only_where_a_groups_alarm_reads_it(tmp_path):
    """Flow logs the emulator did not take: an alarm of the group that reads them (a metric filter) could
    not roll back, so no verdict; read by no alarm, the run is judged and the summary says what was lost."""
    noted = {"failed_flushes": 2, "first_error": "ResourceNotFoundException: The specified log group does not exist."}
    summary, verdict, _ = judged(tmp_path / "read", run_info={"reports_unpublished": {
        "flow_logs": {**noted, "read_by": ["FailedResults"]}}})
    assert verdict["judged"] is False and verdict_exit_code(summary) == 3
    assert verdict["why_not_judged"] == (
        "the simulated Connect instance's flow logs could not all be published to the emulator (2 failed flushes; "
        "first: ResourceNotFoundException: The specified log group does not exist.): the deployment group's "
        "alarm(s) FailedResults read them, so what they would have done (roll back) was not rehearsed")
    summary, verdict, _ = judged(tmp_path / "unread", run_info={"reports_unpublished": {
        "metrics": {**noted, "failed_flushes": 1, "read_by": []}}})
    assert verdict["judged"] is True and verdict_exit_code(summary) == 0
    assert ("  NOTE: the simulated Connect instance's AWS/Connect metrics could not all be published to the emulator "
            "(1 failed flush; first: ResourceNotFoundException: The specified log group does not exist.); no alarm "
            "of the deployment group reads them") in format_summary(summary).splitlines()


def test_on_aws_a_group_alarm_that_reads_the_instances_reports_withholds_the_verdict(tmp_path):
    summary, verdict, _ = judged(tmp_path, run_info={"target": "aws", "alarms_not_reached": {"FlowErrors": ["metrics"]}})
    assert verdict["judged"] is False and verdict_exit_code(summary) == 3
    assert verdict["why_not_judged"].startswith("on AWS the simulator is not Connect and publishes none of the "
                                                "instance's reports, so the deployment group's alarm(s) FlowErrors")


def test_on_the_emulator_a_group_alarm_the_stack_does_not_declare_withholds_the_verdict(tmp_path):
    """Made in another stack or by hand, production's CodeDeploy reads it; the emulator has no such
    alarm, so a green run (or a red one) would not be the deployment's."""
    summary, verdict, _ = judged(tmp_path / "deployed", run_info={"alarms_undeclared": ["FromMonitoringStack"]})
    assert verdict["judged"] is False and verdict_exit_code(summary) == 3
    assert verdict["why_not_judged"].startswith(
        "the deployment group reads alarm(s) FromMonitoringStack, which the stack does not declare: made elsewhere "
        "(another stack, by hand), production's CodeDeploy reads them, and the emulator has no such alarm")
    assert "give their definitions with --alarms FILE (docs/plan.md)" in format_summary(summary)
    summary, verdict, _ = judged(tmp_path / "clean")  # the same run with every alarm in the stack: judged
    assert verdict["judged"] is True and verdict_exit_code(summary) == 0
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:AliasErrors"  # named by ARN: CodeDeploy finds none
    summary, verdict, _ = judged(tmp_path / "arn", run_info={"alarms_undeclared": [arn]})
    assert verdict["judged"] is False and verdict["why_not_judged"] == (
        f"the deployment group names alarm(s) by ARN ({arn}): CodeDeploy reads alarms by name and finds none, so "
        "whether it stops the deployment for that or goes on unguarded was not rehearsed; name them (a template's "
        "!Ref gives an alarm's name)")


def test_the_load_alone_holds_every_function_the_contacts_call_to_the_default_gate(tmp_path):
    """No deployment, and the contacts' other function failing half its calls: it passed (the default
    gate read the deployed function's versions only). With a deployment, the other function's errors
    are said in the summary and are not the deployment's verdict."""
    writer = RecordWriter(tmp_path / "run")
    writer.describe_run({"alias_arn": "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD"})
    rows = []
    for i in range(400):
        t = T0 + i * 0.05
        other = i % 2 == 0
        failed = other and i % 4 == 0
        rows.append((t, t, t + 0.01, t, f"c{i // 4}", 1, "flow/lookup" if other else "flow/invoke-alias",
                     "Other:live" if other else "ConnectLambdaFunction:PROD", "1", "Error" if failed else "Success",
                     "function_error" if failed else "", 0, 200, "", 0, "local"))
    writer.add(rows)
    writer.close()
    summary = analyse(load_record(tmp_path / "run"), expectations=Expectations())
    checks = {c["check"]: c for c in summary["verdict"]["checks"]}
    other = checks["Other:live's error rate (the contacts call it; no deployment ran), at most"]
    assert other["actual"] == 0.5 and not other["passed"] and not summary["verdict"]["passed"]
    assert checks["version 1's error rate, at most"]["passed"]  # the deployed function's own calls
    assert verdict_exit_code(summary) == 1


def test_the_judge_claims_no_contacts_spared_before_anything_differed(tmp_path):
    """A version slower by 50 ms with no error and no injected fault: the judge flags latency, but
    nothing the callers met differed before it, so no "would have spared" is printed."""
    summary = analyse(a_run(tmp_path, new_slower_s=0.05), expectations=Expectations())
    judged = summary["judge"]
    assert judged["flag"]["on"] == ["latency"] and judged["early"] and "spared_contacts" not in judged
    assert "no contacts spared are claimed" in format_summary(summary) and "would have spared" not in format_summary(summary)


def test_a_run_folder_holds_one_run(tmp_path):
    run = tmp_path / "run"
    a_run(run)
    with pytest.raises(RunFolderError, match="already holds a run"):
        claim_folder(run)
    with pytest.raises(RunFolderError, match="already holds a run"):
        RecordWriter(run)  # never appended to
    (tmp_path / "mine.txt").write_text("the user's")
    with pytest.raises(RunFolderError, match="holds files that are not a shiftsim run's"):
        claim_folder(tmp_path, replace=True)  # never deleted, even when asked to replace
    assert (tmp_path / "mine.txt").exists()
    claim_folder(run, replace=True)
    assert list(run.iterdir()) == []


def test_a_record_of_two_runs_is_refused(tmp_path):
    a_run(tmp_path)
    with (tmp_path / "timeline.jsonl").open("a") as timeline:
        timeline.write(json.dumps({"t": T0, "kind": "status", "status": "Succeeded", "run_id": "another"}) + "\n")
    with pytest.raises(RecordError, match="holds the record of more than one run"):
        load_record(tmp_path)
    plot = subprocess.run([sys.executable, "-m", "simulator.cli", "plot", str(tmp_path)], capture_output=True,
                          text=True, env=ENV, cwd=ROOT, timeout=120)
    assert plot.returncode == 2 and plot.stderr.count("\n") == 1, plot.stderr
    assert "holds the record of more than one run" in plot.stderr


@pytest.mark.parametrize("where", ["run", "scenarios"])
def test_rehearse_refuses_a_folder_that_holds_a_run_or_sources(tmp_path, where):
    folder = tmp_path / "run" if where == "run" else ROOT / "scenarios"
    if where == "run":
        a_run(folder)
    before = sorted(p.name for p in folder.iterdir())
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", "scenarios/linear-rollback.toml",
                           "--results", str(folder)], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert ("already holds a run" if where == "run" else "holds files that are not a shiftsim run's") in done.stderr
    assert sorted(p.name for p in folder.iterdir()) == before


def a_wheel(folder, name="greeting_lib", version="1.0"):
    """A pure-Python wheel of one module, built by hand (pip installs it with no index)."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name}-{version}.dist-info"
    files = {f"{name}.py": "def greet(who):\n    return f'hello {who}'\n",
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(text.encode())}" for path, text in files.items()]
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def sam_project(tmp_path, requirements: str) -> tuple:
    """A SAM project as users write one: a function whose code imports a package of its requirements.txt."""
    project = tmp_path / "project"
    src = project / "src"
    src.mkdir(parents=True)
    wheel = a_wheel(src)
    (src / "app.py").write_text("import greeting_lib\n\n\ndef handler(event, context):\n"
                                "    return {'version': context.function_version, 'said': greeting_lib.greet('caller')}\n")
    (src / "requirements.txt").write_text(requirements.replace("WHEEL", f"./{wheel.name}"))
    (project / "template.yaml").write_text("""AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: Greeter
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      AutoPublishAlias: live
      DeploymentPreference:
        Type: AllAtOnce
""")
    return project, src


def test_a_functions_requirements_are_installed_as_sam_build_does(tmp_path, monkeypatch):
    from simulator.scenario.reader import load_scenario
    from simulator.scenario.spec import StackSource
    from tests.helpers import RunningEmulator

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project, _ = sam_project(tmp_path, "WHEEL\n")
    scenario = load_scenario(None, StackSource(str(project / "template.yaml")))
    (fn,) = scenario.functions
    installed = Path(fn.versions[0].code.dependencies)
    assert installed.parent == tmp_path / "cache" / "shiftsim" / "dependencies" and (installed / "greeting_lib.py").exists()
    assert load_scenario(None, StackSource(str(project / "template.yaml"))).functions[0].versions[0].code.dependencies \
        == str(installed)  # cached by the requirements' content
    emulator = RunningEmulator(scenario)
    try:
        answer = json.loads(emulator.boto3().invoke(FunctionName="Greeter:live", Payload=b"{}")["Payload"].read())
    finally:
        emulator.close()
    assert answer == {"version": "1", "said": "hello caller"}


def test_requirements_pip_cannot_install_are_one_line_naming_the_package(tmp_path):
    project, src = sam_project(tmp_path, "WHEEL\n./absent_lib-2.0-py3-none-any.whl\n")
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "validate", "--template", str(project / "template.yaml")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**ENV, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"{src / 'requirements.txt'}: pip could not install the dependencies:" in done.stderr
    assert "absent_lib-2.0-py3-none-any.whl" in done.stderr
    assert not list((tmp_path / "cache" / "shiftsim" / "dependencies").iterdir())  # nothing half-built kept


def test_a_results_folder_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", "scenarios/linear-rollback.toml",
                           "--results", str(tmp_path / "a-file" / "run")], capture_output=True, text=True, env=ENV,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"shiftsim: error: --results: cannot use {tmp_path / 'a-file' / 'run'}: Not a directory")


def test_contacts_that_invoke_nothing_are_still_counted_and_fail_the_default_gate(tmp_path):
    """A flow whose contacts run no Invoke block: the summary counts them (it said 0 contacts beside
    68 ended), and with no invocation nothing was rehearsed, which the default gate says."""
    writer = RecordWriter(tmp_path)
    writer.contacts_ended([{"contact": f"c{i}", "t": T0 + i, "outcome": "disconnected", "last": ["flow", "bye"],
                            "invocations": 0, "errors": 0, "flow_errors": [], "met": {}, "late": False}
                           for i in range(68)])
    writer.close()
    summary = analyse(load_record(tmp_path), expectations=Expectations())
    assert summary["contacts"] == 68 and summary["contact_outcomes"]["ended"] == 68
    assert format_summary(summary).startswith("0 invocations in 68 contacts")
    assert not summary["verdict"]["passed"]
    assert any(c["check"].startswith("invocations, at least") and not c["passed"] for c in summary["verdict"]["checks"])
    # the flow, not the deployment: not a red verdict but none (exit 3), and why
    assert summary["verdict"]["judged"] is False and verdict_exit_code(summary) == 3
    assert summary["verdict"]["why_not_judged"].startswith(
        "no invocation was recorded: the 68 contacts that ran reached no Invoke AWS Lambda function block")


@pytest.mark.parametrize("expect", [Expectations(), Expectations(max_error_rate=0.01, max_failed_contacts=0)])
def test_a_run_that_recorded_nothing_is_never_green_whatever_it_expects(tmp_path, expect):
    """A test that ended before any contact started (its run time used up by a busy machine's start-up):
    an error rate of nothing would pass any [expect]. Its verdict is withheld (exit 3), saying why."""
    RecordWriter(tmp_path).close()
    summary = analyse(load_record(tmp_path), expectations=expect)
    assert summary["invocations"] == 0 and not summary["verdict"]["passed"]
    assert summary["verdict"]["judged"] is False and verdict_exit_code(summary) == 3
    assert "no invocation was recorded: no contact started before the test ended" in format_summary(summary)


DEPLOYED_ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:ConnectLambdaFunction:PROD"


@pytest.mark.parametrize("expect", [None, {"max_error_rate": 1.0}])
def test_contacts_calling_the_deployed_functions_latest_fail_the_verdict_whatever_is_expected(tmp_path, expect):
    """A block naming the deployed function without its alias calls $LATEST, which no deployment
    shifts: in production those callers meet new code at once, unprotected. Never green."""
    latest = "ConnectLambdaFunction:$LATEST"
    summary, verdict, checks = judged(tmp_path, expect, run_info={"alias_arn": DEPLOYED_ALIAS}, n=400,
                                      qualifier=lambda i: latest if i % 4 == 0 else "ConnectLambdaFunction:PROD")
    assert summary["deployed_bypassed"] == {"$LATEST": 100}
    check = next(c for name, c in checks.items() if "never its $LATEST" in name)
    assert (check["expected"], check["actual"], check["passed"]) == (0, 100, False)
    assert not verdict["passed"] and verdict_exit_code(summary) == 1
    assert ("NOTE: 100 invocations called ConnectLambdaFunction:$LATEST, not the alias the deployment shifts: the "
            "shift never reached those callers (an ARN without a qualifier calls $LATEST)") in format_summary(summary)


def test_contacts_calling_a_pinned_version_are_said_not_failed(tmp_path):
    summary, verdict, _ = judged(tmp_path, run_info={"alias_arn": DEPLOYED_ALIAS}, n=400,
                                 qualifier=lambda i: "ConnectLambdaFunction:1" if i % 4 == 0 else "ConnectLambdaFunction:PROD")
    assert summary["deployed_bypassed"] == {"1": 100} and verdict["passed"]
    assert "NOTE: 100 invocations called ConnectLambdaFunction:1, not the alias the deployment shifts" in format_summary(summary)


def test_the_summary_says_why_codedeploy_stopped_the_deployment(tmp_path):
    writer_folder = tmp_path / "run"
    a_run(writer_folder, status="Failed")
    message = "The BeforeAllowTraffic hook CodeDeployHook_pre did not report a status within 3600 seconds."
    why = "The hook's invocation failed: Runtime.ImportModuleError: Error: Cannot find module 'aws-sdk'"
    with open(writer_folder / "timeline.jsonl", "a") as timeline:
        timeline.write(json.dumps({"t": T0 + 240, "kind": "lifecycle", "event": "BeforeAllowTraffic",
                                   "status": "Failed", "diagnostics": why}) + "\n")
        timeline.write(json.dumps({"t": T0 + 240, "kind": "error", "code": "HOOK_EXECUTION_FAILURE",
                                   "message": message}) + "\n")
    summary = analyse(load_record(writer_folder), expectations=Expectations())
    lines = format_summary(summary).splitlines()
    said = lines.index(f"  CodeDeploy: {message} (HOOK_EXECUTION_FAILURE)")
    assert lines[said + 1] == f"  BeforeAllowTraffic: {why}"
    from simulator.report.plot import draw_timeline  # the figure says it below its panels

    assert all(path.stat().st_size > 0 for path in draw_timeline(summary, tmp_path / "figure"))


@pytest.mark.parametrize("sampled, advice", [(True, "set a lower max_contacts_per_second"),
                                             (False, "set max_contacts_per_second to sample")])
def test_contacts_that_started_late_are_counted_in_words_with_advice_that_fits_the_run(tmp_path, sampled, advice):
    summary, _, _ = judged(tmp_path)
    terms = {"estimate": 10.0, "low": 8.0, "high": 12.0}
    summary["production"] = {"stated": True, "sampled": sampled, "contacts_per_minute": 600, "weight": 24,
                             "invocations": terms, "errors": terms, "failed_contacts_during": terms, "late_contacts": 1}
    text = format_summary(summary)
    assert "0 invocations started late" in text.splitlines()[0]
    assert f"  1 contact started late: the generator fell behind production's arrival rate (add users, or {advice})" in text


def test_plot_refuses_a_notes_file_that_is_not_notes_before_it_writes_anything(tmp_path):
    a_run(tmp_path)
    (tmp_path / "flow_logs.notes.jsonl").write_bytes(b"not notes\n")
    plot = subprocess.run([sys.executable, "-m", "simulator.cli", "plot", str(tmp_path)], capture_output=True,
                          text=True, env=ENV, cwd=ROOT, timeout=120)
    assert plot.returncode == 2 and plot.stderr.count("\n") == 1, plot.stderr
    assert "flow_logs.notes.jsonl: line 1 is not flow log notes" in plot.stderr and "move it aside" in plot.stderr
    assert not (tmp_path / "timeline.png").exists() and not (tmp_path / "summary.json").exists()
    (tmp_path / "flow_logs.notes.jsonl").rename(tmp_path / "aside.notes")
    plot = subprocess.run([sys.executable, "-m", "simulator.cli", "plot", str(tmp_path)], capture_output=True,
                          text=True, env=ENV, cwd=ROOT, timeout=120)
    assert plot.returncode == 0 and (tmp_path / "timeline.png").exists(), plot.stderr


@pytest.mark.parametrize("sampled", [True, False])
def test_a_judge_with_too_few_invocations_says_what_gives_it_some_when_the_run_sampled(tmp_path, sampled):
    summary, _, _ = judged(tmp_path)
    summary["judge"] = {"confidence": 0.99, "tested": 0, "too_few": 9, "flagged_at": None}
    summary["production"] = {"stated": False, "sampled": sampled}
    (line,) = [line for line in format_summary(summary).splitlines() if "statistical judge" in line]
    assert line.startswith("  statistical judge (99 %): no verdict: too few invocations of each version, even with "
                           "all the deployment's windows taken together (at least 20 each)")
    assert line.endswith("; a denser sample (a higher max_contacts_per_second) gives it some") is sampled


def test_a_run_with_no_deployment_says_beside_its_verdict_that_it_judged_the_load_alone(tmp_path):
    summary, _, _ = judged(tmp_path)
    assert summary["deployment"]["deployment_id"] and "no deployment ran" not in format_summary(summary)
    summary["deployment"]["deployment_id"] = None  # a load-only rehearsal (no [deployment] table, no change given)
    assert "no deployment ran: the verdict judges the load alone, not a deployment" in format_summary(summary)


def test_a_judge_that_pooled_windows_says_how_many_and_which_went_untested(tmp_path):
    summary, _, _ = judged(tmp_path)
    summary["judge"] = {"confidence": 0.99, "tested": 3, "too_few": 4, "unjudged": 1, "flagged_at": None}
    (line,) = [line for line in format_summary(summary).splitlines() if "statistical judge" in line]
    assert line == ("  statistical judge (99 %): no difference found in 3 tests (3 windows with too few invocations "
                    "tested together with the next; the last window had too few of a version to test)")


def test_what_failed_calls_said_is_in_the_summary_per_version_and_per_other_function(tmp_path):
    """Locust's failure texts, kept in the timeline when the test stops: the deployed function's per
    version, another function's under its own line, the most frequent first."""
    run_info = {"alias_arn": DEPLOYED_ALIAS}
    a_run(tmp_path, new_fails=0.2, n=400, run_info=run_info,
          qualifier=lambda i: "Lookup:live" if i % 4 == 0 else "ConnectLambdaFunction:PROD")
    said = {"invoke v2": [["function_error: InjectedFault: boom", 30]],
            "invoke Lookup:live v1": [["function_error: KeyError: 'phone'", 5], ["timeout: time limit reached", 2]],
            "invoke Lookup:live v2": [["function_error: KeyError: 'phone'", 4]]}
    with (tmp_path / "timeline.jsonl").open("a") as timeline:
        timeline.write(json.dumps({"t": T0 + 300, "kind": "errors_said", "by_name": said}) + "\n")
    summary = analyse(load_record(tmp_path))
    assert summary["versions"]["2"]["errors_said"] == [["function_error: InjectedFault: boom", 30]]
    assert "errors_said" not in summary["versions"]["1"]
    assert summary["functions"]["Lookup:live"]["errors_said"] == [
        ["function_error: KeyError: 'phone'", 9], ["timeout: time limit reached", 2]]
    text = format_summary(summary)
    assert "    what they said: function_error: InjectedFault: boom (30)" in text
    assert "    what they said: function_error: KeyError: 'phone' (9); timeout: time limit reached (2)" in text


def traffic(contacts_per_minute, weight=1.0):
    """Production's traffic as a run records it: a_run's contacts start 200 a minute (one every 0.3 s)."""
    return {"traffic": {"contacts_per_minute": contacts_per_minute, "weight": weight, "driven_per_second": 3.33}}


def test_the_contacts_started_during_the_deployment_are_counted_against_those_due(tmp_path):
    """a_run starts 801 contacts in its 240 s deployment (at both ends): what 200 a minute has due; at
    500 a minute 2,000 were due, and it started 40 % of them."""
    full, _, _ = judged(tmp_path / "full", run_info=traffic(200))
    assert full["generator"]["delivered"] == {"unit": "contacts", "started": 801, "due": 800.0, "share": 1.0, "enough": True}
    short, _, _ = judged(tmp_path / "short", run_info=traffic(500))
    assert short["generator"]["delivered"] == {"unit": "contacts", "started": 801, "due": 2000.0, "share": 0.4005,
                                                   "enough": False}
    assert "delivered" not in judged(tmp_path / "unstated")[0]["generator"]  # no production's traffic: none due
    # a deployment the run watched, started a minute before the run: what was due from the run's start
    watched, _, _ = judged(tmp_path / "watched", run_info={**traffic(200), "emulated_start": T0 + 60}, from_t=T0 + 60)
    assert watched["generator"]["delivered"] == {"unit": "contacts", "started": 601, "due": 600.0, "share": 1.0,
                                                 "enough": True}
    few, _, _ = judged(tmp_path / "few", run_info=traffic(4.5), n=80)  # a night's 18 due: one short is an edge
    assert few["generator"]["delivered"] == {"unit": "contacts", "started": 17, "due": 18.0, "share": 0.9444,
                                             "enough": True}
    # contacts that invoke nothing (a path to a queue, say) started all the same: counted from their ends
    # and contacts still in progress when the run stopped (no end), by their first invocation
    silent, _, _ = judged(tmp_path / "silent", run_info=traffic(250), starts=True, silent=200, in_progress=3)
    assert silent["generator"]["delivered"] == {"unit": "contacts", "started": 1001, "due": 1000.0, "share": 1.0,
                                                    "enough": True}


def test_a_generator_short_of_the_load_due_counts_what_it_missed_in_productions_terms(tmp_path):
    """Contacts hurt during the deployment were counted from the contacts that ran: a generator that
    started 40 % of those due read 40 % of production's count, and a limit between the two passed.
    Now the deployment's counts are scaled to the load due (the missing contacts faring as those that
    ran), their interval with them, and the check fails as production would; the summary says why."""
    expect = {"max_failed_contacts": 400}
    full, verdict, checks = judged(tmp_path / "full", expect, new_fails=0.2, run_info=traffic(200))
    hurt = full["deployment"]["failed_contacts_during"]
    assert 150 < hurt < 400 and verdict["passed"]  # the run's own count, at the load due
    short, verdict, checks = judged(tmp_path / "short", expect, new_fails=0.2, run_info=traffic(500))
    production = short["production"]["failed_contacts_during"]
    assert short["deployment"]["failed_contacts_during"] == hurt  # the same contacts ran
    assert production["estimate"] == pytest.approx(hurt / 0.4005, abs=0.1) and production["low"] > hurt
    assert not verdict["passed"] and verdict["judged"] and verdict_exit_code(short) == 1
    text = format_summary(short)
    assert ("the generator started 801 of the 2,000 contacts due during the deployment (40 %): its counts there are "
            "scaled to the load due (each contact that ran stood for 2.5)") in text


@pytest.mark.parametrize("expect, status, new_fails, code, untrusted", [
    ({"outcome": "succeeded"}, "Succeeded", 0.0, 3, "outcome"),        # an alarm's sums were short too
    ({"alarm_fires": False}, "Succeeded", 0.0, 3, "alarm fires"),
    (None, "Succeeded", 0.0, 3, "outcome"),                            # the default gate's succeeded
    ({"outcome": "stopped"}, "Stopped", 0.5, 0, None),                 # more load: a rollback all the same
    ({"outcome": "succeeded", "max_error_rate": 0.05}, "Succeeded", 0.5, 1, None),  # a rate: no load turns it
])
def test_what_the_missing_load_could_turn_is_not_judged_and_what_it_could_not_stands(tmp_path, expect, status,
                                                                                     new_fails, code, untrusted):
    """A generator that started too few of the contacts due: a result more load could have turned (a
    deployment that succeeded, an alarm that stayed quiet: their sums were short) withholds the verdict,
    exit 3, naming the check; a failure it could not turn is the deployment's (exit 1), and a rollback
    or a rate stands."""
    summary, verdict, _ = judged(tmp_path, expect, status=status, new_fails=new_fails, run_info=traffic(500))
    assert verdict_exit_code(summary) == code
    if untrusted:
        assert verdict["why_not_judged"].startswith("the load generator started 801 of the 2,000 contacts due during "
                                                    "the deployment (40 %): this machine could not rehearse")
        assert verdict["why_not_judged"].endswith(f"could have gone the other way: {untrusted}")
    summary, verdict, _ = judged(tmp_path / "due", expect, status=status, new_fails=new_fails, run_info=traffic(200))
    assert verdict["judged"] and verdict_exit_code(summary) == (1 if code == 1 else 0)


def test_the_contacts_due_follow_the_days_profile_from_the_runs_start():
    from simulator.scenario.day_profile import Profile

    profile = Profile.parse("17:00-17:02=100", default=400)
    assert profile.contacts_between("16:59", 60, 300) == pytest.approx(2 * 100 + 2 * 400)
    assert profile.contacts_between("16:59", 30, 90) == pytest.approx(0.5 * 400 + 0.5 * 100)
    assert profile.contacts_between("23:59", 0, 120) == pytest.approx(2 * 400)  # past midnight


def test_a_run_on_the_days_profile_is_held_to_the_contacts_its_hours_had_due(tmp_path):
    """The deployment ran 17:00 to 17:04 of the emulated day: two minutes at 100 contacts a minute,
    two at 400: 1,000 due, not the peak's 1,600; a_run started 801 of them."""
    from simulator.scenario.day_profile import Profile

    profile = Profile.parse("17:00-17:02=100", default=400)
    info = {"traffic": {"contacts_per_minute": 400.0, "weight": 1.0, "driven_per_second": 6.67},
            "traffic_profile": {"spans": [list(span) for span in profile.spans], "default": 400.0},
            "start_time": "16:59", "emulated_start": T0 - 60}
    summary, _, _ = judged(tmp_path, run_info=info)
    assert summary["generator"]["delivered"] == {"unit": "contacts", "started": 801, "due": 1000.0, "share": 0.801,
                                                     "enough": False}


def test_an_invocation_rate_the_generator_did_not_hold_is_counted_the_same_way(tmp_path):
    """Locust's --rate: invocations due at that rate over the deployment, against those started. a_run
    starts 3,200 in its 240 s deployment (at both ends, 3,201): 13.3 a second holds, 20 a second was
    two thirds delivered, and a count of contacts hurt (the run's own) that the rest could push past its
    limit is not judged."""
    expect = {"max_failed_contacts": 300}
    held, verdict, _ = judged(tmp_path / "held", expect, new_fails=0.2, run_info={"rate": 13.34, "time_scale": 1.0})
    assert held["generator"]["delivered"]["enough"] and verdict["passed"]
    hurt = held["deployment"]["failed_contacts_during"]
    assert hurt < 300 < hurt / 0.667
    short, verdict, _ = judged(tmp_path / "short", expect, new_fails=0.2, run_info={"rate": 20.0, "time_scale": 1.0})
    assert short["generator"]["delivered"] == {"unit": "invocations", "started": 3201, "due": 4800.0,
                                               "share": 0.6669, "enough": False}
    assert verdict["judged"] is False and verdict_exit_code(short) == 3
    assert verdict["why_not_judged"].startswith("the load generator started 3,201 of the 4,800 invocations due")
    assert ("the load generator started 3,201 of the 4,800 invocations due during the deployment (67 %)"
            in format_summary(short))
