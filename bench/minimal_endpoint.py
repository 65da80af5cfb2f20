"""A minimal local Invoke endpoint for the scaling benchmark: Invoke gets a canned answer (version 1,
`{"version":"1"}`) from a bare asyncio protocol, every other request (GetAlias, DescribeAlarms, the
emulator's clock) is passed to a real emulator. It costs a fraction of the emulator's CPU per request,
so on a two-core machine the load generator, not the endpoint, is what fills the cores.

    python bench/minimal_endpoint.py --upstream http://127.0.0.1:PORT    # prints "listening on URL"
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from simulator.client.event_loops import default_kind, run  # noqa: E402
from simulator.client.http1 import HttpError, Origin  # noqa: E402

CANNED_BODY = b'{"version":"1"}'
CANNED = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: minimal\r\n"
          b"X-Amz-Executed-Version: 1\r\nContent-Length: %d\r\n\r\n%s" % (len(CANNED_BODY), CANNED_BODY))
BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"


class _Connection(asyncio.Protocol):
    def __init__(self, upstream: Origin) -> None:
        self.upstream = upstream
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.forwarding: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.forwarding is None:
            self._answer()

    def _answer(self) -> None:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            marker = head.lower().find(b"\r\ncontent-length:")
            if marker >= 0:
                stop = head.find(b"\r\n", marker + 2)
                length = int(head[marker + 17:stop if stop > 0 else None])
            if len(self.buffer) < end + 4 + length:
                return
            request, self.buffer = self.buffer[:end + 4 + length], self.buffer[end + 4 + length:]
            if head.split(b" ", 2)[1].endswith(b"/invocations"):
                self.transport.write(CANNED)
            else:  # rare (polls): answered in order before anything after it on this connection
                self.forwarding = asyncio.ensure_future(self._forward(request))
                return

    async def _forward(self, request: bytes) -> None:
        try:
            response = await self.upstream.request(request)
        except HttpError:
            self.transport.write(BAD_GATEWAY)
        else:
            headers = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in response.headers.items()
                               if k not in ("content-length", "transfer-encoding", "connection"))
            self.transport.write(b"HTTP/1.1 %d -\r\n%sContent-Length: %d\r\n\r\n%s"
                                 % (response.status, headers, len(response.body), response.body))
        self.forwarding = None
        self._answer()


async def serve(upstream_url: str, port: int) -> None:
    upstream = Origin(upstream_url, limit=8)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(upstream), "127.0.0.1", port, backlog=1024)
    print(f"listening on http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="the emulator's URL, for everything but Invoke")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    run(serve(args.upstream, args.port), default_kind())


if __name__ == "__main__":
    main()
