"""`shiftsim plan --alarms` from end to end: the scenario's traffic and flows in, the search run, its
table printed and its answer written to the plan's folder (search.json; alarms.toml and alarms.yaml
for the scenario's own configuration; alarms-recommended.* when the search recommends another)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from simulator.connect.flow import load_flow
from simulator.loadgen.options import DEFAULT_FLOW, flow_functions
from simulator.planning.alarm_files import sam_snippet, scenario_fragment
from simulator.planning.alarm_search import search, table
from simulator.planning.inputs import PlanInputs
from simulator.scenario.day_profile import Profile
from simulator.scenario.spec import Scenario


def _flow_name(scenario: Scenario) -> str:
    """The flow whose Invoke block calls the deployed alias: AWS/Connect's ContactFlowName of its errors."""
    flow = scenario.load.flow or DEFAULT_FLOW
    flows = load_flow(flow, flow_map=scenario.flow_map,
                      functions=flow_functions(scenario, scenario.deployed_alias_arn(), "local", flow))
    arn = scenario.deployed_alias_arn()
    return next((f.name for f in flows.flows.values() if any(b.function_arn == arn for b in f.blocks.values())),
                flows.start.name)


def plan_alarms(scenario: Scenario, inputs: PlanInputs, folder: Path, *, n: int, seed: int,
                exposure_minutes: float, false_rollback: float,
                progress: Callable[[str], None] | None = None) -> list[str]:
    """Run the search; write its files; the lines to print."""
    assert scenario.deployment is not None
    load = scenario.load
    quietest = (Profile.parse(load.traffic_profile, load.contacts_per_minute).quietest if load.traffic_profile
                else inputs.traffic.contacts_per_minute)
    spec = scenario.deployment
    own = (spec.config, spec.custom_config) if spec.custom_config else None
    result = search(inputs, quietest_per_minute=quietest, n=n, seed=seed, false_rollback=false_rollback,
                    exposure_minutes=exposure_minutes, own=own, progress=progress)
    flow_name = _flow_name(scenario)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "search.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    written = [folder / "search.json"]
    mine = next(r for r in result["rows"] if r["config"] == spec.config)
    best = result["recommendation"]
    for row, stem in ((mine, "alarms"), *(((best, "alarms-recommended"),) if best is not mine else ())):
        header = (f"shiftsim plan --alarms {scenario.source}: for {row['config']}, the set with the lowest "
                  f"95th-percentile blast radius ({row['blast_radius_p95']:,.0f} contacts over the bad versions "
                  f"searched) that rolled a healthy version back in {100 * row['healthy_rolled_back']:.1f} % of "
                  f"{result['simulations']:,} simulated deployments.\n"
                  f"Rehearse it: shiftsim rehearse {scenario.source} --alarms {folder / 'alarms.toml'}")
        if not row["alarms"]:
            continue
        (folder / f"{stem}.toml").write_text(scenario_fragment(row, scenario, flow_name, header), encoding="utf-8")
        (folder / f"{stem}.yaml").write_text(sam_snippet(row, scenario, flow_name, header), encoding="utf-8")
        written += [folder / f"{stem}.toml", folder / f"{stem}.yaml"]
    return [table(result), f"plan: {', '.join(str(p) for p in written)}"]
