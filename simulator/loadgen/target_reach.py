"""What the target must have before a test starts, on the coordinator: an emulator started here or one
that answers where the user said, and then on either target the preflight's checks (the alias, the
functions the flow invokes, the deployment group). What the target would refuse is said now: not as
errors later, nor as a green run that never met the alias it watched. And what of the group's alarms
the target does not rehearse (on AWS: those reading the simulated instance's reports; on the emulator:
those the stack does not declare), which withholds a deploying run's verdict."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from botocore.utils import get_environ_proxies

from simulator.client.aws import Target, bypass_proxies
from simulator.client.preflight import check_target, instance_log_metrics
from simulator.connect.flow import FlowSet
from simulator.connect.jsonpath import is_reference
from simulator.deployment.alarm_inputs import (
    alarms_reading_the_instance,
    undeclared_alarms,
    unreached_alarm_lines,
)
from simulator.loadgen.bridge import AsyncioBridge
from simulator.loadgen.emulator_process import EmulatorProcess
from simulator.loadgen.options import LoadOptions, OptionsError

log = logging.getLogger("shiftsim.loadgen")


@dataclass
class ReachedTarget:
    """The target as the test will use it."""

    endpoint: str  # the emulator's URL ("" against AWS)
    emulator: EmulatorProcess | None = None  # the emulator this process started, if it did
    # On AWS the simulator is not Connect: the group's alarms that read the instance's reports never see its contacts
    unreached: dict[str, list[str]] = field(default_factory=dict)
    alarm_lint: list[str] = field(default_factory=list)  # those alarms, one line each
    # On the emulator: the alarms CodeDeploy would read that the stack lacks (made elsewhere in production)
    undeclared: list[str] = field(default_factory=list)


def reach_target(options: LoadOptions, flows: FlowSet, bridge: AsyncioBridge) -> ReachedTarget:
    """Start or find the target and check it; an emulator started here is stopped again if the checks fail."""
    reached = ReachedTarget(options.endpoint_url)
    if options.target == "local" and not reached.endpoint:
        reached.emulator = EmulatorProcess(options.emulator_args)
        reached.endpoint = reached.emulator.start()
        bypass_proxies(reached.endpoint)
        log.info("shiftsim: emulator started at %s", reached.endpoint)
    elif options.target == "local" and reached.endpoint and not get_environ_proxies(reached.endpoint):
        answers(reached.endpoint)  # (one reached through a proxy is the proxy's to reach)
    try:
        _check(reached, options, flows, bridge)
    except BaseException:
        if reached.emulator is not None:
            reached.emulator.stop()
        raise
    return reached


def _check(reached: ReachedTarget, options: LoadOptions, flows: FlowSet, bridge: AsyncioBridge) -> None:
    deployment = options.scenario.deployment if options.deploy_after is not None else None
    invoked = [target["invokes"] for target in flows.block_targets()
               if not is_reference(target["invokes"])]  # a function named at run time: known as the block runs
    target = target_of(options, reached.endpoint)
    alarms = bridge.run(check_target(target, options.alias_arn, invoked, deployment), timeout=120)
    if options.target == "aws":
        log_metrics = (bridge.run(instance_log_metrics(target, options.scenario.connect.log_group), timeout=60)
                       if alarms else [])
        reached.unreached = alarms_reading_the_instance(options.scenario, alarms, log_metrics)
        reached.alarm_lint = [f"alarm {name} {line}" for name, line in unreached_alarm_lines(reached.unreached)]
    else:
        reached.undeclared = undeclared_alarms(options.scenario)


def target_of(options: LoadOptions, endpoint: str) -> Target:
    """The target the options name: AWS in their region, or the emulator at `endpoint`."""
    if options.target == "aws":
        return Target("aws", region=options.region)
    return Target("local", endpoint, options.region)


def answers(endpoint: str) -> None:
    """An emulator the user named must be listening: else one line now, not a test of refused calls."""
    parts = urlsplit(endpoint)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=5):
            pass
    except OSError as exc:
        raise OptionsError(f"--endpoint-url {endpoint}: nothing answers there ({exc.strerror or exc}): start "
                           "`shiftsim serve` first, or leave the option out to start an emulator here") from None
