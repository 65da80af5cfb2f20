"""User code as a Lambda function holds it: handlers the sandbox tests invoke through the emulator."""

import ctypes
import logging
import os
import time

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)
IMPORTED_AT = time.time()  # module scope runs once per execution environment (the cold start)


def answer(event, context):
    print("answering", event.get("n"))
    logger.info("version %s", context.function_version)
    return {"version": context.function_version, "pid": str(os.getpid()),
            "region": os.environ["AWS_REGION"], "greeting": os.environ.get("GREETING", ""),
            "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "remaining": str(context.get_remaining_time_in_millis()),
            "imported_at": str(IMPORTED_AT)}


def sleep_past_timeout(event, context):
    time.sleep(60)


def exit_interpreter(event, context):
    os._exit(3)


def segfault(event, context):
    ctypes.string_at(0)


def raise_error(event, context):
    return helper(event)


def helper(event):
    raise ValueError(f"bad input {event.get('n')}")


def block_cpu(event, context):
    while True:
        pass


def not_json(event, context):
    return {"when": object()}


def grow(event, context):
    hoard = bytearray(300 * 1024 * 1024)
    hoard[::4096] = b"x" * len(hoard[::4096])
    return {"size": str(len(hoard))}


def list_functions(event, context):
    """The function's own boto3 call, which AWS_ENDPOINT_URL sends to the emulator."""
    client = boto3.client("lambda")
    return {"functions": ",".join(f["FunctionName"] for f in client.list_functions()["Functions"])}


def remember_caller(event, context):
    """Writes the caller to DynamoDB and reads the count back: the function's own calls, on the
    emulator's endpoint (moto's DynamoDB)."""
    table = boto3.resource("dynamodb").Table(os.environ.get("TABLE", "callers"))
    phone = event.get("phone", "+15555550100")
    count = table.update_item(Key={"phone": phone}, UpdateExpression="ADD calls :one",
                              ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")["Attributes"]["calls"]
    return {"phone": phone, "calls": str(count)}


def record_batch(event, context):
    """A stream processor: writes what each new record asked for into a results table."""
    table = boto3.resource("dynamodb").Table("results")
    for record in event["Records"]:
        if record["eventName"] != "INSERT":
            continue
        key = record["dynamodb"]["Keys"]["id"]["S"]
        table.put_item(Item={"id": key, "done_by": context.function_version, "batch": str(len(event["Records"]))})
    return {"processed": str(len(event["Records"]))}


ATTEMPTS = {}


def fail_twice_then_succeed(event, context):
    """An asynchronous invocation's function: fails its first two attempts (Lambda retries)."""
    key = event.get("key", "k")
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    print(f"attempt {ATTEMPTS[key]}")
    if ATTEMPTS[key] < 3:
        raise RuntimeError(f"attempt {ATTEMPTS[key]} fails")
    return {"attempts": str(ATTEMPTS[key])}


def hoard(event, context):
    """Asks for three gigabytes: past any function's memory here, whatever the machine has."""
    return {"size": str(len(bytearray(3 * 1024 * 1024 * 1024)))}


def record_messages(event, context):
    """An SQS queue's processor: writes each message's body into a results table; a "poison" one fails
    the whole batch (Lambda then leaves it on the queue)."""
    table = boto3.resource("dynamodb").Table("results")
    for record in event["Records"]:
        if record["body"] == "poison":
            raise ValueError("poison message")
        table.put_item(Item={"id": record["body"], "done_by": context.function_version,
                             "source": record["eventSource"], "batch": str(len(event["Records"]))})
    return {"processed": str(len(event["Records"]))}


def wait_for_file(event, context):
    """Holds its environment until the test creates event["path"] (at most 20 s): invocations in
    flight together, whatever the machine's speed."""
    deadline = time.monotonic() + 20
    while not os.path.exists(event["path"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"pid": str(os.getpid()), "version": context.function_version}
