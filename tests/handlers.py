"""User handlers for the tests: what a user's own `module:function` looks like."""

import asyncio
import time


def greet(event, context):
    name = event.get("Details", {}).get("Parameters", {}).get("name", "caller")
    return {"greeting": f"hello {name}", "version": context.function_version,
            "function": context.function_name, "arn": context.invoked_function_arn,
            "request": context.aws_request_id, "memory": str(context.memory_limit_in_mb),
            "remaining_ok": str(0 < context.get_remaining_time_in_millis() <= 1000)}


async def async_greet(event, context):
    await asyncio.sleep(0)
    return {"greeting": "hello from asyncio", "version": context.function_version}


def sleepy(event, context):
    time.sleep(1.5)
    return {"done": "yes"}


def huge(event, context):
    return {"blob": "x" * 6_300_000}


def not_json(event, context):
    return {"when": object()}


def nested(event, context):
    return {"customer": {"name": "Ada"}, "score": 3}


def start_work(event, context):
    """Starts a job (the first function of a polling flow)."""
    return {"job": context.aws_request_id[:8]}


def poll_work(event, context):
    """Says whether the job is done: about half the polls."""
    import random

    return {"status": "DONE" if random.random() < 0.5 else "PENDING", "version": context.function_version}


def notify(event, context):
    """Notifies the contact's instance (read from the event, as handlers that call Connect's API do)."""
    return {"sent": "yes", "instance": event["Details"]["ContactData"]["InstanceARN"]}


def never_done(event, context):
    return {"status": "PENDING"}


def raises(event, context):
    raise ValueError("the user's own bug")


def slow_answer(event, context):
    """A function that takes a quarter of a second (a call to a slow backend, say)."""
    time.sleep(0.25)
    return {"version": context.function_version}
