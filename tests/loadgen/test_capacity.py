"""The rate a process can hold, measured at the start through the whole per-invocation path with
Lambda's DryRun: a real emulator answers, nothing is run or counted, and the plan samples above what
was measured and says why."""

from simulator.client.aws import Target, client
from simulator.client.fast_invoke import FastLambdaInvoker
from simulator.connect.flow import load_flow
from simulator.deployment.clock import ScaledClock
from simulator.loadgen.capacity import HOLD_SHARE, Capacity, measure_capacity
from simulator.loadgen.options import flow_functions
from simulator.loadgen.traffic import plan_traffic
from simulator.scenario.spec import ConnectInstance, default_scenario
from tests.helpers import running_emulator

LOOP = "scenarios/flows/LambdaAlias-loop.json"


async def test_the_measurement_runs_the_flow_through_the_wire_and_leaves_nothing_behind():
    scenario = default_scenario()
    flows = load_flow(LOOP, functions=flow_functions(scenario, scenario.alias_arn(), "local", LOOP))
    with running_emulator() as emulator:
        async with client(Target(endpoint_url=emulator.url), "lambda", retries=False) as lam:
            fast = FastLambdaInvoker(lam)
            try:
                for flow in flows.flows.values():
                    for block in flow.blocks.values():
                        await fast.prepare(block.function_arn, dry_run=True)
                capacity = await measure_capacity(flows, fast.dry_runs(), ScaledClock(1.0), ConnectInstance(),
                                                  region="us-east-1", account=scenario.account,
                                                  loops_per_contact=3, concurrency=8, warm=30, counted=300,
                                                  max_seconds=60.0)
            finally:
                await fast.close()
        assert capacity.invocations >= 300
        assert capacity.invocations_per_contact == 3.0  # the looping flow: one Invoke a loop
        assert 0 < capacity.cpu_per_invocation_s < 0.05
        assert capacity.invocations_per_second == HOLD_SHARE / capacity.cpu_per_invocation_s
        # nothing ran: no Lambda metric, no log group, no version's first traffic
        assert emulator.boto3("cloudwatch").list_metrics(Namespace="AWS/Lambda")["Metrics"] == []
        assert emulator.boto3("logs").describe_log_groups()["logGroups"] == []


def test_the_plan_samples_above_what_the_machine_holds_and_says_both_rates():
    capacity = Capacity(cpu_per_invocation_s=100e-6, invocations=2000, invocations_per_contact=10.0)
    held = capacity.invocations_per_second / capacity.invocations_per_contact  # 5,000/s, 500 contacts/s
    assert held == 500.0 * HOLD_SHARE / 0.5
    sampled = plan_traffic(1200, 60, 0, 2.0, held, capacity.describe())
    assert sampled.limited_by_machine and sampled.driven_per_second == held
    assert sampled.weight == 1200 / held
    said = sampled.describe()
    assert "1,200.0 real contacts/s, more than this machine holds: this process measured 100 us of CPU" in said
    assert f"{held:,.1f} contacts/s of this flow; so it samples: starting {held:,.1f}/s" in said
    full = plan_traffic(120, 60, 0, 2.0, held, capacity.describe())
    assert not full.sampled and "driven for real (this process measured 100 us" in full.describe()
    ceiling = plan_traffic(1200, 60, 100, 2.0, held, capacity.describe())  # the scenario's ceiling is lower
    assert ceiling.sampled and not ceiling.limited_by_machine and "max_contacts_per_second" in ceiling.describe()


def test_a_plan_the_machine_could_not_be_measured_for_says_why():
    said = plan_traffic(1200, 60, 0, 2.0, 0.0, "not measured: the endpoint is reached through a proxy").describe()
    assert ("1,200.0 real contacts/s; driven for real, what this machine holds not measured: the endpoint is "
            "reached through a proxy") in said
