"""Resident memory per recorded invocation over 1,000,000 invocations (target: at most 100 bytes),
through the coordinator's reporting path: Locust's `events.request` into its statistics, and the
record writer. Side by side: the naive way, every row kept in memory as a dict until the end.
Each measurement runs in a fresh process (RSS from /proc).

    python bench/memory.py            # 1,000,000 invocations; rewrites its section of RESULTS.md
    python bench/memory.py --smoke    # 50,000 (CI)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ENV, ROOT, report  # noqa: E402

MEASURE = r"""
import gc, os, sys, time, uuid
from pathlib import Path
import locust
from locust.env import Environment
from simulator.report.record import COLUMNS, RecordWriter

def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

mode, count, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
env = Environment(events=locust.events)
env.create_local_runner()
fire = env.events.request.fire
writer = RecordWriter(folder) if mode == "shiftsim" else None
kept = []
contact = str(uuid.uuid4())
gc.collect()
before = rss()
t = time.time()
for i in range(count):
    if i % 10 == 0:
        contact = str(uuid.uuid4())
    row = (t + i, t + i, t + i + 0.01, t + i, contact, i % 10 + 1, "invoke-alias", "PROD", "1" if i % 10 else "2",
           "Success", "", 0, 200, "", 0, "local")
    fire(request_type="Lambda", name="invoke v" + row[8], response_time=5.0, response_length=15, response=None,
         exception=None, start_time=row[1], url="arn", context={})
    if writer is not None:
        writer.add([row])
    else:
        kept.append(dict(zip(COLUMNS, row)))
if writer is not None:
    writer.close()
gc.collect()
print(rss() - before)
"""


def measure(mode: str, count: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="shiftsim-memory-"))
    out = subprocess.run([sys.executable, "-c", MEASURE, mode, str(count), str(folder)], capture_output=True,
                         text=True, env=ENV, cwd=ROOT, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    disk = sum(f.stat().st_size for f in folder.iterdir())
    return int(out.stdout.strip().splitlines()[-1]) / count, disk / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    count = 50_000 if args.smoke else 1_000_000
    ours, ours_disk = measure("shiftsim", count)
    naive, _ = measure("naive", count)
    lines = [f"| recording {count:,} invocations | resident bytes per invocation | on disk |", "| --- | --- | --- |",
             f"| naive: rows kept in memory as dicts (baseline) | {naive:,.0f} | - |",
             f"| shiftsim: Locust statistics + streamed binary record | **{ours:,.0f}** (target <= 100) | "
             f"{ours_disk:,.0f} bytes |", "",
             "Command: `python bench/memory.py`. Contact ids are distinct every 10 invocations, as in a looping flow."]
    report("memory", "Memory", lines, write=not args.smoke)


if __name__ == "__main__":
    main()
