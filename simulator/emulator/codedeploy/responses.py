"""CodeDeploy's wire protocol (JSON 1.1, `X-Amz-Target: CodeDeploy_20141006.<Operation>`): decode
the request, call the model, encode AWS's response shapes (timestamps as epoch seconds)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from simulator.emulator.codedeploy.models import (
    CodeDeployBackend,
    CodeDeployError,
    Deployment,
    DeploymentConfig,
    DeploymentGroup,
)
from simulator.emulator.json_protocol import epoch_seconds, operation_call
from simulator.scenario.spec import TrafficRouting

TARGET_PREFIX = "CodeDeploy_20141006"
CONTENT_TYPE = "application/x-amz-json-1.1"


def error_response(error: CodeDeployError) -> web.Response:
    return web.json_response({"__type": error.code, "message": error.message}, status=error.status,
                             content_type=CONTENT_TYPE)


class CodeDeployResponses:
    def __init__(self, backend: CodeDeployBackend | Callable[[], CodeDeployBackend]) -> None:
        self._backend = backend  # or, with state per region, what gives the request's region's
        self.table: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            name: getattr(self, _snake(name)) for name in (
                "CreateApplication", "GetApplication", "ListApplications", "BatchGetApplications",
                "CreateDeploymentGroup", "GetDeploymentGroup", "ListDeploymentGroups",
                "CreateDeploymentConfig", "GetDeploymentConfig", "ListDeploymentConfigs",
                "CreateDeployment", "GetDeployment", "BatchGetDeployments", "ListDeployments",
                "StopDeployment", "GetDeploymentTarget", "BatchGetDeploymentTargets",
                "ListDeploymentTargets", "PutLifecycleEventHookExecutionStatus",
                "TagResource", "UntagResource", "ListTagsForResource")}

    @property
    def backend(self) -> CodeDeployBackend:
        return self._backend() if callable(self._backend) else self._backend

    async def handle(self, request: web.Request, operation: str) -> web.Response:
        try:
            params, handler = await operation_call(request, operation, self.table, CodeDeployError, "codedeploy")
            _require(operation, params)
            try:
                result = handler(params)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise CodeDeployError("InvalidInputException", f"malformed {operation} request: {exc!r}") from None
        except CodeDeployError as error:
            return error_response(error)
        return web.json_response(result, content_type=CONTENT_TYPE)

    # ---- shapes ----------------------------------------------------------------------------------

    def _application(self, name: str) -> dict[str, Any]:
        app = self.backend.application(name)
        return {"applicationId": app.id, "applicationName": app.name, "createTime": app.created,
                "linkedToGitHub": False, "computePlatform": "Lambda"}

    def _group(self, group: DeploymentGroup) -> dict[str, Any]:
        return {
            "applicationName": group.application, "deploymentGroupId": group.id,
            "deploymentGroupName": group.name, "deploymentConfigName": group.config_name,
            "serviceRoleArn": group.service_role, "computePlatform": "Lambda",
            "alarmConfiguration": {"enabled": group.alarms_enabled, "ignorePollAlarmFailure": False,
                                   "alarms": [{"name": n} for n in group.alarms]},
            "autoRollbackConfiguration": {"enabled": group.rollback_enabled, "events": group.rollback_events},
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        }

    def _config(self, config: DeploymentConfig) -> dict[str, Any]:
        routing = config.routing
        traffic: dict[str, Any] = {"type": routing.type}
        if routing.type == "TimeBasedCanary":
            traffic["timeBasedCanary"] = {"canaryPercentage": routing.percentage,
                                          "canaryInterval": routing.interval_minutes}
        elif routing.type == "TimeBasedLinear":
            traffic["timeBasedLinear"] = {"linearPercentage": routing.percentage,
                                          "linearInterval": routing.interval_minutes}
        return {"deploymentConfigId": config.id, "deploymentConfigName": config.name,
                "createTime": config.created, "computePlatform": "Lambda",
                "trafficRoutingConfig": traffic}

    def _deployment(self, d: Deployment) -> dict[str, Any]:
        info: dict[str, Any] = {
            "applicationName": d.application, "deploymentGroupName": d.group,
            "deploymentConfigName": d.config_name, "deploymentId": d.id, "status": d.status,
            "createTime": d.created, "creator": d.creator, "description": d.description,
            "revision": d.revision, "computePlatform": "Lambda",
            "autoRollbackConfiguration": {"enabled": d.rollback_enabled, "events": d.rollback_events},
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "deploymentOverview": _overview(d),
        }
        for key, value in (("startTime", d.started), ("completeTime", d.completed),
                           ("errorInformation", d.error), ("rollbackInfo", d.rollback_info)):
            if value is not None:
                info[key] = value
        return info

    def _target(self, d: Deployment) -> dict[str, Any]:
        status = {"Created": "Pending", "InProgress": "InProgress"}.get(d.status, d.status)
        events = []
        for e in d.events:
            event: dict[str, Any] = {"lifecycleEventName": e.name, "status": e.status}
            if e.start is not None:
                event["startTime"] = e.start
            if e.end is not None:
                event["endTime"] = e.end
            if e.diagnostics is not None:
                event["diagnostics"] = e.diagnostics
            events.append(event)
        return {"deploymentTargetType": "LambdaTarget", "lambdaTarget": {
            "deploymentId": d.id, "targetId": f"{d.function}:{d.alias}",
            "targetArn": f"arn:aws:lambda:{self.backend.region}:{self.backend.account}:function:{d.function}:{d.alias}",
            "status": status, "lastUpdatedAt": d.completed or d.started or d.created,
            "lifecycleEvents": events,
            "lambdaFunctionInfo": {"functionName": d.function, "functionAlias": d.alias,
                                   "currentVersion": d.current_version, "targetVersion": d.target_version,
                                   "targetVersionWeight": d.target_weight}}}

    # ---- operations ------------------------------------------------------------------------------

    def create_application(self, p: dict[str, Any]) -> dict[str, Any]:
        app = self.backend.create_application(p.get("applicationName", ""), p.get("computePlatform", "Server"))
        if p.get("tags"):
            self.backend.tag_resource(self.backend.arn("application", app.name), p["tags"])
        return {"applicationId": app.id}

    def get_application(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"application": self._application(p.get("applicationName", ""))}

    def list_applications(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"applications": sorted(self.backend.applications)}

    def batch_get_applications(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"applicationsInfo": [self._application(n) for n in p.get("applicationNames") or []]}

    def create_deployment_group(self, p: dict[str, Any]) -> dict[str, Any]:
        alarm_config = p.get("alarmConfiguration") or {}
        rollback = p.get("autoRollbackConfiguration") or {}
        group = self.backend.create_deployment_group(
            p.get("applicationName", ""), p["deploymentGroupName"], p.get("deploymentConfigName"),
            alarms=[a["name"] for a in alarm_config.get("alarms") or []],
            alarms_enabled=bool(alarm_config.get("enabled")),
            rollback_enabled=bool(rollback.get("enabled")), rollback_events=list(rollback.get("events") or []),
            service_role=p.get("serviceRoleArn", ""))
        if p.get("tags"):
            self.backend.tag_resource(self.backend.arn("deploymentgroup", f"{group.application}/{group.name}"), p["tags"])
        return {"deploymentGroupId": group.id}

    def get_deployment_group(self, p: dict[str, Any]) -> dict[str, Any]:
        group = self.backend.group(p.get("applicationName", ""), p.get("deploymentGroupName", ""))
        return {"deploymentGroupInfo": self._group(group)}

    def list_deployment_groups(self, p: dict[str, Any]) -> dict[str, Any]:
        application = p.get("applicationName", "")
        self.backend.application(application)
        names = sorted(n for (a, n) in self.backend.groups if a == application)
        return {"applicationName": application, "deploymentGroups": names}

    def create_deployment_config(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("computePlatform") != "Lambda":
            raise CodeDeployError("InvalidComputePlatformException", "The shiftsim emulator supports the Lambda compute platform only.")
        traffic = p.get("trafficRoutingConfig") or {}
        kind = traffic.get("type")
        if kind == "TimeBasedCanary":
            c = traffic.get("timeBasedCanary") or {}
            routing = TrafficRouting(kind, int(c.get("canaryPercentage", 0)), int(c.get("canaryInterval", 0)))
        elif kind == "TimeBasedLinear":
            c = traffic.get("timeBasedLinear") or {}
            routing = TrafficRouting(kind, int(c.get("linearPercentage", 0)), int(c.get("linearInterval", 0)))
        elif kind == "AllAtOnce":
            routing = TrafficRouting(kind)
        else:
            raise CodeDeployError("InvalidTrafficRoutingConfigurationException", f"Unknown traffic routing type {kind!r}.")
        config = self.backend.create_deployment_config(p.get("deploymentConfigName", ""), routing)
        return {"deploymentConfigId": config.id}

    def get_deployment_config(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentConfigInfo": self._config(self.backend.config(p.get("deploymentConfigName", "")))}

    def list_deployment_configs(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentConfigsList": sorted(self.backend.configs)}

    def create_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        d = self.backend.create_deployment(
            p.get("applicationName", ""), p.get("deploymentGroupName", ""), p.get("revision"),
            p.get("deploymentConfigName"), p.get("description", ""), p.get("autoRollbackConfiguration"))
        return {"deploymentId": d.id}

    def get_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentInfo": self._deployment(self.backend.deployment(p.get("deploymentId", "")))}

    def batch_get_deployments(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentsInfo": [self._deployment(self.backend.deployment(i)) for i in p.get("deploymentIds") or []]}

    def list_deployments(self, p: dict[str, Any]) -> dict[str, Any]:
        window = p.get("createTimeRange") or {}
        start, end = (_epoch(window[k]) if window.get(k) is not None else None for k in ("start", "end"))
        created = (start, end)
        return {"deployments": self.backend.list_deployments(
            p.get("applicationName"), p.get("deploymentGroupName"), p.get("includeOnlyStatuses"), created)}

    def stop_deployment(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.backend.stop_deployment(p.get("deploymentId", ""), p.get("autoRollbackEnabled"))

    def _check_target(self, d: Deployment, target_id: str) -> None:
        if target_id != f"{d.function}:{d.alias}":
            raise CodeDeployError("DeploymentTargetDoesNotExistException", f"The target {target_id} is not part of deployment {d.id}.")

    def get_deployment_target(self, p: dict[str, Any]) -> dict[str, Any]:
        d = self.backend.deployment(p.get("deploymentId", ""))
        self._check_target(d, p.get("targetId", ""))
        return {"deploymentTarget": self._target(d)}

    def batch_get_deployment_targets(self, p: dict[str, Any]) -> dict[str, Any]:
        d = self.backend.deployment(p.get("deploymentId", ""))
        for target_id in p.get("targetIds") or []:
            self._check_target(d, target_id)
        return {"deploymentTargets": [self._target(d) for _ in p.get("targetIds") or []]}

    def list_deployment_targets(self, p: dict[str, Any]) -> dict[str, Any]:
        d = self.backend.deployment(p.get("deploymentId", ""))
        return {"targetIds": [f"{d.function}:{d.alias}"]}

    def tag_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.tag_resource(p.get("ResourceArn", ""), list(p.get("Tags") or []))
        return {}

    def untag_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.untag_resource(p.get("ResourceArn", ""), list(p.get("TagKeys") or []))
        return {}

    def list_tags_for_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": self.backend.list_tags(p.get("ResourceArn", ""))}

    def put_lifecycle_event_hook_execution_status(self, p: dict[str, Any]) -> dict[str, Any]:
        execution = self.backend.put_hook_status(p.get("deploymentId", ""),
                                                 p.get("lifecycleEventHookExecutionId", ""), p.get("status", ""))
        return {"lifecycleEventHookExecutionId": execution}


# The operations that need an application's and a deployment group's name (botocore's model marks
# them required; CodeDeploy answers their absence with these exceptions). Messages: as AWS words them
# in its SDK documentation ("... is required"); unsettled word for word.
_NEEDS_APPLICATION = {"CreateDeploymentGroup", "GetDeploymentGroup", "ListDeploymentGroups", "CreateDeployment",
                      "GetApplication", "DeleteApplication", "DeleteDeploymentGroup", "UpdateDeploymentGroup"}
_NEEDS_GROUP = {"CreateDeploymentGroup", "GetDeploymentGroup", "DeleteDeploymentGroup"}  # CreateDeployment: its model
_NEEDS_DEPLOYMENT_ID = {"GetDeployment", "StopDeployment", "GetDeploymentTarget", "ListDeploymentTargets",
                        "BatchGetDeploymentTargets"}
DEPLOYMENT_ID = re.compile(r"d-[A-Z0-9]{9}")


def _require(operation: str, params: dict[str, Any]) -> None:
    if operation in _NEEDS_APPLICATION and not params.get("applicationName"):
        raise CodeDeployError("ApplicationNameRequiredException", "Application name is required")
    if operation in _NEEDS_GROUP and not params.get("deploymentGroupName"):
        raise CodeDeployError("DeploymentGroupNameRequiredException", "Deployment group name is required")
    if operation == "ListDeployments":  # both names, or neither (all the account's deployments)
        if params.get("deploymentGroupName") and not params.get("applicationName"):
            raise CodeDeployError("ApplicationNameRequiredException", "Application name is required")
        if params.get("applicationName") and not params.get("deploymentGroupName"):
            raise CodeDeployError("DeploymentGroupNameRequiredException", "Deployment group name is required")
    if operation in _NEEDS_DEPLOYMENT_ID:
        deployment_id = params.get("deploymentId")
        if not deployment_id:
            raise CodeDeployError("DeploymentIdRequiredException", "Deployment ID is required")
        if not isinstance(deployment_id, str) or not DEPLOYMENT_ID.fullmatch(deployment_id):
            raise CodeDeployError("InvalidDeploymentIdException",
                                  f"Specified DeploymentId is not in the valid format: {deployment_id}")


def _epoch(value: Any) -> float:
    seconds = epoch_seconds(value)
    if seconds is None:
        raise CodeDeployError("InvalidTimeRangeException", f"not a timestamp: {value!r}")
    return seconds


def _overview(d: Deployment) -> dict[str, int]:
    overview = {k: 0 for k in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")}
    key = {"Created": "Pending"}.get(d.status, d.status)
    if key == "Stopped":
        key = "Skipped"
    overview[key] = 1
    return overview


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
