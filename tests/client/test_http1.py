"""The lean HTTP/1.1 client against real servers: keep-alive reuse, every way an answer is framed
(Content-Length, chunked, the server's close), malformed answers, servers that vanish, cancellation
and the connection limit."""

import asyncio

import pytest
from aiohttp import web

from simulator.client.http1 import HttpError, Origin
from tests.helpers import served_app

REQUEST = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"


@pytest.fixture
async def aiohttp_server():
    """A real aiohttp server that echoes, answers chunked, or waits forever."""
    connections = set()

    async def echo(request):
        connections.add(request.transport)
        body = await request.read()
        return web.Response(body=body[::-1], headers={"X-Seen": request.headers.get("Host", "")})

    async def chunked(request):
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"one,", b"two,", b"three"):
            await response.write(part)
        await response.write_eof()
        return response

    async def slow(request):
        await asyncio.sleep(2)  # longer than the test waits; short enough not to delay the cleanup
        return web.Response()

    app = web.Application()
    app.router.add_post("/x", echo)
    app.router.add_post("/chunked", chunked)
    app.router.add_post("/slow", slow)
    async with served_app(app) as port:
        yield f"http://127.0.0.1:{port}", connections


async def raw_server(answer: bytes):
    """A server that sends `answer` to whatever arrives, then closes."""

    async def handle(reader, writer):
        await reader.read(65536)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_answers_are_read_and_connections_reused(aiohttp_server):
    url, connections = aiohttp_server
    origin = Origin(url)
    for _ in range(5):
        response = await origin.request(REQUEST)
        assert (response.status, response.body) == (200, b"olleh")
        assert response.headers["x-seen"] == "t"  # names lower-cased
    assert len(connections) == 1  # one keep-alive connection served all five
    origin.close()


async def test_chunked_answers_are_reassembled(aiohttp_server):
    url, _ = aiohttp_server
    origin = Origin(url)
    for _ in range(2):  # and the connection stays usable after a chunked answer
        response = await origin.request(REQUEST.replace(b"/x", b"/chunked"))
        assert response.body == b"one,two,three"
    assert (await origin.request(REQUEST)).body == b"olleh"
    origin.close()


async def test_an_answer_framed_by_the_close_is_read_whole():
    server, url = await raw_server(b"HTTP/1.1 200 OK\r\nX-Amz-Executed-Version: 3\r\n\r\n{\"a\": 1}")
    async with server:
        origin = Origin(url)
        response = await origin.request(REQUEST)
        assert response.body == b'{"a": 1}' and response.headers["x-amz-executed-version"] == "3"
        assert not origin.idle  # not reusable


@pytest.mark.parametrize("answer, message", [
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP"),
    (b"HTTP/1.1 2xx OK\r\n\r\n", "not an HTTP status line"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n", "one has no colon"),
    (b"HTTP/1.1 200 OK\r\n: nameless\r\nContent-Length: 0\r\n\r\n", "or no name"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "closed before a complete answer"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
    (b"", "closed before a complete answer"),
])
async def test_malformed_or_cut_answers_raise_http_errors(answer, message):
    server, url = await raw_server(answer)
    async with server:
        origin = Origin(url)
        with pytest.raises(HttpError, match=message):
            await origin.request(REQUEST)
        assert origin.busy == 0


async def test_header_names_are_lower_cased_values_trimmed_and_repeats_joined():
    server, url = await raw_server(b"HTTP/1.1 200 OK\r\nX-Amz-Executed-Version:\t 7 \r\nVary: a\r\nvary:b\r\n"
                                   b"Content-Length: 2\r\n\r\nok")
    async with server:
        response = await Origin(url).request(REQUEST)
    assert response.status == 200 and response.body == b"ok"
    assert response.headers == {"x-amz-executed-version": "7", "vary": "a, b", "content-length": "2"}


async def test_a_connection_that_received_bytes_unasked_is_not_reused():
    connections = []

    async def handle(reader, writer):  # every answer followed, later, by bytes nobody asked for
        connections.append(writer)
        while await reader.read(65536):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            await asyncio.sleep(0.02)
            writer.write(b"STRAY")

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        origin = Origin(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        for _ in range(3):
            assert (await origin.request(REQUEST)).body == b"ok"
            await asyncio.sleep(0.1)  # the stray bytes reach the idle connection
        assert len(connections) == 3
        for writer in connections:
            writer.close()


async def test_a_refused_connection_is_an_os_error():
    origin = Origin("http://127.0.0.1:9")
    with pytest.raises(OSError):
        await origin.request(REQUEST)
    assert origin.busy == 0


async def test_a_cancelled_request_closes_its_connection_and_frees_its_slot(aiohttp_server):
    url, _ = aiohttp_server
    origin = Origin(url, limit=1)
    task = asyncio.create_task(origin.request(REQUEST.replace(b"/x", b"/slow")))
    await asyncio.sleep(0.2)
    waiting = asyncio.create_task(origin.request(REQUEST))  # queued behind the limit of one
    await asyncio.sleep(0.05)
    assert not waiting.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await asyncio.wait_for(waiting, 5)).body == b"olleh"  # the slot passed on
    assert origin.busy == 0
    origin.close()


async def test_the_limit_bounds_open_connections(aiohttp_server):
    url, connections = aiohttp_server
    origin = Origin(url, limit=3)
    results = await asyncio.gather(*(origin.request(REQUEST) for _ in range(20)))
    assert all(r.body == b"olleh" for r in results)
    assert len(connections) <= 3 and origin.busy == 0
    origin.close()


async def test_warmed_connections_are_open_before_any_request_and_then_reused(aiohttp_server):
    url, connections = aiohttp_server
    origin = Origin(url, limit=8)
    assert await origin.warm(12, at_once=3) == 8  # the limit bounds it, batch after batch
    assert len(origin.idle) == 8 and origin.busy == 0 and not connections  # open, nothing asked yet
    warmed = set(origin.idle)
    results = await asyncio.gather(*(origin.request(REQUEST) for _ in range(8)))
    assert all(r.body == b"olleh" for r in results)
    assert set(origin.idle) == warmed and len(connections) == 8  # all eight served, on those connections
    assert await origin.warm(8) == 0  # already there
    origin.close()


async def test_warming_an_endpoint_that_refuses_opens_nothing_and_frees_its_slots():
    origin = Origin("http://127.0.0.1:9", limit=4)
    assert await origin.warm(4) == 0 and origin.busy == 0 and not origin.idle


def test_only_http_urls_are_accepted():
    with pytest.raises(ValueError, match="not an http"):
        Origin("ftp://example.com")


async def test_https_with_certificate_verification(tmp_path):
    """The TLS path real AWS takes: the name checked against the server's certificate."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    async def echo(request):
        return web.Response(body=(await request.read())[::-1])

    app = web.Application()
    app.router.add_post("/x", echo)
    async with served_app(app, server_context) as port:
        trusted = Origin(f"https://localhost:{port}", ssl_context=ssl.create_default_context(cafile=str(cert)))
        assert (await trusted.request(REQUEST)).body == b"olleh"
        trusted.close()
        untrusted = Origin(f"https://localhost:{port}")  # the system's CAs do not know this certificate
        with pytest.raises(ssl.SSLCertVerificationError):
            await untrusted.request(REQUEST)
