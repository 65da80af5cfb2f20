"""Built-in CodeDeploy lifecycle hook handlers: they report back with
PutLifecycleEventHookExecutionStatus, as a real hook function does, through the emulator's endpoint.

`succeed` and `fail` report at once; `silent` never reports (CodeDeploy then fails the deployment
when the hook's hour, scaled, runs out).
"""

from __future__ import annotations

from typing import Any

import botocore.session


def _report(event: dict[str, Any], context: Any, status: str) -> dict[str, str]:
    client = botocore.session.get_session().create_client(
        "codedeploy", region_name="us-east-1", endpoint_url=context.endpoint_url,
        aws_access_key_id="shiftsim", aws_secret_access_key="shiftsim")
    client.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"], status=status)
    return {"reported": status}


def succeed(event: dict[str, Any], context: Any) -> dict[str, str]:
    return _report(event, context, "Succeeded")


def fail(event: dict[str, Any], context: Any) -> dict[str, str]:
    return _report(event, context, "Failed")


def silent(event: dict[str, Any], context: Any) -> dict[str, str]:
    return {"reported": "nothing"}
