"""Checks the tracker (seed 002's third function): the flow polls it until the status is done."""

import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TRACKER_TABLE"])


def handler(event, context):
    tracker = event["Details"]["Parameters"]["trackerId"]
    item = table.get_item(Key={"id": tracker}).get("Item") or {}
    return {"status": str(item.get("status", "unknown")), "result": str(item.get("result", "")),
            "processedBy": str(item.get("processedBy", ""))}
