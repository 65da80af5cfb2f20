"""Requests per second the emulator serves for Invoke, side by side with a hello-world aiohttp server,
each alone on one core, loaded by wrk from the other core (target: the emulator >= 50 %).

    python bench/emulator.py            # 10 s each, rewrites its section of bench/RESULTS.md
    python bench/emulator.py --smoke    # 2 s each, prints only (CI); needs wrk (Debian package)
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ENV, LOAD_CORE, ROOT, SERVER_CORE, Emulator, pinned, report  # noqa: E402
from simulator.event_loops import default_kind  # noqa: E402

HELLO = """
import sys
from aiohttp import web
from simulator.event_loops import default_kind, loop_class
async def hello(request):
    await request.read()
    return web.json_response({"version": "1"})
app = web.Application()
app.router.add_post("/{tail:.*}", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, loop=loop_class(default_kind())(),
            print=lambda *a: print("ready", flush=True))
"""
PATH = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3AConnectLambdaFunction%3APROD/invocations"


def wrk(url: str, seconds: int, connections: int = 64) -> float:
    script = Path(tempfile.mkdtemp()) / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.body = \'{"Name": "ContactFlowEvent"}\'\n')
    out = subprocess.run([*pinned(LOAD_CORE), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script),
                          url + PATH], capture_output=True, text=True, timeout=seconds + 60).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"wrk said: {out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"wrk saw {non2xx.group(1)} error responses: {out}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package wrk): skipped")
        return
    seconds = 2 if args.smoke else args.seconds
    port = "18765"
    hello = subprocess.Popen([*pinned(SERVER_CORE), sys.executable, "-c", HELLO, port], stdout=subprocess.PIPE,
                             text=True, env=ENV, cwd=ROOT)
    try:
        hello.stdout.readline()
        baseline = wrk(f"http://127.0.0.1:{port}", seconds)
    finally:
        hello.terminate()
        hello.wait(10)
    with Emulator() as emulator:
        ours = wrk(emulator.url, seconds)
    lines = ["| server (one core, wrk on the other, 64 connections) | requests/s |", "| --- | --- |",
             f"| hello-world aiohttp (baseline), on the emulator's loop ({default_kind()}) | {baseline:,.0f} |",
             f"| emulator: Invoke of ConnectLambdaFunction:PROD (routing, metrics, handler) | {ours:,.0f} |", "",
             f"emulator / hello world: **{100 * ours / baseline:.0f} %** (target >= 50 %). "
             f"Command: `python bench/emulator.py` ({seconds} s each)."]
    report("emulator", "Emulator", lines, write=not args.smoke)


if __name__ == "__main__":
    main()
