"""Lambda's provisioned concurrency as the emulator keeps it: one configuration per alias or published
version, and how an alias's is shared between the two versions it routes to while a deployment
shifts it (Lambda allocates it "depending on the amount of concurrency that is provisioned for the
function versions"; invocations past a version's share spill over to on-demand environments)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from simulator.emulator.lambda_.answers import lambda_time


@dataclass
class ProvisionedConfig:
    """PutProvisionedConcurrencyConfig's request, kept for one qualifier."""

    requested: int
    last_modified: float


def shares(requested: int, primary: str, weights: dict[str, float]) -> dict[str, int]:
    """An alias's provisioned environments per version: the additional version's share is its weight's,
    rounded half up, and the primary version has the rest, so that the two add up to the request."""
    made: dict[str, int] = {}
    left = requested
    for version, weight in weights.items():
        made[version] = min(left, math.floor(requested * weight + 0.5))
        left -= made[version]
    made[primary] = made.get(primary, 0) + left
    return made


def status(requested: int, allocated: int, failure: str | None) -> tuple[str, str | None]:
    """(Status, StatusReason) of a configuration, as GetProvisionedConcurrencyConfig reports them."""
    if failure is not None:
        return "FAILED", f"Provisioned Concurrency configuration failed to be applied. Reason: {failure}"
    return ("READY" if allocated >= requested else "IN_PROGRESS"), None


def config_answer(config: ProvisionedConfig, allocated: int, failure: str | None,
                  arn: str | None = None) -> dict[str, Any]:
    """The configuration as Get and Put answer it (with its ARN, as List answers each)."""
    state, reason = status(config.requested, allocated, failure)
    answer: dict[str, Any] = {} if arn is None else {"FunctionArn": arn}
    answer.update({
        "RequestedProvisionedConcurrentExecutions": config.requested,
        "AvailableProvisionedConcurrentExecutions": allocated,
        "AllocatedProvisionedConcurrentExecutions": allocated,
        "Status": state,
        "LastModified": lambda_time(config.last_modified),
    })
    if reason is not None:
        answer["StatusReason"] = reason
    return answer
