"""The Connect Invoke block: branches, reasons, retries, timeouts, the chain budget, validation.

The block is pure logic over an invoker: the first tests script what the wire returned; the last
ones run it against the real emulator through aiobotocore.
"""

import asyncio
import json

import pytest

from simulator.client.aws import LambdaInvoker, Target, client
from simulator.client.coarse_timeouts import CoarseTimeouts
from simulator.connect.event import Contact, contact_flow_event
from simulator.connect.invoke import (
    BlockConfigError,
    ChainBudget,
    InvokeBlock,
    RawInvocation,
    flow_log_record,
    run_invoke_block,
    validate_response,
)
from tests.helpers import ALIAS_ARN, running_emulator

OK = RawInvocation(200, "1", None, b'{"version": "1"}')
THROTTLED = RawInvocation(429, error_code="TooManyRequestsException", error_message="Rate Exceeded.")
FUNCTION_ERROR = RawInvocation(200, "2", "Unhandled", b'{"errorType": "Boom", "errorMessage": "bad"}')


class Scripted:
    """An invoker that answers from a script, optionally after a delay, and counts its calls."""

    def __init__(self, *answers, delay: float = 0.0):
        self.answers, self.delay, self.calls, self.cancelled = list(answers), delay, 0, 0

    async def __call__(self, arn, payload):
        self.calls += 1
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1  # the block gave up on this attempt
            raise
        return self.answers[min(self.calls, len(self.answers)) - 1]


def block(**kwargs):
    return InvokeBlock(function_arn=ALIAS_ARN, retry_backoff_s=0.001, **kwargs)


async def run(invoker, budget=None, timeout=asyncio.timeout, **kwargs):
    return await run_invoke_block(block(**kwargs), contact_flow_event(Contact()), invoker, budget, timeout=timeout)


def flow_log(outcome):
    """The block's flow log record, as Connect writes it for this outcome."""
    return flow_log_record(outcome.block, outcome, contact_id="c-1", flow_id="f-1", flow_name="LambdaAlias-loop")


# the time limits as asyncio.timeout keeps them, and as the load generator does (one timer a tick)
TIMEOUTS = pytest.mark.parametrize("timeout", [asyncio.timeout, "coarse"])


def timeout_factory(kind):
    return CoarseTimeouts().timeout if kind == "coarse" else kind


async def test_success_takes_the_success_branch_with_external_results():
    outcome = await run(Scripted(OK))
    assert outcome.branch == "Success" and outcome.reason is None
    assert outcome.executed_version == "1" and outcome.retries == 0
    assert outcome.external == {"version": "1"}
    log = flow_log(outcome)
    assert log["ContactFlowModuleType"] == "InvokeExternalResource"
    assert log["ExternalResults"] == {"version": "1"}
    assert log["Parameters"] == {"FunctionArn": ALIAS_ARN, "ResponseValidation": "ResponseType=STRING_MAP",
                                 "TimeLimit": "8000"}
    assert (log["ContactId"], log["ContactFlowId"], log["ContactFlowName"]) == ("c-1", "f-1", "LambdaAlias-loop")


async def test_the_response_size_is_the_last_answers_payload_in_bytes():
    assert (await run(Scripted(OK))).response_bytes == len(b'{"version": "1"}')
    assert (await run(Scripted(THROTTLED, FUNCTION_ERROR))).response_bytes == len(FUNCTION_ERROR.payload)


async def test_throttles_are_retried_three_times_then_error():
    invoker = Scripted(THROTTLED)
    outcome = await run(invoker)
    assert (outcome.branch, outcome.reason, invoker.calls, outcome.retries) == ("Error", "throttled", 4, 3)
    assert flow_log(outcome)["Results"] == "The Lambda Function Returned An Error."


async def test_a_retry_that_succeeds_counts_its_retries():
    outcome = await run(Scripted(THROTTLED, RawInvocation(500, error_code="ServiceException"), OK))
    assert outcome.ok and outcome.retries == 2


async def test_service_errors_retry_but_not_found_does_not():
    invoker = Scripted(RawInvocation(503, error_code="ServiceException"))
    assert (await run(invoker)).reason == "service_error" and invoker.calls == 4
    invoker = Scripted(RawInvocation(404, error_code="ResourceNotFoundException"))
    assert (await run(invoker)).reason == "not_found" and invoker.calls == 1


async def test_function_errors_are_not_retried_unless_asked():
    invoker = Scripted(FUNCTION_ERROR)
    outcome = await run(invoker)
    assert (outcome.reason, invoker.calls, outcome.detail) == ("function_error", 1, "Boom: bad")
    invoker = Scripted(FUNCTION_ERROR, OK)
    outcome = await run(invoker, retry_function_errors=True)
    assert outcome.ok and invoker.calls == 2


@TIMEOUTS
async def test_the_block_timeout_is_honoured(timeout):
    invoker = Scripted(OK, delay=5)
    outcome = await run(invoker, timeout=timeout_factory(timeout), timeout_s=1)
    assert outcome.reason == "timeout" and outcome.branch == "Error"
    assert (invoker.calls, invoker.cancelled) == (1, 1)  # the slow attempt was abandoned, not awaited


@TIMEOUTS
async def test_retries_stop_at_the_block_timeout(timeout):
    invoker = Scripted(THROTTLED, delay=0.4)
    outcome = await run(invoker, timeout=timeout_factory(timeout), timeout_s=1)
    assert outcome.reason == "timeout" and invoker.calls <= 3
    assert invoker.cancelled == 1  # the retry still running at the deadline was abandoned


@TIMEOUTS
async def test_chained_invocations_share_twenty_seconds_until_a_prompt(timeout):
    budget = ChainBudget(limit_s=1.0)
    budget.spend(0.8)
    outcome = await run(Scripted(OK, delay=0.5), budget, timeout=timeout_factory(timeout))
    assert outcome.reason == "chain_limit"
    assert budget.remaining_s == 0
    budget.reset()
    assert (await run(Scripted(OK), budget)).ok


def test_block_configuration_is_validated():
    for bad in (0, 9, 2.5):
        with pytest.raises(BlockConfigError, match="InvocationTimeLimitSeconds"):
            InvokeBlock(function_arn=ALIAS_ARN, timeout_s=bad)
    with pytest.raises(BlockConfigError, match="STRING_MAP or JSON"):
        InvokeBlock(function_arn=ALIAS_ARN, response_validation="XML")


@pytest.mark.parametrize("payload,understood", [
    ({"a": "b", "c": "d"}, {"a": "b", "c": "d"}),
    ({}, {}),
    ({"a": {"b": "c"}}, None),
    ({"a": 1, "b": True, "c": False, "d": 12.5, "e": "x"}, {"a": "1", "b": "true", "c": "false", "d": "12.5", "e": "x"}),
    ({"a": "b", "c": ["d"]}, None),
    ({"a": None}, None),
    (["a"], None),
    ({"a": "x" * 40_000}, None),
])
def test_string_map_rules(payload, understood):
    """Strings as they are; numbers and booleans as their JSON text (a working flow compares a returned
    boolean with "true"); objects, lists, null, a non-object or 32 KB and over are not understood."""
    value, problem = validate_response(json.dumps(payload).encode(), "STRING_MAP")
    assert value == understood and (problem is None) == (understood is not None)
    nested_ok = validate_response(json.dumps(payload).encode(), "JSON")
    assert nested_ok[1] is None and nested_ok[0] == payload


def test_not_json_is_not_understood_either_way():
    assert validate_response(b"<html>", "JSON")[1] == "response is not JSON"


def test_the_event_has_the_seed_shape():
    contact = Contact(channel="CHAT", attributes={"lang": "en"})
    event = contact_flow_event(contact, {"sentAttributeKey": "sentAttributeValue"})
    assert event["Name"] == "ContactFlowEvent"
    data = event["Details"]["ContactData"]
    assert data["ContactId"] == contact.contact_id == data["InitialContactId"]
    assert data["Channel"] == "CHAT" and data["Attributes"] == {"lang": "en"}
    assert set(data) >= {"CustomerEndpoint", "InstanceARN", "InitiationMethod", "PreviousContactId",
                         "Queue", "SystemEndpoint"}
    assert event["Details"]["Parameters"] == {"sentAttributeKey": "sentAttributeValue"}


EMULATED = """
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
[[functions.versions]]
{faults}
[[functions.aliases]]
name = "PROD"
version = "2"
"""


@pytest.mark.parametrize("faults,reason,retries", [
    ("", None, 0),
    ("[functions.versions.faults.error]\nrate = 1.0", "function_error", 0),
    ("[functions.versions.faults.throttle]\nrate = 1.0", "throttled", 3),
    ('[functions.versions.faults.malformed]\nrate = 1.0\nkind = "non_string"', "invalid_response", 0),
    ("[functions.versions.faults.latency]\ndistribution = \"fixed\"\nms = 1500", "timeout", 0),
])
async def test_each_branch_against_the_emulator(faults, reason, retries):
    with running_emulator(EMULATED.format(faults=faults)) as running:
        async with client(Target("local", running.url), "lambda", retries=False) as lam:
            outcome = await run(LambdaInvoker(lam), timeout_s=1)
    assert outcome.reason == reason and outcome.retries == retries
    if reason not in ("timeout",):
        assert outcome.executed_version in ("2", None)
    if reason in ("function_error", "throttled", "invalid_response"):
        assert outcome.injected  # the wire said these were injected


async def test_not_found_and_unreachable_endpoint():
    with running_emulator() as running:
        async with client(Target("local", running.url), "lambda", retries=False) as lam:
            outcome = await run_invoke_block(
                block(), {}, LambdaInvoker(lam))
            missing = InvokeBlock(function_arn=ALIAS_ARN.replace(":PROD", ":GONE"))
            assert (await run_invoke_block(missing, {}, LambdaInvoker(lam))).reason == "not_found"
        assert outcome.ok
        url = running.url
    async with client(Target("local", url), "lambda", retries=False) as lam:
        outcome = await run(LambdaInvoker(lam), timeout_s=2)
    assert outcome.reason in ("service_error", "timeout") and outcome.http_status in (0, None)
