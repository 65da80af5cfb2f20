"""The change under rehearsal: the processor moved to a new backend client that retries a slow call
before answering, adding ten seconds to every batch. Each caller's result now comes after the flow's
polls have run out: the rehearsal shows the callers who hang up without it."""

import os
import time

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TRACKER_TABLE"])
WORK_SECONDS = float(os.environ.get("WORK_SECONDS", "1.5"))
RETRY_SECONDS = 10.0


def handler(event, context):
    new = [r["dynamodb"]["NewImage"]["id"]["S"] for r in event["Records"] if r["eventName"] == "INSERT"]
    if new:
        time.sleep(WORK_SECONDS + RETRY_SECONDS)
        for tracker in new:
            table.update_item(Key={"id": tracker}, UpdateExpression="SET #s = :done, #r = :result, processedBy = :v",
                              ExpressionAttributeNames={"#s": "status", "#r": "result"},
                              ExpressionAttributeValues={":done": "done", ":result": "your balance is 42 dollars",
                                                         ":v": context.function_version})
    return {"processed": str(len(new))}
