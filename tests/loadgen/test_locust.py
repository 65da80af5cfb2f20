"""Real Locust runs of locustfiles/connect_loop.py: headless, --processes, master and workers, rate
control, a deployment during the run. Every invocation in Locust's statistics is in the record."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import (
    ROOT,
    free_port,
    processes_on_a_free_port,
    running_emulator,
    wait_for,
    weighted_stack,
)

FLAT_OUT = pytest.mark.xdist_group("flat-out")  # rate held on a machine of its own: see pyproject.toml


LOCUSTFILE = str(ROOT / "locustfiles" / "connect_loop.py")
LOCUST = [sys.executable, "-m", "locust", "-f", LOCUSTFILE]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture
def weighted(tmp_path):
    path = tmp_path / "weighted.toml"
    path.write_text(weighted_stack(5, 0.3))
    return path


def run_locust(tmp_path, *args, timeout=120, env=None):
    results = tmp_path / "results"
    command = [*LOCUST, "--headless", "--results-dir", str(results), "--json-file", str(tmp_path / "stats"), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env or ENV, cwd=ROOT)
    return done, results


def stats_counts(tmp_path):
    """Locust's final statistics (--json-file is written at shutdown; its CSV lags up to a second)."""
    entries = json.loads((tmp_path / "stats.json").read_text())
    counts = {e["name"]: e["num_requests"] for e in entries}
    counts["Aggregated"] = sum(counts.values())
    return counts


def record(results):
    """The run's rows as dicts of strings, through the record's own loader."""
    from simulator.report.record import COLUMNS, load_record

    (run,) = list(results.iterdir())
    loaded = load_record(run)
    decoded = {c: loaded.text(c) if c in ("contact", "action", "qualifier", "version", "reason", "injected",
                                          "worker") else loaded.rows[c] for c in COLUMNS if c != "outcome"}
    outcomes = np.array(["Success", "Error"])[loaded.rows["outcome"]]
    rows = [{**{c: str(decoded[c][i]) for c in decoded}, "outcome": outcomes[i]} for i in range(len(loaded))]
    return run, rows


def paced_run(tmp_path, users, spawn_rate, seconds, rate, prompt_time):
    """A headless run at `rate` invocations/s that must succeed; its Locust result and record rows."""
    done, results = run_locust(tmp_path, "-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s",
                               "--rate", str(rate), "--prompt-time", prompt_time)
    assert done.returncode == 0, done.stderr[-2000:]
    return done, record(results)[1]


def check_record_matches_stats(tmp_path, results):
    counts = stats_counts(tmp_path)
    run, rows = record(results)
    assert len(rows) == counts["Aggregated"] > 0
    for version in ("1", "2"):
        assert sum(1 for r in rows if r["version"] == version) == counts.get(f"invoke v{version}", 0)
    return rows


@pytest.mark.long(25)
@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])  # the load's loop and the emulator's
def test_headless_run_invokes_both_versions_and_records_every_invocation(tmp_path, weighted, event_loop):
    done, results = run_locust(tmp_path, "-u", "20", "-r", "20", "-t", "20s", "--scenario", str(weighted),
                               "--seed", "3", "--event-loop", event_loop)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = check_record_matches_stats(tmp_path, results)
    counts = stats_counts(tmp_path)
    assert counts["invoke v1"] > 0 and counts["invoke v2"] > 0
    (run,) = list(results.iterdir())  # the summary and figure, written without asking as the test ends
    assert (run / "summary.json").exists() and (run / "timeline.png").exists()
    assert done.stderr.strip().splitlines()[-1].endswith(  # what this run wrote, the flow logs too
        f"shiftsim: results: {run} (summary.json, timeline.png, timeline.svg, flow_logs.jsonl)")
    assert json.loads((run / "summary.json").read_text())["invocations"] == len(rows)
    assert {r["outcome"] for r in rows} == {"Success"}
    sizes = {e["name"]: e["total_content_length"] / e["num_requests"]
             for e in json.loads((tmp_path / "stats.json").read_text())}
    for version in ("1", "2"):  # Locust's response size is the answer's bytes ({"version":"N"}, as served)
        assert sizes[f"invoke v{version}"] == len(json.dumps({"version": version}, separators=(",", ":")))
    assert len({r["contact"] for r in rows}) >= 20  # each user runs its own contacts
    assert max(int(r["loop"]) for r in rows) > 1     # contacts loop through the flow
    assert "invocations recorded in" in done.stderr


def test_locusts_csv_files_count_every_recorded_invocation(tmp_path):
    """`--csv`: Locust rewrites its totals once a second, the last time before the final invocations are
    counted; shiftsim writes them once more as Locust exits, so they agree with the record."""
    done, results = run_locust(tmp_path, "-u", "20", "-r", "20", "-t", "4s", "--prompt-time", "fixed:0",
                               "--csv", str(tmp_path / "locust"))
    assert done.returncode == 0, done.stderr[-2000:]
    with (tmp_path / "locust_stats.csv").open(newline="") as file:
        totals = {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(file)}
    assert totals["Aggregated"] == len(record(results)[1]) == stats_counts(tmp_path)["Aggregated"] > 1000
    for name in ("failures", "exceptions", "stats_history"):
        assert (tmp_path / f"locust_{name}.csv").read_text().count("\n") >= 1  # Locust's header at least


LISTENING_LOCUSTFILE = """
import collections, gc, json, os
from locust import events
from simulator.loadgen.setup import install
from simulator.loadgen.user import ContactUser

install(events)
heard = collections.Counter()
gc_before = gc.get_threshold()


@events.request.add_listener
def hear(name, context, exception, **kwargs):
    heard[name] += 1
    heard["with a version in context"] += context["version"] is not None


@events.quitting.add_listener
def save(environment, **kwargs):
    heard["collector as before"] = gc.get_threshold() == gc_before and not gc.get_freeze_count()
    with open(os.environ["HEARD"], "w") as out:
        json.dump(heard, out)


class Caller(ContactUser):
    pass
"""


def test_a_request_listener_of_the_users_own_hears_every_invocation(tmp_path, weighted):
    # Without other listeners, invocations reach Locust's statistics in batches: a listener of the
    # user's own must still be called for each one, with shiftsim's context.
    locustfile = tmp_path / "listening.py"
    locustfile.write_text(LISTENING_LOCUSTFILE)
    done = subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "10", "-r", "10",
                           "-t", "10s", "--scenario", str(weighted), "--results-dir", str(tmp_path / "results"),
                           "--json-file", str(tmp_path / "stats")], capture_output=True, text=True, timeout=120,
                          env={**ENV, "HEARD": str(tmp_path / "heard.json")}, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    heard, counts = json.loads((tmp_path / "heard.json").read_text()), stats_counts(tmp_path)
    assert counts["Aggregated"] > 100  # paced by the scenario: about 17 a second, once the users have started
    assert {name: heard.get(name, 0) for name in counts if name != "Aggregated"} == \
        {name: n for name, n in counts.items() if name != "Aggregated"}
    assert heard["with a version in context"] == counts["Aggregated"]
    assert heard["collector as before"]  # the load's collector settings end with the test


BREAKING_LOCUSTFILE = """
from locust import events
from simulator.loadgen.setup import install
from simulator.loadgen.user import ContactUser

install(events)


class Caller(ContactUser):
    def _session(self):
        if not getattr(self, "broke", False):  # each user's first contact breaks off, then they run
            self.broke = True
            raise LookupError("a contact loop broke off")
        return super()._session()
"""


@FLAT_OUT  # its 8 s at 200 invocations/s (a busy machine's start-up may take half) must record a load that would pass: not beside the flat-out benchmarks
@pytest.mark.parametrize("processes", [False, True])
def test_a_load_that_raised_is_not_judged_whatever_it_recorded(tmp_path, processes):
    """Errors in the users' tasks are shiftsim's (or the locustfile's), never the deployment's: the
    record alone would pass, so the verdict is withheld (exit 3) and says why."""
    locustfile = tmp_path / "breaking.py"
    locustfile.write_text(BREAKING_LOCUSTFILE)
    results = tmp_path / "results"
    done = subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-u", "4", "-r", "4",
                           "-t", "8s", "--results-dir", str(results), "--prompt-time", "fixed:0", "--rate", "200",
                           *(processes_on_a_free_port() if processes else ())],
                          capture_output=True, text=True, timeout=120, env=ENV, cwd=ROOT)
    assert done.returncode == 3, done.stderr[-2000:]
    (run,) = list(results.iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["invocations"] > 100 and summary["errors"] == 0  # the record alone would pass
    verdict = summary["verdict"]
    assert verdict["judged"] is False and verdict["passed"] is False
    assert "the load itself failed 4 time(s), not the deployment (first: LookupError: a contact loop broke off)" \
        in verdict["why_not_judged"]
    assert json.loads((run / "run.json").read_text())["load_errors"] == [
        {"error": "LookupError: a contact loop broke off", "count": 4}]
    assert "verdict: COULD NOT JUDGE" in done.stderr


# Distributed, 10 s: a worker's failures reach the master in its reports every 3 s; the final one, sent as
# the worker stops, may come after the master has closed (Locust's master waits half a second for it)
@pytest.mark.parametrize("processes, seconds", [([], "4s"), (processes_on_a_free_port(), "10s")])
def test_a_run_the_emulator_refused_at_its_own_ceiling_is_not_judged(tmp_path, processes, seconds):
    """One log group at most: Lambda's is made first (before any CloudWatch Logs request is served), and
    the Connect instance's is refused, which AWS would have made. Nothing the verdict checks fails, and
    yet the run is not AWS's: no verdict. What the instance could not publish is said too, a worker's
    carried to its master (no alarm of the seed's group reads it)."""
    done, results = run_locust(tmp_path, "-u", "4", "-r", "4", "-t", seconds, "--prompt-time", "fixed:0", "--rate",
                               "200", *processes, env={**ENV, "SHIFTSIM_EMULATOR_CEILINGS": json.dumps({"log groups": 1})})
    assert done.returncode == 3, done.stderr[-2000:]
    (run,) = list(results.iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["errors"] == 0 and all(c["passed"] for c in summary["verdict"]["checks"])
    run_info = json.loads((run / "run.json").read_text())
    refused = run_info["emulator_refused"]
    assert set(refused) == {"log groups"} and refused["log groups"]["ceiling"] == 1
    assert refused["log groups"]["requests"] >= 1
    assert ("the emulator refused requests at its own ceilings, which AWS would have taken (log groups: "
            in summary["verdict"]["why_not_judged"])
    unpublished = run_info["reports_unpublished"]
    assert set(unpublished) == {"flow_logs"} and unpublished["flow_logs"]["read_by"] == []
    assert unpublished["flow_logs"]["failed_flushes"] >= 1  # a master runs no contacts: there, a worker's
    assert "LimitExceededException" in unpublished["flow_logs"]["first_error"]
    assert "NOTE: the simulated Connect instance's flow logs could not all be published to the emulator (" in done.stderr


@pytest.mark.parametrize("spawn_rate", ["20", "640"])  # 640: users arrive before a worker's init has run
def test_processes_two(tmp_path, weighted, spawn_rate):
    done, results = run_locust(tmp_path, "-u", "20", "-r", spawn_rate, "-t", "10s", *processes_on_a_free_port(),
                               "--scenario", str(weighted))
    assert "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr[-2000:]
    rows = check_record_matches_stats(tmp_path, results)
    assert len({r["worker"] for r in rows}) == 2


@pytest.mark.parametrize("stop_signal, processes, again", [
    (signal.SIGTERM, [], False), (signal.SIGINT, [], False), (signal.SIGINT, [], True),
    (signal.SIGTERM, processes_on_a_free_port(), False)])
def test_a_run_stopped_by_a_signal_counts_and_records_every_invocation(tmp_path, stop_signal, processes, again):
    """SIGTERM (a CI runner, docker stop) or Ctrl-C mid-run: Locust says `quitting` before stopping the
    users. Their last invocations are still counted and recorded (a master's from its workers' final
    reports), the record line says how many, and no user dies of a cancelled coroutine. `again`: Ctrl-C
    every few milliseconds to the end, as an impatient user presses it (it broke the users' stop off:
    a traceback, the record unclosed, exit -2)."""
    results = tmp_path / "results"
    # Locust's own CSV writer, with --processes, may write once more after its files are closed when a
    # signal stops the master (a traceback of Locust's): the CSV is checked on the single process only
    csv_option = [] if processes else ["--csv", str(tmp_path / "locust")]
    process = subprocess.Popen(
        [*LOCUST, "--headless", "-u", "20", "-r", "20", "-t", "60s", "--prompt-time", "fixed:0", *processes,
         "--results-dir", str(results), "--json-file", str(tmp_path / "stats"), *csv_option],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not sum(path.stat().st_size for path in results.glob("*/invocations.bin")):
            assert time.monotonic() < deadline and process.poll() is None, "no invocation recorded"
            time.sleep(0.2)
        time.sleep(1)
        process.send_signal(stop_signal)
        while again and process.poll() is None and time.monotonic() < deadline + 60:
            process.send_signal(stop_signal)
            time.sleep(0.005)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
    assert "CancelledError" not in err and "Uncaught exception" not in err and "Traceback" not in err, err[-3000:]
    assert process.returncode >= 0, (process.returncode, err[-3000:])
    rows = check_record_matches_stats(tmp_path, results)
    said = [line for line in err.splitlines() if "invocations recorded in" in line]
    assert said and f"shiftsim: {len(rows)} invocations recorded in" in said[-1]  # the last one, the final count
    if csv_option:
        with (tmp_path / "locust_stats.csv").open(newline="") as file:
            assert {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(file)}["Aggregated"] == len(rows)


def start_master_and_workers(tmp_path, scenario, port, seconds, locustfile=LOCUSTFILE, extra=()):
    """A --master on loopback expecting two --worker processes (`extra`: more of the master's options);
    returns (master, workers, results)."""
    results = tmp_path / "results"
    locust = [sys.executable, "-m", "locust", "-f", str(locustfile)]
    master = subprocess.Popen(
        [*locust, "--master", "--headless", "-u", "20", "-r", "20", "-t", f"{seconds}s", "--expect-workers", "2",
         "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--scenario", str(scenario),
         "--results-dir", str(results), "--json-file", str(tmp_path / "stats"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    workers = []
    for number in range(2):  # each worker's words kept in a file, for a failure to show
        with (tmp_path / f"worker{number}.log").open("w") as log:
            workers.append(subprocess.Popen(
                [*locust, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
                stdout=subprocess.DEVNULL, stderr=log, env=ENV, cwd=ROOT))
    return master, workers, results


def worker_logs(tmp_path):
    return "\n".join(f"{path.name}:\n{path.read_text()[-2000:]}" for path in sorted(tmp_path.glob("worker*.log")))


def run_master_and_workers(tmp_path, scenario, seconds, locustfile=LOCUSTFILE, extra=()):
    """A master and two workers run to their end; the master's stderr and the record's rows."""
    master, workers, results = start_master_and_workers(tmp_path, scenario, free_port(), seconds, locustfile, extra)
    try:
        _, master_err = master.communicate(timeout=120)
        assert master.returncode == 0, master_err[-2000:]  # its workers would wait for it in vain
        deadline = time.monotonic() + 60
        worker_codes = [w.wait(timeout=max(1.0, deadline - time.monotonic())) for w in workers]
    except subprocess.TimeoutExpired:
        raise AssertionError(f"a worker outlived its master\n{worker_logs(tmp_path)}") from None
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
    assert worker_codes == [0, 0], worker_logs(tmp_path)  # the process tree exits by itself
    rows = check_record_matches_stats(tmp_path, results)
    assert len({r["worker"] for r in rows}) == 2
    return master_err, rows


def test_master_and_two_workers_on_loopback(tmp_path, weighted):
    run_master_and_workers(tmp_path, weighted, 10)


def test_a_master_says_how_well_its_workers_kept_the_rate(tmp_path, weighted):
    # each worker reports what it started of its share and what was due of it at one moment: the sum is
    # seconds old, never out of step (20 users with 0.4 s prompts start up to 50 a second: 30 are kept)
    master_err, rows = run_master_and_workers(tmp_path, weighted, 10, extra=("--rate", "30"))
    assert_started_of_due(master_err, lambda started, due: started > 0 and abs(started - due) <= 0.1 * due + 5)
    assert "the load started" not in worker_logs(tmp_path)  # each worker's share goes to its master, not said


SLOW_TO_STOP_LOCUSTFILE = """
import gevent
from locust import events
from locust.runners import WorkerRunner
from simulator.loadgen.setup import install
from simulator.loadgen.user import ContactUser

install(events)


@events.test_stop.add_listener
def upload_something(environment, **kwargs):  # runs before shiftsim's own (added when Locust inits)
    if isinstance(environment.runner, WorkerRunner):
        gevent.sleep(2)


class Caller(ContactUser):
    pass
"""


@pytest.mark.long(30)
def test_workers_slow_to_stop_still_deliver_their_last_rows(tmp_path, weighted):
    # Locust's master listens half a second for its workers' last reports once the run time is up;
    # workers whose stop takes longer (a listener of the user's own here, a slow flush or a busy
    # machine elsewhere) sent their last rows to nobody. Every row each worker says it sent is recorded.
    locustfile = tmp_path / "slow_to_stop.py"
    locustfile.write_text(SLOW_TO_STOP_LOCUSTFILE)
    master_err, rows = run_master_and_workers(tmp_path, weighted, 12, locustfile)
    sent = [int(line.rsplit(" sent its master ", 1)[1].split()[0])
            for path in sorted(tmp_path.glob("worker*.log")) for line in path.read_text().splitlines()
            if " sent its master " in line]
    assert len(sent) == 2, worker_logs(tmp_path)
    assert len(rows) == sum(sent), (len(rows), sent, master_err[-2000:])
    assert "sent no report after" not in master_err


def assert_started_of_due(stderr, holds):
    """The run's end says how many of the invocations its --rate had due since the users were all there
    started, and `holds(started, due)` of them."""
    said = re.search(r"since the users were all there, the load started ([\d,]+) of the ([\d,]+) invocations due "
                     r"\(\d+\.\d %\)", stderr)
    assert said is not None, stderr[-2000:]
    started, due = (int(n.replace(",", "")) for n in said.groups())
    assert holds(started, due), said.group(0)


@FLAT_OUT
def test_rate_is_held_when_the_machine_can_sustain_it(tmp_path):
    rate = 100
    done, rows = paced_run(tmp_path, 20, 20, 12, rate, "fixed:0.05")
    starts = sorted(float(r["start"]) for r in rows)
    window_start, window_end = starts[0] + 2, starts[-1] - 1
    achieved = sum(1 for s in starts if window_start <= s < window_end) / (window_end - window_start)
    assert abs(achieved - rate) <= 0.02 * rate, achieved
    assert "add users" not in done.stderr  # 20 users, 0.2 s each per start, 0.05 s prompts: enough
    assert_started_of_due(done.stderr, lambda started, due: abs(started - due) <= 0.02 * due + 2)  # and said so
    entries = json.loads((tmp_path / "stats.json").read_text())  # starts woken a little early count from then
    assert min(e["min_response_time"] for e in entries) >= 0


def test_late_invocations_are_reported_above_capacity(tmp_path):
    done, rows = paced_run(tmp_path, 4, 4, 5, 3000, "fixed:0.02")
    late = sum(int(r["late"]) for r in rows)
    assert late > len(rows) / 2
    assert f"{len(rows)} invocations recorded" in done.stderr and f"{late} of them late" in done.stderr
    # 4 users with 20 ms prompts start at most 200/s: said at the start, with the users it would take
    assert "--rate 3000 with 4 users gives each user 0.001 s per invocation" in done.stderr
    assert "add users (at least 61) or lower the rate" in done.stderr
    assert_started_of_due(done.stderr, lambda started, due: started < 0.2 * due)  # at most 200 of 3,000 a second
    # and the run's summary says why they were late, with the invocations' own time counted too
    from simulator.report.analysis import analyse
    from simulator.report.record import load_record
    from simulator.report.summary_text import format_summary

    (run,) = list((tmp_path / "results").iterdir())
    assert f"of them late (started more than 20 ms after their intended time); why: shiftsim plot {run}" in done.stderr
    text = format_summary(analyse(load_record(run)))
    assert "late starts: 4 users start at most about" in text and "fewer than the 3,000/s asked" in text, text


@FLAT_OUT
def test_the_schedule_starts_again_once_all_users_are_there(tmp_path):
    # 20 callers spawning at 5/s, each with 0.2 s prompts between invocations, cannot take 90 starts a
    # second until most are there: the ramp leaves starts untaken. They are dropped once the last
    # user spawns, not fired late for the rest of the run (catching up with little to spare).
    done, rows = paced_run(tmp_path, 20, 5, 10, 90, "fixed:0.2")
    first = min(float(r["intended"]) for r in rows)
    assert sum(int(r["late"]) for r in rows if float(r["intended"]) < first + 1) > 10  # the ramp's are counted
    after_ramp = [int(r["late"]) for r in rows if first + 5 <= float(r["intended"]) < first + 9]
    assert len(after_ramp) > 200 and sum(after_ramp) < 0.1 * len(after_ramp), (sum(after_ramp), len(after_ramp))


def test_a_scenario_deployment_runs_during_the_test_and_rolls_back(tmp_path):
    done, results = run_locust(tmp_path, "-u", "30", "-r", "30", "-t", "14s",
                               "--scenario", str(ROOT / "scenarios" / "linear-rollback.toml"))
    run, rows = record(results)
    verdict = json.loads((run / "summary.json").read_text())["verdict"]
    # The verdict's exit code, as `shiftsim rehearse` gives it: the injected errors that failed calls (Locust's
    # own failure ratio, which made it exit 1) are what the scenario expects, not a failure
    assert verdict["passed"] and not verdict["implicit"], verdict
    assert done.returncode == 0, done.stderr[-2000:]
    assert "exit code 0: the verdict's (Locust's own would have been 1)" in done.stderr
    events = [line for line in (run / "timeline.jsonl").read_text().splitlines()]
    kinds = [json.loads(e)["kind"] for e in events]
    assert "rollback" in kinds and kinds.index("deployment") < kinds.index("rollback")
    assert {r["version"] for r in rows} == {"1", "2"}
    assert any(r["reason"] == "function_error" and r["injected"] for r in rows)


def test_a_template_stack_runs_in_locust_with_the_users_change(tmp_path):
    """`--template` and `--new-code` reach the emulator shiftsim starts: the template's flow, its
    alias, the user's code in both versions, the deployment of the change."""
    example = ROOT / "examples" / "sam-connect"
    # 20 users: the template's traffic starts 4 contacts a second of about 2 s each (shiftsim asks for 13;
    # with 10 a busy machine started a quarter of them late, and the verdict rightly could not judge)
    done, results = run_locust(tmp_path, "-u", "20", "-r", "20", "-t", "12s", "--template", str(example / "template.yaml"),
                               "--new-code", str(example / "src-v2"), "--time-scale", "60", "--deploy-after", "2")
    assert done.returncode == 1, done.stderr  # the verdict's: no [expect], and the default gate fails the change
    assert "verdict: FAIL (default expectations" in done.stderr
    assert "note: not checked: AWS::IAM::Role" in done.stderr
    run, rows = record(results)
    assert json.loads((run / "run.json").read_text())["flow"].endswith("LambdaAlias-loop.json")
    assert {r["qualifier"] for r in rows} == {"ConnectLambdaFunction:live"}
    assert {r["version"] for r in rows} == {"1", "2"}
    assert all(r["reason"] == "function_error" and not r["injected"] for r in rows if r["version"] == "2")


def test_a_test_that_ran_no_contact_exits_with_no_verdict_not_locusts_zero(tmp_path):
    # no users here; a busy machine whose start-up outlasts a short --run-time does the same: the test
    # ends with nothing recorded, and a CI gate on Locust's exit code read it as green
    done, results = run_locust(tmp_path, "-u", "0", "-r", "1", "-t", "2s")
    assert done.returncode == 3, done.stderr[-2000:]
    assert "verdict: COULD NOT JUDGE" in done.stderr and "no invocation was recorded: no contact started" in done.stderr
    (folder,) = results.iterdir()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["invocations"] == 0 and summary["verdict"]["judged"] is False
    assert (folder / "timeline.png").exists()


def test_bad_options_are_one_line_and_exit_two(tmp_path):
    for args, message in ((["--rate", "-1"], "--rate: must be >= 0"),
                          (["--alias-arn", "arn:aws:lambda:us-east-1:123456789012:function:F"], "--alias-arn: "),
                          (["--flow", str(tmp_path / "none.json")], "--flow: no such file"),
                          (["--endpoint-url", "127.0.0.1:4566"], "--endpoint-url: endpoint '127.0.0.1:4566' is not an http(s) URL"),
                          (["--time-scale", "0"], "--time-scale: must be > 0 and at most 600"),
                          (["--time-scale", "1e9"], "--time-scale: must be > 0 and at most 600"),
                          (["--contacts-per-minute", "1e12"], "--contacts-per-minute: must be from 0 to 1,000,000"),
                          (["--run-dir", str(tmp_path / "a-file")], "--run-dir: ")):
        (tmp_path / "a-file").write_text("not a folder")
        done, _ = run_locust(tmp_path, "-u", "1", "-t", "2s", *args)
        assert done.returncode == 2
        assert f"shiftsim: error: {message}" in done.stderr and "Traceback" not in done.stderr


def test_an_alias_the_emulator_does_not_hold_is_one_line_before_any_load(tmp_path):
    """The run watched --alias-arn while its contacts called the scenario's alias: with an alias the
    emulator does not hold, it ran on (a warning that the alias could not be polled) and passed with
    no check at all. The emulator is now asked what AWS is asked before a run: exit 2, no run folder."""
    nope = "arn:aws:lambda:us-east-1:123456789012:function:Nope:PROD"
    done, results = run_locust(tmp_path, "-u", "1", "-t", "3s", "--alias-arn", nope)
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("shiftsim: error: the emulator (http://127.0.0.1:"), done.stderr
    assert f"{nope} does not exist: ResourceNotFoundException" in errors[0] and "Traceback" not in done.stderr
    assert not results.exists() or not any(results.iterdir())


def test_a_poll_of_the_alias_that_keeps_failing_is_said_once(tmp_path):
    """The alias deleted mid-run: every poll of it fails the same way from then on, said once, from
    its second failure (a killed emulator refuses the first poll a moment before its end can be read,
    and its end is said in its own words)."""
    with running_emulator() as emulator:
        process = subprocess.Popen([*LOCUST, "--headless", "-u", "2", "-r", "2", "-t", "12s", "--results-dir",
                                    str(tmp_path / "results"), "--prompt-time", "fixed:0.05", "--endpoint-url",
                                    emulator.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=ENV, cwd=ROOT)
        try:
            cloudwatch = emulator.boto3("cloudwatch")

            def invoked():
                now = time.time()
                return cloudwatch.get_metric_statistics(
                    Namespace="AWS/Lambda", MetricName="Invocations", StartTime=now - 3600, EndTime=now + 3600,
                    Period=3600, Statistics=["Sum"], Dimensions=[{"Name": "FunctionName", "Value": "ConnectLambdaFunction"}],
                )["Datapoints"]

            wait_for(invoked, timeout=90, interval=0.2)  # the test has started
            emulator.boto3().delete_alias(FunctionName="ConnectLambdaFunction", Name="PROD")
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    said = [line for line in err.splitlines() if "cannot poll the alias or alarms" in line]
    assert len(said) == 1 and "ResourceNotFoundException" in said[0], err[-3000:]


def test_a_bad_option_with_processes_is_said_once(tmp_path):
    """Each process that --processes forks checks the options: each said the error, twice on one line."""
    done, _ = run_locust(tmp_path, "-u", "2", "-t", "2s", *processes_on_a_free_port(), "--rate", "-1")
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if "error" in line] == [
        "shiftsim: error: --rate: must be >= 0, got -1.0"], done.stderr


def test_workers_end_with_a_master_that_stopped_on_bad_input(tmp_path):
    """Only the master checks the target: one that stopped on it left its --processes workers waiting a
    minute for its heartbeat, holding the terminal's output open. They now end with it."""
    import psutil

    from tests.helpers import wait_for

    marker = str(tmp_path / "results")
    said = tmp_path / "said.log"  # the workers write to it too, after the master has gone
    with said.open("w") as log:
        done = subprocess.run([*LOCUST, "--headless", "-u", "2", "-r", "2", "-t", "3s", *processes_on_a_free_port(),
                               "--alias-arn", "arn:aws:lambda:us-east-1:123456789012:function:Nope:PROD",
                               "--results-dir", marker], stdout=subprocess.DEVNULL, stderr=log,
                              timeout=120, env=ENV, cwd=ROOT)
    assert done.returncode == 2

    def workers_left() -> list[int]:
        found = []
        for process in psutil.process_iter(["pid", "cmdline"]):
            if marker in " ".join(process.info["cmdline"] or []):
                found.append(process.info["pid"])
        return found

    wait_for(lambda: not workers_left(), timeout=55)  # bounded below Locust's own heartbeat timeout, 60 s
    text = said.read_text()  # they ended because their master did, not because its heartbeat stopped
    # At least once per worker: Linux sends the death signal again when an orphan, first handed to
    # another of the dying master's threads (ZeroMQ's), loses that one too.
    assert text.count("Got SIGTERM signal") >= 2 and "Didn't get heartbeat" not in text, text[-2000:]


def workers_recorded(results) -> set[str]:
    """The workers with rows in the record so far (empty while it is not readable yet)."""
    from simulator.report.errors import RecordError
    from simulator.report.record import load_record

    runs = list(results.glob("*/invocations.bin"))
    try:
        return set(load_record(runs[0].parent).text("worker")) if runs else set()
    except (RecordError, OSError, ValueError):
        return set()


@pytest.mark.long(40)
def test_a_worker_that_disappears_is_reported_and_its_rows_kept(tmp_path, weighted):
    # Locust marks a silent worker missing 4-8 s after its last heartbeat: the run lasts long enough
    # for that to happen well before it ends.
    master, workers, results = start_master_and_workers(tmp_path, weighted, free_port(), 30)
    try:
        deadline = time.monotonic() + 60  # bounded: wait until both workers' first rows are recorded
        while time.monotonic() < deadline and len(workers_recorded(results)) < 2:
            time.sleep(0.5)
        workers[0].send_signal(signal.SIGKILL)  # gone without a word
        _, master_err = master.communicate(timeout=120)
        workers[1].wait(timeout=60)
    finally:
        for process in (master, *workers):
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
    assert "disappeared (no heartbeat)" in master_err and "are kept in the record" in master_err
    rows = check_record_matches_stats(tmp_path, results)  # the killed worker's reports: rows and counts alike
    run, _ = record(results)
    info = json.loads((run / "run.json").read_text())
    ((lost, kept),) = info["workers_lost"].items()
    assert kept > 0 and sum(1 for r in rows if r["worker"] == lost) == kept
    assert len({r["worker"] for r in rows}) == 2
    verdict = json.loads((run / "summary.json").read_text())["verdict"]  # the load was short: no verdict
    assert master.returncode == 3 and verdict["judged"] is False
    assert f"1 Locust worker disappeared during the run ({lost})" in verdict["why_not_judged"]


def test_an_endpoint_behind_a_proxy_is_invoked_through_it(tmp_path):
    # The emulator serves absolute-form requests too, so it can stand in for the proxy; the endpoint
    # itself refuses connections: only requests that go through the proxy succeed.
    with running_emulator() as proxy:
        env = {k: v for k, v in ENV.items() if k.lower() not in ("no_proxy", "http_proxy")}
        done, results = run_locust(tmp_path, "-u", "4", "-r", "4", "-t", "4s", "--endpoint-url", "http://127.0.0.1:9",
                                   "--contacts-per-minute", "60", env={**env, "HTTP_PROXY": proxy.url})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"is reached through a proxy ({proxy.url.split('//')[1]}): invoking with aiobotocore" in done.stderr
    # production's rate with no ceiling: what the machine holds is measured on the fast path only, and
    # the plan says it was not
    assert "driven for real, what this machine holds not measured: the endpoint is reached through a proxy" \
        in done.stderr
    # and at the end, how well production's arrivals were kept (a slow path on a busy machine: that they were said)
    kept = re.search(r"since the users were all there, the load started (\d+) of the (\d+) contacts due "
                     r"\(\d+\.\d %\)", done.stderr)
    assert kept is not None and int(kept.group(1)) >= 1, done.stderr[-2000:]
    rows = check_record_matches_stats(tmp_path, results)
    assert {r["outcome"] for r in rows} == {"Success"}


@pytest.mark.parametrize("processes", [[], processes_on_a_free_port()], ids=["one process", "two processes"])
def test_the_emulator_shiftsim_starts_is_never_reached_through_a_proxy(tmp_path, processes):
    # A proxy that refuses connections, and no NO_PROXY: what a corporate machine often has. The
    # embedded emulator on loopback is reached directly, from every process (workers fork before it
    # starts, so they learn it from the master).
    env = {k: v for k, v in ENV.items() if not k.lower().endswith("_proxy")}
    # two processes: the workers' users start inside Locust's run time, and a contact's prompts take
    # seconds; as the other distributed runs here, 10 s, so a loaded machine still records some load
    seconds = "10s" if processes else "4s"
    done, results = run_locust(tmp_path, "-u", "4", "-r", "4", "-t", seconds, *processes,
                               env={**env, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "through a proxy" not in done.stderr
    rows = check_record_matches_stats(tmp_path, results)
    assert {r["outcome"] for r in rows} == {"Success"}


def test_an_invocation_past_the_blocks_time_limit_is_recorded_as_a_timeout(tmp_path):
    """The load generator's coarse time limits (one timer a tick) end a slow attempt at the block's
    limit: recorded as a timeout, Error branch, after about the limit; the others succeed."""
    flow = json.loads((ROOT / "scenarios" / "flows" / "LambdaAlias-loop.json").read_text())
    for action in flow["Actions"]:
        if action["Type"] == "InvokeLambdaFunction":
            action["Parameters"]["InvocationTimeLimitSeconds"] = "1"
    (tmp_path / "LambdaAlias-loop.json").write_text(json.dumps(flow))
    (tmp_path / "slow.toml").write_text("""
[scenario]
seed = 4
[[functions]]
name = "ConnectLambdaFunction"
timeout = 3
[[functions.versions]]
[functions.versions.faults.timeout]
rate = 0.3
[[functions.aliases]]
name = "PROD"
version = "1"
""")
    done, results = run_locust(tmp_path, "-u", "10", "-r", "10", "-t", "6s", "--scenario", str(tmp_path / "slow.toml"),
                               "--flow", str(tmp_path / "LambdaAlias-loop.json"), "--prompt-time", "fixed:0")
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: Locust counts the timeouts as failures
    _, rows = record(results)
    timed_out = [r for r in rows if r["reason"] == "timeout"]
    assert timed_out and len(timed_out) < len(rows)
    for r in timed_out:
        assert r["outcome"] == "Error" and 0.99 <= float(r["end"]) - float(r["start"]) < 1.5
    assert all(r["outcome"] == "Success" for r in rows if r["reason"] == "")


def test_a_web_port_in_use_is_one_line_before_the_test(tmp_path):
    """Locust binds its web UI after `init`; a port another program holds is said there, exit 2
    (it was Locust's OSError traceback, with the test already begun)."""
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        done = subprocess.run([*LOCUST, "--web-host", "127.0.0.1", "--web-port", str(port), "-t", "3s"],
                              capture_output=True, text=True, timeout=120, env=ENV, cwd=ROOT)
    finally:
        holder.close()
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"shiftsim: error: --web-port {port}: " in done.stderr and "Traceback" not in done.stderr


def test_an_endpoint_nobody_answers_is_one_line(tmp_path):
    import socket

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    done, results = run_locust(tmp_path, "-t", "3s", "--endpoint-url", f"http://127.0.0.1:{port}")
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"shiftsim: error: --endpoint-url http://127.0.0.1:{port}: nothing answers there" in done.stderr
    assert "Traceback" not in done.stderr
