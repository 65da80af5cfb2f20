"""Rate accuracy of the open-model pacer in one Locust process: first the capacity (closed loop),
then runs at 50 % and 90 % of it (achieved rate within 1 % of the target, p99 lag behind the
intended start under 5 ms) and one at 150 % (late invocations counted, not hidden).

    python bench/rate.py            # 60 s per rate; rewrites its section of bench/RESULTS.md
    python bench/rate.py --smoke    # 5 s per rate (CI)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ROOT, Emulator, report, run_locust  # noqa: E402

USERS = 64


def from_record(results: Path) -> dict:
    from simulator.record import load_record

    record = load_record(next(results.iterdir()))
    intended, start = record.rows["intended"], record.rows["start"]
    lo, hi = intended.min() + 2.0, intended.max() - 1.0  # steady state: past the spawn, before the stop
    steady = (intended >= lo) & (intended < hi)
    achieved = float(((start >= lo) & (start < hi)).sum() / (hi - lo))
    lag_ms = (start[steady] - intended[steady]) * 1000
    # Was a lagging start the pacer's, or were all users still waiting on the endpoint at that moment?
    starts, ends = np.sort(start), np.sort(record.rows["end"])
    lagging = intended[steady][lag_ms > 5]
    in_flight = np.searchsorted(starts, lagging, side="right") - np.searchsorted(ends, lagging, side="right")
    return {"achieved": achieved, "p99_lag_ms": float(np.percentile(lag_ms, 99)) if len(lag_ms) else 0.0,
            "late": int(record.rows["late"].sum()), "count": len(record),
            "all_busy": float((in_flight >= USERS - 1).mean()) if len(lagging) else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    seconds = 5 if args.smoke else 60
    work = Path(tempfile.mkdtemp(prefix="shiftsim-rate-"))
    locustfile = str(ROOT / "locustfiles" / "connect_loop.py")
    rows = []
    with Emulator() as emulator:
        common = ["--endpoint-url", emulator.url, "--prompt-time", "fixed:0"]
        # Two processes near saturation (this one and the emulator) settle into faster or slower modes
        # from run to run (seen: 2,900 to 4,100/s): the capacity is what every run sustained.
        capacities = [run_locust(locustfile, 8 if not args.smoke else 4, USERS, *common, "--results-dir",
                                 str(work / f"capacity{n}"), folder=work / f"c{n}")["rate"]
                      for n in range(1 if args.smoke else 3)]
        capacity = min(capacities)
        for share in (0.5, 0.9, 1.5):
            target = round(capacity * share)
            results = work / f"r{share}"
            run_locust(locustfile, seconds, USERS, *common, "--rate", str(target), "--results-dir", str(results),
                       folder=work / f"s{share}")
            measured = from_record(results)
            sustained = measured["achieved"]  # the last (overload) run's: what the open model sustains
            error = 100 * (measured["achieved"] - target) / target
            rows.append(f"| {int(share * 100)} % of capacity | {target:,} | {measured['achieved']:,.1f} | "
                        f"{error:+.2f} % | {measured['p99_lag_ms']:.1f} | {measured['late']:,} of {measured['count']:,} "
                        f"| {100 * measured['all_busy']:.0f} % |")
    lines = [f"Capacity (closed loop, one process, {USERS} users, the lowest of "
             f"{', '.join(f'{c:,.0f}' for c in capacities)}): {capacity:,.0f} invocations/s.", "",
             "| target | invocations/s asked | achieved (steady state) | error | p99 lag (ms) | late (> 20 ms) "
             "| starts over 5 ms behind that found every user waiting on the endpoint |",
             "| --- | --- | --- | --- | --- | --- | --- |", *rows, "",
             f"Asked for more than it can do, the open model sustained {sustained:,.0f} invocations/s, "
             f"{100 * sustained / capacity:.0f} % of the closed-loop capacity measured before it (closed-loop runs "
             "a minute apart differ by up to 20 % on this machine, where the emulator shares the cores: 90 % of "
             "one run's capacity can be all of another's).",
             f"Targets: within 1 % and p99 lag under 5 ms at 50 % and 90 %; late ones counted above capacity. "
             f"Command: `python bench/rate.py` ({seconds} s per rate)."]
    report("rate", "Rate accuracy", lines, write=not args.smoke)


if __name__ == "__main__":
    main()
