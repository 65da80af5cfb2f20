"""CodeDeploy's state and behaviour for the Lambda compute platform. No wire protocol here.

A deployment runs as a task on the emulated clock: BeforeAllowTraffic hook, AllowTraffic (the shifts
of its configuration, applied through the Lambda model's UpdateAlias, as CodeDeploy does), then
AfterAllowTraffic. A second task polls the group's alarms every `alarm_poll_interval` emulated
seconds from the start to the end, at fixed instants (a poll due at a shift's instant comes first); an
alarm in ALARM (also one already in ALARM at the start) stops the deployment with ALARM_ACTIVE and,
with auto-rollback, flips the alias straight back to the current version and records a rollback
deployment with its own id.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from simulator.deployment.clock import Clock
from simulator.deployment.plan import check_routing, predefined_configs, traffic_plan
from simulator.emulator.cloudwatch.models import CloudWatchBackend
from simulator.emulator.holdings import Full, Holdings
from simulator.emulator.lambda_.models import InvokeResult, LambdaBackend, LambdaError
from simulator.emulator.member_types import model_enum
from simulator.emulator.regions import partition_of
from simulator.scenario.spec import DeploymentSpec, EmulatorOptions, TrafficRouting

ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST")  # those SAM sets
LIFECYCLE = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")
DONE = ("Succeeded", "Failed", "Stopped")


class CodeDeployError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Application:
    name: str
    id: str
    created: float


@dataclass
class DeploymentGroup:
    application: str
    name: str
    id: str
    config_name: str
    alarms: list[str]
    alarms_enabled: bool
    rollback_enabled: bool
    rollback_events: list[str]
    service_role: str


@dataclass
class DeploymentConfig:
    name: str
    id: str
    routing: TrafficRouting
    created: float


@dataclass
class LifecycleEventState:
    name: str
    status: str = "Pending"
    start: float | None = None
    end: float | None = None
    hook_function: str | None = None
    hook_execution_id: str | None = None
    hook_result: asyncio.Future[str] | None = field(default=None, repr=False)
    hook_error: str | None = None  # the hook's last invocation's error, if it failed (its logs have it on AWS)
    diagnostics: dict[str, str] | None = None  # the target's lifecycle event's, once the hook has failed


@dataclass
class Deployment:
    id: str
    application: str
    group: str
    config_name: str
    function: str
    alias: str
    current_version: str
    target_version: str
    created: float
    creator: str = "user"
    description: str = ""
    status: str = "Created"
    started: float | None = None
    completed: float | None = None
    error: dict[str, str] | None = None
    rollback_info: dict[str, str] | None = None
    target_weight: float = 0.0
    next_poll_at: float | None = None  # emulated time of the next alarm poll, while alarms are watched
    rollback_enabled: bool = True
    rollback_events: list[str] = field(default_factory=list)
    events: list[LifecycleEventState] = field(default_factory=list)
    revision: dict[str, Any] = field(default_factory=dict)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list, repr=False)

    def event(self, name: str) -> LifecycleEventState:
        return next(e for e in self.events if e.name == name)


def _deployment_id(rng: random.Random) -> str:
    return "d-" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=9))


class CodeDeployBackend:
    """Applications, groups, configurations and deployments of the emulated account."""

    def __init__(self, clock: Clock, lambda_: LambdaBackend, cloudwatch: CloudWatchBackend,
                 options: EmulatorOptions, *, region: str, account: str, holdings: Holdings | None = None) -> None:
        self.clock, self.lambda_, self.cloudwatch = clock, lambda_, cloudwatch
        self.holdings = holdings or Holdings()
        self.options, self.region, self.account = options, region, account
        self.applications: dict[str, Application] = {}
        self.groups: dict[tuple[str, str], DeploymentGroup] = {}
        self.configs: dict[str, DeploymentConfig] = {
            name: DeploymentConfig(name, str(uuid.uuid4()), routing, 0.0)
            for name, routing in predefined_configs().items()}
        self.deployments: dict[str, Deployment] = {}
        self.tags: dict[str, dict[str, str]] = {}  # resource ARN -> its tags
        # An S3 object's text, (bucket, key, version or None) -> text, or None when there is no such object:
        # set by the emulator to read from the S3 on its endpoint (an AppSpec revision of type S3).
        self.read_s3: Callable[[str, str, str | None], str | None] | None = None
        self.ids = random.Random()
        self.listeners: list[Callable[[Deployment], None]] = []

    def close(self) -> None:
        for deployment in self.deployments.values():
            for task in deployment.tasks:
                task.cancel()

    # ---- provisioning ---------------------------------------------------------------------------

    def provision(self, spec: DeploymentSpec) -> None:
        """The application, configuration and group SAM creates for a DeploymentPreference."""
        self.create_application(spec.application)
        if spec.custom_config is not None:
            self.create_deployment_config(spec.config, spec.custom_config)
        self.create_deployment_group(
            spec.application, spec.group, spec.config,
            alarms=list(spec.alarms), alarms_enabled=bool(spec.alarms),
            rollback_enabled=spec.auto_rollback, rollback_events=list(ROLLBACK_EVENTS),
            service_role=f"arn:aws:iam::{self.account}:role/CodeDeployServiceRole")

    # ---- applications, configs, groups -----------------------------------------------------------

    def create_application(self, name: str, compute_platform: str = "Lambda") -> Application:
        if not name:
            raise CodeDeployError("ApplicationNameRequiredException", "The minimum number of required application names was not specified.")
        if name in self.applications:
            raise CodeDeployError("ApplicationAlreadyExistsException", f"The application {name} already exists with the IAM user or AWS account.")
        if compute_platform != "Lambda":
            raise CodeDeployError("InvalidComputePlatformException", "The shiftsim emulator supports the Lambda compute platform only.")
        self._hold("applications", "ApplicationLimitExceededException")
        app = self.applications[name] = Application(name, str(uuid.uuid4()), self.clock.now())
        return app

    def _hold(self, kind: str, exception: str) -> None:
        try:
            self.holdings.take(kind)
        except Full as full:
            raise CodeDeployError(exception, full.sentence) from None

    def _keep(self, deployment: Deployment) -> None:
        """Record a deployment; past the emulator's ceiling the oldest finished one is let go."""
        self.deployments[deployment.id] = deployment
        self.holdings.held["deployments"] += 1
        if self.holdings.over("deployments"):
            oldest = next((d for d in self.deployments.values() if d.status in DONE), None)
            if oldest is not None:
                del self.deployments[oldest.id]
                self.holdings.give("deployments")

    def application(self, name: str) -> Application:
        app = self.applications.get(name or "")
        if app is None:
            raise CodeDeployError("ApplicationDoesNotExistException", f"No application found for name: {name}")
        return app

    def create_deployment_config(self, name: str, routing: TrafficRouting) -> DeploymentConfig:
        if name in self.configs:
            raise CodeDeployError("DeploymentConfigAlreadyExistsException", f"A deployment configuration with the name {name} already exists.")
        problem = check_routing(routing)
        if problem:
            raise CodeDeployError("InvalidTrafficRoutingConfigurationException", problem)
        self._hold("deployment configurations", "DeploymentConfigLimitExceededException")
        config = self.configs[name] = DeploymentConfig(name, str(uuid.uuid4()), routing, self.clock.now())
        return config

    def config(self, name: str) -> DeploymentConfig:
        config = self.configs.get(name or "")
        if config is None:
            raise CodeDeployError("DeploymentConfigDoesNotExistException", f"No deployment configuration found for name: {name}")
        return config

    def create_deployment_group(self, application: str, name: str, config_name: str | None, *,
                                alarms: list[str], alarms_enabled: bool, rollback_enabled: bool,
                                rollback_events: list[str], service_role: str) -> DeploymentGroup:
        self.application(application)
        if (application, name) in self.groups:
            raise CodeDeployError("DeploymentGroupAlreadyExistsException", f"The deployment group {name} already exists for application {application}.")
        config_name = config_name or "CodeDeployDefault.LambdaAllAtOnce"
        self.config(config_name)
        if len(alarms) > 10:
            raise CodeDeployError("AlarmsLimitExceededException", "The maximum number of alarms for a deployment group (10) was exceeded.")
        for event in rollback_events:
            if event not in model_enum("codedeploy", "AutoRollbackEvent"):
                raise CodeDeployError("InvalidAutoRollbackConfigException", f"Unknown auto-rollback event {event}.")
        self._hold("deployment groups", "DeploymentGroupLimitExceededException")
        group = DeploymentGroup(application, name, str(uuid.uuid4()), config_name, alarms,
                                alarms_enabled, rollback_enabled, rollback_events, service_role)
        self.groups[(application, name)] = group
        return group

    def group(self, application: str, name: str) -> DeploymentGroup:
        self.application(application)
        group = self.groups.get((application, name))
        if group is None:
            raise CodeDeployError("DeploymentGroupDoesNotExistException", f"No Deployment Group found for name: {name}")
        return group

    def _appspec_content(self, revision: dict[str, Any] | None) -> dict[str, Any] | None:
        """An S3 revision read into the AppSpecContent it holds; any other revision as it is."""
        if not isinstance(revision, dict) or revision.get("revisionType") != "S3":
            return revision
        location = revision.get("s3Location") or {}
        if not location.get("bucket") or not location.get("key"):
            raise CodeDeployError("InvalidRevisionException", "An S3 revision needs s3Location's bucket and key.")
        if location.get("bundleType") not in ("YAML", "JSON"):
            raise CodeDeployError("InvalidRevisionException", "A Lambda deployment's S3 revision is its AppSpec file: "
                                  f"bundleType YAML or JSON, not {location.get('bundleType')}.")
        text = self.read_s3(location["bucket"], location["key"], location.get("version")) if self.read_s3 else None
        if text is None:
            raise CodeDeployError("RevisionDoesNotExistException", "The named revision does not exist with the IAM user or AWS account.")
        return {"revisionType": "AppSpecContent", "appSpecContent": {"content": text}}

    # ---- tags ------------------------------------------------------------------------------------

    def arn(self, kind: str, name: str) -> str:
        """An application's (`application`, name) or a group's (`deploymentgroup`, app/group) ARN."""
        return f"arn:{partition_of(self.region)}:codedeploy:{self.region}:{self.account}:{kind}:{name}"

    def _tagged(self, arn: str) -> str:
        """The ARN of an application or deployment group of this account, checked to exist."""
        if not arn:
            raise CodeDeployError("ResourceArnRequiredException", "The ARN of a resource is required.")
        parts = arn.split(":", 6)
        if len(parts) != 7 or parts[2] != "codedeploy" or parts[5] not in ("application", "deploymentgroup"):
            raise CodeDeployError("InvalidArnException", f"The specified ARN is not in a valid format: {arn}")
        if parts[3] != self.region or parts[4] != self.account:
            raise CodeDeployError("ArnNotSupportedException", f"The ARN {arn} is not of this account and region.")
        if parts[5] == "application":
            self.application(parts[6])
        else:
            application, _, group = parts[6].partition("/")
            self.group(application, group)
        return arn

    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> None:
        arn = self._tagged(arn)
        if any(not tag.get("Key") for tag in tags):
            raise CodeDeployError("InvalidTagsToAddException", "A tag's Key is required.")
        merged = {**self.tags.get(arn, {}), **{tag["Key"]: tag.get("Value", "") for tag in tags}}
        if len(merged) > self.holdings.ceilings["tags"]:
            raise CodeDeployError("TagLimitExceededException", f"A resource can have at most {self.holdings.ceilings['tags']} tags.")
        self.tags[arn] = merged

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        held = self.tags.get(self._tagged(arn), {})
        for key in keys:
            held.pop(key, None)

    def list_tags(self, arn: str) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in sorted(self.tags.get(self._tagged(arn), {}).items())]

    # ---- deployments -----------------------------------------------------------------------------

    def deployment(self, deployment_id: str) -> Deployment:
        deployment = self.deployments.get(deployment_id or "")
        if deployment is None:
            raise CodeDeployError("DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found.")
        return deployment

    def create_deployment(self, application: str, group_name: str, revision: dict[str, Any] | None,
                          config_name: str | None = None, description: str = "",
                          auto_rollback: dict[str, Any] | None = None) -> Deployment:
        self.application(application)  # an unknown application is said before a missing group name
        if not group_name:
            raise CodeDeployError("DeploymentGroupNameRequiredException", "Deployment group name is required")
        group = self.group(application, group_name)
        active = self._active_in_group(application, group_name)
        if active:
            raise CodeDeployError("DeploymentLimitExceededException",
                                  f"The Deployment Group '{group_name}' already has an active Deployment '{active[0].id}'")
        config_name = config_name or group.config_name
        self.config(config_name)
        resource, hooks = parse_appspec(self._appspec_content(revision))
        try:
            fn, alias = self.lambda_.alias(resource["Name"], resource["Alias"])
        except LambdaError as exc:
            raise CodeDeployError("InvalidRevisionException", f"AppSpec Lambda resource: {exc.message}") from None
        for key in ("CurrentVersion", "TargetVersion"):
            if resource[key] not in fn.versions:
                raise CodeDeployError("InvalidRevisionException", f"AppSpec {key} {resource[key]} is not a published version of {fn.name}.")
        rollback_enabled, events = group.rollback_enabled, group.rollback_events
        if auto_rollback is not None:
            rollback_enabled = bool(auto_rollback.get("enabled"))
            events = list(auto_rollback.get("events") or [])
        deployment = Deployment(
            id=_deployment_id(self.ids), application=application, group=group_name,
            config_name=config_name, function=fn.name, alias=alias.name,
            current_version=resource["CurrentVersion"], target_version=resource["TargetVersion"],
            created=self.clock.now(), description=description or "", revision=revision or {},
            rollback_enabled=rollback_enabled, rollback_events=events,
            events=[LifecycleEventState(name, hook_function=hooks.get(name)) for name in LIFECYCLE],
        )
        self._keep(deployment)
        deployment.tasks.append(asyncio.get_running_loop().create_task(self._run(deployment)))
        return deployment

    def _set_status(self, d: Deployment, status: str) -> None:
        d.status = status
        for listener in self.listeners:
            listener(d)

    def _active_in_group(self, application: str, group: str) -> list[Deployment]:
        return [d for d in self.deployments.values() if d.group == group and d.application == application
                and d.status in ("InProgress", "Created") and d.creator == "user"]

    async def _run(self, d: Deployment) -> None:
        d.started = self.clock.now()
        self._set_status(d, "InProgress")
        group = self.groups[(d.application, d.group)]
        if group.alarms_enabled and group.alarms:
            d.tasks.append(asyncio.get_running_loop().create_task(self._watch_alarms(d, group)))
            await asyncio.sleep(0)  # the watcher's first poll happens before any shift
            if d.status in DONE:
                return
        alias = self.lambda_.functions[d.function].aliases.get(d.alias)
        if alias is None or alias.function_version != d.current_version:
            self._finish(d, "Failed", "INVALID_LAMBDA_CONFIGURATION",
                         f"The alias {d.alias} does not point at the current version {d.current_version}.",
                         rollback_event=None)
            return
        if not await self._hook(d, "BeforeAllowTraffic"):
            return
        allow = d.event("AllowTraffic")
        allow.status, allow.start = "InProgress", self.clock.now()
        routing = self.configs[d.config_name].routing
        for shift in traffic_plan(routing, self.options.final_flip_after_intervals):
            await self.clock.sleep_until(allow.start + shift.offset)
            if self._poll_due_alarms(d, group):
                return
            try:
                if shift.weight is None:
                    self.lambda_.update_alias(d.function, d.alias, d.target_version,
                                              routing={"AdditionalVersionWeights": {}})
                    d.target_weight = 1.0
                else:
                    self.lambda_.update_alias(d.function, d.alias, d.current_version,
                                              routing={"AdditionalVersionWeights": {d.target_version: shift.weight}})
                    d.target_weight = shift.weight
            except LambdaError as exc:
                allow.status, allow.end = "Failed", self.clock.now()
                self._finish(d, "Failed", "INVALID_LAMBDA_CONFIGURATION", exc.message, "DEPLOYMENT_FAILURE")
                return
            self._set_status(d, d.status)
        allow.status, allow.end = "Succeeded", self.clock.now()
        if not await self._hook(d, "AfterAllowTraffic"):
            return
        self._finish(d, "Succeeded", None, None, rollback_event=None)

    async def _hook(self, d: Deployment, name: str) -> bool:
        event = d.event(name)
        event.start = self.clock.now()
        if event.hook_function is None:
            event.status = event.status if event.status != "Pending" else "Succeeded"
            event.end = event.start
            return True
        event.status = "InProgress"
        event.hook_execution_id = str(uuid.uuid4())
        event.hook_result = asyncio.get_running_loop().create_future()
        payload = json.dumps({"DeploymentId": d.id,
                              "LifecycleEventHookExecutionId": event.hook_execution_id}).encode()
        def attempted(result: InvokeResult) -> None:
            event.hook_error = _function_error(result)

        try:
            await self.lambda_.invoke(event.hook_function, None, payload, "Event", attempted=attempted)
        except LambdaError as exc:
            event.status, event.end = "Failed", self.clock.now()
            self._finish(d, "Failed", "HOOK_EXECUTION_FAILURE",
                         f"The {name} hook {event.hook_function} could not be invoked: {exc.message}",
                         "DEPLOYMENT_FAILURE")
            return False
        timeout = asyncio.get_running_loop().create_task(self.clock.sleep(self.options.hook_timeout))
        try:
            waiting: set[asyncio.Future[Any]] = {event.hook_result, timeout}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timeout.cancel()
        outcome = event.hook_result.result() if event.hook_result.done() else None
        event.end = self.clock.now()
        if outcome == "Succeeded":
            event.status = "Succeeded"
            return True
        event.status = "Failed"
        message = (f"The {name} hook {event.hook_function} reported Failed." if outcome
                   else f"The {name} hook {event.hook_function} did not report a status within "
                        f"{self.options.hook_timeout:g} seconds.")
        if event.hook_error is not None:
            event.diagnostics = {"errorCode": "ScriptFailed", "scriptName": event.hook_function,
                                 "message": f"The hook's invocation failed: {event.hook_error}"}
        self._finish(d, "Failed", "HOOK_EXECUTION_FAILURE", message, "DEPLOYMENT_FAILURE")
        return False

    async def _watch_alarms(self, d: Deployment, group: DeploymentGroup) -> None:
        """Poll at fixed instants from the start (start + k * interval): a sleep per poll would let the
        polls drift later and later against the shifts."""
        assert d.started is not None
        d.next_poll_at = d.started
        while d.status not in DONE:
            if not self._poll_due_alarms(d, group):
                await self.clock.sleep_until(d.next_poll_at)

    def _poll_due_alarms(self, d: Deployment, group: DeploymentGroup) -> bool:
        """Run the poll if one is due (also one a shift at the same instant reaches first: CodeDeploy
        looks at the alarms before it moves more traffic); True if the deployment is over."""
        if d.next_poll_at is None or d.status in DONE or self.clock.now() < d.next_poll_at:
            return d.status in DONE
        interval = self.options.alarm_poll_interval
        while d.next_poll_at <= self.clock.now():  # one poll, however many instants it covers
            d.next_poll_at += interval
        firing = [a.name for a in self.cloudwatch.describe_alarms(group.alarms, types=("MetricAlarm", "CompositeAlarm"))
                  if a.state == "ALARM"]
        if firing:
            self._finish(d, "Stopped", "ALARM_ACTIVE",
                         f"One or more alarms have been activated according to the Amazon CloudWatch "
                         f"metrics you selected, and the affected deployments have been stopped. "
                         f"Activated alarms: <{', '.join(firing)}>", "DEPLOYMENT_STOP_ON_ALARM")
        return d.status in DONE

    def stop_deployment(self, deployment_id: str, auto_rollback: bool | None) -> dict[str, str]:
        d = self.deployment(deployment_id)
        if d.status in DONE:
            raise CodeDeployError("DeploymentAlreadyCompletedException", f"The deployment {d.id} has already completed.")
        rollback = d.rollback_enabled and "DEPLOYMENT_STOP_ON_REQUEST" in d.rollback_events
        if auto_rollback is not None:
            rollback = auto_rollback
        self._finish(d, "Stopped", "MANUAL_STOP", "The deployment was stopped by a user request.",
                     "DEPLOYMENT_STOP_ON_REQUEST" if rollback else None, force_rollback=rollback)
        return {"status": "Succeeded", "statusMessage": "Stopped"}

    def _finish(self, d: Deployment, status: str, code: str | None, message: str | None,
                rollback_event: str | None, force_rollback: bool | None = None) -> None:
        if d.status in DONE:
            return
        current = asyncio.current_task()
        for task in d.tasks:
            if task is not current:
                task.cancel()
        now = self.clock.now()
        for event in d.events:
            if event.status == "InProgress":
                event.status, event.end = ("Failed" if status == "Failed" else "Skipped"), now
            elif event.status == "Pending":
                event.status = "Skipped"
        d.completed = now
        if code is not None:
            d.error = {"code": code, "message": message or ""}
        should_roll_back = force_rollback if force_rollback is not None else (
            rollback_event is not None and d.rollback_enabled and rollback_event in d.rollback_events)
        if should_roll_back:
            self._roll_back(d, message or "")
        self._set_status(d, status)

    def _roll_back(self, d: Deployment, reason: str) -> None:
        """Flip the alias straight back to the current version; record the rollback deployment."""
        try:
            self.lambda_.update_alias(d.function, d.alias, d.current_version,
                                      routing={"AdditionalVersionWeights": {}})
            d.target_weight = 0.0
        except LambdaError as exc:
            d.rollback_info = {"rollbackMessage": f"Rollback failed: {exc.message}"}
            return
        now = self.clock.now()
        rollback = Deployment(
            id=_deployment_id(self.ids), application=d.application, group=d.group,
            config_name=d.config_name, function=d.function, alias=d.alias,
            current_version=d.target_version, target_version=d.current_version, created=now,
            creator="codeDeployRollback", status="Succeeded", started=now, completed=now,
            description=f"Rollback of deployment {d.id}", revision=d.revision,
            rollback_info={"rollbackTriggeringDeploymentId": d.id},
            events=[LifecycleEventState(n, "Succeeded", now, now) for n in LIFECYCLE],
        )
        self._keep(rollback)
        d.rollback_info = {"rollbackDeploymentId": rollback.id,
                           "rollbackMessage": f"Deployment {d.id} was rolled back by {rollback.id}: {reason}"}

    def put_hook_status(self, deployment_id: str, execution_id: str, status: str) -> str:
        d = self.deployment(deployment_id)
        event = next((e for e in d.events if e.hook_execution_id == execution_id), None)
        if event is None:
            raise CodeDeployError("InvalidLifecycleEventHookExecutionIdException", f"The lifecycle event hook execution id {execution_id} is not valid for deployment {d.id}.")
        if status not in ("Succeeded", "Failed"):
            raise CodeDeployError("InvalidLifecycleEventHookExecutionStatusException", f"The status {status} is not valid; use Succeeded or Failed.")
        if event.hook_result is None or event.hook_result.done() or event.status != "InProgress":
            raise CodeDeployError("LifecycleEventAlreadyCompletedException", f"The lifecycle event {event.name} of deployment {d.id} has already completed.")
        event.hook_result.set_result(status)
        return execution_id

    def list_deployments(self, application: str | None, group: str | None,
                         statuses: list[str] | None, created: tuple[float | None, float | None] = (None, None)) -> list[str]:
        start, end = created
        if start is not None and end is not None and start > end:
            raise CodeDeployError("InvalidTimeRangeException", "The start time must be earlier than the end time.")
        if application:
            self.application(application)
        if group and application:
            self.group(application, group)
        found = sorted(self.deployments.values(), key=lambda d: d.created, reverse=True)
        return [d.id for d in found if (not application or d.application == application)
                and (not group or d.group == group) and (not statuses or d.status in statuses)
                and (start is None or d.created >= start) and (end is None or d.created <= end)]


def parse_appspec(revision: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, str]]:
    """The Lambda resource (Name, Alias, CurrentVersion, TargetVersion) and hooks of an AppSpec."""
    revision = revision or {}
    kind = revision.get("revisionType")
    holder = revision.get("appSpecContent") if kind == "AppSpecContent" else revision.get("string")
    if kind not in ("AppSpecContent", "String") or not isinstance(holder, dict):
        raise CodeDeployError("InvalidRevisionException", "A Lambda deployment needs a revision of type AppSpecContent (or String) with the AppSpec content.")
    try:
        spec = yaml.safe_load(holder.get("content") or "")
    except yaml.YAMLError as exc:
        raise CodeDeployError("InvalidRevisionException", f"The AppSpec content is neither JSON nor YAML: {exc}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("Resources"), list) or not spec["Resources"]:
        raise CodeDeployError("InvalidRevisionException", "The AppSpec content has no Resources list.")
    first = spec["Resources"][0]
    body = next(iter(first.values())) if isinstance(first, dict) and first else None
    props = body.get("Properties") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(props, dict) or body.get("Type") != "AWS::Lambda::Function":
        raise CodeDeployError("InvalidRevisionException", "The AppSpec resource must be of Type AWS::Lambda::Function with Properties.")
    resource = {}
    for key in ("Name", "Alias", "CurrentVersion", "TargetVersion"):
        if props.get(key) in (None, ""):
            raise CodeDeployError("InvalidRevisionException", f"The AppSpec resource Properties lack {key}.")
        resource[key] = str(props[key])
    hooks: dict[str, str] = {}
    for entry in spec.get("Hooks") or []:
        if isinstance(entry, dict):
            for name, function in entry.items():
                if name not in ("BeforeAllowTraffic", "AfterAllowTraffic"):
                    raise CodeDeployError("InvalidRevisionException", f"Unknown AppSpec hook {name}: Lambda deployments have BeforeAllowTraffic and AfterAllowTraffic.")
                hooks[name] = str(function)
    return resource, hooks


def _function_error(result: InvokeResult) -> str | None:
    """An invocation's function error in the function's own words (its errorType: the first line of
    its errorMessage)."""
    if result.function_error is None:
        return None
    try:
        body = json.loads(result.payload or b"{}")
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    first_line = str(body.get("errorMessage", "")).partition("\n")[0]  # not Node's require stack
    return f"{body.get('errorType', result.function_error)}: {first_line}".rstrip(": ")
