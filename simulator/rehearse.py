"""`shiftsim rehearse SCENARIO`: one command that runs a whole rehearsal and says whether it passed.

The emulator starts with the scenario's stack (a subprocess, local target), Locust runs headless in
this process as a library with the scenario's load, the deployment starts at the scenario's moment,
and the run stops when the deployment has ended plus a tail (or at the scenario's maximum duration).
Then the run folder gets the analysis (`summary.json`), the figure (`timeline.png`/`.svg`) and
Locust's CSV and HTML reports; the summary is printed; the exit code is the verdict (0 pass, 1 fail;
`EXIT_CODES` has them all).
Importing this module monkey-patches the process with gevent (Locust): only `cli rehearse` does.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust import stats as locust_stats
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.html import get_html_report

from simulator.deployment.driver import DONE
from simulator.deployment.plan import predefined_configs
from simulator.deployment.plan import traffic_plan as shifts_of
from simulator.deployment.vocabulary import PREFIX
from simulator.loadgen.final_csv import write_final_csv
from simulator.loadgen.options import OptionsError, load_options
from simulator.loadgen.pacing import mean_duration
from simulator.loadgen.setup import install
from simulator.loadgen.traffic import TrafficPlan, delivered_line, expected_contact_seconds, plan_traffic
from simulator.loadgen.user import ContactUser
from simulator.report.record import RunFolderError, claim_folder, new_run_id
from simulator.report.results import results_line, verdict_exit_code, write_results
from simulator.report.summary_text import format_summary
from simulator.report.words import counted
from simulator.scenario.day_profile import Profile
from simulator.scenario.sam import as_written
from simulator.scenario.spec import Scenario

PROGRESS_EVERY = 2.0
# Opening the clients and measuring what the machine holds may take this long on a loaded machine,
# on top of max_duration; within it the load has not begun (the clients' own start is bounded by 60 s).
STARTUP_S = 60.0
# Callers added when contacts wait for one (see add_callers), up to this many times the planned users:
# past that, what is short is the machine, not the users, and the summary says the generator fell behind.
USERS_GROWTH_CAP = 20
EXIT_CODES = {"passed": 0, "failed": 1, "bad input": 2, "broken": 3, "interrupted": 130, "terminated": 143}


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI timeout, `docker stop`): the run ends as on Ctrl-C."""


class RehearsalRefused(Exception):
    """The target refused what the rehearsal needs (the deployment could not start): the user's to fix."""


class RehearsalBroken(Exception):
    """shiftsim itself could not go on (its emulator died): not a verdict on the deployment."""


def _terminate_main() -> None:
    gevent.get_hub().parent.throw(Terminated)


class RehearsalUser(ContactUser):
    """One caller of the rehearsal."""


@dataclass
class RehearsalResult:
    folder: Path
    summary: dict[str, Any]
    passed: bool


def locust_arguments(scenario: Scenario, folder: Path, *, target: str, time_scale: float | None,
                     seed: int | None, alias_arn: str | None, region: str | None,
                     watch_existing: bool) -> list[str]:
    load = scenario.load
    users, spawn_rate = callers(scenario, target, time_scale)
    args = ["--headless", "-u", str(users), "-r", str(spawn_rate), *scenario.stack_arguments(),
            *(["--scenario", scenario.file] if scenario.file else []), "--run-dir", str(folder), "--rate", str(load.rate), "--loops-per-contact", str(load.loops_per_contact),
            "--contacts-per-minute", str(load.contacts_per_minute), "--start-time", load.start_time,
            "--traffic-profile", load.traffic_profile,
            "--max-contacts-per-second", str(load.max_contacts_per_second),
            "--contact-duration", str(load.contact_duration), "--prompt-time", load.prompt_time,
            "--max-invocations-per-contact", str(load.max_invocations_per_contact),
            "--max-contact-seconds", str(load.max_contact_seconds),
            "--target", target, "--result-attribute", load.result_attribute]
    if load.flow:
        args += ["--flow", load.flow]
    if time_scale:
        args += ["--time-scale", str(time_scale)]
    if seed is not None:
        args += ["--seed", str(seed)]
    if alias_arn:
        args += ["--alias-arn", alias_arn]
    if region:
        args += ["--region", region]
    if watch_existing:
        args += ["--watch-existing"]
    if not deploys(scenario, watch_existing):
        args += ["--deploy-after", "-1"]
    return args


def traffic_plan(scenario: Scenario, target: str, time_scale: float | None) -> TrafficPlan | None:
    """How production's arrivals are driven at the peak, or None when the load is the users' own."""
    load = scenario.load
    peak = Profile.parse(load.traffic_profile, load.contacts_per_minute).peak if load.traffic_profile \
        else load.contacts_per_minute
    if not peak:
        return None
    scale = 1.0 if target == "aws" else (time_scale or scenario.time_scale)
    return plan_traffic(peak, scale, load.max_contacts_per_second,
                        expected_contact_seconds(load.loops_per_contact, mean_duration(load.prompt_time), scale))


def callers(scenario: Scenario, target: str, time_scale: float | None) -> tuple[int, float]:
    """Users and spawn rate: the scenario's; with production's arrivals, as many as they need."""
    users, spawn_rate = scenario.load.users, scenario.load.spawn_rate
    plan = traffic_plan(scenario, target, time_scale)
    if plan is not None:
        users = max(users, plan.users)
        spawn_rate = max(spawn_rate, float(users))
    return users, spawn_rate


def add_callers(runner: Any, session: Any, planned: int, say: Callable[[str], None]) -> None:
    """With production's arrivals, users are sized for contacts of the planned length; contacts that
    run longer (slower invocations: the user's code, a loaded machine) leave arrivals waiting for a
    caller, which is the plan's shortfall, not the load the scenario asks for. Add callers then."""
    users = runner.target_user_count or runner.user_count  # those still spawning count
    needed = session.callers.callers_needed(users) if session.traffic is not None else None
    more = min(planned * USERS_GROWTH_CAP, needed or 0)
    if more > users:
        say(f"shiftsim: users: {users} -> {more}: contacts waited to start while every user was in one (they "
            f"last {session.callers.mean_contact_seconds:.2f} s, longer than planned: slower invocations)")
        runner.start(more, float(min(more, 100)))


def expected_length(scenario: Scenario, target: str, time_scale: float | None) -> str:
    """How long the rehearsal will take, said at its start: when the deployment starts, how long a
    good version's traffic shifting takes on the rehearsal's clock, the tail, and the cap."""
    load = scenario.load
    cap = f"at most {load.max_duration:g} s ([load] max_duration)"
    spec = scenario.deployment
    if spec is None:
        return cap
    scale = 1.0 if target == "aws" else (time_scale or scenario.time_scale)
    routing = spec.custom_config or predefined_configs().get(spec.config)
    if routing is None:
        return cap
    shifting = shifts_of(routing, scenario.emulator.final_flip_after_intervals)[-1].offset
    total = spec.start_after + shifting / scale + load.tail
    said = (f"the deployment starts {spec.start_after:g} s in; {spec.config.removeprefix(PREFIX)} shifts a good "
            f"version in {shifting / 60:g} emulated minutes ({shifting / scale:.0f} s at x{scale:g}), then "
            f"{load.tail:g} s of tail: about {total:.0f} s, {cap}")
    if total > load.max_duration:
        said += ("; it stops before a good deployment ends: raise max_duration, or the time scale "
                 "(--time-scale)")
    return said


def deploys(scenario: Scenario, watch_existing: bool) -> bool:
    """Whether the rehearsal has a deployment: the scenario asks for one, or one is to be watched."""
    return scenario.deployment is not None and (scenario.deployment.requested or watch_existing)


def rehearse(scenario: Scenario, *, results: Path | None = None, target: str = "local",
             time_scale: float | None = None, seed: int | None = None, alias_arn: str | None = None,
             region: str | None = None, watch_existing: bool = False, replace: bool = False,
             say: Any = print) -> RehearsalResult:
    folder = results or Path("results") / new_run_id()
    try:
        claim_folder(folder, replace=replace)
    except RunFolderError as exc:
        raise OptionsError(str(exc)) from None
    logging.getLogger("locust").setLevel(logging.WARNING)
    install(events)
    options = get_parser().parse_args(args=["-f", __file__, *locust_arguments(
        scenario, folder, target=target, time_scale=time_scale, seed=seed, alias_arn=alias_arn,
        region=region, watch_existing=watch_existing)])
    load_options(options)  # the same validation as the locustfile: bad input stops here, exit 2
    environment = Environment(user_classes=[RehearsalUser], events=events, parsed_options=options)
    environment.shiftsim_said_notes = True  # type: ignore[attr-defined]  # said below, in the rehearsal's words
    runner = environment.create_local_runner()
    try:
        environment.events.init.fire(environment=environment, runner=runner, web_ui=None)
    except (KeyboardInterrupt, SystemExit) as exc:  # Ctrl-C, or bad input said by the session (exit 2)
        with contextlib.suppress(OSError):
            folder.rmdir()  # claimed above, still empty
        if isinstance(exc, KeyboardInterrupt):
            say("shiftsim: interrupted while starting: nothing was recorded")
        raise
    session = environment.shiftsim  # type: ignore[attr-defined]
    session.watch_emulator = False  # the loop below watches it, and says it in a rehearsal's words
    session.writes_results = False  # `finish` below writes them, and prints the summary
    csv_writer = locust_stats.StatsCSVFileWriter(environment, locust_stats.PERCENTILES_TO_REPORT,
                                                 str(folder / "locust"), full_history=False)
    writer = gevent.spawn(csv_writer)
    history = gevent.spawn(locust_stats.stats_history, runner)
    say(f"shiftsim: rehearsing {scenario.name} ({scenario.source}) -> {folder}")
    for note in scenario.notes:
        say(f"shiftsim: note: {note}")
    for line in scenario.provisioned_said():
        say(f"shiftsim: provisioned concurrency: {line}")
    for line in session.alarm_lint:
        say(f"shiftsim: alarm lint: {line}")
    traffic = traffic_plan(scenario, target, time_scale)
    measured = traffic is not None and session.measures_capacity()
    if traffic is not None and measured:  # the session measures what the machine holds, and says it below
        say(f"shiftsim: traffic: {traffic.need()}, with no ceiling (max_contacts_per_second): what this machine "
            "holds is measured as the test starts")
    elif traffic is not None:  # why it drives production's rate for real, or samples it
        say(f"shiftsim: traffic: {traffic.describe()}")
    if deploys(scenario, watch_existing) and not watch_existing:
        say(f"shiftsim: length: {expected_length(scenario, target, time_scale)}")
    if not deploys(scenario, watch_existing):
        say(f"shiftsim: the scenario has no [deployment] table: a load-only rehearsal of "
            f"{scenario.load.max_duration:g} s (max_duration); `shiftsim deploy --scenario {scenario.source}` "
            "deploys on a running emulator")
    started = time.monotonic()
    ended_at = None
    last_progress = 0.0
    interrupted: KeyboardInterrupt | None = None
    death: str | None = None
    refused: str | None = None
    sigterm = gevent.signal_handler(signal.SIGTERM, _terminate_main)
    late = LateStop()
    load_began: float | None = None  # max_duration is the load's: the test's start-up is not counted in it
    warmed: str | None = None  # the versions the session warmed, said once it is ready
    try:
        planned_users, spawn_rate = callers(scenario, target, time_scale)
        runner.start(planned_users, spawn_rate)
        while time.monotonic() - (load_began or started + STARTUP_S) < scenario.load.max_duration:
            gevent.sleep(0.2)
            if load_began is None and session.ready.is_set():
                load_began = time.monotonic()
            death = session.emulator_death()
            if death is not None or session.start_error is not None:
                break
            if measured and session.ready.is_set() and session.traffic is not None:  # with what the machine holds
                say(f"shiftsim: traffic: {session.traffic.describe()}")
                measured = False
            if warmed is None and session.ready.is_set():
                warmed = session.warmed or ""
                if warmed:
                    say(f"shiftsim: {warmed}")
            add_callers(runner, session, planned_users, say)
            coordination = session.coordination
            status = coordination.deployment.get("status") if coordination else None
            if status == "could not start":
                refused = f"the deployment could not start: {coordination.deployment.get('error', '')}"
                break
            if ended_at is None and status in DONE:
                ended_at = time.monotonic()
            if time.monotonic() - last_progress >= PROGRESS_EVERY:
                last_progress = time.monotonic()
                say(progress_line(session, started))
            if ended_at is not None and time.monotonic() - ended_at >= scenario.load.tail:
                break
        else:
            say(f"shiftsim: stopping at the scenario's max_duration ({scenario.load.max_duration:g} s)")
        if death is None and refused is None:
            say(progress_line(session, started))  # the state at the end: what the summary will show
    except KeyboardInterrupt as exc:
        interrupted = exc
    finally:
        sigterm.cancel()
        # gevent's handlers are gone: SIGTERM and Ctrl-C are held until the record is closed
        previous = signal.signal(signal.SIGTERM, late)
        session.hand_over_sigint(late)
        runner.quit()
        environment.events.quitting.fire(environment=environment, reverse=True)
        writer.kill()
        history.kill()
        csv_writer.close_files()
        write_final_csv(environment, str(folder / "locust"))
        (folder / "locust.html").write_text(get_html_report(environment), encoding="utf-8")
    try:
        kept = f"what was recorded is in {folder} (shiftsim plot {folder} analyses and draws it)"
        interrupted = interrupted or late.held
        if interrupted is not None:
            say(f"shiftsim: {_how(interrupted)}: {kept}")
            raise interrupted
        if session.start_error is not None:
            raise OptionsError(session.start_error)
        if death is not None:
            raise RehearsalBroken(f"{death} {time.monotonic() - started:.1f} s into the run; {kept}")
        if refused is not None:
            raise RehearsalRefused(f"{refused}; {kept}")
        late.raising = True
        try:
            return finish(folder, scenario.expect)
        except KeyboardInterrupt as exc:
            say(f"shiftsim: {_how(exc)} during the analysis: {kept}")
            raise
    finally:
        late.raising = False  # the answer is given: a signal from here on has nothing left to stop
        signal.signal(signal.SIGTERM, previous)


def _how(stop: KeyboardInterrupt) -> str:
    return "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"


class LateStop:
    """SIGTERM or Ctrl-C once the load has stopped: held while the record is closed (the run then
    ends as terminated or interrupted, its record whole), raised (once) while it is analysed and
    drawn, and ignored once the rehearsal has its answer, so that Ctrl-C pressed again and again
    changes neither what was said nor the exit code."""

    def __init__(self) -> None:
        self.held: KeyboardInterrupt | None = None
        self.raising = False

    def __call__(self, signum: int, frame: Any) -> None:
        stop = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if self.raising:
            self.raising = False
            raise stop
        self.held = self.held or stop


def finish(folder: Path, expect: dict[str, Any]) -> RehearsalResult:
    """Analyse a run folder, write summary.json and the figure, return the verdict."""
    summary = write_results(folder, expect)
    return RehearsalResult(folder, summary, summary.get("verdict", {}).get("passed", True))


def progress_line(session: Any, started: float) -> str:
    coordination = session.coordination
    elapsed = time.monotonic() - started
    if coordination is None:
        return f"[{elapsed:5.1f} s] starting"
    weights = " ".join(f"v{v} {100 * w:.0f}%" for v, w in sorted(coordination.weights.items()))
    alarms = " ".join(f"{name}={state}" for name, state in sorted(coordination.alarms.items()))
    invocations, errors = coordination.lambda_totals()
    deployment = coordination.deployment
    status = deployment.get("status", "-")
    if "starts_at" in deployment and status.startswith("starts "):  # what changes: the time left, not the plan
        status = f"starts in {max(0.0, deployment['starts_at'] - time.time()):.0f} s"
    broke = session.load_errors.total  # said as it happens: the verdict will be withheld
    delivered = delivered_line(session.delivered_so_far())
    return (f"[{elapsed:5.1f} s] deployment {status} | {weights or '-'} | "
            f"{alarms or 'no alarms'} | {counted(invocations, 'invocation')}, {counted(errors, 'error')}"
            + (f" | {delivered}" if delivered else "")
            + (f" | the load broke off {counted(broke, 'time')} (shiftsim's own error, not the deployment's: "
               "no verdict)" if broke else ""))


def main_rehearse(scenario: Scenario, **kwargs: Any) -> int:
    try:
        result = rehearse(scenario, **kwargs)
    except (OptionsError, RehearsalRefused) as exc:
        print(f"shiftsim: error: {as_written(str(exc))}", file=sys.stderr)
        return EXIT_CODES["bad input"]
    except RehearsalBroken as exc:
        print(f"shiftsim: error: {as_written(str(exc))}", file=sys.stderr)
        return EXIT_CODES["broken"]
    except Terminated:
        return EXIT_CODES["terminated"]
    except KeyboardInterrupt:  # said by rehearse, with what was kept
        return EXIT_CODES["interrupted"]
    print(format_summary(result.summary))
    print(results_line(result.folder))
    return verdict_exit_code(result.summary)


