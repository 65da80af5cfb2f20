"""Starts the work (seed 002's first function): writes a tracker item for the contact and returns its
key at once; the tracker table's stream hands the item to the processor."""

import os
import time

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TRACKER_TABLE"])


def handler(event, context):
    contact = event["Details"]["ContactData"]["ContactId"]
    table.put_item(Item={"id": contact, "status": "pending", "requested": str(time.time())})
    return {"trackerId": contact}
