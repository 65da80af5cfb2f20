"""The emulator's listening socket: a lean HTTP/1.1 protocol that answers the one request a load
sends thousands of times a second (Invoke) itself, and hands every other connection to aiohttp.

Per request, aiohttp's server (its parser's objects, `web.Request`, `web.Response`, the writer) costs
about as much as everything else an Invoke does: served here, the emulator's process runs 58 % of
the instructions (bench/emulator.py). A request's head is checked in a few passes in C and the
answer written as one buffer. Only a plain request is taken: `POST` of a fast route's path, in
HTTP/1.1 kept alive, every header well formed, none of `Expect`, `Transfer-Encoding`, `Connection`
or `Upgrade`, one `Content-Length` at most, a body under `FAST_BODY_LIMIT`. At the first request
that is anything else, the connection, with every byte not yet answered, is handed to aiohttp's own
protocol for good: aiohttp answers the rest as it would have answered all of it (its routes, its
400s and 413s). Requests on a connection are answered one at a time, in order.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import re
import time
from typing import Any, Protocol

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE

log = logging.getLogger("shiftsim.emulator")

Answer = tuple[int, dict[str, str], bytes]  # status, headers, body
FAST_BODY_LIMIT = 1024 * 1024  # larger bodies go aiohttp's way (its size limit and 413)
MAX_HEAD = 16 * 1024  # a head not ended by then goes aiohttp's way (its limits and 400s)
KEEPALIVE_TIMEOUT_S = 75.0  # an idle connection is closed after this long, as aiohttp's server does
REQUEST_TIMEOUT_S = 60.0  # a request not whole by then is dropped (nginx's client header/body timeouts)

_REQUEST_LINE = re.compile(rb"POST (/[!-~]*) HTTP/1\.1\r\n")
# Every header a name (a token), a colon and a value up to CR LF; the head ended by an empty line.
_FIELDS = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r]*\r\n)*\r\n")
_VALUE_BYTES = bytes([9, 13, *range(0x20, 0x7F), *range(0x80, 0x100)])  # no other control byte
_BODYLESS = {204, 304}
# The headers a fast route is given (lower-cased, the first of a repeated name, as aiohttp's `get`).
FAST_HEADERS = ("content-length", "x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context",
                "host", "origin", "x-shiftsim-weight", "authorization")
_NOT_FAST = (b"expect", b"transfer-encoding", b"connection", b"upgrade")
_NAMED = re.compile(b"\r\n(" + b"|".join(name.encode() for name in FAST_HEADERS) + b"|"
                    + b"|".join(_NOT_FAST) + b"):")


def plain_head(buffer: bytearray, end: int) -> tuple[str, dict[str, str]] | None:
    """The target and the `FAST_HEADERS` present of a plain request whose head ends at `end` (its
    empty line included), or None for anything else. Scans the head a few times in C, never a
    header at a time in Python: a signed Invoke's head is about a kilobyte."""
    line = _REQUEST_LINE.match(buffer, 0, end)
    if line is None or _FIELDS.fullmatch(buffer, line.end(), end) is None:
        return None
    block = bytes(buffer[line.end() - 2:end])  # from the request line's CR LF, so each name follows one
    rest = block.translate(None, _VALUE_BYTES)  # every byte a value may not hold, and the LFs
    if len(rest) != block.count(b"\r") or rest.count(b"\n") != len(rest):
        return None  # a control byte, or an LF without its CR
    headers: dict[str, str] = {}
    for named in _NAMED.finditer(block.lower()):
        name = named[1].decode()
        if name in headers:
            if name == "content-length":
                return None  # repeated: aiohttp's rules for that
            continue
        if named[1] in _NOT_FAST:
            return None
        at = named.end()
        headers[name] = block[at:block.index(b"\r\n", at)].strip(b" \t").decode("utf-8", "surrogateescape")
    return line[1].decode(), headers


class FastRoute(Protocol):
    def takes(self, target: str) -> str | None:
        """A key for a request target (path and query, as sent) this route answers, else None."""

    async def answer(self, key: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        """The answer; `headers` holds those of `FAST_HEADERS` the request has."""


class _Date:
    """The Date header's value, made once a second."""

    def __init__(self) -> None:
        self.second, self.value = -1, ""

    def now(self) -> str:
        second = int(time.time())
        if second != self.second:
            self.second, self.value = second, email.utils.formatdate(second, usegmt=True)
        return self.value


_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in http.HTTPStatus}


def render(answer: Answer, date: str) -> bytes:
    """An answer as HTTP/1.1 bytes, with the framing and general headers aiohttp would add."""
    status, headers, body = answer
    parts = [_STATUS_LINES.get(status) or f"HTTP/1.1 {status} -\r\n"]
    parts.extend(f"{name}: {value}\r\n" for name, value in headers.items())
    if status in _BODYLESS:
        body = b""
    else:
        parts.append(f"Content-Length: {len(body)}\r\n")
    parts.append(f"Date: {date}\r\nServer: {SERVER_SOFTWARE}\r\n\r\n")
    return "".join(parts).encode() + body


class FrontDoor:
    """Makes the protocol of each accepted connection; `close()` ends those it still holds."""

    def __init__(self, route: FastRoute, fallback: web.Server, *,
                 keepalive_timeout: float = KEEPALIVE_TIMEOUT_S, request_timeout: float = REQUEST_TIMEOUT_S,
                 max_connections: int | None = None) -> None:
        self.route, self.fallback = route, fallback
        self.connections: set[_Connection] = set()
        self.date = _Date()
        self.answered = self.handed_over = 0  # requests answered here; connections given to aiohttp
        self.refused = self.dropped = 0  # connections over the limit; requests not whole in time
        self.keepalive_timeout, self.request_timeout = keepalive_timeout, request_timeout
        self.max_connections = max_connections or _connection_limit()
        self._sweep: asyncio.TimerHandle | None = None

    def watch_idle(self) -> None:
        """Start the sweep that closes idle and stalled connections, if it is not running (one
        timer for all)."""
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(self._sweep_every(), self._sweep_idle)

    def _sweep_every(self) -> float:
        return min(self.keepalive_timeout, self.request_timeout) / 4

    def _sweep_idle(self) -> None:
        loop = asyncio.get_running_loop()
        idle_cutoff = loop.time() - self.keepalive_timeout
        stalled_cutoff = loop.time() - self.request_timeout
        for connection in list(self.connections):
            if connection.idle_since is not None and connection.idle_since < idle_cutoff:
                connection.close()
            elif connection.waiting_since is not None and connection.waiting_since < stalled_cutoff:
                self.dropped += 1
                connection.close()
        self._sweep = loop.call_later(self._sweep_every(), self._sweep_idle)

    def __call__(self) -> asyncio.Protocol:
        return _Connection(self)

    def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for connection in list(self.connections):
            connection.close()


def _connection_limit() -> int:
    """As many connections as the process's descriptors allow, less a reserve for everything else."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(64, (soft if soft != resource.RLIM_INFINITY else 65536) - 256)


class _Connection(asyncio.Protocol):
    """One client connection, until it is handed to aiohttp (if ever)."""

    def __init__(self, door: FrontDoor) -> None:
        self.door = door
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy: asyncio.Task[None] | None = None  # the request being answered
        self.eof = False
        self.paused = False
        self.idle_since: float | None = None  # loop time since when nothing is asked or answered
        self.waiting_since: float | None = None  # loop time since when a request is not yet whole

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if len(self.door.connections) >= self.door.max_connections:
            self.door.refused += 1
            transport.close()
            return
        self.door.connections.add(self)
        self.idle_since = asyncio.get_running_loop().time()
        self.door.watch_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.door.connections.discard(self)
        self.transport = None  # an answer still being made is dropped, as aiohttp drops it

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.idle_since = None
        if self.busy is None:
            self._next()
        elif len(self.buffer) > MAX_HEAD + FAST_BODY_LIMIT and not self.paused:
            self.paused = True  # a client sending ahead of its answers: hold it until they are out
            self.transport.pause_reading()  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        self.eof = True
        if self.busy is None:
            return False  # nothing being answered, and a part of a request never will be: close
        return True  # half-closed: the answers in hand are still written

    def close(self) -> None:
        if self.busy is not None:
            self.busy.cancel()
        if self.transport is not None:
            self.transport.close()

    def _next(self) -> None:
        """Answer the next whole request in the buffer, or hand the connection over."""
        buffer = self.buffer
        if not buffer:
            if self.eof and self.transport is not None:
                self.transport.close()
            self.idle_since, self.waiting_since = asyncio.get_running_loop().time(), None
            return
        if self.waiting_since is None:
            self.waiting_since = asyncio.get_running_loop().time()
        end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD)
        if end < 0:
            if len(buffer) >= MAX_HEAD or self.eof:
                self._hand_over()
            return
        plain = plain_head(buffer, end + 4)
        key = plain and self.door.route.takes(plain[0])
        if not key:
            return self._hand_over()
        target, headers = plain  # type: ignore[misc]
        length = headers.get("content-length", "0")
        if not (length.isascii() and length.isdigit()) or int(length) > FAST_BODY_LIMIT:
            return self._hand_over()
        start = end + 4
        stop = start + int(length)
        if len(buffer) < stop:
            if self.eof:
                self._hand_over()
            return
        body = bytes(buffer[start:stop])
        del buffer[:stop]
        self.waiting_since = None
        self.busy = asyncio.ensure_future(self._answer(key, target, headers, body))  # type: ignore[arg-type]

    async def _answer(self, key: str, target: str, headers: dict[str, str], body: bytes) -> None:
        try:
            answer = await self.door.route.answer(key, target, headers, body)
        except Exception:  # the route answers AWS's errors itself: this is a bug of the emulator's
            log.exception("emulator failure on POST %s", target)
            self.close()
            return
        finally:
            self.busy = None
        transport = self.transport
        if transport is None:
            return
        transport.write(render(answer, self.door.date.now()))
        self.door.answered += 1
        if self.paused:
            self.paused = False
            transport.resume_reading()
        self._next()

    def _hand_over(self) -> None:
        """From this request on, the connection is aiohttp's."""
        transport = self.transport
        if transport is None:
            return
        self.door.connections.discard(self)
        self.door.handed_over += 1
        handler = _HalfClosable(self.door.fallback())
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if self.paused:
            transport.resume_reading()
        if self.buffer:
            handler.data_received(bytes(self.buffer))
        if self.eof:
            handler.eof_received()
        self.transport, self.buffer = None, bytearray()


class _HalfClosable(asyncio.Protocol):
    """aiohttp's protocol, with a client's end of input (a half-close: `shutdown(SHUT_WR)` after its
    request) taken as "answer what you have, then close", where aiohttp's own closes at once and the
    request goes unanswered."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.handler.data_received(data)

    def eof_received(self) -> bool:
        self.handler.close()  # aiohttp's graceful close: after the requests it has read are answered
        return True  # keep the transport open to write those answers

    def connection_lost(self, exc: Exception | None) -> None:
        self.handler.connection_lost(exc)

    def pause_writing(self) -> None:
        self.handler.pause_writing()

    def resume_writing(self) -> None:
        self.handler.resume_writing()
