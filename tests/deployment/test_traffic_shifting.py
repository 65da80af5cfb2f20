"""CodeDeploy shifts the alias exactly as configured: the weight sequence and its emulated times,
read back through aiobotocore over HTTP while a test moves the clock."""

import pytest
from aiobotocore.session import get_session

from simulator.deployment.clock import ManualClock
from simulator.deployment.plan import Shift, traffic_plan
from simulator.scenario.spec import TrafficRouting
from tests.helpers import APP, CREDENTIALS, FN, GROUP, MINUTE_ALIGNED, appspec_revision, running_emulator

MIN = 60.0
EXPECTED = {
    "Canary10Percent5Minutes": [(0, 0.1), (5 * MIN, None)],
    "Canary10Percent10Minutes": [(0, 0.1), (10 * MIN, None)],
    "Canary10Percent15Minutes": [(0, 0.1), (15 * MIN, None)],
    "Canary10Percent30Minutes": [(0, 0.1), (30 * MIN, None)],
    "Linear10PercentEvery1Minute": [(k * MIN, round((k + 1) / 10, 6)) for k in range(9)] + [(9 * MIN, None)],
    "Linear10PercentEvery2Minutes": [(2 * k * MIN, round((k + 1) / 10, 6)) for k in range(9)] + [(18 * MIN, None)],
    "Linear10PercentEvery3Minutes": [(3 * k * MIN, round((k + 1) / 10, 6)) for k in range(9)] + [(27 * MIN, None)],
    "Linear10PercentEvery10Minutes": [(10 * k * MIN, round((k + 1) / 10, 6)) for k in range(9)] + [(90 * MIN, None)],
    "AllAtOnce": [(0, None)],
}


def test_plans_of_the_predefined_configurations():
    from simulator.deployment.plan import predefined_configs

    configs = predefined_configs()
    for short, expected in EXPECTED.items():
        plan = traffic_plan(configs["CodeDeployDefault.Lambda" + short])
        assert [(s.offset, s.weight and round(s.weight, 6)) for s in plan] == expected, short


def test_the_final_linear_flip_is_an_option():
    plan = traffic_plan(TrafficRouting("TimeBasedLinear", 10, 10), final_flip_after_intervals=2)
    assert plan[-2:] == [Shift(80 * MIN, 0.9), Shift(100 * MIN, None)]  # the docs' 100 minutes
    assert traffic_plan(TrafficRouting("TimeBasedLinear", 30, 1))[-2:] == [Shift(2 * MIN, 0.9), Shift(3 * MIN, None)]


async def alias_state(lam):
    alias = await lam.get_alias(FunctionName=FN, Name="PROD")
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return alias["FunctionVersion"], weights.get("2")


async def observe_deployment(running, clock, config_name=None, custom=None):
    """Create a deployment and step the clock through it; return (offset, primary, weight) on each change."""
    session = get_session()
    kwargs = dict(endpoint_url=running.url, region_name="us-east-1", **CREDENTIALS)
    async with session.create_client("lambda", **kwargs) as lam, \
            session.create_client("codedeploy", **kwargs) as cd:
        if custom:
            await cd.create_deployment_config(deploymentConfigName=config_name, computePlatform="Lambda",
                                              trafficRoutingConfig=custom)
        assert (await lam.publish_version(FunctionName=FN))["Version"] == "2"
        start = clock.now()
        seen = [(0.0, *await alias_state(lam))]
        created = await cd.create_deployment(applicationName=APP, deploymentGroupName=GROUP,
                                             revision=appspec_revision(), deploymentConfigName=config_name)
        running.call(clock.advance(0))
        if (state := await alias_state(lam)) != seen[-1][1:]:
            seen.append((0.0, *state))
        for _ in range(1000):  # one emulated 10 s step at a time, bounded
            status = (await cd.get_deployment(deploymentId=created["deploymentId"]))["deploymentInfo"]["status"]
            if status == "Succeeded":
                break
            running.call(clock.advance(10))
            state = await alias_state(lam)
            if state != seen[-1][1:]:
                seen.append((clock.now() - start, *state))
        target = await cd.get_deployment_target(deploymentId=created["deploymentId"], targetId=f"{FN}:PROD")
        return seen, status, target["deploymentTarget"]["lambdaTarget"]


@pytest.mark.parametrize("short", list(EXPECTED))
async def test_predefined_configuration_shifts_over_http(short):
    clock = ManualClock(MINUTE_ALIGNED)
    with running_emulator(clock=clock) as running:
        seen, status, target = await observe_deployment(running, clock, "CodeDeployDefault.Lambda" + short)
    expected = [(0.0, "1", None)]
    expected += [(offset, "1", w) if w is not None else (offset, "2", None) for offset, w in EXPECTED[short]]
    assert seen == expected
    assert status == "Succeeded"
    assert target["lambdaFunctionInfo"]["targetVersionWeight"] == 1.0
    assert [e["status"] for e in target["lifecycleEvents"]] == ["Succeeded"] * 3


async def test_custom_canary_and_linear_configurations():
    clock = ManualClock(MINUTE_ALIGNED)
    with running_emulator(clock=clock) as running:
        seen, status, _ = await observe_deployment(
            running, clock, "Canary25Percent3Minutes",
            {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 25, "canaryInterval": 3}})
    assert seen == [(0.0, "1", None), (0.0, "1", 0.25), (180.0, "2", None)] and status == "Succeeded"
    clock = ManualClock(MINUTE_ALIGNED)
    with running_emulator(clock=clock) as running:
        seen, status, _ = await observe_deployment(
            running, clock, "Linear40Every2",
            {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 40, "linearInterval": 2}})
    assert seen == [(0.0, "1", None), (0.0, "1", 0.4), (120.0, "1", 0.8), (240.0, "2", None)]


def test_custom_configuration_limits():
    from botocore.exceptions import ClientError

    with running_emulator() as running:
        cd = running.boto3("codedeploy")
        for routing in ({"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 100, "canaryInterval": 5}},
                        {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 1, "linearInterval": 30}}):
            with pytest.raises(ClientError) as info:
                cd.create_deployment_config(deploymentConfigName="bad", computePlatform="Lambda",
                                            trafficRoutingConfig=routing)
            assert info.value.response["Error"]["Code"] == "InvalidTrafficRoutingConfigurationException"
        with pytest.raises(ClientError) as info:
            cd.get_deployment_config(deploymentConfigName="nope")
        assert info.value.response["Error"]["Code"] == "DeploymentConfigDoesNotExistException"
        names = cd.list_deployment_configs()["deploymentConfigsList"]
        assert len([n for n in names if n.startswith("CodeDeployDefault.Lambda")]) == 9
        config = cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.LambdaCanary10Percent5Minutes")
        assert config["deploymentConfigInfo"]["trafficRoutingConfig"] == {
            "type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 5}}
