"""Invoke an alias through the Connect Invoke block a number of times and summarise what callers met:
the quickest way to see an alias's routing and a version's faults before any load test.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from simulator.client.aws import LambdaInvoker, Target, client
from simulator.client.errors import TargetError
from simulator.connect.event import Contact, contact_flow_event
from simulator.connect.invoke import InvokeBlock, InvokeOutcome, run_invoke_block
from simulator.deployment.arn import parse_alias_arn


async def probe_alias(target: Target, alias_arn: str, count: int, *, concurrency: int = 8,
                      block: InvokeBlock | None = None) -> list[InvokeOutcome]:
    """Run `count` contacts, each invoking the alias once, `concurrency` at a time."""
    parse_alias_arn(alias_arn)
    block = block or InvokeBlock(function_arn=alias_arn)
    outcomes: list[InvokeOutcome] = []
    async with client(target, "lambda", concurrency=concurrency, retries=False) as lambda_client:
        invoker = LambdaInvoker(lambda_client)
        queue = iter(range(count))

        async def worker() -> None:
            for _ in queue:
                contact = Contact()
                outcome = await run_invoke_block(block, contact_flow_event(contact, block.parameters), invoker)
                outcomes.append(outcome)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    return outcomes


def format_probe(alias_arn: str, outcomes: Sequence[InvokeOutcome]) -> str:
    """A short table: invocations per executed version, and the outcomes with their reasons."""
    total = len(outcomes)
    versions = Counter(o.executed_version or "-" for o in outcomes)
    reasons = Counter((o.executed_version or "-", o.reason or "success") for o in outcomes)
    lines = [f"{total} contacts invoked {alias_arn}"]
    for version, n in sorted(versions.items()):
        share = 100.0 * n / total if total else 0.0
        detail = ", ".join(f"{reason} {m}" for (v, reason), m in sorted(reasons.items()) if v == version)
        lines.append(f"  version {version:>4}: {n:6d} invocations ({share:5.1f} %)  {detail}")
    errors = [o for o in outcomes if not o.ok]
    if errors:
        lines.append(f"  first error: {errors[0].reason}: {errors[0].detail}")
    return "\n".join(lines)


def require_served(alias_arn: str, outcomes: Sequence[InvokeOutcome]) -> None:
    """TargetError when no invocation reached a version (a dead endpoint, an alias that does not exist)."""
    if outcomes and not any(o.executed_version for o in outcomes):
        first = outcomes[0]
        raise TargetError(f"no invocation of {alias_arn} reached a version: {first.reason}: {first.detail}")
