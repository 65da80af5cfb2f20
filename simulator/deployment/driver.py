"""Start and watch a Lambda deployment through the CodeDeploy, Lambda and CloudWatch APIs only, so
the same code drives the emulator and real AWS (where it can watch a deployment `sam deploy` began).

Watching polls the deployment, its target (lifecycle events, target weight), the alias routing and
the group's alarms, and emits each change as a `TimelineEvent` with its emulated time: the API's own
timestamp where it gives one (lifecycle events, alarm transitions, completion), else the clock's.
Needed permissions beyond a CodeDeploy role's (GetAlias, DescribeAlarms): the CodeDeploy read calls.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from simulator.deployment.clock import Clock

DONE = ("Succeeded", "Failed", "Stopped")
ACTIVE = ("Created", "Queued", "InProgress", "Baking", "Ready")


class DeployError(RuntimeError):
    """A deployment that cannot be started or found; the message says why."""


@dataclass(frozen=True)
class TimelineEvent:
    """One change seen during a deployment, at an emulated epoch time."""

    t: float
    kind: str  # deployment | status | lifecycle | weight | alarm | rollback | error
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"t": self.t, "kind": self.kind, **self.detail}


@dataclass
class DeploymentOutcome:
    deployment_id: str
    status: str
    error: dict[str, str] | None
    rollback_deployment_id: str | None
    events: list[TimelineEvent]

    @property
    def rolled_back(self) -> bool:
        return self.rollback_deployment_id is not None


def appspec_content(function: str, alias: str, current: str, target: str,
                    before: str | None = None, after: str | None = None) -> str:
    """The AppSpec JSON `sam deploy` sends for one function alias."""
    spec: dict[str, Any] = {"version": 0.0, "Resources": [{function: {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Name": function, "Alias": alias, "CurrentVersion": current,
                       "TargetVersion": target}}}]}
    hooks = [{k: v} for k, v in (("BeforeAllowTraffic", before), ("AfterAllowTraffic", after)) if v]
    if hooks:
        spec["Hooks"] = hooks
    return json.dumps(spec)


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _client_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code')}: {error.get('Message')}"


class DeploymentDriver:
    """Starts and watches deployments of one function alias through aiobotocore clients."""

    def __init__(self, lambda_client: Any, codedeploy: Any, cloudwatch: Any, clock: Clock) -> None:
        self.lambda_, self.codedeploy, self.cloudwatch = lambda_client, codedeploy, cloudwatch
        self.clock = clock

    async def start(self, application: str, group: str, function: str, alias: str, *,
                    target_version: str | None = None, config_name: str | None = None,
                    before_hook: str | None = None, after_hook: str | None = None,
                    description: str = "shiftsim rehearsal",
                    version_references: tuple[tuple[str, str, str], ...] = ()) -> str:
        """Publish the new version (unless given), point the stack's references to it at it, and
        create the deployment, as `sam deploy` does."""
        try:
            current = (await self.lambda_.get_alias(FunctionName=function, Name=alias))["FunctionVersion"]
            if target_version is None:
                target_version = (await self.lambda_.publish_version(FunctionName=function))["Version"]
            if target_version == current:
                raise DeployError(f"nothing to deploy: alias {alias} already points at version {current} "
                                  "(publish new code first, or name a target version)")
            await self._point_references(function, target_version, version_references)
            kwargs: dict[str, Any] = {}
            if config_name:
                kwargs["deploymentConfigName"] = config_name
            created = await self.codedeploy.create_deployment(
                applicationName=application, deploymentGroupName=group, description=description,
                revision={"revisionType": "AppSpecContent", "appSpecContent": {
                    "content": appspec_content(function, alias, current, target_version,
                                               before_hook, after_hook)}}, **kwargs)
        except ClientError as exc:
            raise DeployError(f"cannot start the deployment: {_client_error(exc)}") from None
        return created["deploymentId"]

    async def _point_references(self, function: str, version: str,
                                references: tuple[tuple[str, str, str], ...]) -> None:
        """The stack update's other half: a function whose environment names the deployed
        function's version (a hook's `!Ref Fn.Version`) gets the new one, before the hooks run."""
        for name, variable, kind in references:
            configuration = await self.lambda_.get_function_configuration(FunctionName=name)
            variables = dict((configuration.get("Environment") or {}).get("Variables") or {})
            arn = configuration["FunctionArn"].rsplit(":function:", 1)[0] + f":function:{function}:{version}"
            variables[variable] = arn if kind == "arn" else version
            await self.lambda_.update_function_configuration(FunctionName=name, Environment={"Variables": variables})

    async def find_active(self, application: str, group: str) -> str | None:
        """The deployment of the group now in progress (for one `sam deploy` started)."""
        try:
            listed = await self.codedeploy.list_deployments(
                applicationName=application, deploymentGroupName=group, includeOnlyStatuses=list(ACTIVE))
        except ClientError as exc:
            raise DeployError(f"cannot list deployments: {_client_error(exc)}") from None
        ids = listed.get("deployments") or []
        return ids[0] if ids else None

    async def watch(self, deployment_id: str, *, poll_interval: float = 1.0,
                    on_event: Callable[[TimelineEvent], None] | None = None,
                    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> DeploymentOutcome:
        """Poll until the deployment ends; every change becomes a TimelineEvent, told in time order.

        A change is told once no later poll can still find an earlier one: every read of a poll
        happens after the poll began, so what happened before then is in hand by its end. A change
        only seen (the alias's weights carry no time) is stamped when its read returned, after its
        poll began, and waits for the next poll, which may bring lifecycle events from before it.
        A shift stamped later than it can have happened is told when it must have (`_shifted_by`)."""
        events: list[TimelineEvent] = []  # told, in time order
        seen: dict[str, Any] = {}
        held: list[TimelineEvent] = []  # changes not yet told

        def emit(t: float | None, kind: str, **detail: Any) -> None:
            held.append(TimelineEvent(self.clock.now() if t is None else t, kind, detail))

        def tell(until: float = math.inf) -> None:
            held.sort(key=lambda e: e.t)
            ready = [event for event in held if event.t <= until]
            del held[:len(ready)]
            events.extend(ready)
            if on_event:
                for event in ready:
                    on_event(event)

        info = await self._deployment(deployment_id)
        group = (await self.codedeploy.get_deployment_group(
            applicationName=info["applicationName"],
            deploymentGroupName=info["deploymentGroupName"]))["deploymentGroupInfo"]
        alarm_names = [a["name"] for a in (group.get("alarmConfiguration") or {}).get("alarms") or []]
        targets = await self.codedeploy.list_deployment_targets(deploymentId=deployment_id)
        target_id = targets["targetIds"][0]
        function, alias = target_id.split(":", 1)
        first = (await self.codedeploy.get_deployment_target(
            deploymentId=deployment_id, targetId=target_id))["deploymentTarget"]["lambdaTarget"]
        versions = first.get("lambdaFunctionInfo") or {}
        config = info.get("deploymentConfigName")
        routing = (await self.codedeploy.get_deployment_config(deploymentConfigName=config))[
            "deploymentConfigInfo"].get("trafficRoutingConfig", {})
        emit(_epoch(info.get("createTime")), "deployment", deployment_id=deployment_id,
             config=config, routing=routing, application=info["applicationName"],
             group=info["deploymentGroupName"], function=function, alias=alias,
             current_version=versions.get("currentVersion"), target_version=versions.get("targetVersion"))
        tell()
        while True:
            began = self.clock.now()
            info = await self._deployment(deployment_id)
            target = (await self.codedeploy.get_deployment_target(
                deploymentId=deployment_id, targetId=target_id))["deploymentTarget"]["lambdaTarget"]
            routing = await self.lambda_.get_alias(FunctionName=function, Name=alias)
            routing_read = self.clock.now()
            alarms = []
            if alarm_names:
                found = await self.cloudwatch.describe_alarms(AlarmNames=alarm_names,
                                                              AlarmTypes=["MetricAlarm", "CompositeAlarm"])
                alarms = [*found["MetricAlarms"], *found.get("CompositeAlarms", [])]
            _diff(info, target, routing, routing_read, alarms, seen, emit)
            if info["status"] in DONE:
                held[:] = [TimelineEvent(min(e.t, _shifted_by(e, info, target, versions)), e.kind, e.detail)
                           if e.kind == "weight" else e for e in held]
                tell()
                break
            tell(began)
            await sleep(poll_interval)
        rollback = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
        return DeploymentOutcome(deployment_id, info["status"], info.get("errorInformation"),
                                 rollback, events)

    async def _deployment(self, deployment_id: str) -> dict[str, Any]:
        try:
            return (await self.codedeploy.get_deployment(deploymentId=deployment_id))["deploymentInfo"]
        except ClientError as exc:
            raise DeployError(f"cannot read deployment {deployment_id}: {_client_error(exc)}") from None


def _shifted_by(event: TimelineEvent, info: dict[str, Any], target: dict[str, Any],
                versions: dict[str, Any]) -> float:
    """The latest a shift seen can have happened: a deployment's end follows every shift it made,
    and the whole shift to the target version is done when AllowTraffic succeeds."""
    bound = _epoch(info.get("completeTime"))
    if event.detail["primary"] == versions.get("targetVersion") and not event.detail["additional"]:
        allowed = [_epoch(e.get("endTime")) for e in target.get("lifecycleEvents") or []
                   if e["lifecycleEventName"] == "AllowTraffic" and e["status"] == "Succeeded"]
        bound = min([t for t in (bound, *allowed) if t is not None], default=None)
    return math.inf if bound is None else bound - 1e-6  # done before it was reported done


def _diff(info: dict[str, Any], target: dict[str, Any], routing: dict[str, Any], routing_read: float,
          alarms: list[dict[str, Any]], seen: dict[str, Any], emit: Callable[..., None]) -> None:
    """Emit what changed since the last poll, alarms first (they explain what follows)."""
    for alarm in alarms:
        key = f"alarm:{alarm['AlarmName']}"
        if seen.get(key) != alarm["StateValue"]:
            emit(_epoch(alarm.get("StateUpdatedTimestamp")), "alarm", alarm=alarm["AlarmName"],
                 old=seen.get(key), state=alarm["StateValue"], reason=alarm.get("StateReason", ""))
            seen[key] = alarm["StateValue"]
    for event in target.get("lifecycleEvents") or []:
        key = f"lifecycle:{event['lifecycleEventName']}"
        if event["status"] != "Pending" and seen.get(key) != event["status"]:
            when = event.get("startTime") if event["status"] == "InProgress" else event.get("endTime")
            said = (event.get("diagnostics") or {}).get("message")  # a hook that failed: why, where known
            emit(_epoch(when), "lifecycle", event=event["lifecycleEventName"], status=event["status"],
                 **({"diagnostics": said} if said else {}))
            seen[key] = event["status"]
    weights = (routing.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    state = (routing["FunctionVersion"], tuple(sorted(weights.items())))
    if seen.get("weights") != state:  # seen now; a change seen as the deployment ended happened by its end
        done = info["status"] in DONE and info.get("completeTime") is not None
        emit(_epoch(info["completeTime"]) if done else routing_read, "weight", primary=routing["FunctionVersion"],
             additional=dict(weights))
        seen["weights"] = state
    if seen.get("status") != info["status"]:
        when = info.get("completeTime") if info["status"] in DONE else info.get("startTime")
        emit(_epoch(when), "status", status=info["status"])
        seen["status"] = info["status"]
    if info["status"] in DONE:
        if info.get("errorInformation") and "error" not in seen:
            emit(_epoch(info.get("completeTime")), "error", **info["errorInformation"])
            seen["error"] = True
        rollback = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
        if rollback and "rollback" not in seen:
            emit(_epoch(info.get("completeTime")), "rollback", rollback_deployment_id=rollback,
                 message=(info.get("rollbackInfo") or {}).get("rollbackMessage", ""))
            seen["rollback"] = True


def describe_event(event: TimelineEvent, origin: float) -> str:
    """One line for a person: deployment time (emulated mm:ss from the deployment's creation) and
    what changed; a state first seen that began before the deployment is said at its start, with
    since when."""
    offset = event.t - origin
    since = ""
    if offset < 0:
        before, after = divmod(int(round(-offset)), 60)
        since = f" (since -{before:02d}:{after:02d})"
        offset = 0.0
    minutes, seconds = divmod(int(round(offset)), 60)
    d = event.detail
    if event.kind == "weight":
        extra = d.get("additional") or {}
        share = 100.0 * (1 - sum(extra.values()))
        parts = [f"version {d['primary']} {share:.0f} %"]
        parts += [f"version {v} {100 * w:.0f} %" for v, w in extra.items()]
        text = "traffic: " + ", ".join(parts)
    elif event.kind == "alarm":
        text = f"alarm {d['alarm']}: {d.get('old') or 'first seen'} -> {d['state']}"
    elif event.kind == "lifecycle":
        text = f"{d['event']}: {d['status']}"
    elif event.kind == "status":
        text = f"deployment {d['status']}"
    elif event.kind == "deployment":
        text = f"deployment {d['deployment_id']} of {d['function']}:{d['alias']} ({d.get('config')})"
    elif event.kind == "rollback":
        text = f"rolled back by {d['rollback_deployment_id']}"
    else:
        text = f"{d.get('code')}: {d.get('message')}"
    return f"+{minutes:02d}:{seconds:02d}  {text}{since}"


async def run_deployment(scenario: Any, endpoint: str | None, *, target_kind: str = "local",
                         region: str | None = None, profile: str | None = None,
                         deployment_id: str | None = None, watch_only: bool = False,
                         config_name: str | None = None, target_version: str | None = None,
                         print_line: Callable[[str], None] = print) -> DeploymentOutcome:
    """Start (or find) the scenario's deployment and watch it, printing each change."""
    from simulator.client.admin_client import emulator_clock
    from simulator.client.aws import Target, client
    from simulator.deployment.clock import ScaledClock
    from simulator.deployment.vocabulary import deployment_config_name

    spec = scenario.deployment
    if spec is None:
        raise DeployError(f"{scenario.source}: the scenario declares no deployment group")
    target = Target(target_kind, endpoint, region or scenario.region, profile)
    clock = await emulator_clock(endpoint) if target_kind == "local" and endpoint else ScaledClock()
    try:
        config = deployment_config_name(config_name) if config_name else None
    except ValueError as exc:
        raise DeployError(f"--config: {exc}") from None
    async with client(target, "lambda") as lam, client(target, "codedeploy") as cd, \
            client(target, "cloudwatch") as cw:
        driver = DeploymentDriver(lam, cd, cw, clock)
        if deployment_id is None and watch_only:
            deployment_id = await driver.find_active(spec.application, spec.group)
            if deployment_id is None:
                raise DeployError(f"no deployment in progress for {spec.application}/{spec.group}")
        if deployment_id is None:
            deployment_id = await driver.start(
                spec.application, spec.group, spec.function, spec.alias, target_version=target_version,
                config_name=config, before_hook=spec.pre_traffic_hook, after_hook=spec.post_traffic_hook,
                version_references=spec.version_references)
        origin: list[float] = []

        def show(event: TimelineEvent) -> None:
            if not origin:
                origin.append(event.t)
            print_line(describe_event(event, origin[0]))

        poll = 5.0 if target_kind == "aws" else max(0.02, min(1.0, 2.0 / clock.scale))
        return await driver.watch(deployment_id, poll_interval=poll, on_event=show)
