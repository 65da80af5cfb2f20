"""Time compression: a Linear10PercentEvery10Minutes rehearsal (100 emulated minutes, with the final
flip two intervals after the 90 % step as the docs count it) at time scale 120 must take at most
60 s of wall time, with every weight step in order and on time. Side by side: the real-time
duration it stands for, and each step's lateness against CodeDeploy's plan.

    python bench/compression.py           # the full 100 minutes; rewrites its section of RESULTS.md
    python bench/compression.py --smoke   # Linear10PercentEvery1Minute (CI)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ENV, ROOT, report  # noqa: E402

SCENARIO = """
[scenario]
name = "compression"
seed = 1
time_scale = {scale}
[emulator]
final_flip_after_intervals = {flip}
[[functions]]
name = "ConnectLambdaFunction"
[[functions.versions]]
[[functions.aliases]]
name = "PROD"
version = "1"
[deployment]
config = "{config}"
start_after = 1
[load]
users = 10
spawn_rate = 10
prompt_time = "uniform:0.1:0.3"
tail = 1
max_duration = 120
[expect]
outcome = "succeeded"
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    config, minutes, flip, scale = (("Linear10PercentEvery1Minute", 1, 1, 120) if args.smoke
                                    else ("Linear10PercentEvery10Minutes", 10, 2, 120))
    work = Path(tempfile.mkdtemp(prefix="shiftsim-compression-"))
    scenario = work / "compression.toml"
    scenario.write_text(SCENARIO.format(scale=scale, flip=flip, config=config))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "rehearse", str(scenario), "--results",
                           str(work / "run")], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=300)
    total_wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"rehearsal failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    events = [json.loads(line) for line in (work / "run" / "timeline.jsonl").read_text().splitlines()]
    created = next(e for e in events if e["kind"] == "deployment")["t"]
    allow = next(e for e in events if e["kind"] == "lifecycle" and e["event"] == "AllowTraffic"
                 and e["status"] == "InProgress")["t"]
    ended = next(e for e in events if e["kind"] == "status" and e["status"] == "Succeeded")["t"]
    weights = [e for e in events if e["kind"] == "weight"]
    observed = [(e["t"], (e["additional"] or {}).get("2", 1.0 if e["primary"] == "2" else 0.0)) for e in weights]
    planned = [(allow + k * minutes * 60, round((k + 1) / 10, 6)) for k in range(9)]
    planned.append((allow + (8 + flip) * minutes * 60, 1.0))
    steps = [w for w in observed if w[1] > 0]
    in_order = [round(w, 6) for _, w in steps] == [w for _, w in planned]
    lateness_ms = [1000 * (seen - plan) / scale for (seen, _), (plan, _) in zip(steps, planned, strict=False)]
    emulated_minutes = (ended - created) / 60
    deployment_wall = (ended - created) / scale
    lines = [f"| {config} at time scale x{scale} | |", "| --- | --- |",
             f"| emulated duration of the deployment | {emulated_minutes:.1f} min (real time: {emulated_minutes:.0f} min) |",
             f"| wall time of the deployment | **{deployment_wall:.1f} s** (target <= 60 s) |",
             f"| wall time of the whole rehearsal (start-up, load, analysis, figure) | {total_wall:.1f} s |",
             f"| weight steps seen | {len(steps)} of {len(planned)}, in order: {'yes' if in_order else 'NO'} |",
             f"| step lateness vs CodeDeploy's plan (real ms, as polled) | max {max(lateness_ms):.0f}, "
             f"mean {sum(lateness_ms) / len(lateness_ms):.0f} |", "",
             "Command: `python bench/compression.py`. Lateness is the watcher's poll (at most 2 emulated s), "
             "not the shift: the emulator shifts on the clock exactly."]
    complete = in_order and len(steps) == len(planned)
    report("compression", "Time compression", lines, write=complete and not args.smoke)
    if not complete:
        raise SystemExit("weight steps missing or out of order")


if __name__ == "__main__":
    main()
