"""A lifecycle hook as users write it: report the outcome to CodeDeploy with boto3."""

import os

import boto3

codedeploy = boto3.client("codedeploy")


def handler(event, context):
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=os.environ["OUTCOME"])
    return {"reported": os.environ["OUTCOME"]}
