"""Every statistic shiftsim prints, its error rate measured over many simulated runs (seeded), not
assumed: the statistical judge's false-flag rate on equal versions (nominal: 1 - confidence) and its
detection delay on the shipped failures; the routing check's false-fail rate on healthy runs
(nominal: its p of 0.001); the coverage of the production-terms 95 % intervals of a sampled run.
With --rehearsals N: the plan's 95 % band against N real rehearsals of every shipped scenario.

    python bench/calibration.py                  # 2,000 runs a statistic; rewrites its section of bench/RESULTS.md
    python bench/calibration.py --smoke          # 200 runs; prints only (CI)
    python bench/calibration.py --rehearsals 20  # 20 rehearsals a shipped scenario (about 25 min); its own section

The runs are simulated with the same functions the analysis uses (simulator.report.judge,
routing_check, count_interval) on data drawn as a rehearsal's record would hold it; the rehearsals
are `shiftsim rehearse` as a user runs it, one after another, with seeds 1..N.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import report  # noqa: E402
from simulator.report.analysis import ROUTING_ALPHA, count_interval, rate_interval, routing_check  # noqa: E402
from simulator.report.judge import judge  # noqa: E402

WINDOW_S = 30.0


def linear_share(t: np.ndarray, step: float = 0.1, every_s: float = 60.0) -> np.ndarray:
    """Linear10PercentEvery1Minute's weight of the new version at `t` seconds from the start."""
    return np.minimum(1.0, step * (1 + np.floor(t / every_s)))


def a_run(rng: np.random.Generator, *, minutes: float, per_s: float, p_old: float, p_new: float, onset_s: float,
          latency_shift_ms: float = 0.0, share=linear_share) -> tuple:
    """One deployment's invocations: times, versions drawn by the plan's weight, errors, latencies."""
    n = rng.poisson(per_s * minutes * 60)
    t = np.sort(rng.uniform(0, minutes * 60, n))
    new = rng.random(n) < share(t)
    p = np.where(new, np.where(t >= onset_s, p_new, p_old), p_old)
    ok = rng.random(n) >= p
    latency = rng.lognormal(math.log(2.0), 0.6, n) + np.where(new & (t >= onset_s), latency_shift_ms, 0.0)
    versions = np.where(new, "2", "1")
    windows = [(s, s + WINDOW_S) for s in np.arange(0, minutes * 60, WINDOW_S)]
    return t, versions, ok, latency, windows, new


def judge_false_flags(runs: int, seed: int, per_s: float = 10) -> tuple[int, int]:
    """Equal versions (1 % errors each, the same latency): runs the judge flags, of `runs`."""
    rng = np.random.default_rng(seed)
    flagged = 0
    for _ in range(runs):
        t, versions, ok, latency, windows, _ = a_run(rng, minutes=10, per_s=per_s, p_old=0.01, p_new=0.01, onset_s=0)
        flagged += judge(t, versions, ok, latency, windows, "2", "1", 0.99)["flagged_at"] is not None
    return flagged, runs


def judge_detection(runs: int, seed: int, p_new: float, latency_shift_ms: float = 0.0, per_s: float = 10) -> list[float]:
    """Seconds from the new version's onset (2 minutes in) to the judge's flag, per run that flagged."""
    rng = np.random.default_rng(seed)
    delays = []
    for _ in range(runs):
        t, versions, ok, latency, windows, _ = a_run(rng, minutes=10, per_s=per_s, p_old=0.0, p_new=p_new, onset_s=120,
                                                     latency_shift_ms=latency_shift_ms)
        at = judge(t, versions, ok, latency, windows, "2", "1", 0.99)["flagged_at"]
        if at is not None:
            delays.append(at - 120)
    return delays


def routing_false_fails(runs: int, seed: int) -> tuple[int, int]:
    """Healthy runs (versions drawn by the plan's weights) the routing check fails, of `runs`."""
    rng = np.random.default_rng(seed)
    failed = 0
    for _ in range(runs):
        n = rng.poisson(10 * 600)
        t = rng.uniform(0, 600, n)
        weight = np.where(t < 540, linear_share(t), 0.0)
        served = rng.random(n) < weight
        failed += not routing_check(served, weight)["follows"]
    return failed, runs


def interval_coverage(runs: int, seed: int, weight: float, true_count: int) -> float:
    """Share of sampled runs whose 95 % interval in production's terms holds the production count:
    each of `true_count` production contacts is in the sample with probability 1 / weight."""
    rng = np.random.default_rng(seed)
    covered = 0
    for _ in range(runs):
        sampled = int(rng.binomial(true_count, 1.0 / weight))
        low, high = count_interval(sampled, weight)
        covered += low <= true_count <= high
    return covered / runs


def rate_interval_coverage(trials: int, rate: float) -> float:
    """The exact chance that a window of `trials` invocations failing at `rate` has an error-rate
    interval (the figure's bars) that holds `rate`: the binomial sum over what the window can count."""
    def chance(k: int) -> float:
        return math.exp(math.lgamma(trials + 1) - math.lgamma(k + 1) - math.lgamma(trials - k + 1)
                        + k * math.log(rate) + (trials - k) * math.log(1 - rate))
    held = (rate_interval(k, trials) for k in range(trials + 1))
    return sum(chance(k) for k, (low, high) in enumerate(held) if low <= rate <= high)


WINDOW_SIZES = (3, 5, 10, 30, 100, 200, 2000)
WINDOW_RATES = tuple(percent / 100 for percent in range(1, 100))
ROOT = Path(__file__).resolve().parent.parent
PLAN_SIMULATIONS = 20_000


def rehearsed(scenario: Path, seed: int, folder: Path) -> dict:
    """One rehearsal as a user runs it: its summary (exit 0 or 1, a verdict either way)."""
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(scenario), "--results", str(folder),
                           "--seed", str(seed)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{scenario.name} seed {seed}: exit {done.returncode}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads((folder / "summary.json").read_text())


def plan_band(scenario: Path, weight: float) -> tuple[float, float, float]:
    """The plan's 2.5th, 50th and 97.5th percentiles of contacts hurt during the deployment, from the
    scenario as `shiftsim plan` reads it, measured as a rehearsal sampling with `weight` measures it."""
    from simulator.deployment.plan import predefined_configs
    from simulator.planning.inputs import from_scenario
    from simulator.planning.model import simulate
    from simulator.scenario.reader import load_scenario

    loaded = load_scenario(scenario)
    assert loaded.deployment is not None
    inputs = from_scenario(loaded)
    traffic = replace(inputs.traffic, sampling_weight=weight)
    out = simulate(predefined_configs()[loaded.deployment.config], traffic, inputs.failure, inputs.alarms,
                   PLAN_SIMULATIONS, np.random.default_rng(7), poll_s=inputs.poll_s,
                   final_flip_after_intervals=inputs.final_flip_after_intervals)
    low, median, high = np.percentile(out.failed_contacts, [2.5, 50, 97.5])
    return float(low), float(median), float(high)


def plan_against_rehearsals(runs: int) -> list[str]:
    """Per shipped scenario with a deployment: how many of `runs` rehearsals' contacts hurt during the
    deployment (in production's terms) fall inside the plan's 95 % band, and the two medians."""
    from simulator.planning.inputs import from_scenario
    from simulator.planning.model import PlanError
    from simulator.scenario.reader import load_scenario

    lines = ["| scenario | rehearsals in the plan's 95 % band | rehearsals' median | plan's median (band) "
             "| medians apart | target: 90 % in band, medians within 15 % |", "| --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in sorted((ROOT / "scenarios").glob("*.toml")):
            try:
                from_scenario(load_scenario(scenario))
            except PlanError as exc:  # nothing to plan: said in the table, not compared
                lines.append(f"| {scenario.stem} | not planned: {str(exc).split(': ', 1)[-1]} | | | | |")
                continue
            measured, inside = [], 0
            bands: dict[float, tuple[float, float, float]] = {}  # per sampling weight (the same in every run)
            for seed in range(1, runs + 1):
                summary = rehearsed(scenario, seed, Path(tmp) / f"{scenario.stem}-{seed}")
                production = summary["production"]
                weight = float(production["weight"])
                if weight not in bands:
                    bands[weight] = plan_band(scenario, weight)
                band = bands[weight]
                count = float(production["failed_contacts_during"]["estimate"])
                measured.append(count)
                inside += band[0] <= count <= band[2]
                print(f"{scenario.stem} seed {seed}: {count:g} hurt, band {band[0]:g} to {band[2]:g}", flush=True)
            rehearsals = float(np.median(measured))
            low, plan, high = bands[max(bands)]
            apart = abs(plan - rehearsals) / rehearsals if rehearsals else (0.0 if plan == 0 else math.inf)
            met = inside >= 0.9 * runs and apart <= 0.15
            lines.append(f"| {scenario.stem} | {inside} of {runs} | {rehearsals:,.0f} | {plan:,.0f} ({low:,.0f} to "
                         f"{high:,.0f}) | {100 * apart:.0f} % | {'met' if met else 'NOT met'} |")
    return lines + ["", f"Each rehearsal is `shiftsim rehearse scenarios/<name>.toml --seed N` (N = 1..{runs}) at the "
                    "scenario's time scale, one after another on this machine; its count is the summary's contacts "
                    "that took an error branch during the deployment, in production's terms. The plan is the "
                    f"scenario's, {PLAN_SIMULATIONS:,} simulated deployments measured with the rehearsal's sampling. "
                    f"Command: `python bench/calibration.py --rehearsals {runs}`."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--rehearsals", type=int, metavar="N", help="the plan against N rehearsals a shipped scenario")
    args = parser.parse_args()
    if args.rehearsals:
        report("calibration-plan", "Calibration: the plan against rehearsals", plan_against_rehearsals(args.rehearsals),
               write=not args.smoke)
        return
    runs = 200 if args.smoke else 2000
    flagged, n = judge_false_flags(runs, 1)
    sparse_flagged, _ = judge_false_flags(runs, 11, per_s=1)  # a few invocations a window: windows pooled
    routing_failed, m = routing_false_fails(runs, 2)
    linear = judge_detection(max(50, runs // 10), 3, p_new=0.5)
    subtle = judge_detection(max(50, runs // 10), 4, p_new=0.05)
    slow = judge_detection(max(50, runs // 10), 5, p_new=0.0, latency_shift_ms=50.0)
    sparse = judge_detection(max(50, runs // 10), 12, p_new=0.5, per_s=1)
    coverage = {(w, c): interval_coverage(runs, 6 + i, w, c)
                for i, (w, c) in enumerate(((24.0, 1440), (24.0, 100), (4.0, 300), (60.0, 60)))}

    def binomial_high(k: int, total: int) -> float:  # a 95 % upper bound on the true rate (Wilson)
        return rate_interval(k, total)[1]

    def delays(d: list[float], total: int) -> str:
        if not d:
            return f"never flagged in {total} runs"
        return (f"flagged in {len(d)} of {total} runs; median {np.median(d) / 60:.1f} min after the onset "
                f"(p90 {np.percentile(d, 90) / 60:.1f} min)")

    ok = "met" if flagged / n <= 0.01 else "NOT met"
    sparse_ok = "met" if sparse_flagged / n <= 0.01 else "NOT met"
    lines = [
        "| statistic | measured | target |", "| --- | --- | --- |",
        f"| the judge's false flags, equal versions (1 % errors each), 10 min, 20 windows | {flagged} of {n} runs "
        f"({100 * flagged / n:.2f} %, 95 % upper bound {100 * binomial_high(flagged, n):.2f} %) | at most 1 % ({ok}) |",
        f"| the same, 1 invocation a second (windows with under 20 of a version tested with the next) | {sparse_flagged} of {n} "
        f"runs ({100 * sparse_flagged / n:.2f} %, 95 % upper bound {100 * binomial_high(sparse_flagged, n):.2f} %) | at most "
        f"1 % ({sparse_ok}) |",
        f"| the routing check's false fails, healthy linear deployments, about 6,000 invocations | {routing_failed} of {m} "
        f"({100 * routing_failed / m:.2f} %, upper bound {100 * binomial_high(routing_failed, m):.2f} %) | at most "
        f"{100 * ROUTING_ALPHA:g} % ({'met' if routing_failed / m <= max(ROUTING_ALPHA, 3 / m) else 'NOT met'}) |",
        f"| the judge on a version failing 50 % from minute 2 (linear-rollback's failure) | {delays(linear, max(50, runs // 10))} | - |",
        f"| the judge on a version failing 5 % from minute 2 | {delays(subtle, max(50, runs // 10))} | - |",
        f"| the judge on a version 50 ms slower from minute 2, no errors | {delays(slow, max(50, runs // 10))} | - |",
        f"| the judge on a version failing 50 % from minute 2, 1 invocation a second | {delays(sparse, max(50, runs // 10))} | - |",
    ]
    for (weight, count), share in coverage.items():
        lines.append(f"| 95 % interval of a count in production's terms: each contact standing for {weight:g}, "
                     f"{count:,} production contacts | covers in {100 * share:.1f} % of runs | at least 93 % "
                     f"({'met' if share >= 0.93 else 'NOT met'}) |")
    for trials in WINDOW_SIZES:
        held = [rate_interval_coverage(trials, rate) for rate in WINDOW_RATES]
        mean = sum(held) / len(held)
        lines.append(f"| 95 % interval of a window's error rate (the figure's bars), {trials:,} invocations, true rates of "
                     f"1 to 99 % | holds it with a chance of {100 * mean:.1f} % on average, {100 * min(held):.1f} % at worst "
                     f"(exact) | 95 % on average ({'met' if 0.94 <= mean <= 0.965 else 'NOT met'}) |")
    lines += ["", f"{runs:,} simulated runs a statistic (seeded), drawn as a rehearsal's record holds them and judged "
              "by the analysis' own functions. The plan's band against real rehearsals of every shipped scenario is "
              "the next section's (`--rehearsals`). Command: `python bench/calibration.py`."]
    report("calibration", "Calibration", lines, write=not args.smoke)


if __name__ == "__main__":
    main()
