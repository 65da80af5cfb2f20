"""The lean HTTP/1.1 client's answer parser against h11's (a well-kept library), on answers
hypothesis makes: any status, header names in any case, spaces and tabs around values, repeated names,
a body framed by Content-Length or chunked in any sizes, the bytes arriving in any pieces. Both read
the same status, headers (repeats joined with ", ", as a dict of them has it) and body."""

import asyncio
import string

import h11
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.client.http1 import _HEADER_LINES, _HEADER_LINES_KEPT, _Connection

NAME = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=16).filter(
    lambda n: n.lower() not in ("content-length", "transfer-encoding", "connection"))
VALUE = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30)
SPACE = st.sampled_from(["", " ", "  ", "\t", " \t"])


@st.composite
def answers(draw):
    status = draw(st.integers(min_value=200, max_value=599).filter(lambda s: s not in (204, 304)))
    fields = draw(st.lists(st.tuples(NAME, SPACE, VALUE, SPACE), max_size=10))
    body = draw(st.binary(max_size=300))
    chunked = draw(st.booleans())
    lines = [f"HTTP/1.1 {status} Whatever"] + [f"{name}:{before}{value}{after}" for name, before, value, after in fields]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=4)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True) if b > a]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        framed = body
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + framed
    splits = sorted(draw(st.lists(st.integers(min_value=1, max_value=max(1, len(raw) - 1)), max_size=5)))
    return raw, [raw[a:b] for a, b in zip([0, *splits], [*splits, len(raw)], strict=True) if b > a]


def h11_reads(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="POST", target="/", headers=[("Host", "t"), ("Content-Length", "0")]))
    client.send(h11.EndOfMessage())
    client.receive_data(raw)
    status, headers, body = 0, {}, b""
    while True:
        event = client.next_event()
        if isinstance(event, h11.Response):
            status = event.status_code
            for name, value in event.headers:
                key, text = name.decode("latin-1"), value.decode("latin-1")
                headers[key] = f"{headers[key]}, {text}" if key in headers else text
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            return status, headers, body
        else:
            raise AssertionError(f"h11 did not read a whole answer: {event!r}")


def ours_reads(pieces: list[bytes]) -> tuple[int, dict[str, str], bytes]:
    loop = asyncio.new_event_loop()
    try:
        connection = _Connection()
        connection.open = True
        waiter = connection.waiter = loop.create_future()
        for piece in pieces:
            connection.data_received(piece)
        assert waiter.done(), "no whole answer read"
        response = waiter.result()
        return response.status, response.headers, response.body
    finally:
        loop.close()


@settings(max_examples=300, deadline=None)
@given(answers())
def test_an_answer_is_read_as_h11_reads_it(answer):
    raw, pieces = answer
    assert ours_reads(pieces) == h11_reads(raw)


def test_header_lines_kept_between_answers_stay_bounded_and_read_as_new_ones():
    same = b"HTTP/1.1 200 OK\r\nX-Same: \t one \r\nContent-Length: 0\r\n\r\n"
    assert ours_reads([same]) == h11_reads(same)
    for n in range(3 * _HEADER_LINES_KEPT):  # a request id on every answer, as AWS sends: never seen again
        raw = f"HTTP/1.1 200 OK\r\nX-Amzn-RequestId: {n}\r\nContent-Length: 0\r\n\r\n".encode()
        assert ours_reads([raw])[1]["x-amzn-requestid"] == str(n)
        assert len(_HEADER_LINES) <= _HEADER_LINES_KEPT
    for n in range(3 * _HEADER_LINES_KEPT):  # a header no one told the client varies, varying
        raw = f"HTTP/1.1 200 OK\r\nX-Other: {n}\r\nContent-Length: 0\r\n\r\n".encode()
        assert ours_reads([raw])[1]["x-other"] == str(n)
        assert len(_HEADER_LINES) <= _HEADER_LINES_KEPT
    assert ours_reads([same]) == ours_reads([same]) == h11_reads(same)
