"""Requests per second the emulator serves for Invoke, side by side with a hello-world aiohttp server,
each alone on one core, loaded by wrk from the other core (target: the emulator >= 50 %). Then the
instructions the emulator's process executes per Invoke, counted by valgrind's callgrind (the same
count on a busy or a quiet machine), with its front door and with aiohttp serving everything, for
an Invoke signed as botocore signs it (a head of about a kilobyte), one at a time on one connection.

    python bench/emulator.py            # 10 s each, 2,000 counted Invokes; rewrites its section of bench/RESULTS.md
    python bench/emulator.py --smoke    # 2 s each, no instruction count (the guard's test has it); prints only (CI); needs wrk
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ENV, LOAD_CORE, ROOT, SERVER_CORE, Emulator, pinned, report  # noqa: E402
from simulator.client.event_loops import default_kind  # noqa: E402

HELLO = """
import sys
from aiohttp import web
from simulator.client.event_loops import default_kind, loop_class
async def hello(request):
    await request.read()
    return web.json_response({"version": "1"})
app = web.Application()
app.router.add_post("/{tail:.*}", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, loop=loop_class(default_kind())(),
            print=lambda *a: print("ready", flush=True))
"""
# An emulator whose front door is on (argv[2] == "door") or off, on a given port (argv[1]).
SERVE = """
import asyncio, sys
from simulator.emulator.server import Emulator, EmulatorServer
async def main():
    server = EmulatorServer(Emulator(), port=int(sys.argv[1]), front_door=sys.argv[2] == "door")
    await server.start()
    print("listening", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
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


def signed_invoke() -> bytes:
    """An Invoke of the alias with the headers and sizes botocore sends (the signature's values made up)."""
    body = (b'{"Details": {"ContactData": {"ContactId": "6f1c2d3e", "Channel": "VOICE", "Attributes": {}}, '
            b'"Parameters": {}}, "Name": "ContactFlowEvent"}')
    headers = [
        "Host: 127.0.0.1", "Accept-Encoding: identity", "X-Amz-Invocation-Type: RequestResponse",
        "X-Amz-Log-Type: None", "User-Agent: aiobotocore/3.10.0 md/Botocore#1.43.117 ua/2.1 os/linux#6.18.44 "
        "md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/Z,b,D cfg/retry-mode#legacy Botocore/1.43.117",
        "X-Amz-Date: 20261201T111031Z", "X-Amz-Content-SHA256: " + "2b7e1f2d" * 8,
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261201/us-east-1/lambda/aws4_request, "
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-invocation-type;x-amz-log-type, "
        "Signature=" + "4f0c1e2d" * 8,
        "amz-sdk-invocation-id: 6f1c2d3e-4b5a-6978-8796-a5b4c3d2e1f0", "amz-sdk-request: attempt=1",
        f"Content-Length: {len(body)}"]
    return f"POST {PATH} HTTP/1.1\r\n".encode() + "".join(f"{h}\r\n" for h in headers).encode() + b"\r\n" + body


def invoke_one_at_a_time(port: int, count: int) -> None:
    request = signed_invoke()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        for _ in range(count):
            connection.sendall(request)
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += connection.recv(65536)
            head, _, body = answer.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"the emulator answered {head[:200]!r}")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            while len(body) < length:
                body += connection.recv(65536)


def instructions_per_invoke(front_door: bool, count: int) -> float:
    """User-space instructions the emulator's process runs per Invoke, past a warm-up, by callgrind."""
    out = Path(tempfile.mkdtemp()) / "callgrind.out"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", sys.executable, "-c",
                               SERVE, str(port), "door" if front_door else "aiohttp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENV, cwd=ROOT)
    try:
        if server.stdout.readline().strip() != "listening":
            raise RuntimeError("the emulator did not start under valgrind")
        invoke_one_at_a_time(port, 100)  # warm: imports, caches, the first draws
        subprocess.run(["callgrind_control", "--instr=on", str(server.pid)], check=True, capture_output=True)
        invoke_one_at_a_time(port, count)
        subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True, capture_output=True)
    finally:
        server.terminate()
        server.wait(60)
    counted = out.with_name(out.name + ".1")  # the dump asked for (the one at exit is `out` itself)
    totals = re.search(r"^summary:\s*(\d+)", counted.read_text(), re.M)
    if totals is None:
        raise RuntimeError(f"no summary in {counted}")
    return int(totals.group(1)) / count


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
    if args.smoke:  # the count itself runs in the suite as the guard's (bench/instructions.py)
        lines += ["", "instructions per Invoke: counted by `python bench/emulator.py` and by the guard, "
                  "`python bench/instructions.py`"]
    elif shutil.which("valgrind") and shutil.which("callgrind_control"):
        count = 2000
        routed, door = (instructions_per_invoke(front_door, count) for front_door in (False, True))
        lines += ["", "| the emulator's process, per Invoke (callgrind; a signed Invoke, one at a time) "
                  "| user-space instructions |", "| --- | --- |",
                  f"| aiohttp serving everything (its router; the baseline) | {routed:,.0f} |",
                  f"| the front door (Invoke on its own protocol, the rest handed to aiohttp) | {door:,.0f} |", "",
                  f"front door / aiohttp: **{100 * door / routed:.0f} %** of the instructions ({count:,} Invokes "
                  "counted after 100 to warm up; the kernel's share, the socket calls, is not counted). "
                  "The count is the same however busy the machine is; wrk's figure above also "
                  "shows what answering many connections at once saves (reads and writes in batches)."]
    else:
        lines += ["", "valgrind is not installed (Debian package valgrind): instructions per Invoke not counted."]
    report("emulator", "Emulator", lines, write=not args.smoke)


if __name__ == "__main__":
    main()
