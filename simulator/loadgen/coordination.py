"""The coordinator's (local runner's or master's) side of a test: the deployment at its moment, the
alias and alarms polled for the web UI, and the per-second history the live chart draws."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any, Protocol

import gevent
from botocore.exceptions import BotoCoreError, ClientError
from locust.runners import STATE_MISSING, MasterRunner

from simulator.deployment.arn import parse_alias_arn
from simulator.deployment.clock import Clock
from simulator.deployment.driver import DeployError, DeploymentDriver, TimelineEvent, describe_event
from simulator.loadgen.bridge import AsyncioBridge
from simulator.loadgen.options import LoadOptions
from simulator.loadgen.provisioned_usage import provisioned_usage
from simulator.loadgen.request_stats import error_text
from simulator.report.record import RecordWriter

log = logging.getLogger("shiftsim.loadgen")
POLL_SECONDS = 1.0
USAGE_TIMEOUT_S = 10.0  # for CloudWatch's counts of the provisioned concurrency when a test stops


class CoordinatedSession(Protocol):
    """What the coordination needs of the test's session (loadgen.session.LoadSession is one): its
    options, clock, loop and clients, its record, and who to tell about the emulator and workers."""

    options: LoadOptions
    clock: Clock
    bridge: AsyncioBridge
    env: Any
    lambda_client: Any
    codedeploy: Any
    cloudwatch: Any
    record: RecordWriter | None

    def emulator_death(self) -> str | None: ...

    def worker_lost(self, worker: Any) -> None: ...


class Coordination:
    def __init__(self, session: CoordinatedSession) -> None:
        self.session = session
        ref = parse_alias_arn(session.options.alias_arn)
        self.function, self.alias = ref.name, ref.qualifier or ""
        self.weights: dict[str, Any] = {}
        self.alarms: dict[str, str] = {}
        self.deployment: dict[str, Any] = {"status": "not started"}
        self.history: list[dict[str, Any]] = []
        self.events: collections.deque[TimelineEvent] = collections.deque()
        self.timeline: list[dict[str, Any]] = []
        self.greenlets: list[gevent.Greenlet] = []
        self.cancels: list[Any] = []
        self.started_at = 0.0
        self.started_emulated = 0.0  # the test's start on the emulated clock, where metrics are stamped
        self.origin = 0.0  # emulated time of the deployment's first event
        self.watching = False  # while the driver watches, it reports alarm transitions itself
        self.poll_error: str | None = None  # the last poll's failure
        self.poll_error_said = False  # said once while it lasts

    def start(self) -> None:
        self.stop()
        self.history.clear()
        self.timeline.clear()
        self.started_at = time.time()
        self.started_emulated = self.session.clock.now()
        self.deployment = {"status": "none: load only"}
        bridge = self.session.bridge
        self.cancels.append(bridge.submit(self._poll_state())[1])
        self.greenlets.append(gevent.spawn(self._sample_forever))
        after = self.session.options.deploy_after
        if after is not None:
            self.deployment = {"status": f"starts {after:g} s into the test", "starts_at": time.time() + after}
            self.greenlets.append(gevent.spawn_later(after, self._start_deployment))

    def stop(self) -> None:
        for cancel in self.cancels:
            cancel()
        for greenlet in self.greenlets:
            greenlet.kill(block=False)
        self.cancels.clear()
        self.greenlets.clear()
        self.flush_events()
        self._check_workers()  # a worker found missing since the last sample is still reported

    def _start_deployment(self) -> None:
        self.cancels.append(self.session.bridge.submit(self._deploy())[1])

    async def _deploy(self) -> None:
        session, spec = self.session, self.session.options.scenario.deployment
        if spec is None:
            self.deployment = {"status": "no deployment group in the scenario"}
            return
        driver = DeploymentDriver(session.lambda_client, session.codedeploy, session.cloudwatch, session.clock)
        try:
            if session.options.watch_existing:
                self.deployment = {"status": f"waiting for a deployment of {spec.application}/{spec.group}"}
                deployment_id = None
                while deployment_id is None:
                    deployment_id = await driver.find_active(spec.application, spec.group)
                    if deployment_id is None:
                        await asyncio.sleep(2.0)
            else:
                deployment_id = await driver.start(spec.application, spec.group, spec.function, spec.alias,
                                                   before_hook=spec.pre_traffic_hook,
                                                   after_hook=spec.post_traffic_hook,
                                                   version_references=spec.version_references)
            self.deployment = {"status": "Created", "id": deployment_id}
            poll = max(0.02, min(1.0, 2.0 / session.clock.scale))
            self.watching = True
            try:
                outcome = await driver.watch(deployment_id, poll_interval=poll, on_event=self._on_event)
            finally:
                self.watching = False
            self.deployment = {"status": outcome.status, "id": deployment_id,
                               "rollback": outcome.rollback_deployment_id or "",
                               "error": (outcome.error or {}).get("code", "")}
        except DeployError as exc:
            log.error("shiftsim: %s", exc)
            self.deployment = {"status": "could not start", "error": str(exc)}

    def _note(self, event: TimelineEvent) -> None:
        """An event of the deployment, from the loop thread: into the record at once (written before the
        next rows), and into the web UI's timeline by a greenlet."""
        record = self.session.record
        if record is not None:
            record.note_event(event.to_json())
        self.events.append(event)

    def _on_event(self, event: TimelineEvent) -> None:
        self._note(event)
        if event.kind == "alarm":
            self.alarms = {**self.alarms, event.detail["alarm"]: event.detail["state"]}
        if event.kind == "status":
            self.deployment = {**self.deployment, "status": event.detail["status"]}

    async def _poll_state(self) -> None:
        session = self.session
        while True:
            try:
                alias = await session.lambda_client.get_alias(FunctionName=self.function, Name=self.alias)
                extra = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
                weights = {v: float(w) for v, w in extra.items()}
                weights[alias["FunctionVersion"]] = 1.0 - sum(weights.values())
                self.weights = weights
                found = await session.cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
                alarms = [*found["MetricAlarms"], *found.get("CompositeAlarms", [])]
                if not self.watching and self.timeline_started:
                    # after the deployment, alarms still change: a late alarm is part of the story
                    for alarm in alarms:
                        old = self.alarms.get(alarm["AlarmName"])
                        if old is not None and old != alarm["StateValue"]:
                            stamp = alarm.get("StateUpdatedTimestamp")
                            self._note(TimelineEvent(
                                stamp.timestamp() if stamp else session.clock.now(), "alarm",
                                {"alarm": alarm["AlarmName"], "old": old, "state": alarm["StateValue"],
                                 "reason": alarm.get("StateReason", "")}))
                self.alarms = {a["AlarmName"]: a["StateValue"] for a in alarms}
            except (ClientError, BotoCoreError) as exc:
                # said once while it lasts, when the next poll fails the same way: a killed emulator refuses
                # connections a moment before its end can be read, and a dead one is said by whoever runs the test
                if str(exc) != self.poll_error:
                    self.poll_error, self.poll_error_said = str(exc), False
                elif not self.poll_error_said and session.emulator_death() is None:
                    log.warning("shiftsim: cannot poll the alias or alarms: %s", exc)
                    self.poll_error_said = True
            else:
                self.poll_error, self.poll_error_said = None, False
            await asyncio.sleep(POLL_SECONDS)

    def provisioned_usage(self, timeout_s: float = USAGE_TIMEOUT_S) -> dict[str, Any] | None:
        """What the alias's provisioned concurrency served and what spilled over, per version (None when
        it has none, or CloudWatch did not answer in time: said)."""
        session = self.session
        if session.emulator_death() is not None:  # said by whoever runs the test: nothing to ask
            return None
        result, cancel = session.bridge.submit(provisioned_usage(
            session.lambda_client, session.cloudwatch, self.function, self.alias, self.started_emulated,
            session.clock.now()))
        try:
            return result.get(timeout=timeout_s)
        except gevent.Timeout:
            cancel()
            if session.emulator_death() is None:
                log.warning("shiftsim: CloudWatch did not say within %g s what the provisioned concurrency served",
                            timeout_s)
        except (ClientError, BotoCoreError) as exc:
            if session.emulator_death() is not None:  # it died as the test stopped: said by whoever runs it
                return None
            log.warning("shiftsim: cannot read what the provisioned concurrency served (lambda:GetProvisionedConcurrencyConfig, "
                        "cloudwatch:ListMetrics and GetMetricStatistics): %s", exc)
        return None

    @property
    def timeline_started(self) -> bool:
        return bool(self.timeline) or bool(self.events)

    def flush_events(self) -> None:
        """The deployment's events noted so far, told in the web UI's timeline (the record has them)."""
        while self.events:
            event = self.events.popleft()
            if not self.timeline:
                self.origin = event.t
            self.timeline.append({**event.to_json(), "text": describe_event(event, self.origin)})

    def _sample_forever(self) -> None:
        while True:
            gevent.sleep(POLL_SECONDS)
            if self.session.record is not None:  # a quiet second's events too, rows or not
                self.session.record.write_events()
            self.flush_events()
            self._check_workers()
            self.history.append({"t": round(time.time() - self.started_at, 1), **self.version_totals(),
                                 "weights": dict(self.weights), "alarms": dict(self.alarms)})

    def _check_workers(self) -> None:
        runner = self.session.env.runner
        if not isinstance(runner, MasterRunner):
            return
        # A worker that quit is no longer listed; one that went silent stays listed as missing.
        for worker in [c.id for c in runner.clients.values() if c.state == STATE_MISSING]:
            self.session.worker_lost(worker)  # also one lost before its first report

    def version_totals(self) -> dict[str, Any]:
        """Invocations and failures per version, from Locust's (aggregated) statistics."""
        stats = self.session.env.runner.stats if self.session.env.runner else None
        counts: dict[str, int] = {}
        failures: dict[str, int] = {}
        if stats is not None:
            for (name, method), entry in stats.entries.items():
                if method == "Lambda" and name.startswith("invoke v"):
                    version = name[len("invoke v"):]
                    counts[version] = entry.num_requests
                    failures[version] = entry.num_failures
        return {"counts": counts, "failures": failures}

    def lambda_totals(self) -> tuple[int, int]:
        """Invocations and failures of every function the flows called, from Locust's statistics."""
        stats = self.session.env.runner.stats if self.session.env.runner else None
        entries = [e for (name, method), e in stats.entries.items() if method == "Lambda"] if stats else []
        return sum(e.num_requests for e in entries), sum(e.num_failures for e in entries)

    def errors_by_reason(self) -> dict[str, dict[str, int]]:
        stats = self.session.env.runner.stats if self.session.env.runner else None
        reasons: dict[str, dict[str, int]] = collections.defaultdict(dict)
        if stats is not None:
            for error in stats.errors.values():
                if error.method == "Lambda" and error.name.startswith("invoke v"):
                    version = error.name[len("invoke v"):]
                    reason = error_text(error.error).split(":", 1)[0]
                    reasons[version][reason] = reasons[version].get(reason, 0) + error.occurrences
        return reasons
