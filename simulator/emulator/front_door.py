"""The emulator's listening socket: a lean HTTP/1.1 protocol that answers the one request a load
sends thousands of times a second (Invoke) itself, and hands every other connection to aiohttp.

Per request, aiohttp's server (its parser's objects, `web.Request`, `web.Response`, the writer) costs
several times what the emulated Lambda does. Here a request is framed by two regular expressions and
its answer written as one buffer. Only a plain request is taken: `POST` of a fast route's path, in
HTTP/1.1 kept alive, every header well formed and none of `Expect`, `Transfer-Encoding`,
`Connection` or `Upgrade`, a body under `FAST_BODY_LIMIT`. At the first request that is anything
else, the connection, with every byte not yet answered, is handed to aiohttp's own protocol for
good: aiohttp answers the rest as it would have answered all of it (its routes, its 400s and 413s).
Requests on a connection are answered one at a time, in order.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import re
import time
from typing import Protocol

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE

log = logging.getLogger("shiftsim.emulator")

Answer = tuple[int, dict[str, str], bytes]  # status, headers, body
FAST_BODY_LIMIT = 1024 * 1024  # larger bodies go aiohttp's way (its size limit and 413)
MAX_HEAD = 16 * 1024  # a head not ended by then goes aiohttp's way (its limits and 400s)

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_VALUE = rb"[^\x00-\x08\x0a-\x1f\x7f]*"
_HEAD = re.compile(rb"POST (/[!-~]*) HTTP/1\.1\r\n((?:" + _TOKEN + rb":" + _VALUE + rb"\r\n)*)\r\n")
_FIELD = re.compile(rb"(" + _TOKEN + rb"):[ \t]*(" + _VALUE + rb"?)[ \t]*\r\n")
_NOT_FAST = ("expect", "transfer-encoding", "connection", "upgrade")
_BODYLESS = {204, 304}


class FastRoute(Protocol):
    def takes(self, target: str) -> str | None:
        """A key for a request target (path and query, as sent) this route answers, else None."""

    async def answer(self, key: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        """The answer (headers: names lower-cased, the first of a repeated name)."""


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

    def __init__(self, route: FastRoute, fallback: web.Server) -> None:
        self.route, self.fallback = route, fallback
        self.connections: set[_Connection] = set()
        self.date = _Date()
        self.answered = self.handed_over = 0  # requests answered here; connections given to aiohttp

    def __call__(self) -> asyncio.Protocol:
        return _Connection(self)

    def close(self) -> None:
        for connection in list(self.connections):
            connection.close()


class _Connection(asyncio.Protocol):
    """One client connection, until it is handed to aiohttp (if ever)."""

    def __init__(self, door: FrontDoor) -> None:
        self.door = door
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy: asyncio.Task[None] | None = None  # the request being answered
        self.eof = False
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.door.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.door.connections.discard(self)
        self.transport = None  # an answer still being made is dropped, as aiohttp drops it

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.busy is None:
            self._next()
        elif len(self.buffer) > MAX_HEAD + FAST_BODY_LIMIT and not self.paused:
            self.paused = True  # a client sending ahead of its answers: hold it until they are out
            self.transport.pause_reading()  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        self.eof = True
        if self.busy is None and not self.buffer:
            return False  # nothing left to answer: the transport closes
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
            return
        end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD)
        if end < 0:
            if len(buffer) >= MAX_HEAD or self.eof:
                self._hand_over()
            return
        head = _HEAD.fullmatch(buffer, 0, end + 4)
        target = head and head[1].decode()
        key = target and self.door.route.takes(target)
        if not key:
            return self._hand_over()
        fields = _FIELD.findall(head[2])  # type: ignore[index]
        headers = {name.lower().decode(): value.decode("utf-8", "surrogateescape")
                   for name, value in reversed(fields)}
        length = headers.get("content-length", "0")
        if (len(headers) != len(fields) or not (length.isascii() and length.isdigit())
                or int(length) > FAST_BODY_LIMIT or any(name in headers for name in _NOT_FAST)):
            return self._hand_over()  # a repeated name (its first value is not enough) or not plain
        start = end + 4
        stop = start + int(length)
        if len(buffer) < stop:
            if self.eof:
                self._hand_over()
            return
        body = bytes(buffer[start:stop])
        del buffer[:stop]
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
        handler = self.door.fallback()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if self.paused:
            transport.resume_reading()
        if self.buffer:
            handler.data_received(bytes(self.buffer))
        if self.eof:  # aiohttp's protocol closes at the end of input, whatever is unanswered
            handler.eof_received()
            transport.close()
        self.transport, self.buffer = None, bytearray()
