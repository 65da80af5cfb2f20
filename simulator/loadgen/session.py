"""The per-process composition root on the Locust side: created in Locust's `init` event, it owns
the asyncio bridge, the AWS clients, the flow, the pacer and the reporting.

Contacts run as coroutines on the bridge's loop (loadgen.callers), each invocation through the
test's ContactPath; each invocation's outcome is queued, and the reporter (loadgen.reporter) makes it
an `events.request` and a record row. Workers send their rows to the master inside the same
`report_to_master` message as their stats, so the record and Locust's statistics always count the
same invocations. The coordinator (local runner
or master) starts the emulator when needed, writes the record, starts and watches the deployment,
and polls the alias and alarms for the web UI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import logging
import math
import signal
import time
from pathlib import Path
from typing import Any

import gevent
import gevent.event
from locust.env import Environment
from locust.exception import RPCError
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from simulator.client.admin_client import emulator_clock
from simulator.client.aws import LambdaInvoker, Target, bypass_proxies, client
from simulator.client.coarse_timeouts import CoarseTimeouts
from simulator.client.fast_invoke import FastLambdaInvoker, proxy_for
from simulator.connect.caller import CallerSpec
from simulator.connect.flow import FlowSet, load_flow
from simulator.connect.interpreter import rehearsal_notes
from simulator.connect.jsonpath import is_reference
from simulator.deployment.alarm_lint import flow_facts, lint_alarms
from simulator.deployment.arn import parse_function_name
from simulator.deployment.clock import Clock, ScaledClock
from simulator.deployment.vocabulary import WEIGHT_HEADER
from simulator.loadgen.bridge import AsyncioBridge
from simulator.loadgen.callers import Callers
from simulator.loadgen.capacity import measure_capacity
from simulator.loadgen.ceiling_refusals import CeilingRefusals
from simulator.loadgen.collector import restore_after_load, settle_for_load
from simulator.loadgen.connect_telemetry import ConnectTelemetry
from simulator.loadgen.contact_hooks import ContactPath
from simulator.loadgen.emulator_process import EmulatorProcess
from simulator.loadgen.final_csv import write_final_csv
from simulator.loadgen.final_reports import FinalReports, WorkerRowCount
from simulator.loadgen.flow_log_relay import RelayedFlowLogs, WorkerFlowLogs
from simulator.loadgen.load_errors import LOCUST_TASK_LOGGER, LoadErrors
from simulator.loadgen.options import LoadOptions, OptionsError, load_options
from simulator.loadgen.pacing import Pacer, mean_duration, users_needed
from simulator.loadgen.reporter import Reporter
from simulator.loadgen.request_stats import said_errors
from simulator.loadgen.target_reach import reach_target, target_of
from simulator.loadgen.traffic import (
    TrafficPlan,
    delivered_line,
    expected_contact_seconds,
    minute_of_day,
    plan_traffic,
)
from simulator.loadgen.unpublished_reports import UnpublishedReports
from simulator.loadgen.version_warming import warm_before_load
from simulator.report.record import RecordWriter, RunFolderError, claim_folder, new_run_id

log = logging.getLogger("shiftsim.loadgen")
TELEMETRY_END_S = 5.0      # how long a stopping test waits for the reports' last beat (its flush: 2 s at most)


def _interrupt_main() -> None:
    """Ctrl-C: KeyboardInterrupt raised in the main greenlet, where Locust (or the rehearsal) waits for it
    to shut down, not in whichever greenlet was running: a drain stopped halfway loses the rows it held,
    and the greenlet's death prints a traceback."""
    gevent.get_hub().parent.throw(KeyboardInterrupt)


class LoadSession:
    def __init__(self, environment: Environment, options: LoadOptions) -> None:
        self.env, self.options = environment, options
        if environment.parsed_options is None:  # Locust parses its options before `init`; a bare Environment may not
            raise RuntimeError("shiftsim needs Locust's parsed options (Environment(parsed_options=...))")
        self.parsed: argparse.Namespace = environment.parsed_options
        self.coordinator = not isinstance(environment.runner, WorkerRunner)
        self.alarm_lint: list[str] = []  # what is wrong with the group's alarms, said at the start
        self.unreached: dict[str, list[str]] = {}  # the group's alarms the run cannot reach (loadgen.target_reach)
        self.undeclared: list[str] = []  # the group's alarms the emulator lacks (loadgen.target_reach)
        self.distributed = isinstance(environment.runner, (MasterRunner, WorkerRunner))
        self.flows: FlowSet = load_flow(options.flow, functions=options.functions,
                                        flow_map=options.scenario.flow_map)
        self.caller_spec = CallerSpec(**options.scenario.callers)
        self.instance_arn = options.scenario.connect.arn(options.region, options.scenario.account)  # the contacts'
        self.emulated_start = 0.0  # the emulated clock when the test started (set then)
        self.warmed: str | None = None  # the versions warmed before the load, said
        # what of the flows a rehearsal does not play or has no data for: said at start and in the summary
        self.flow_notes = rehearsal_notes(self.flows, self.caller_spec)
        if self.coordinator:
            if not getattr(environment, "shiftsim_said_notes", False):  # a rehearsal has said them
                for note in options.scenario.notes:
                    log.warning("shiftsim: note: %s", note)
                for line in options.scenario.provisioned_said():
                    log.info("shiftsim: provisioned concurrency: %s", line)
            self._say_alarm_lint(lint_alarms(options.scenario, flow_facts(self.flows, options.alias_arn),
                                             on_emulator=options.target == "local"))
            for line in self.flow_notes:
                log.warning("shiftsim: note: %s", line)
            bypassing = self.flows.bypassing(options.alias_arn)
            for line in bypassing.values():
                log.warning("shiftsim: %s", line)
            for target in self.flows.block_targets():
                if target["named"] != target["invokes"] and (target["flow"], target["block"]) not in bypassing:
                    log.warning("shiftsim: flow %s, block %s names %r: it invokes %s", target["flow"],
                                target["block"], target["named"], target["invokes"])
        self.bridge = AsyncioBridge(options.event_loop)  # the master uses it for the deployment and the UI's polling
        # Ctrl-C from here on, while the session starts too: a KeyboardInterrupt Python raises while the
        # main greenlet waits (for the emulator to start) lands in gevent's hub, which drops it
        self._sigint = gevent.signal_handler(signal.SIGINT, _interrupt_main)  # until the session closes
        self._sigint_after_close: Any = signal.default_int_handler
        self.emulator: EmulatorProcess | None = None
        try:
            self._reach_target(options)
        except BaseException:  # (an emulator it started is stopped)
            self._sigint.cancel()
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.bridge.close()
            raise
        deployed = parse_function_name(options.alias_arn)
        self.reporter = Reporter(environment, f"{deployed.name}:{deployed.qualifier}", self.coordinator)
        self.load_errors = LoadErrors(worker=isinstance(environment.runner, WorkerRunner))
        self.unpublished = UnpublishedReports()  # what the instance could not publish (a master's: its workers')
        self.record: RecordWriter | None = None
        self.run_id = ""
        self.clock: Clock = ScaledClock()
        self.pacer = Pacer(0)
        self.traffic: TrafficPlan | None = None
        self.arrivals: Pacer | None = None  # contact starts at production's rate (with --contacts-per-minute)
        self.cancels_on_stop: list[Any] = []  # loop tasks that last as long as the test
        self.telemetry: ConnectTelemetry | None = None  # the Connect instance's flow logs and metrics
        self.logs_client: Any = None
        self.telemetry_ended: gevent.event.AsyncResult | None = None
        self.worker_flow_logs: WorkerFlowLogs | None = None  # a worker's, for its master (against AWS)
        self.relayed_flow_logs: RelayedFlowLogs | None = None  # the master's, from its workers (against AWS)
        self.cloudwatch: Any = None
        self.timeouts = CoarseTimeouts()  # the Invoke blocks' time limits, on the loop's thread
        self.invoker: LambdaInvoker | FastLambdaInvoker | None = None
        self.path: ContactPath | None = None  # what every contact uses on each invocation (set as the test starts)
        self._clients: contextlib.AsyncExitStack | None = None
        self.reporting: gevent.Greenlet | None = None  # the reporter's greenlet
        self.coordination: Any = None
        self.ready = gevent.event.Event()  # set once this process's test has started (clients open)
        self.closed = False  # the record, the loop and the emulator, once Locust quits
        self.start_error: str | None = None  # why the test did not start (bad input), said once
        self.said_recorded = 0  # the count the last "invocations recorded" line gave
        runner = environment.runner
        self.node = runner.client_id if isinstance(runner, WorkerRunner) else ("master" if self.distributed else "local")
        self.callers = Callers(self.flows, self.caller_spec, self.instance_arn, self.node, self.reporter.ended)
        self.workers_delivered: dict[str, tuple[int, float, str]] = {}  # a master's: each worker's, as last reported
        self.workers_lost: dict[str, int] = {}
        self.run_info: dict[str, Any] = {}
        self.refusals = CeilingRefusals(self.bridge)  # the emulator's, at its own ceilings, during the test
        self.gc_thresholds = gc.get_threshold()  # the process's own, put back when the test stops
        self.watch_emulator = True  # stop the run if the emulator started here dies (a rehearsal watches itself)
        self.writes_results = True  # summary and figure when the test ends (a rehearsal writes its own)
        events = environment.events
        events.test_start.add_listener(self.on_test_start)
        events.test_stopping.add_listener(lambda **kwargs: self.callers.test_stopping())
        events.test_stop.add_listener(self.on_test_stop)
        events.spawning_complete.add_listener(self.on_spawning_complete)
        events.quitting.add_listener(self.on_quitting)
        events.quit.add_listener(self.on_quit)
        events.user_error.add_listener(self.load_errors.heard)
        logging.getLogger(LOCUST_TASK_LOGGER).addFilter(self.load_errors.first_of_each)
        self.rows_sent = WorkerRowCount()  # a worker's, for its master to know its last report
        self.final_reports: FinalReports | None = None  # a master's, of its workers
        if isinstance(environment.runner, WorkerRunner):
            events.report_to_master.add_listener(self.on_report_to_master)
        if isinstance(environment.runner, MasterRunner):
            events.worker_report.add_listener(self.on_worker_report)
            self.final_reports = FinalReports(environment.runner)

    def _reach_target(self, options: LoadOptions) -> None:
        """The target as the test will use it: on the coordinator, started or found and checked
        (loadgen.target_reach); a worker takes the master's endpoint as its test starts."""
        self.endpoint = options.endpoint_url
        if not self.coordinator:
            return
        reached = reach_target(options, self.flows, self.bridge)
        self.endpoint, self.emulator, self.unreached = reached.endpoint, reached.emulator, reached.unreached
        self.undeclared = reached.undeclared
        self.parsed.endpoint_url = self.endpoint
        self.parsed.shiftsim_own_emulator = self.emulator is not None
        self._say_alarm_lint(reached.alarm_lint)

    def _say_alarm_lint(self, lines: list[str]) -> None:
        """What is wrong with the group's alarms, said at the start (a rehearsal says it in its own words)."""
        self.alarm_lint += lines
        if not getattr(self.env, "shiftsim_said_notes", False):
            for line in lines:
                log.warning("shiftsim: alarm lint: %s", line)

    # ---- lifecycle ---------------------------------------------------------------------------------

    @property
    def target(self) -> Target:
        return target_of(self.options, self.endpoint)

    def on_test_start(self, environment: Environment, **kwargs: Any) -> None:
        parsed = self.parsed = environment.parsed_options or self.parsed  # the start form's values
        if self.final_reports is not None:
            self.final_reports.test_started()
        try:
            self.options = load_options(parsed)
            if self.coordinator and self.options.run_dir is not None:
                claim_folder(self.options.run_dir, replace=self.options.replace_results, option="--run-dir")
        except (OptionsError, RunFolderError) as exc:
            self.start_error = str(exc)
            if not getattr(environment, "shiftsim_said_notes", False):  # a rehearsal says it in its own words
                log.error("shiftsim: error: %s: the test does not start", exc)
            environment.process_exit_code = 2
            gevent.spawn(environment.runner.stop)  # type: ignore[union-attr]
            return
        if self.coordinator:
            self.run_id = new_run_id()
            folder = self.options.run_dir or self.options.results_dir / self.run_id
            parsed.shiftsim_run_id = self.run_id
            runner = environment.runner
            parsed.shiftsim_processes = max(1, runner.worker_count) if isinstance(runner, MasterRunner) else 1
            self.record = RecordWriter(folder, run_id=self.run_id)
            if self.relayed_flow_logs is not None:  # a web UI's earlier test
                self.relayed_flow_logs.close()
            self.relayed_flow_logs = (RelayedFlowLogs(self.record.path.parent)
                                      if self.distributed and self.options.target != "local" else None)
            log.info("shiftsim: recording to %s", self.record.path.parent)
        else:
            self.endpoint = parsed.endpoint_url or self.endpoint
            self.run_id = getattr(parsed, "shiftsim_run_id", "")
            if getattr(parsed, "shiftsim_own_emulator", False):  # workers forked before it started
                bypass_proxies(self.endpoint)
        processes = getattr(parsed, "shiftsim_processes", 1)
        self.pacer = Pacer(self.options.rate / processes, self.options.late_threshold_s)
        if self.coordinator:
            self._warn_if_too_few_users(self._planned_users())
        self.bridge.run(self._open_clients(), timeout=60)
        if self.coordinator:
            self.refusals.test_started(self.endpoint if self.options.target == "local" else None)
        self._start_telemetry()
        assert self.invoker is not None
        self.path = ContactPath(self.pacer, self.clock, self.invoker, self.timeouts, self.reporter.finished, self.node,
                                self.telemetry, self.callers.qualifier, emulated_prompts=self.traffic is not None,
                                result_attribute=self.options.result_attribute)
        self.emulated_start = self.clock.now()  # the day's clock starts here ([load] start_time)
        if self.traffic is not None:  # contacts arrive at production's rate; invocations follow the flow
            self.arrivals = Pacer(self.traffic.driven_per_second / processes, self.options.late_threshold_s)
            if self.options.traffic_profile is not None:
                self.cancels_on_stop.append(self.bridge.submit(self._follow_profile(processes))[1])
            if self.coordinator:
                log.info("shiftsim: %s", self.traffic.describe())
                if self._planned_users() and self._planned_users() < self.traffic.users:
                    log.warning("shiftsim: %d users cannot start %.1f contacts/s of about %.2f s each: add users "
                                "(%d, with headroom for bursts of arrivals), or contacts will start late and production's rate will not be met",
                                self._planned_users(), self.traffic.driven_per_second,
                                self.traffic.contact_seconds, self.traffic.users)
        if self.record is not None:
            o = self.options
            self.run_info = {
                "run_id": self.run_id, "scenario": o.scenario.name, "scenario_file": o.scenario_path,
                "template": o.scenario.stack.template if o.scenario.stack else None, "notes": list(o.scenario.notes) + self.flow_notes,
                "alarm_lint": list(self.alarm_lint), "unfaithful": list(o.scenario.unfaithful),
                "description": o.scenario.description, "alias_arn": o.alias_arn, "target": o.target,
                "time_scale": self.clock.scale, "rate": o.rate, "flow": str(o.flow),
                "users": getattr(parsed, "num_users", None), "processes": processes,
                "prompt_time": o.prompt_time, "prompt_mean_s": mean_duration(o.prompt_time), "started": time.time(),
                "blocks": self.flows.block_targets(),
                "traffic": dataclasses.asdict(self.traffic) if self.traffic is not None else None,
                "traffic_profile": dataclasses.asdict(o.traffic_profile) if o.traffic_profile else None,
                "start_time": o.start_time, "emulated_start": self.emulated_start, "result_attribute": o.result_attribute,
                "judge": o.scenario.judge}
            if self.unreached:  # withholds the verdict of a run that deploys (report.verdict)
                self.run_info["alarms_not_reached"] = self.unreached
            if self.undeclared:  # so does this
                self.run_info["alarms_undeclared"] = self.undeclared
            self.record.describe_run(self.run_info)
        self.reporter.test_started(self.record, self.options.alias_arn)
        self.callers.test_started(self.options, self.path, self.arrivals, self.traffic, self.emulated_start, processes)
        self.workers_delivered.clear()
        self.gc_thresholds = settle_for_load(self.gc_thresholds)
        self.workers_lost.clear()
        self.load_errors.clear()
        self.unpublished.clear()
        if self.reporting is None or self.reporting.dead:
            self.reporting = gevent.spawn(self.reporter.forever, self._watch)
        self.ready.set()
        if self.coordinator:
            from simulator.loadgen.coordination import Coordination

            if self.coordination is None:
                self.coordination = Coordination(self)
            self.coordination.start()

    def _traffic_plan(self, held_per_second: float = 0.0, capacity: str = "") -> TrafficPlan | None:
        """Production's arrivals on this run's clock (None: the load is the users' own, in real time),
        within what the machine holds when that was measured."""
        o = self.options
        peak = o.traffic_profile.peak if o.traffic_profile is not None else o.contacts_per_minute
        if not peak:
            return None
        scale = self.clock.scale  # sized for the peak: one weight for the run, fewer starts off-peak
        return plan_traffic(peak, scale, o.max_contacts_per_second,
                            expected_contact_seconds(o.loops_per_contact, mean_duration(o.prompt_time), scale),
                            held_per_second, capacity)

    async def _follow_profile(self, processes: int) -> None:
        """Production's arrivals over the emulated day: the arrivals' rate follows the profile."""
        o, plan, arrivals = self.options, self.traffic, self.arrivals
        assert o.traffic_profile is not None and plan is not None and arrivals is not None
        while True:
            minute = minute_of_day(o.start_time, self.clock.now() - self.emulated_start)
            per_minute = o.traffic_profile.at(minute)
            arrivals.set_rate(per_minute / 60.0 * plan.scale / plan.weight / processes)
            # again at the next whole minute of the day (where spans change) or in a quarter second
            await asyncio.sleep(min(0.25, (math.floor(minute) + 1 - minute) * 60.0 / plan.scale + 0.001))

    def _planned_users(self) -> int:
        """The users the whole test is about to run: the runner's target, else the command line's."""
        return int(getattr(self.env.runner, "target_user_count", 0)
                   or getattr(self.env.parsed_options, "num_users", 0) or 0)

    def _users_here(self) -> int:
        """The users this process is about to run: none on a master; a worker's share estimated from
        the master's options (its own count is set after the test starts)."""
        runner, parsed = self.env.runner, self.env.parsed_options
        if isinstance(runner, MasterRunner):
            return 0
        if isinstance(runner, WorkerRunner):
            processes = max(1, getattr(parsed, "shiftsim_processes", 1))
            return math.ceil((getattr(parsed, "num_users", 0) or 0) / processes)
        return self._planned_users()

    def _warn_if_too_few_users(self, users: int) -> None:
        """Starts go to free users: too few for the rate on their prompts alone, and most starts are
        late whatever the machine does. Said at the start, not discovered in the figures."""
        o = self.options
        needed = users_needed(o.rate, users, o.prompt_time)
        if needed is None:
            return
        prompt = mean_duration(o.prompt_time)
        log.warning("shiftsim: --rate %g with %d users gives each user %.3f s per invocation, but its prompts "
                    "take %.3f s on average (--prompt-time %s): with one prompt between invocations, at most "
                    "about %d invocations/s can start on time and the rest will be late; add users (at least "
                    "%d) or lower the rate", o.rate, users, users / o.rate, prompt, o.prompt_time,
                    users / prompt, needed)

    def on_spawning_complete(self, user_count: int, **kwargs: Any) -> None:
        """All users are there: the rate's schedule starts again from now. While users ramp up the pacer
        hands out starts at the full rate and few users take them; those that start late are counted
        late, and the backlog of starts nobody took is dropped, not fired in a burst once the users
        are there (which would also take seconds to recover from near the machine's limit)."""
        if self.options.rate > 0:
            self.bridge.loop.call_soon_threadsafe(self.pacer.restart)  # the pacer lives on the loop's thread
        if self.arrivals is not None:
            self.bridge.loop.call_soon_threadsafe(self.arrivals.restart)
        self.callers.arrivals_began()  # (a worker is told when every worker's users are there)

    def delivered_so_far(self) -> tuple[int, float, str] | None:
        """The load's schedule kept or not since the users were all there (Callers.delivered_so_far):
        this process's, or on a master the sum of its workers' as each last reported it (a worker says
        what it started and what was due of its share at one moment: seconds old, never out of step)."""
        if not isinstance(self.env.runner, MasterRunner):
            return self.callers.delivered_so_far()
        reported = list(self.workers_delivered.values())
        if not reported:
            return None
        return sum(r[0] for r in reported), sum(r[1] for r in reported), reported[0][2]

    async def _open_clients(self) -> None:
        if self._clients is not None:
            return
        stack = contextlib.AsyncExitStack()
        lambda_client = await stack.enter_async_context(
            client(self.target, "lambda", concurrency=512, retries=False))
        if self.options.target == "local":
            self.clock = await emulator_clock(self.endpoint)
            if self.coordinator:  # production's versions have served traffic: warm, unlike a fresh emulator's
                self.warmed = await warm_before_load(self.endpoint, self.flows, self._planned_users())
        traffic = self._traffic_plan()
        proxy = proxy_for(lambda_client) if self.options.invoker == "fast" else None
        fast = FastLambdaInvoker(lambda_client, socket_factory=self.bridge.socket_factory) if self.options.invoker == "fast" \
            and not proxy else None
        if fast is not None:
            stack.push_async_callback(fast.close)
            if traffic is not None and self.measures_capacity():
                traffic = await self._measured_plan(fast)
        elif traffic is not None and self.measures_capacity():  # said with the plan: the start promised it
            traffic = dataclasses.replace(traffic, capacity=(
                "not measured: the endpoint is reached through a proxy, and the measurement runs the fast "
                "invoker, which connects directly"))
        self.traffic = traffic
        if self.traffic is not None and self.traffic.sampled:  # before any Invoke is built, templates too
            weight = f"{self.traffic.weight:.6g}"

            def weigh(request: Any, **kwargs: Any) -> None:  # each invocation stands for `weight` in CloudWatch
                request.headers[WEIGHT_HEADER] = weight

            lambda_client.meta.events.register("before-sign.lambda.Invoke", weigh)
        if proxy:
            log.warning("shiftsim: %s is reached through a proxy (%s): invoking with aiobotocore (the fast "
                        "invoker connects directly)", lambda_client.meta.endpoint_url, proxy)
        if fast is not None:
            for flow in self.flows.flows.values():
                for block in flow.blocks.values():
                    if not is_reference(block.function_arn):  # named at run time: prepared on first use
                        await fast.prepare(block.function_arn)
            users = self._users_here()
            if traffic is not None and traffic.held_per_second:  # no more than the measured plan's users use
                users = min(users, traffic.users)
            await fast.warm(users)  # a connection per user before the load, not during it
            self.invoker = fast
        else:
            self.invoker = LambdaInvoker(lambda_client)
        self.lambda_client = lambda_client
        if self.coordinator:
            self.codedeploy = await stack.enter_async_context(client(self.target, "codedeploy"))
        if self.coordinator or self.options.target == "local":
            self.cloudwatch = await stack.enter_async_context(client(self.target, "cloudwatch"))
        if self.options.target == "local":  # the Connect instance's flow logs and metrics go to the emulator
            self.logs_client = await stack.enter_async_context(client(self.target, "logs"))
        self._clients = stack

    def measures_capacity(self) -> bool:
        """Production's rate with no ceiling of the scenario's, on the emulator, in one process, with the
        fast invoker (whose path the measurement runs): what this machine can hold is measured, and the
        rate sampled above it. (Processes would each measure
        their own and must share one weight; against AWS nothing can be sampled.)"""
        return (self.options.max_contacts_per_second <= 0 and self.options.target == "local"
                and self.options.invoker == "fast"
                and getattr(self.env.parsed_options, "shiftsim_processes", 1) == 1 and not self.distributed)

    async def _measured_plan(self, fast: FastLambdaInvoker) -> TrafficPlan | None:
        """The traffic plan with the rate this process was measured to hold (see loadgen.capacity)."""
        o = self.options
        for flow in self.flows.flows.values():
            for block in flow.blocks.values():
                if not is_reference(block.function_arn):
                    await fast.prepare(block.function_arn, dry_run=True)
        capacity = await measure_capacity(self.flows, fast.dry_runs(), self.clock, o.scenario.connect,
                                          region=o.region, account=o.scenario.account,
                                          loops_per_contact=o.loops_per_contact)
        if not capacity.invocations:
            return self._traffic_plan()
        held = capacity.invocations_per_second / max(1.0, capacity.invocations_per_contact)
        return self._traffic_plan(held, capacity.describe())

    def _start_telemetry(self) -> None:
        """The Connect instance's reports for this test: to the run folder (a worker against AWS sends
        its flow logs to the master's), and on the local target to the emulator's CloudWatch Logs and
        CloudWatch (where a distributed run's flow logs are read)."""
        o = self.options
        sampled = self.traffic is not None and self.traffic.sampled
        runs_contacts = not isinstance(self.env.runner, MasterRunner)
        self.worker_flow_logs = (WorkerFlowLogs() if isinstance(self.env.runner, WorkerRunner) and o.target != "local"
                                 else None)
        self.telemetry = ConnectTelemetry(
            o.scenario.connect, region=o.region, account=o.scenario.account, now=self.clock.now,
            weight=self.traffic.weight if sampled and self.traffic is not None else 1.0,
            folder=self.record.path.parent if self.record is not None and runs_contacts else None,
            publish=o.target == "local", time_scale=self.clock.scale,
            endpoint_gone=lambda: self.emulator_death() is not None, socket_factory=self.bridge.socket_factory,
            relay=self.worker_flow_logs)
        # On any target: its beat makes the run folder's flow logs (against AWS, publishing nothing)
        self.telemetry_ended, cancel = self.bridge.submit(self.telemetry.run(self.logs_client, self.cloudwatch))
        self.cancels_on_stop.append(cancel)

    def catch_up(self) -> None:
        """A worker announces itself to the master before its `init` event runs, so a fast spawn can
        start the test before this session existed: start it now if so."""
        runner = self.env.runner
        if getattr(runner, "worker_state", None) in (STATE_SPAWNING, STATE_RUNNING) and not self.ready.is_set():
            self.on_test_start(self.env)

    def on_test_stop(self, environment: Environment, **kwargs: Any) -> None:
        self.ready.clear()
        # (a rehearsal's progress lines say it; a worker's share goes in its reports)
        if self.coordinator and not getattr(environment, "shiftsim_said_notes", False):
            delivered = delivered_line(self.delivered_so_far())
            if delivered:
                log.info("shiftsim: since the users were all there, the load %s", delivered)
        for cancel in self.cancels_on_stop:
            cancel()
        self.cancels_on_stop.clear()
        if self.telemetry_ended is not None:  # its last beat's entries in the run folder before it is closed
            self.telemetry_ended.wait(TELEMETRY_END_S)
            self.telemetry_ended = None
        restore_after_load(self.gc_thresholds)  # frozen only while the load runs
        self.reporter.test_stopped()
        runner = self.env.runner
        if isinstance(runner, WorkerRunner):  # its last rows now, not in the next report 3 s on (final_reports.py)
            try:
                runner._send_stats()  # what Locust's own quit sends as a worker's final report
            except RPCError as exc:  # as Locust's reporter: its next report says the count, and the master the loss
                log.warning("shiftsim: worker %s could not send its last report now: %s", self.node, exc)
            log.info("shiftsim: worker %s has sent its master %d invocations", self.node, self.rows_sent.sent)
        if self.coordinator and self.record is not None:
            if self.coordination is not None:  # (None when stopped before it began)
                self.coordination.stop()
                usage = self.coordination.provisioned_usage()
                if usage is not None:  # the alias's provisioned concurrency: the summary says what it served
                    self.record.event({"t": time.time(), "kind": "provisioned", **usage})
            said = said_errors(self.env.runner.stats) if self.env.runner is not None else {}
            if said:  # what the errors said: the summary names each version's most frequent
                self.record.event({"t": time.time(), "kind": "errors_said", "by_name": said})
            self.record.flush()
            self._say_recorded()

    def _say_recorded(self) -> None:
        assert self.record is not None
        recorded, late = self.reporter.recorded, self.reporter.recorded_late
        self.said_recorded = recorded
        log.info("shiftsim: %d invocations recorded in %s, %d of them late (started more than %g ms after their "
                 "intended time)%s", recorded, self.record.path.parent, late, self.options.late_threshold_s * 1000,
                 f"; why: shiftsim plot {self.record.path.parent}" if late else "")

    def on_quitting(self, environment: Environment, **kwargs: Any) -> None:
        if self._sigint_after_close is signal.default_int_handler:  # a Locust run (a rehearsal holds its own)
            # Ctrl-C again while the test stops has nothing left to stop: thrown into the main greenlet
            # it broke the users' stop off, with the record unclosed, a traceback and exit -2
            self.hand_over_sigint(signal.SIG_IGN)
        runner = environment.runner
        if runner is not None and runner.state in (STATE_SPAWNING, STATE_RUNNING):
            # On a signal (SIGTERM, Ctrl-C) Locust says `quitting` before it quits the runner
            if isinstance(runner, MasterRunner):
                # the workers' last rows come in the final reports they send when Locust's own quit tells
                # them to: the record stays open until Locust says `quit`
                return
            # this process's users first: their last invocations are counted and recorded before the
            # record closes, and no coroutine is cancelled under a user still waiting on it
            runner.stop()
        self._close()

    def on_quit(self, exit_code: int = 0, **kwargs: Any) -> None:
        """Locust is exiting (its own last statistics printed): close what `quitting` left open, write
        its `--csv` files once more, complete, and the results; the process then exits with the
        verdict's code, as a rehearsal does (Locust's own failure ratio never decides it)."""
        self._close()
        prefix = getattr(self.parsed, "csv_prefix", None)
        if prefix and self.coordinator:
            write_final_csv(self.env, prefix)
        if not (self.writes_results and self.coordinator and self.record is not None):
            return  # (no test started: nothing to judge)
        summary = self._write_results(self.record.path.parent)
        if self.env.process_exit_code is None and summary is not None:  # not already input (2) or broken (3)
            from simulator.report.results import verdict_exit_code

            verdict = verdict_exit_code(summary)
            if verdict != exit_code:
                log.info("shiftsim: exit code %d: the verdict's (Locust's own would have been %d)", verdict, exit_code)
                raise SystemExit(verdict)  # Locust's exit follows this event: no other way to set its code

    def _write_results(self, folder: Path) -> dict[str, Any] | None:
        """The analysis and the figure as the test ends, without asking: a web-UI or headless run's
        folder holds what a rehearsal's does."""
        from simulator.report.results import results_line, write_results
        from simulator.report.summary_text import format_summary

        try:
            summary = write_results(folder, self.options.scenario.expect)
        except Exception:  # the record is kept whatever the analysis meets; `shiftsim plot` retries
            log.exception("shiftsim: the analysis of %s failed; its record is kept", folder)
            self.env.process_exit_code = 3
            return None
        log.info("shiftsim: %s", format_summary(summary).replace("\n", "\n  "))
        log.info("shiftsim: %s", results_line(folder))
        return summary

    def _stop_if_emulator_died(self) -> None:
        """A Locust run whose emulator died stops at once, said in one line, exit code 3 (a rehearsal
        watches for itself and says it in its own words)."""
        death = self.emulator_death()
        if death is None or self.closed:  # stopped by the session itself at the end
            return
        self.watch_emulator = False
        where = f"; what was recorded is in {self.record.path.parent}" if self.record is not None else ""
        log.error("shiftsim: %s: stopping the test%s", death, where)
        self.env.process_exit_code = 3
        gevent.spawn(self.env.runner.quit)  # type: ignore[union-attr]

    def hand_over_sigint(self, handler: Any) -> None:
        """Ctrl-C goes to `handler` from now on, through the session's close too (a rehearsal holds it
        while the record is closed): gevent's handler, which throws into the main greenlet, is gone."""
        self._sigint.cancel()
        self._sigint_after_close = handler
        signal.signal(signal.SIGINT, handler)

    def emulator_death(self) -> str | None:
        """How the emulator this session started ended, if it has (the run cannot go on)."""
        return self.emulator.death() if self.emulator is not None else None

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.watch_emulator = False
        logging.getLogger(LOCUST_TASK_LOGGER).removeFilter(self.load_errors.first_of_each)
        if self.coordination is not None:
            self.coordination.stop()
        if self.telemetry is not None:
            self.telemetry.close()
        if self.relayed_flow_logs is not None:
            self.relayed_flow_logs.close()
            if self.relayed_flow_logs.dropped:
                self.run_info["flow_logs_dropped"] = self.relayed_flow_logs.dropped
        if self.coordinator and self.record is not None:
            errors, refused = self.load_errors.listed(), self.refusals.during_test()
            if errors:  # the verdict is withheld: the load was not what the scenario asks (report.verdict)
                self.run_info["load_errors"] = errors
            if refused:  # likewise: the emulator refused what AWS would have taken
                self.run_info["emulator_refused"] = refused
            if self.final_reports is not None and self.final_reports.unreported:  # the end of the run is missing
                self.run_info["workers_unreported"] = dict(self.final_reports.unreported)
            mean = self.callers.mean_contact_seconds
            if self.traffic is not None and mean is not None and not self.distributed:  # were late starts the users'?
                self.run_info["callers"] = {"users": self.callers.contacts_peak, "contact_s": round(mean, 4),
                                            "driven_per_second": self.traffic.driven_per_second}
            unpublished = self.unpublished.run_info(
                self.options.scenario, self.telemetry.unpublished if self.telemetry is not None else None)
            if unpublished:  # withholds the verdict where a group's alarm reads it (report.verdict)
                self.run_info["reports_unpublished"] = unpublished
            if (errors or refused or unpublished or "callers" in self.run_info or "flow_logs_dropped" in self.run_info
                    or "workers_unreported" in self.run_info):
                self.record.describe_run(self.run_info)
            self.record.close()
            if self.reporter.recorded != self.said_recorded:  # workers' final reports came after the test stopped
                self._say_recorded()
        if self._clients is not None:
            with contextlib.suppress(Exception):
                self.bridge.run(self._clients.aclose(), timeout=10)
        self.bridge.close()
        if self.emulator is not None:
            self.emulator.stop()
        # Ctrl-C as Python has it again (or as the rehearsal asked): what runs after may not yield to gevent
        self._sigint.cancel()
        signal.signal(signal.SIGINT, self._sigint_after_close)

    # ---- reporting ---------------------------------------------------------------------------------

    def _watch(self) -> None:
        """Each of the reporter's beats: the emulator this session started still alive."""
        if self.watch_emulator:
            self._stop_if_emulator_died()

    def worker_lost(self, worker: str) -> None:
        """A worker stopped sending heartbeats: say so, keep its rows, note it in run.json."""
        if worker in self.workers_lost:
            return
        self.workers_lost[worker] = self.reporter.rows_by_worker[worker]
        log.warning("shiftsim: worker %s disappeared (no heartbeat); its %d invocations up to its last "
                    "report are kept in the record", worker, self.reporter.rows_by_worker[worker])
        if self.record is not None:
            self.run_info["workers_lost"] = dict(self.workers_lost)
            self.record.describe_run(self.run_info)

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **kwargs: Any) -> None:
        # Only rows already drained: their statistics are in the report Locust's own listener has just
        # made (it runs first). Draining here would send rows whose statistics wait for the next
        # report, which a worker killed meanwhile never sends (the record one ahead of Locust's count).
        rows, ends = self.reporter.take_unsent()
        data["shiftsim_rows"] = rows
        self.rows_sent.report(data, len(rows), final=not self.reporter.recording)
        data["shiftsim_contact_ends"] = ends
        data["shiftsim_delivered"] = self.callers.delivered_so_far()
        data["shiftsim_load_errors"] = self.load_errors.take_unsent()
        if self.telemetry is not None and self.telemetry.unpublished:
            data["shiftsim_reports_unpublished"] = self.telemetry.unpublished
        if self.worker_flow_logs is not None:
            data["shiftsim_flow_logs"], data["shiftsim_flow_logs_dropped"] = self.worker_flow_logs.take()

    def on_worker_report(self, client_id: str, data: dict[str, Any], **kwargs: Any) -> None:
        if self.final_reports is not None:
            self.final_reports.heard_report(client_id, data)
        self.load_errors.merge(data.get("shiftsim_load_errors"))
        delivered = data.get("shiftsim_delivered")
        if delivered:
            self.workers_delivered[client_id] = (int(delivered[0]), float(delivered[1]), str(delivered[2]))
        self.unpublished.heard(client_id, data.get("shiftsim_reports_unpublished"))
        ends = data.get("shiftsim_contact_ends")
        if ends and self.record is not None and not self.closed:
            self.record.contacts_ended(ends)
        if self.relayed_flow_logs is not None and not self.closed:
            self.relayed_flow_logs.add(data.get("shiftsim_flow_logs"), data.get("shiftsim_flow_logs_dropped"))
        rows = data.get("shiftsim_rows")
        if rows and self.record is not None:
            if self.closed:  # a report after Locust quit: said, not written to a closed record
                log.warning("shiftsim: %d invocations reported by %s after the record was closed are not in it",
                            len(rows), client_id)
                return
            self.reporter.write([tuple(r) for r in rows])

    # ---- contacts ----------------------------------------------------------------------------------

    def run_contacts(self) -> None:
        """One caller: contact after contact on the loop until Locust stops the user (killing the
        waiting greenlet cancels the coroutine). No round trip to the hub between contacts."""
        self.bridge.run(self.callers.run())
