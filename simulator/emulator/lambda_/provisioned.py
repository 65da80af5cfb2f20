"""Lambda's provisioned concurrency as the emulator keeps it: one configuration per alias or published
version, and how an alias's is shared between the two versions it routes to while a deployment
shifts it (Lambda allocates it "depending on the amount of concurrency that is provisioned for the
function versions"; invocations past a version's share spill over to on-demand environments)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from simulator.emulator.lambda_.answers import lambda_time
from simulator.emulator.lambda_.sandbox import ProcessHandler


@dataclass
class ProvisionedConfig:
    """PutProvisionedConcurrencyConfig's request, kept for one qualifier."""

    requested: int
    last_modified: float


class Version(Protocol):
    """What this needs of a function's version (the models' Version)."""

    number: str
    handler: Any
    provisioned: int


class Function(Protocol):
    """What this needs of a function (the models' Function)."""

    provisioned: dict[str, ProvisionedConfig]
    aliases: dict[str, Any]
    versions: dict[str, Any]


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


def provisioned_versions(fn: Function, qualifier: str) -> list[tuple[Version, int]]:
    """The versions one configuration provisions, with each one's share."""
    config, alias = fn.provisioned[qualifier], fn.aliases.get(qualifier)
    if alias is None:
        return [(fn.versions[qualifier], config.requested)]
    return [(fn.versions[number], share) for number, share in
            shares(config.requested, alias.function_version, alias.weights).items() if number in fn.versions]


def allocated(fn: Function, qualifier: str) -> tuple[int, str | None]:
    """(environments initialised of a configuration's shares, why one failed to initialise or None);
    code run in-process has no environments: its share is there at once."""
    versions = provisioned_versions(fn, qualifier)
    ready = sum(min(share, v.handler.provisioned_ready if isinstance(v.handler, ProcessHandler) else v.provisioned)
                for v, share in versions)
    failures = [v.handler.provision_failure for v, _ in versions
                if isinstance(v.handler, ProcessHandler) and v.handler.provision_failure]
    return ready, failures[0] if failures else None


def allocate(fn: Function, environment: Callable[[Version], Callable[[], dict[str, str]]]) -> None:
    """Each version's provisioned environments from the function's configurations, after a
    configuration or an alias's routing changed: a version's code keeps that many initialised (its
    environments' variables from `environment`). Before the loop runs only the counts are set: the
    backend's start() initialises them."""
    targets: dict[str, int] = {}
    for qualifier in fn.provisioned:
        for version, share in provisioned_versions(fn, qualifier):
            targets[version.number] = targets.get(version.number, 0) + share
    by_handler: dict[int, tuple[Version, int]] = {}
    for version in fn.versions.values():
        version.provisioned = targets.get(version.number, 0)
        if isinstance(version.handler, ProcessHandler):  # versions of one upload share its environments
            _, total = by_handler.get(id(version.handler), (version, 0))
            by_handler[id(version.handler)] = (version, total + version.provisioned)
    if not _serving():
        return
    for version, total in by_handler.values():
        handler = version.handler
        assert isinstance(handler, ProcessHandler)
        if total or handler.provisioned_target:
            handler.provision(total, environment(version))


def _serving() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
