"""What the simulated Connect instance's reports (flow logs and metrics, on in the looping flow) add
to the latency a rehearsal measures: Locust paced at a fixed rate, well within what one process
holds, against a fresh emulator on the other core, with the reports and without them (the same
path, the baseline), in alternating rounds; the median of the rounds' percentiles side by side.

    python bench/latency.py            # 6,000 invocations/s, 3 rounds of 15 s each; rewrites its section
    python bench/latency.py --smoke    # 1,000/s, one round of 3 s; prints only (CI)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ROOT, Emulator, report, run_locust  # noqa: E402

USERS = 64
QUANTILES = (0.5, 0.9, 0.99, 0.999)
NO_REPORTS = '[scenario]\nname = "no-reports"\n[connect]\nflow_logs = false\nmetrics = false\n'


def percentiles(stats_json: Path) -> dict[float, float]:
    """Locust's response-time percentiles (ms) over all requests of a run, from its --json-file."""
    counts: Counter[float] = Counter()
    for entry in json.loads(stats_json.read_text()):
        for ms, n in entry["response_times"].items():
            counts[float(ms)] += n
    total, seen, found = sum(counts.values()), 0, {}
    for ms in sorted(counts):
        seen += counts[ms]
        for q in QUANTILES:
            if q not in found and seen >= q * total:
                found[q] = ms
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, one round; prints, writes nothing")
    parser.add_argument("--rate", type=float, default=6000.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    rate, rounds, seconds = (1000.0, 1, 3.0) if args.smoke else (args.rate, args.rounds, args.seconds)
    work = Path(tempfile.mkdtemp(prefix="shiftsim-latency-"))
    quiet = work / "no-reports.toml"
    quiet.write_text(NO_REPORTS)
    paths = {"with the reports (flow logs and metrics, as the looping flow has them)": [],
             "without them (`[connect] flow_logs = false`, `metrics = false`; the baseline)": ["--scenario", str(quiet)]}
    found: dict[str, list[dict[float, float]]] = {name: [] for name in paths}
    failures: dict[str, int] = dict.fromkeys(paths, 0)
    for n in range(rounds):
        for i, (name, extra) in enumerate(paths.items()):
            folder = work / f"{n}-{i}"
            with Emulator() as emulator:
                run = run_locust(str(ROOT / "locustfiles" / "connect_loop.py"), seconds, USERS, "--endpoint-url",
                                 emulator.url, "--prompt-time", "fixed:0", "--rate", f"{rate:g}", "--results-dir",
                                 str(folder / "results"), *extra, folder=folder, measure_cpu=False)
            failures[name] += run["failures"]
            found[name].append(percentiles(folder / "stats.json"))
    medians = {name: {q: statistics.median(r[q] for r in runs) for q in QUANTILES} for name, runs in found.items()}
    lines = [f"| looping flow paced at {rate:,.0f} invocations/s ({USERS} users, emulator on the other core) | "
             + " | ".join(f"p{100 * q:g} (ms)" for q in QUANTILES) + " |",
             "| --- |" + " --- |" * len(QUANTILES)]
    lines += [f"| {name} | " + " | ".join(f"{medians[name][q]:g}" for q in QUANTILES) + " |" for name in paths]
    with_, without = (medians[name] for name in paths)
    lines += ["", "with / without: " + ", ".join(f"p{100 * q:g} **{with_[q] / without[q]:.1f}x**" if without[q] else
                                                  f"p{100 * q:g} -" for q in QUANTILES)
              + f" (the median of {rounds} alternating round{'s' if rounds > 1 else ''} of {seconds:g} s, a fresh "
              "emulator each; Locust's response times, in its buckets). "
              f"Failures: {', '.join(str(failures[name]) for name in paths)}. Command: `python bench/latency.py`."]
    report("latency", "Latency with Connect's reports", lines, write=not args.smoke)


if __name__ == "__main__":
    main()
