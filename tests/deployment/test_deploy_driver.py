"""The deployment driver against the emulator, through aiobotocore only: the timeline of a whole
canary deployment that rolls back, in order and in emulated time; and watching one started elsewhere."""

import asyncio
import time

import pytest

from simulator.client.aws import Target, client
from simulator.deployment.clock import ScaledClock
from simulator.deployment.driver import DeployError, DeploymentDriver
from tests.helpers import APP, FN, GROUP, appspec_revision, running_emulator

CANARY = """
[scenario]
seed = 11
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
[functions.staged.faults.error]
rate = {error_rate}
[[functions.aliases]]
name = "PROD"
version = "1"
[deployment]
config = "{config}"
"""


async def drive(running, clock, start):
    target = Target("local", running.url)
    async with client(target, "lambda", concurrency=16, retries=False) as lam, \
            client(target, "codedeploy") as cd, client(target, "cloudwatch") as cw:
        driver = DeploymentDriver(lam, cd, cw, clock)
        stop = asyncio.Event()

        async def traffic():
            deadline = time.monotonic() + 30  # bounded in time and count
            for _ in range(50_000):
                if stop.is_set() or time.monotonic() > deadline:
                    return
                await lam.invoke(FunctionName=FN + ":PROD", Payload=b"{}")

        load = [asyncio.create_task(traffic()) for _ in range(8)]
        try:
            deployment_id = await start(driver)
            outcome = await driver.watch(deployment_id, poll_interval=0.05)
        finally:
            stop.set()
            await asyncio.gather(*load)
        return outcome


async def test_a_failing_canary_rolls_back_and_the_timeline_says_so_in_order():
    clock = ScaledClock(60)
    with running_emulator(CANARY.format(error_rate=1.0, config="Canary10Percent5Minutes"), clock=clock) as running:
        outcome = await drive(running, clock, lambda d: d.start(APP, GROUP, FN, "PROD"))
    assert outcome.status == "Stopped" and outcome.rolled_back
    assert outcome.error["code"] == "ALARM_ACTIVE"
    kinds = [(e.kind, e.detail.get("state") or e.detail.get("status") or e.detail.get("additional"))
             for e in outcome.events]
    order = [("deployment", None), ("weight", {"2": 0.1}),
             ("alarm", "ALARM"), ("status", "Stopped"), ("error", None), ("rollback", None)]
    positions = [next(i for i, k in enumerate(kinds) if k[0] == kind and (value is None or k[1] == value))
                 for kind, value in order]
    assert positions == sorted(positions), kinds
    assert ("weight", {}) in kinds[positions[1]:]  # and the alias went back to version 1 alone
    created = outcome.events[0].t
    later = [e for e in outcome.events[1:] if not (e.kind == "alarm" and e.detail["old"] is None)]
    assert all(e.t >= created for e in later)  # only the alarm's initial state predates the deployment
    fired = next(e for e in outcome.events if e.kind == "alarm" and e.detail["state"] == "ALARM")
    assert fired.t % 60 == 0  # alarms change state at period boundaries
    stopped = next(e for e in outcome.events if e.kind == "status" and e.detail["status"] == "Stopped")
    assert fired.t <= stopped.t < created + 300  # caught inside the 5-minute canary window


async def test_watching_a_deployment_someone_else_started():
    clock = ScaledClock(60)
    with running_emulator(CANARY.format(error_rate=0.0, config="Canary10Percent5Minutes"), clock=clock) as running:
        async def start_elsewhere(driver):
            cd = running.boto3("codedeploy")
            running.boto3().publish_version(FunctionName=FN)
            await asyncio.to_thread(cd.create_deployment, applicationName=APP, deploymentGroupName=GROUP,
                                    revision=appspec_revision("1", "2"))
            found = await driver.find_active(APP, GROUP)
            assert found is not None
            return found

        outcome = await drive(running, clock, start_elsewhere)
    assert outcome.status == "Succeeded" and not outcome.rolled_back
    assert ("weight", "2") in [(e.kind, e.detail.get("primary")) for e in outcome.events]


async def test_nothing_to_deploy_is_a_clear_error():
    with running_emulator() as running:
        target = Target("local", running.url)
        async with client(target, "lambda") as lam, client(target, "codedeploy") as cd, \
                client(target, "cloudwatch") as cw:
            driver = DeploymentDriver(lam, cd, cw, ScaledClock())
            with pytest.raises(DeployError, match="already points at version 1"):
                await driver.start(APP, GROUP, FN, "PROD", target_version="1")
            with pytest.raises(DeployError, match="DeploymentGroupDoesNotExistException"):
                await driver.start(APP, "nope", FN, "PROD")


class SlowAliasReads:
    """The Lambda client with a slow link for GetAlias: a request long (in emulated time) on its
    way, so each poll reads the lifecycle events long before the alias and a shift and the events
    around it straddle two polls; or a reply long on its way back, so the deployment can end
    between the alias's read and the poll's end."""

    def __init__(self, lam, going, returning=0.0):
        self._lam, self._going, self._returning = lam, going, returning

    def __getattr__(self, name):
        return getattr(self._lam, name)

    async def get_alias(self, **kwargs):
        await asyncio.sleep(self._going)
        alias = await self._lam.get_alias(**kwargs)
        await asyncio.sleep(self._returning)
        return alias


@pytest.mark.parametrize("going, returning", [(0.5, 0.0), (0.0, 0.5)], ids=["request", "reply"])
async def test_changes_are_told_in_time_order_when_a_poll_straddles_them(going, returning):
    clock = ScaledClock(600)
    told = []
    with running_emulator(CANARY.format(error_rate=0.0, config="Linear10PercentEvery1Minute"), clock=clock) as running:
        target = Target("local", running.url)
        async with client(target, "lambda") as lam, client(target, "codedeploy") as cd, \
                client(target, "cloudwatch") as cw:
            driver = DeploymentDriver(SlowAliasReads(lam, going, returning), cd, cw, clock)  # 300 emulated s
            deployment_id = await driver.start(APP, GROUP, FN, "PROD")
            outcome = await asyncio.wait_for(driver.watch(deployment_id, poll_interval=0.02, on_event=told.append),
                                             120)
    assert outcome.status == "Succeeded"
    shown = [max(e.t, told[0].t) for e in told]  # a state older than the deployment is said at its start
    assert shown == sorted(shown), [(e.t - told[0].t, e.kind, e.detail) for e in told]
    assert told == outcome.events  # every change told, once
    assert ("weight", "2") in [(e.kind, e.detail.get("primary")) for e in told]
    assert (told[-1].kind, told[-1].detail) == ("status", {"status": "Succeeded"})
    said = [(e.kind, e.detail) for e in told]  # the whole shift is done when AllowTraffic succeeds
    assert said.index(("weight", {"primary": "2", "additional": {}})) < \
        said.index(("lifecycle", {"event": "AllowTraffic", "status": "Succeeded"})), said
