"""Before any load: what the run needs is there and may be used, on real AWS or on the emulator
alike. Credentials the chain finds, each function the flow invokes (Lambda's DryRun: it exists and
this caller may invoke it), the deployed alias, the deployment group and its alarms (and on AWS, the
metric filters on the Connect instance's log group, which such an alarm may read). The first thing
missing is one line (a TargetError, exit 2), said before a contact starts, not as 100 % errors (or a
green run that never met the alias it watched) after."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from simulator.client.aws import Target, client
from simulator.client.errors import TargetError
from simulator.deployment.arn import parse_function_name
from simulator.deployment.composite_rule import RuleError, parse_rule
from simulator.scenario.spec import DeploymentSpec

_REFUSED = {"UnrecognizedClientException", "InvalidSignatureException", "InvalidClientTokenId",
            "ExpiredTokenException", "ExpiredToken", "SignatureDoesNotMatch", "IncompleteSignature"}
_DENIED = {"AccessDeniedException", "AccessDenied", "AuthorizationError", "UnauthorizedOperation"}
_MISSING = {"ResourceNotFoundException", "DeploymentGroupDoesNotExistException",
            "ApplicationDoesNotExistException"}
MAX_COMPOSITE_DEPTH = 4  # composite alarms over composite alarms, followed this deep


def _where(target: Target) -> str:
    return "--target aws" if target.kind == "aws" else f"the emulator ({target.endpoint_url})"


def _said(exc: Exception, action: str, resource: str, where: str) -> TargetError:
    """One line for a refused call: what the run could not do, on what, and AWS's own words."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        if code in _REFUSED:
            why = "AWS refuses the credentials"
        elif code in _DENIED:
            why = f"no permission for {action} on {resource} (docs/aws-target.md has the policy)"
        elif code in _MISSING:
            why = f"{resource} does not exist"
        else:
            why = f"{action} on {resource} failed"
        return TargetError(f"{where}: {why}: {code}: {message}")
    return TargetError(f"{where}: {action} on {resource} failed: {exc}")


async def check_target(target: Target, alias_arn: str, invoked: Iterable[str],
                       deployment: DeploymentSpec | None) -> list[dict[str, Any]]:
    """Raise a TargetError for the first thing the run needs that AWS would refuse; `deployment` is
    the group the run starts or watches (None: load only). Return the metric alarms the group watches
    as DescribeAlarms gives them (those its composite alarms name too): what CodeDeploy will read."""
    where = _where(target)
    try:
        async with client(target, "lambda", retries=False) as lambda_client:
            for arn in dict.fromkeys([alias_arn, *invoked]):
                await _call(lambda_client.invoke(FunctionName=arn, InvocationType="DryRun"),
                            "lambda:InvokeFunction", arn, where)
            alias = parse_function_name(alias_arn)
            if alias.qualifier and not alias.qualifier.isdigit() and alias.qualifier != "$LATEST":
                await _call(lambda_client.get_alias(FunctionName=alias.name, Name=alias.qualifier),
                            "lambda:GetAlias", alias_arn, where)
        if deployment is None:
            return []
        group = f"deployment group {deployment.application}/{deployment.group}"
        async with client(target, "codedeploy", retries=False) as codedeploy:
            info = await _call(codedeploy.get_deployment_group(applicationName=deployment.application,
                                                               deploymentGroupName=deployment.group),
                               "codedeploy:GetDeploymentGroup", group, where)
        configuration = (info.get("deploymentGroupInfo") or {}).get("alarmConfiguration") or {}
        names = [a["name"] for a in configuration.get("alarms") or [] if a.get("name")]
        async with client(target, "cloudwatch", retries=False) as cloudwatch:
            return await _metric_alarms(cloudwatch, names if configuration.get("enabled") else [], where)
    except NoCredentialsError:
        raise TargetError("--target aws: no AWS credentials found (environment, AWS_PROFILE, the shared "
                          "files, SSO, an instance role): set up one, or leave out --target aws to rehearse "
                          "on the embedded emulator") from None
    except NoRegionError:
        raise TargetError("--target aws: no region: give --region, or set one in the profile") from None


async def _call(call: Any, action: str, resource: str, where: str) -> Any:
    try:
        return await call
    except NoCredentialsError:
        raise
    except (ClientError, BotoCoreError) as exc:
        raise _said(exc, action, resource, where) from None


async def _metric_alarms(cloudwatch: Any, names: list[str], where: str) -> list[dict[str, Any]]:
    """The metric alarms behind `names`, through composite alarms' rules (a few levels at most)."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(MAX_COMPOSITE_DEPTH):
        wanted = [name for name in dict.fromkeys(names) if name not in seen][:100]
        if not wanted:
            break
        seen.update(wanted)
        described = await _call(cloudwatch.describe_alarms(AlarmNames=wanted, AlarmTypes=["MetricAlarm", "CompositeAlarm"]),
                                "cloudwatch:DescribeAlarms", "the group's alarms", where)
        found += described.get("MetricAlarms") or []
        names = []
        for composite in described.get("CompositeAlarms") or []:
            try:
                names += sorted(parse_rule(composite.get("AlarmRule") or "").alarms)
            except RuleError:
                continue
    return found


async def instance_log_metrics(target: Target, log_group: str) -> list[tuple[str, str]]:
    """The (namespace, metric name) of every metric filter on the Connect instance's log group, as
    DescribeMetricFilters gives them: on AWS an alarm of the group on one of them reads the real
    instance's flow logs, which the simulator never writes, whatever the scenario declares."""
    where = _where(target)
    found: list[tuple[str, str]] = []
    try:
        async with client(target, "logs", retries=False) as logs:
            async for page in logs.get_paginator("describe_metric_filters").paginate(logGroupName=log_group):
                for metric_filter in page.get("metricFilters") or []:
                    found += [(str(t.get("metricNamespace") or ""), str(t.get("metricName") or ""))
                              for t in metric_filter.get("metricTransformations") or []]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []  # no such log group: no filter on it
        raise _said(exc, "logs:DescribeMetricFilters", f"log group {log_group}", where) from None
    except BotoCoreError as exc:
        raise _said(exc, "logs:DescribeMetricFilters", f"log group {log_group}", where) from None
    return found
