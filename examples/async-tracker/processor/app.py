"""Does the slow work (seed 002's second function), triggered by the tracker table's stream: one call
to the slow backend per batch of new requests (WORK_SECONDS), then each result into the tracker."""

import os
import time

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TRACKER_TABLE"])
WORK_SECONDS = float(os.environ.get("WORK_SECONDS", "1.5"))


def handler(event, context):
    new = [r["dynamodb"]["NewImage"]["id"]["S"] for r in event["Records"] if r["eventName"] == "INSERT"]
    if new:
        time.sleep(WORK_SECONDS)  # the backend's answer for the batch
        for tracker in new:
            table.update_item(Key={"id": tracker}, UpdateExpression="SET #s = :done, #r = :result, processedBy = :v",
                              ExpressionAttributeNames={"#s": "status", "#r": "result"},
                              ExpressionAttributeValues={":done": "done", ":result": "your balance is 42 dollars",
                                                         ":v": context.function_version})
    return {"processed": str(len(new))}
