"""The asyncio bridge in a gevent-patched process, as Locust runs it: the loop's own connections."""

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

# Runs in a fresh interpreter: gevent patches first, as Locust does, and the loop module is imported
# after (uvloop then takes gevent's class for `socket.socket`).
_CONNECTIONS = r"""
from gevent import monkey; monkey.patch_all()
import asyncio, json, os, sys
from simulator.client.http1 import Origin
from simulator.loadgen.bridge import AsyncioBridge

bridge = AsyncioBridge(sys.argv[1])
closes = []
factory = bridge.socket_factory
if factory is not None:
    class Tracked(factory):
        def close(self):
            if self.fileno() >= 0:
                try:
                    os.fstat(self.fileno())
                    closes.append("open")
                except OSError:
                    closes.append("already closed by the loop")
            super().close()
    factory = Tracked

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

async def serve(reader, writer):
    while await reader.readuntil(b"\r\n\r\n"):
        writer.write(ANSWER)

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    origin = Origin(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", socket_factory=factory)
    opened = await origin.warm(4)
    answers = [(await origin.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")).body for _ in range(3)]
    origin.close()
    server.close()
    await asyncio.sleep(0.05)  # the transports' closing callbacks
    return opened, answers

opened, answers = bridge.run(main(), timeout=60)
print(json.dumps({"opened": opened, "answers": [a.decode() for a in answers], "closes": closes}))
"""


@pytest.mark.parametrize("kind", ["uvloop", "asyncio"])
def test_the_loops_connections_close_each_descriptor_once(kind):
    """A descriptor closed twice is a race with the hub's thread, which may have been given that
    number meanwhile: its file or socket then closes under it (libev aborts the process on a watched
    one). uvloop closed every connection's descriptor a second time when handed a socket object."""
    done = subprocess.run([sys.executable, "-c", _CONNECTIONS, kind], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["opened"] == 4 and seen["answers"] == ["ok"] * 3
    assert "already closed by the loop" not in seen["closes"], seen["closes"]
