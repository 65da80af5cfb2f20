"""Invocations per second of one Locust process, side by side in one run, each path against an emulator of
its own (on the other core): a plain boto3 `invoke` in a Locust task (what users write today), a raw aiohttp
POST of the same request (the wire's ceiling for a Python client), and shiftsim's full path (flow,
Connect invoke semantics, record, Locust statistics). Then shiftsim with --processes 2 against the
emulator, and shiftsim with one process and with --processes -1 against a minimal Invoke endpoint
(bench/minimal_endpoint.py), which leaves the cores to the load generator: how it scales.

    python bench/throughput.py            # 20 s each (the ceiling and shiftsim in 3 alternating rounds),
                                          # rewrites its section of bench/RESULTS.md
    python bench/throughput.py --smoke    # 2 s each, prints only (CI)
    python bench/throughput.py --against 947fb87   # also that commit's own load path, in the same rounds
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import CORES, ENV, LOAD_CORE, ROOT, Emulator, MinimalEndpoint, pinned, report, run_locust  # noqa: E402
from simulator.client.event_loops import default_kind  # noqa: E402

PATH = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3AConnectLambdaFunction%3APROD/invocations"
USERS = 64


def raw_aiohttp(url: str, seconds: float, concurrency: int) -> tuple[float, float]:
    """The ceiling: the same POST with aiohttp and nothing else, in a process on the load core, on
    the loop shiftsim uses. Returns (requests/s, CPU seconds per second)."""
    code = f"""
import asyncio, time, aiohttp
from simulator.client.event_loops import run
async def main():
    cpu, wall = time.process_time(), time.monotonic()
    done = 0
    stop = time.monotonic() + {seconds}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit={concurrency})) as s:
        async def worker():
            nonlocal done
            while time.monotonic() < stop:
                async with s.post({url + PATH!r}, data=b'{{"Name": "ContactFlowEvent"}}') as r:
                    await r.read()
                done += 1
        await asyncio.gather(*(worker() for _ in range({concurrency})))
    print(done / {seconds}, (time.process_time() - cpu) / (time.monotonic() - wall))
run(main(), {default_kind()!r})
"""
    out = subprocess.run([*pinned(LOAD_CORE), sys.executable, "-c", code], capture_output=True, text=True,
                         env=ENV, timeout=seconds + 60)
    rate, cpu = out.stdout.split()
    return float(rate), float(cpu)


def _bottleneck(load_cpu: float, server_cpu: float) -> str:
    """Which core set shiftsim's figure, said after the emulator's share."""
    if load_cpu >= 0.95 and server_cpu >= 0.95:
        said = ": both cores were full, the load generator and the emulator are matched"
    elif load_cpu >= 0.95:
        said = ": the load process's core was full, so the load generator set the figure"
    elif server_cpu >= 0.95:
        said = ": the endpoint, not the load generator, set the figure"
    else:
        return "."
    if server_cpu >= 0.85:
        said += (", and a second load process can only take CPU from the emulator on this two-core machine "
                 "(against real AWS, each process adds its own share)")
    return said + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds each; prints, writes nothing")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the ceiling and the full path")
    parser.add_argument("--against", metavar="REV", help="a commit whose own locustfile runs in the same rounds (a git "
                        "worktree of it), against an emulator of today's: a baseline measured in the same hour")
    args = parser.parse_args()
    seconds = 2.0 if args.smoke else args.seconds
    work = Path(tempfile.mkdtemp(prefix="shiftsim-bench-"))
    loop_file = str(ROOT / "locustfiles" / "connect_loop.py")  # (today's: the scaling runs')

    def shiftsim(emulator: Emulator, name: str, *options: str, extra_s: float = 0.0,
                 core: int | None = LOAD_CORE, root: Path = ROOT) -> dict:
        return run_locust(str(root / "locustfiles" / "connect_loop.py"), seconds + extra_s, USERS, "--endpoint-url",
                          emulator.url, "--prompt-time", "fixed:0", "--results-dir", str(work / f"r-{name}"), *options,
                          core=core, folder=work / name, server_pid=emulator.process.pid, root=root)

    # Each path against an emulator of its own, started for it, as a user's run starts one: what one path
    # left in an emulator (hundreds of thousands of invocations' log lines) is not the next path's to serve
    with Emulator() as emulator:
        os.environ["SHIFTSIM_BENCH_ENDPOINT"] = emulator.url
        ENV["SHIFTSIM_BENCH_ENDPOINT"] = emulator.url
        boto = run_locust(str(ROOT / "bench" / "locust_boto3.py"), seconds, USERS, folder=work / "boto3")
    # The ceiling and the full path in turns: a run differs from the next by 10 to 25 % on this kind of
    # machine, so one of each could say either is ahead; each is the median of its rounds
    ceilings, ourses, baselines = [], [], []
    baseline = checkout(args.against) if args.against else None
    try:
        for n in range(1 if args.smoke else args.rounds):
            with Emulator() as emulator:
                ceilings.append(raw_aiohttp(emulator.url, seconds, USERS))
            with Emulator() as emulator:
                ourses.append(shiftsim(emulator, f"shiftsim{n}"))
            if baseline is not None:
                with Emulator() as emulator:
                    baselines.append(shiftsim(emulator, f"baseline{n}", root=baseline))
    finally:
        if baseline is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)], capture_output=True)
    quiet = work / "no-reports.toml"  # the same path without the Connect instance's reports: what they cost
    quiet.write_text('[scenario]\nname = "no-reports"\n[connect]\nflow_logs = false\nmetrics = false\n')
    with Emulator() as emulator:
        bare = shiftsim(emulator, "bare", "--scenario", str(quiet))
    with Emulator() as emulator:
        two = shiftsim(emulator, "two-processes", "--processes", "2", extra_s=3, core=None)
    with Emulator() as emulator, MinimalEndpoint(emulator.url) as minimal:
        scaling = [run_locust(loop_file, seconds + 3, USERS, *processes, "--endpoint-url", minimal.url,
                              "--prompt-time", "fixed:0", "--results-dir", str(work / f"m{n}"),
                              core=None if processes else LOAD_CORE, folder=work / f"minimal{n}",
                              server_pid=minimal.process.pid)
                   for n, processes in enumerate(([], ["--processes", "-1"]))]
    ceiling_rate, ceiling_cpu = _median(ceilings, lambda run: _cost(*run))
    ours = _median(ourses, _run_cost)
    base = _median(baselines, _run_cost) if baselines else None
    boto_rate, ours_rate = boto["rate"], ours["rate"]
    rounds = "; ".join(f"{_per_invocation(*c)} and {_per_invocation(o['rate'], o['cpu_per_s'])}"
                       for c, o in zip(ceilings, ourses, strict=True))
    # With --processes every forked worker writes --json-file too: the master's record is the truth.
    per_process = per_worker_rates(work / "r-two-processes")
    two_rate = record_rate(work / "r-two-processes")

    def cost(rate: float, cpu: float) -> str:
        return f"{cpu:.2f} | {_per_invocation(rate, cpu)}" if rate and cpu else "- | -"

    lines = [
        f"| path ({USERS} users, emulator on the other core) | invocations/s | load process CPU (cores) "
        "| CPU per invocation |",
        "| --- | --- | --- | --- |",
        f"| plain boto3 `invoke` in a Locust task (baseline) | {boto_rate:,.0f} | {cost(boto_rate, boto['cpu_per_s'])} |",
        f"| raw aiohttp POST of the same request, on {default_kind()} (ceiling) | {ceiling_rate:,.0f} | {cost(ceiling_rate, ceiling_cpu)} |",
        f"| shiftsim: flow + Connect invoke block + record + Locust stats | {ours_rate:,.0f} | "
        f"{cost(ours_rate, ours['cpu_per_s'])} |",
        *([f"| shiftsim at {args.against} (that commit's own locustfile, against today's emulator) | "
           f"{base['rate']:,.0f} | {cost(base['rate'], base['cpu_per_s'])} |"] if base else []),
        f"| shiftsim without flow logs and Connect metrics (`[connect] flow_logs = false`, `metrics = false`) | "
        f"{bare['rate']:,.0f} | {cost(bare['rate'], bare['cpu_per_s'])} |",
        f"| shiftsim, `--processes 2` (both cores, shared with the emulator) | {two_rate:,.0f} "
        f"(per process: {', '.join(f'{r:,.0f}' for r in per_process)}{_short_of(per_process, 2)}) | "
        f"{cost(two_rate, two['cpu_per_s'])} |",
        "",
        f"shiftsim / boto3 baseline: **{_ratio(ours_rate, boto_rate, '{:.2f}x')}** (target >= 15x); "
        f"shiftsim / aiohttp ceiling: **{_ratio(100 * ours_rate, ceiling_rate, '{:.0f} %')}** (target >= 160 %); "
        f"shiftsim's CPU per invocation: **{_per_invocation(ours_rate, ours['cpu_per_s'])}** (target <= 45 µs, "
        f"{_met(1e6 * ours['cpu_per_s'] / ours_rate <= 45 if ours_rate else False)}); "
        f"`--processes 2` / one process: {_ratio(two_rate, ours_rate, '{:.2f}x')}.",
        f"CPU per invocation, the load generator's own cost whatever the endpoint: shiftsim "
        f"{_per_invocation(ours_rate, ours['cpu_per_s'])}, boto3 {_per_invocation(boto_rate, boto['cpu_per_s'])}, "
        f"raw aiohttp {_per_invocation(ceiling_rate, ceiling_cpu)}; one core at 100 % would drive "
        f"{_capacity(ours_rate, ours['cpu_per_s'])} invocations/s through shiftsim. During shiftsim's run the "
        f"emulator's core was {100 * ours['server_cpu_per_s']:.0f} % busy"
        + _bottleneck(ours["cpu_per_s"], ours["server_cpu_per_s"]),
        f"The ceiling and shiftsim ran in {len(ourses)} alternating round{'s' if len(ourses) > 1 else ''}, each against "
        f"a new emulator, each figure above the median of its rounds; CPU per invocation, aiohttp and shiftsim, round by round: {rounds}.",
        f"Failures: boto3 {boto['failures']}, shiftsim {', '.join(str(o['failures']) for o in ourses)}, without reports "
        f"{bare['failures']}. Command: `python bench/throughput.py{f' --against {args.against}' if args.against else ''}` "
        f"({seconds:g} s per path).",
    ]
    if baselines:
        lines.append(f"Against {args.against}, in the same rounds, CPU per invocation now and then: " + "; ".join(
            f"{_per_invocation(o['rate'], o['cpu_per_s'])} and {_per_invocation(b['rate'], b['cpu_per_s'])}"
            for o, b in zip(ourses, baselines, strict=True)) + ".")
    lines += ["", *scaling_lines(work, scaling)]
    report("throughput", "Throughput", lines, write=not args.smoke)


def checkout(rev: str) -> Path:
    """A git worktree of `rev` (removed when the benchmark ends), whose locustfile runs as that commit's."""
    path = Path(tempfile.mkdtemp(prefix="shiftsim-baseline-"))
    done = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), rev],
                          capture_output=True, text=True)
    if done.returncode:
        path.rmdir()
        raise SystemExit(f"throughput.py: --against {rev}: {done.stderr.strip().splitlines()[-1]}")
    return path


def scaling_lines(work: Path, runs: list[dict]) -> list[str]:
    """The table of shiftsim against the minimal endpoint, one process then --processes -1."""
    rates = [record_rate(work / f"m{n}") for n in range(len(runs))]
    lines = [f"| shiftsim against the minimal Invoke endpoint ({USERS} users) | invocations/s, machine total "
             "| per process | load processes' CPU (cores) | endpoint CPU (cores) |",
             "| --- | --- | --- | --- | --- |"]
    labels = ("one process (on one core)", f"`--processes -1` ({CORES} processes)")
    for n, (label, run) in enumerate(zip(labels, runs, strict=True)):
        rates_here = per_worker_rates(work / f"m{n}")
        per_process = ", ".join(f"{r:,.0f}" for r in rates_here) + _short_of(rates_here, CORES if n else 1)
        lines.append(f"| {label} | {rates[n]:,.0f} | {per_process} | {run['cpu_per_s']:.2f} | "
                     f"{run['server_cpu_per_s']:.2f} |")
    growth = rates[1] / rates[0] if rates[0] else 0.0
    lines += ["", f"`--processes -1` / one process: **{growth:.2f}x** (target: grows with processes). The "
              "minimal endpoint answers Invoke with a canned reply (and passes the few other requests to the "
              "emulator), so the load generator has the cores; against the emulator, a second process shares "
              f"the emulator's core (above). Failures: {', '.join(str(run['failures']) for run in runs)}."]
    return lines


def _cost(rate: float, cpu: float) -> float:
    return cpu / rate if rate else float("inf")


def _run_cost(run: dict) -> float:
    return _cost(run["rate"], run["cpu_per_s"])


def _median(runs: list[Any], key: Callable[[Any], float]) -> Any:
    """The run in the middle by `key` (of an even number, the lower middle one)."""
    return sorted(runs, key=key)[(len(runs) - 1) // 2]


def _ratio(a: float, b: float, form: str) -> str:
    """a / b in `form`, or why there is none (a path that made no invocations: a smoke run's few
    seconds on a machine busy enough that Locust did not get going)."""
    return form.format(a / b) if b else "none (a run made no invocations)"


def _met(met: bool) -> str:
    return "met" if met else "NOT met"


def _per_invocation(rate: float, cpu: float) -> str:
    return f"{1e6 * _cost(rate, cpu):,.0f} µs" if rate and cpu else "unknown"


def _capacity(rate: float, cpu: float) -> str:
    return f"about {rate / cpu:,.0f}" if rate and cpu else "an unknown number of"


def _the_record(results: Path) -> Any:
    """The one run's record in a results folder, or None if it wrote none."""
    from simulator.report.record import load_record

    runs = list(results.iterdir()) if results.exists() else []
    if len(runs) > 1:  # two runs given one name: which one is read would be the file system's choice
        raise RuntimeError(f"{results} holds {len(runs)} runs, not one")
    return load_record(runs[0]) if runs else None


def record_rate(results: Path) -> float:
    record = _the_record(results)
    if record is None:
        return 0.0
    starts = record.rows["start"]
    return float(len(starts) / (starts.max() - starts.min())) if len(starts) > 1 else 0.0


def _short_of(rates: list[float], processes: int) -> str:
    """Said when fewer processes recorded invocations than ran (a worker lost, or one that never started
    its users): the figure is then not what the processes would do together."""
    return f"; only {len(rates)} of the {processes} processes recorded invocations" if len(rates) < processes else ""


def per_worker_rates(results: Path) -> list[float]:
    """Each worker process's rate, from the record (its rows' first to last start)."""
    record = _the_record(results)
    if record is None:
        return []
    workers, starts = record.text("worker"), record.rows["start"]
    rates = []
    for worker in set(workers):
        mine = starts[workers == worker]
        if len(mine) > 1 and mine.max() > mine.min():
            rates.append(float(len(mine) / (mine.max() - mine.min())))
    return sorted(rates, reverse=True)


if __name__ == "__main__":
    main()
