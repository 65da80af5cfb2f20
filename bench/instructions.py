"""Instructions per invocation, counted by valgrind's callgrind (the same count however busy the
machine is), against the budgets in bench/RESULTS.md, so that a change that makes either path markedly
dearer fails CI on any machine:

- the load path: contacts through the looping flow with the Connect instance's flow logs on, each run
  by the load's own callers as a Locust user runs it (its caller, limits and end; the interpreter, the
  Invoke block, the fast invoker and its HTTP/1.1 client, the contact's hooks, the record's rows, the
  flow log entries' notes and the body that carries them built), in a process of its own against the
  emulator, one contact at a time;
- the emulator: one signed Invoke at a time through the front door (bench/emulator.py's count).

    python bench/instructions.py            # counts, and rewrites its section of bench/RESULTS.md
    python bench/instructions.py --check    # counts and compares with the budgets: exit 1 if over (the test)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ENV, ROOT, Emulator, report  # noqa: E402
from bench.emulator import instructions_per_invoke  # noqa: E402

WARM, COUNTED = 100, 400
RESULTS = ROOT / "bench" / "RESULTS.md"
BUDGET = re.compile(r"<!-- budgets: (\{.*?\}) -->")
HEADROOM = 1.25  # a budget is the count measured when it was set, and a quarter more

# The load path, run under callgrind: warms up, says so, and waits for the counter to be zeroed.
DRIVER = r"""
import asyncio, sys, time
from collections import deque
from pathlib import Path
from simulator.client.aws import Target, client
from simulator.client.coarse_timeouts import CoarseTimeouts
from simulator.client.fast_invoke import FastLambdaInvoker
from simulator.connect.caller import CallerSpec
from simulator.connect.flow import load_flow
from simulator.deployment.clock import ScaledClock
from simulator.loadgen.callers import Callers
from simulator.loadgen.collector import settle_for_load
from simulator.loadgen.connect_telemetry import ConnectTelemetry
from simulator.loadgen.contact_hooks import ContactPath
from simulator.loadgen.options import LoadOptions, flow_functions
from simulator.loadgen.pacing import Pacer
from simulator.report.record import RecordWriter
from simulator.scenario.spec import ConnectInstance, default_scenario

URL, FOLDER = sys.argv[1], sys.argv[2]
WARM, COUNTED = int(sys.argv[3]), int(sys.argv[4])

async def main():
    scenario = default_scenario()
    flow = "scenarios/flows/LambdaAlias-loop.json"
    functions = flow_functions(scenario, scenario.alias_arn(), "local", flow)
    flows = load_flow(flow, functions=functions)
    telemetry = ConnectTelemetry(ConnectInstance(), region="us-east-1", account="123456789012", now=time.time)
    record = RecordWriter(Path(FOLDER))
    # a Locust user's contacts, as the load runs them (loadgen.callers), with no prompt time and no pacing
    options = LoadOptions(
        target="local", alias_arn=scenario.alias_arn(), endpoint_url=URL, region="us-east-1", flow=Path(flow),
        functions=functions, scenario=scenario, scenario_path="", rate=0.0, contacts_per_minute=0.0,
        max_contacts_per_second=0.0, traffic_profile=None, start_time="12:00", loops_per_contact=10,
        contact_duration=0.0, max_invocations_per_contact=1000, max_contact_seconds=3600.0, prompt_time="fixed:0",
        seed=None, time_scale=None, deploy_after=None, late_threshold_s=0.02, results_dir=Path(FOLDER))
    callers = Callers(flows, CallerSpec(), ConnectInstance().arn("us-east-1", "123456789012"), "local", deque())
    async with client(Target(endpoint_url=URL, region="us-east-1"), "lambda", concurrency=4, retries=False) as lam:
        invoker = FastLambdaInvoker(lam)
        for flow in flows.flows.values():
            for block in flow.blocks.values():
                await invoker.prepare(block.function_arn)
        clock = ScaledClock(1.0)
        path = ContactPath(Pacer(0.0, 0.02), clock, invoker, CoarseTimeouts(), deque(), "local", telemetry,
                           callers.qualifier)
        callers.test_started(options, path, None, None, clock.now(), 1)
        number = 0

        async def invocations(count):
            nonlocal number
            done = 0
            while done < count:
                number += 1
                await callers.contact(number)
                done += callers.ended[-1]["invocations"]
                record.add([finished.row for finished in path.finished])  # as the reporter does
                record.contacts_ended(list(callers.ended))
                path.finished.clear()
                callers.ended.clear()
                telemetry.take_bodies()
            return done

        await invocations(WARM)
        settle_for_load()  # the collector as a Locust run sets it for its test
        print("warm", flush=True)
        sys.stdin.readline()
        counted = await invocations(COUNTED)
        print(f"done {counted}", flush=True)
        sys.stdin.readline()
        await invoker.close()
    record.close()

asyncio.run(main())
"""


def load_path_instructions(url: str, counted: int = COUNTED) -> float:
    """User-space instructions the load path's process runs per invocation, past a warm-up."""
    work = Path(tempfile.mkdtemp(prefix="shiftsim-instructions-"))
    out = work / "callgrind.out"
    driver = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", sys.executable, "-c",
                               DRIVER, url, str(work / "run"), str(WARM), str(counted)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=ENV, cwd=ROOT)
    try:
        if driver.stdout.readline().strip() != "warm":  # type: ignore[union-attr]
            raise RuntimeError(f"the load path did not start under valgrind: {driver.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        subprocess.run(["callgrind_control", "--instr=on", str(driver.pid)], check=True, capture_output=True)
        driver.stdin.write("\n")  # type: ignore[union-attr]
        driver.stdin.flush()  # type: ignore[union-attr]
        said = driver.stdout.readline().split()  # type: ignore[union-attr]
        subprocess.run(["callgrind_control", "--dump", str(driver.pid)], check=True, capture_output=True)
        driver.stdin.write("\n")  # type: ignore[union-attr]
        driver.stdin.flush()  # type: ignore[union-attr]
        driver.wait(300)
    finally:
        if driver.poll() is None:
            driver.kill()
    if not said or said[0] != "done":
        raise RuntimeError("the load path did not finish its counted invocations")
    totals = re.search(r"^summary:\s*(\d+)", out.with_name(out.name + ".1").read_text(), re.M)
    if totals is None:
        raise RuntimeError("no summary in callgrind's dump")
    shutil.rmtree(work, ignore_errors=True)
    return int(totals.group(1)) / int(said[1])


def budgets() -> dict[str, float]:
    found = BUDGET.search(RESULTS.read_text()) if RESULTS.exists() else None
    return json.loads(found.group(1)) if found else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the budgets; exit 1 if over; write nothing")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (Debian package valgrind): nothing counted")
        sys.exit(0 if not args.check else 3)
    with Emulator() as emulator:
        counts = {"load_path": load_path_instructions(emulator.url)}
    counts["emulator"] = instructions_per_invoke(True, 200)
    limits = budgets() if args.check else {k: round(v * HEADROOM) for k, v in counts.items()}
    lines = ["| per invocation (callgrind, user-space instructions) | counted | budget |", "| --- | --- | --- |"]
    over = []
    for name, label in (("load_path", "the load path: contact, Invoke block, fast invoker, hooks, record, flow logs"),
                        ("emulator", "the emulator: a signed Invoke through the front door")):
        limit = limits.get(name)
        lines.append(f"| {label} | {counts[name]:,.0f} | {f'{limit:,.0f}' if limit else '-'} |")
        if limit is not None and counts[name] > limit:
            over.append(f"{name}: {counts[name]:,.0f} instructions per invocation, over its budget of {limit:,.0f}")
    lines += ["", f"Budgets: the counts when they were set, and {100 * (HEADROOM - 1):.0f} % more; "
              "`tests/bench/test_instructions.py` fails past them. Command: `python bench/instructions.py`.",
              f"<!-- budgets: {json.dumps(limits)} -->"]
    report("instructions", "Instructions per invocation (the guard)", lines, write=not args.check)
    if over:
        print("\n".join(over))
        sys.exit(1)


if __name__ == "__main__":
    main()
