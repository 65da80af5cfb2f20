"""A lean HTTP/1.1 client for one origin, for the fast Invoke path: keep-alive connections on asyncio
protocols, a request written as one buffer, the response framed by Content-Length, chunked encoding
or the connection's close. It does nothing else (no cookies, redirects, proxies, compression or
tracing), which is what makes it several times cheaper per request than a general client.

Errors on the wire (refused, reset, closed before the answer, a malformed answer) raise
`HttpError`; a cancelled request closes its connection, whose answer can no longer be read, and a
connection that received bytes while idle is out of step and never reused.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024
DNS_TTL_S = 300.0


class HttpError(OSError):
    """The request got no well-formed answer."""


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body  # header names lower-cased


_HEADER_LINES_KEPT = 512
# Headers whose value is one answer's own: their lines are parsed each time, never kept
_PER_ANSWER = frozenset({"x-amzn-requestid", "x-amz-request-id", "x-amzn-trace-id", "x-amz-id-2", "x-amz-log-result"})


class _HeaderLines(dict[str, tuple[str, str]]):
    """Header lines seen before, parsed, (name lower-cased, value) by line: an endpoint sends mostly
    the same lines answer after answer. A line not seen before is parsed as it is looked up (the
    dict's lookup calls `__missing__`) and kept, unless its value is one answer's own; bounded:
    cleared when full, whatever the lines."""

    def __missing__(self, line: str) -> tuple[str, str]:
        name, colon, value = line.partition(":")
        key = name.strip().lower()
        if not colon or not key:
            raise HttpError(f"malformed header line (one has no colon, or no name): {line[:80]!r}")
        parsed = (key, value.strip(" \t"))
        if key not in _PER_ANSWER:
            if len(self) >= _HEADER_LINES_KEPT:
                self.clear()
            self[line] = parsed
        return parsed


_HEADER_LINES = _HeaderLines()


def _headers(lines: list[str]) -> dict[str, str]:
    """Header lines as a dict (names lower-cased); a name given twice has its values joined by ", "."""
    headers: dict[str, str] = {}
    parse = _HEADER_LINES.__getitem__
    for line in lines:
        key, value = parse(line)
        if key in headers:
            headers[key] = f"{headers[key]}, {value}"
        else:
            headers[key] = value
    return headers


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight (`waiter` is set while it is)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # its own, kept: asking costs a getpid() each time on 3.11
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Response] | None = None
        self.open = False
        self.reusable = False
        self._head: tuple[int, dict[str, str]] | None = None
        self._length: int | None = None  # body bytes expected, None: chunked or until close
        self._chunked = False

    # ---- asyncio.Protocol ----
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()
        self.open = True

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None:
            self._parse()

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost settles the waiter

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.waiter is None:
            return
        if self._head is not None and self._length is None and not self._chunked:
            self._finish(bytes(self.buffer))  # framed by the close
        else:
            self._fail(HttpError(f"connection closed before a complete answer ({exc or 'EOF'})"))

    # ---- one exchange ----
    @property
    def usable(self) -> bool:
        """Open, and nothing arrived unasked since the last answer (else it is out of step)."""
        return self.open and not self.buffer

    def send(self, request: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None and self.loop is not None and self.waiter is None
        waiter = self.waiter = self.loop.create_future()
        self._head, self._length, self._chunked, self.reusable = None, None, False, False
        self.transport.write(request)
        return waiter

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()

    def _parse(self) -> None:
        try:
            if self._head is None and not self._parse_head():
                return
            if self._chunked:
                self._parse_chunks()
            elif self._length is not None and len(self.buffer) >= self._length:
                body = bytes(self.buffer[: self._length])
                del self.buffer[: self._length]
                self._finish(body)
        except HttpError as exc:
            self.close()
            self._fail(exc)

    def _parse_head(self) -> bool:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                raise HttpError("answer headers over 64 KiB")
            return False
        status_line, *lines = buffer[:end].decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        version, _, rest = status_line.partition(" ")
        try:
            status = int(rest[:3])
        except ValueError:
            raise HttpError(f"not an HTTP status line: {status_line[:80]!r}") from None
        if not version.startswith("HTTP/1."):
            raise HttpError(f"not an HTTP/1.x answer: {status_line[:80]!r}")
        headers = dict(map(_HEADER_LINES.__getitem__, lines))  # one pass in C over lines mostly seen before
        if len(headers) < len(lines):  # a name given twice: its values joined
            headers = _headers(lines)
        self._head = (status, headers)
        connection = headers.get("connection")  # (most answers: none, and HTTP/1.1 keeps the connection)
        if connection is None:
            self.reusable = version == "HTTP/1.1"
        else:
            connection = connection.lower()
            self.reusable = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        encoding, length = headers.get("transfer-encoding"), headers.get("content-length")
        if status in (204, 304) or 100 <= status < 200:
            self._length = 0
        elif encoding is not None and "chunked" in encoding.lower():
            self._chunked = True
        elif length is not None:
            try:
                self._length = int(length)
            except ValueError:
                raise HttpError(f"bad Content-Length {length!r}") from None
        else:
            self.reusable = False  # the body ends when the server closes
        return True

    def _parse_chunks(self) -> None:
        body = bytearray()
        at = 0
        buffer = self.buffer
        while True:
            line_end = buffer.find(b"\r\n", at)
            if line_end < 0:
                return
            try:
                size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
            except ValueError:
                raise HttpError("malformed chunk size") from None
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    return
                del buffer[: trailer_end + 4]
                self._finish(bytes(body))
                return
            if len(buffer) < line_end + 2 + size + 2:
                return
            body += buffer[line_end + 2: line_end + 2 + size]
            at = line_end + 2 + size + 2

    def _finish(self, body: bytes) -> None:
        assert self._head is not None and self.waiter is not None
        waiter, self.waiter = self.waiter, None
        if not waiter.done():  # a cancelled request's waiter is done already
            waiter.set_result(Response(*self._head, body))

    def _fail(self, error: HttpError) -> None:
        assert self.waiter is not None
        waiter, self.waiter = self.waiter, None
        if not waiter.done():
            waiter.set_exception(error)


class Origin:
    """Keep-alive connections to one scheme://host:port, at most `limit` open at once."""

    def __init__(self, url: str, limit: int = 512, ssl_context: ssl.SSLContext | None = None,
                 socket_factory: Callable[..., Any] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.ssl_context = ssl_context or (ssl.create_default_context() if self.tls else None)
        self.limit = limit
        # None: the loop makes each socket itself. Under gevent the standard loop would make gevent's
        # (meant for the hub), so the load generator passes the original class for that loop.
        self.socket_factory = socket_factory
        self._addresses: list[Any] = []
        self._resolved_at = 0.0
        self.idle: list[_Connection] = []
        self.busy = 0
        self.queue: collections.deque[asyncio.Future[None]] = collections.deque()

    async def request(self, request: bytes) -> Response:
        """Send one complete request (head and body) and return the answer."""
        idle = self.idle
        connection = idle[-1] if idle else None
        if connection is not None and connection.open and not connection.buffer:  # (usable) the common case
            idle.pop()
            self.busy += 1
        else:
            connection = self._claim_idle() or await self._acquire()
        try:
            response = await connection.send(request)
        except BaseException:
            connection.close()  # a cancelled or failed exchange leaves the connection out of step
            self._release(None)
            raise
        if connection.reusable and connection.open and not connection.buffer:  # (usable)
            if self.queue:
                self._release(connection)
            else:  # (_release, with no request waiting for a slot)
                idle.append(connection)
                self.busy -= 1
        else:
            connection.close()
            self._release(None)
        return response

    async def warm(self, count: int, at_once: int = 32) -> int:
        """Open connections now, up to `count` in all (idle ones included) and the limit, and leave them
        idle, so that a load's first requests do not pay for connecting (nor, against AWS, for TLS
        handshakes). `at_once` at a time: a server's accept backlog drops a burst of connects, which
        then wait a second to retry. Returns how many were opened; a failure is left for the first
        request to report."""
        wanted = min(count, self.limit) - len(self.idle) - self.busy
        opened = 0
        while wanted > 0:
            batch = min(wanted, at_once)
            self.busy += batch  # their slots, while they connect
            results = await asyncio.gather(*(self._connect() for _ in range(batch)), return_exceptions=True)
            for result in results:
                self._release(result if isinstance(result, _Connection) else None)
            made = sum(isinstance(r, _Connection) for r in results)
            opened += made
            if made < batch:
                break
            wanted -= batch
        return opened

    def _take_idle(self) -> _Connection | None:
        while self.idle:
            connection = self.idle.pop()
            if connection.usable:
                return connection
            connection.close()
        return None

    def _claim_idle(self) -> _Connection | None:
        """An idle connection, counted busy; None when none is idle."""
        idle = self._take_idle()
        if idle is not None:
            self.busy += 1
        return idle

    async def _acquire(self) -> _Connection:
        """A connection when none was idle: a new one, once a slot under the limit is free (a slot
        released may come with an idle connection)."""
        if self.busy >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self.queue.append(waiter)
            try:
                await waiter  # a released slot: it may come with an idle connection
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release(None)  # the slot was handed over just before the cancel: pass it on
                raise
            idle = self._take_idle()
            if idle is not None:
                return idle
        else:
            self.busy += 1
        try:
            return await self._connect()
        except BaseException:
            self._release(None)
            raise

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        if not self._addresses or time.monotonic() - self._resolved_at > DNS_TTL_S:
            self._addresses = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            self._resolved_at = time.monotonic()
        error: OSError = HttpError(f"{self.host} has no address")
        for family, kind, proto, _, address in self._addresses:
            try:
                return await self._open(loop, family, kind, proto, address)
            except OSError as exc:
                error = exc
        raise error

    async def _open(self, loop: asyncio.AbstractEventLoop, family: int, kind: int, proto: int,
                    address: tuple[Any, ...]) -> _Connection:
        hostname = self.host if self.tls else None
        if self.socket_factory is None:
            _, connection = await loop.create_connection(_Connection, str(address[0]), int(address[1]), family=family,
                                                          proto=proto, ssl=self.ssl_context, server_hostname=hostname)
            return connection
        sock = self.socket_factory(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
            _, connection = await loop.create_connection(_Connection, sock=sock, ssl=self.ssl_context,
                                                          server_hostname=hostname)
            return connection
        except BaseException:
            sock.close()
            raise

    def _release(self, connection: _Connection | None) -> None:
        if connection is not None:
            self.idle.append(connection)
        while self.queue:
            waiter = self.queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the waiter: busy stays counted
                return
        self.busy -= 1

    def close(self) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()
