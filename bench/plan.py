"""The planner's speed: simulated deployments per second of one configuration, the vectorised model
(`simulator.planning.model.simulate`) against a plain Python loop of the same model (one deployment
at a time, minute by minute), on one core, side by side; and their agreement (medians of the
contacts hurt and of the rollback minute).

And the alarm search (`shiftsim plan --alarms`): over 1,000 alarm definitions x the nine
configurations, on shared draws, against the same candidates simulated one at a time with `simulate`
(a sample, scaled to the whole search).

    python bench/plan.py            # 100,000 deployments vectorised; rewrites its section of bench/RESULTS.md
    python bench/plan.py --smoke    # a few thousand (CI)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import report  # noqa: E402
from simulator.deployment.plan import predefined_configs  # noqa: E402
from simulator.planning.model import AlarmModel, FailureModel, Traffic, plan_steps, simulate  # noqa: E402

CONFIG = "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"
TRAFFIC = Traffic(contacts_per_minute=600, invocations_per_contact=10, contact_seconds=115)
FAILURE = FailureModel(error_rate=0.5, onset_s=120)
ALARM = AlarmModel("errors", "Errors", "alias", "Sum", 60, 2, 2, 0.0, "GreaterThanThreshold")


def loop_model(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The same model, one deployment and one minute at a time (the alarm's periods aligned with the
    start, as the vectorised model's are when the step is the period): (rollback s, contacts hurt)."""
    length, shifts = plan_steps(predefined_configs()[CONFIG])
    minutes = int(length // 60)
    rate = TRAFFIC.contacts_per_minute * TRAFFIC.invocations_per_contact  # a minute
    k = int(TRAFFIC.invocations_per_contact)
    rollbacks, hurt = np.full(n, np.nan), np.zeros(n)
    for s in range(n):
        breaches: list[bool] = []
        rollback = None
        for minute in range(minutes):
            weight = max((w for offset, w in shifts if offset <= minute * 60), default=0.0)
            invocations = rng.poisson(rate)
            new = rng.binomial(invocations, weight)
            failing = FAILURE.error_rate if minute * 60 + 30 >= FAILURE.onset_s else 0.0
            breaches.append(rng.binomial(new, failing) > 0)
            if len(breaches) >= 2 and breaches[-1] and breaches[-2]:  # the alarm at the minute's end; polled then
                rollback = (minute + 1) * 60
                break
        end = rollback if rollback is not None else length
        mean = 0.0
        for arrival in range(-math.ceil(TRAFFIC.contact_seconds), int(end) + 1):
            ok = 1.0
            for j in range(k):
                at = arrival + j * TRAFFIC.contact_seconds / k
                if 0 <= at < end and at >= FAILURE.onset_s:
                    weight = max((w for offset, w in shifts if offset <= at), default=0.0)
                    ok *= 1 - weight * FAILURE.error_rate
            mean += 1 - ok
        hurt[s] = rng.poisson(mean * TRAFFIC.contacts_per_minute / 60.0)
        rollbacks[s] = np.nan if rollback is None else rollback
    return rollbacks, hurt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    vector_n, loop_n = (4_000, 40) if args.smoke else (100_000, 400)
    routing = predefined_configs()[CONFIG]
    started = time.process_time()
    out = simulate(routing, TRAFFIC, FAILURE, [ALARM], vector_n, np.random.default_rng(1), poll_s=60, aligned=True)
    vector_s = time.process_time() - started
    started = time.process_time()
    phased = simulate(routing, TRAFFIC, FAILURE, [ALARM], vector_n, np.random.default_rng(1), poll_s=60)
    phased_s = time.process_time() - started
    started = time.process_time()
    rollbacks, hurt = loop_model(loop_n, np.random.default_rng(2))
    loop_s = time.process_time() - started
    vector_rate, loop_rate = vector_n / vector_s, loop_n / loop_s
    lines = [
        f"One configuration ({CONFIG.removeprefix('CodeDeployDefault.Lambda')}), 600 contacts a minute of 10 "
        "invocations, a version failing half its calls 2 minutes in, the seed's alarm; CPU seconds of one process.",
        "",
        "| model | deployments | CPU s | deployments per CPU s | median rollback (min) | median contacts hurt |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| plain Python loop (baseline) | {loop_n:,} | {loop_s:.2f} | {loop_rate:,.0f} | "
        f"{np.nanmedian(rollbacks) / 60:.1f} | {np.median(hurt):,.0f} |",
        f"| vectorised, the same model (periods on the minute) | {vector_n:,} | {vector_s:.2f} | {vector_rate:,.0f} | "
        f"{np.nanmedian(out.rollback_s) / 60:.1f} | {np.median(out.failed_contacts):,.0f} |",
        f"| vectorised, periods ending anywhere against the start (`shiftsim plan`) | {vector_n:,} | {phased_s:.2f} | "
        f"{vector_n / phased_s:,.0f} | {np.nanmedian(phased.rollback_s) / 60:.1f} | "
        f"{np.median(phased.failed_contacts):,.0f} |",
        "",
        f"vectorised / loop: {vector_rate / loop_rate:,.0f}x (the same model); `shiftsim plan`'s / loop: "
        f"{vector_n / phased_s / loop_rate:,.0f}x",
    ]
    lines += ["", *alarm_search_lines(args.smoke)]
    report("plan", "The planner: deployments simulated per CPU second", lines, write=not args.smoke)


def alarm_search_lines(smoke: bool) -> list[str]:
    """The alarm search's CPU time, against its candidates simulated one by one (a sample, scaled)."""
    from simulator.planning.alarm_search import candidates, failure_modes, search
    from simulator.planning.inputs import PlanInputs

    n = 100 if smoke else 1000
    inputs = PlanInputs(TRAFFIC, FAILURE, [], 60.0, 1, "2")
    started = time.process_time()
    result = search(inputs, quietest_per_minute=TRAFFIC.contacts_per_minute / 10, n=n, seed=1)
    search_s = time.process_time() - started
    cands = candidates(inputs.failure.latency_p99_ms)
    sample = cands[:: max(1, len(cands) // (10 if smoke else 40))]
    routing = predefined_configs()[CONFIG]
    started = time.process_time()
    for cand in sample:
        simulate(routing, TRAFFIC, FAILURE, [cand.model], n, np.random.default_rng(3), poll_s=60, aligned=True)
    one_s = (time.process_time() - started) / len(sample)
    situations = len(failure_modes(inputs)) + len(result["traffic_levels"])  # bad versions, healthy levels
    one_by_one = one_s * len(cands) * result["configurations"] * situations
    return [f"Alarm search: {result['candidates']:,} definitions x {result['configurations']} configurations x "
            f"{situations} situations (bad versions, healthy traffic levels), {n:,} deployments each; CPU seconds.",
            "",
            "| search | CPU s |",
            "| --- | --- |",
            f"| each candidate simulated alone (`simulate`, {len(sample)} sampled, scaled; baseline) | {one_by_one:,.0f} |",
            f"| shared draws, values per metric and period (`plan --alarms`) | {search_s:.1f} |",
            "",
            f"shared / alone: {one_by_one / search_s:,.0f}x faster; target: under 60 s"]


if __name__ == "__main__":
    main()
