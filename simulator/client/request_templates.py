"""Requests that aiobotocore builds and signs once, sent again with a new payload: the request as
aiobotocore would send it (URL, User-Agent, headers) kept as a template, the fixed part of an HTTP/1.1
request serialised once, and each call signed with botocore's SigV4 rules and the client's own
credentials (the day's signing key cached), and their error answers read as botocore's JSON parsers
read them. Used by the fast Invoke (`fast_invoke`); its tests compare it with aiobotocore's own."""

from __future__ import annotations

import contextvars
import json
import os
import random
import ssl
import time
from collections.abc import Callable
from hashlib import sha256
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.httpsession import get_cert_path

from simulator.client.fast_ids import CountingUuid4
from simulator.client.http1 import Origin

# Per call headers, set again for each request
_PER_CALL = {"authorization", "x-amz-date", "amz-sdk-invocation-id", "content-length", "host",
             "x-amz-security-token"}


_SIGNED_KEPT = 256  # a second's signatures kept per template: more than the contacts a process has in flight
_MARK = "20000101T000000Z"  # a timestamp that appears nowhere else in a canonical request
_EMPTY_SHA256 = sha256(b"").hexdigest()


class CachedKeySigV4(SigV4Auth):
    """botocore's SigV4 rules, with the day's derived signing key computed once, not on every call,
    and kept as HMAC-SHA256's two keyed hash states (RFC 2104), which each signature copies."""

    _macs: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}

    def key_for(self, day: str) -> bytes:
        k_date = self._sign(("AWS4" + self.credentials.secret_key).encode("utf-8"), day)
        k_region = self._sign(k_date, self._region_name)
        k_service = self._sign(k_region, self._service_name)
        return self._sign(k_service, "aws4_request")  # type: ignore[no-any-return]

    def hmac_for(self, day: str, message: bytes) -> bytes:
        """HMAC-SHA256 of `message` under the day's signing key (as hmac.digest, without re-keying)."""
        cache_key = (self.credentials.secret_key, day, self._region_name, self._service_name)
        states = self._macs.get(cache_key)
        if states is None:
            key = self.key_for(day).ljust(64, b"\0")  # a SigV4 key is 32 bytes: under SHA-256's block
            states = self._macs[cache_key] = (sha256(bytes(b ^ 0x36 for b in key)),
                                              sha256(bytes(b ^ 0x5C for b in key)))
        inner, outer = states[0].copy(), states[1].copy()
        inner.update(message)
        outer.update(inner.digest())
        return outer.digest()


class TemplateSigner:
    """botocore's SigV4 for one request template: botocore computes the canonical request once (with
    a marker timestamp and an empty payload); each call puts in the time and the payload's hash and
    signs the string botocore's rules build, with the day's key. Identical to SigV4Auth.add_auth."""

    def __init__(self, signer: CachedKeySigV4, url: str, signed_headers: dict[str, str]) -> None:
        probe = AWSRequest(method="POST", url=url, headers=dict(signed_headers), data=b"")
        probe.context["timestamp"] = _MARK
        signer._modify_request_before_signing(probe)
        canonical = signer.canonical_request(probe)
        head, _, tail = canonical.partition(_MARK)
        if not tail.endswith(_EMPTY_SHA256) or _MARK in tail:
            raise ValueError("unexpected canonical request shape: cannot template it")
        self.head, self.middle = head, tail[: -len(_EMPTY_SHA256)]
        self.signer = signer
        self.extra = {k: v for k, v in probe.headers.items() if k.lower() in ("x-amz-security-token",)}
        self.signed_names = signer.signed_headers(signer.headers_to_sign(probe))
        self.suffix = f"/{signer._region_name}/{signer._service_name}/aws4_request"
        self.access_key = signer.credentials.access_key
        # This second's signatures by payload: a contact's loop sends the same payload again and again,
        # and the same payload in the same second signs to the same header (bounded: cleared when full)
        self._second = ""
        self._signed: dict[bytes, str] = {}

    def authorization(self, timestamp: str, payload: bytes) -> str:
        signed = self._signed
        if timestamp != self._second:
            signed.clear()
            self._second = timestamp
        else:
            said = signed.get(payload)
            if said is not None:
                return said
        canonical = f"{self.head}{timestamp}{self.middle}{sha256(payload).hexdigest()}"
        day = timestamp[:8]
        scope = day + self.suffix
        to_sign = f"AWS4-HMAC-SHA256\n{timestamp}\n{scope}\n{sha256(canonical.encode()).hexdigest()}"
        signature = self.signer.hmac_for(day, to_sign.encode()).hex()
        said = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                f"SignedHeaders={self.signed_names}, Signature={signature}")
        if len(signed) >= _SIGNED_KEPT:
            signed.clear()
        signed[payload] = said
        return said


class RequestTemplate:
    """A request as aiobotocore sent it, minus what changes per call."""

    signer: TemplateSigner | None = None
    fixed: bytes = b""  # request line and the headers that never change, serialised

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        parts = urlsplit(url)
        self.origin_url = f"{parts.scheme}://{parts.netloc}"
        self.target = parts.path + (f"?{parts.query}" if parts.query else "")  # already percent-encoded
        self.host = parts.netloc
        text = {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}  # may be bytes
        authorization = next((v for k, v in text.items() if k.lower() == "authorization"), "")
        signed = authorization.split("SignedHeaders=")[-1].split(",")[0].split(";") if authorization else []
        kept = {k: v for k, v in text.items() if k.lower() not in _PER_CALL}
        # sign what aiobotocore signed; the rest it added after signing, and so do we
        self.signed = {k: v for k, v in kept.items() if k.lower() in signed}
        self.unsigned = {k: v for k, v in kept.items() if k.lower() not in signed}
        # what aiobotocore's HTTP session (aiohttp) adds to every request
        self.unsigned.setdefault("Accept", "*/*")
        self.unsigned.setdefault("Accept-Encoding", "identity")

    def sign_with(self, signer: CachedKeySigV4) -> None:
        """Sign from now on with `signer` (the client's current credentials), unless it already does."""
        if self.signer is None or self.signer.signer is not signer:
            self.use(TemplateSigner(signer, self.url, self.signed))

    def use(self, signer: TemplateSigner) -> None:
        self.signer = signer
        lines = [f"POST {self.target} HTTP/1.1", f"Host: {self.host}",
                 *(f"{k}: {v}" for k, v in {**self.unsigned, **self.signed, **signer.extra}.items())]
        self.fixed = ("\r\n".join(lines) + "\r\n").encode("latin-1")

    def request(self, timestamp: str, payload: bytes) -> bytes:
        assert self.signer is not None
        return b"".join((self.fixed, (
            f"X-Amz-Date: {timestamp}\r\nAuthorization: {self.signer.authorization(timestamp, payload)}\r\n"
            f"amz-sdk-invocation-id: {invocation_id()}\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode("latin-1"), payload))


preparing_only = contextvars.ContextVar("preparing_only", default=False)


class Prepared(Exception):
    """Raised from the before-send hook when preparing: the request is built and signed, not sent."""

    def __init__(self, request: Any) -> None:
        super().__init__("prepared")
        self.request = request


invocation_id = CountingUuid4(random.Random())  # botocore's amz-sdk-invocation-id: distinct, not secret


_clock_second: list[Any] = [0, ""]


def timestamp() -> str:
    """SigV4's timestamp (UTC, to the second), formatted once a second."""
    now = int(time.time())
    if _clock_second[0] != now:
        _clock_second[0], _clock_second[1] = now, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return _clock_second[1]


class CurrentSigner:
    """A client's SigV4 signer with its current credentials (read again every second at most)."""

    TTL_S = 1.0

    def __init__(self, aws_client: Any, service: str) -> None:
        self.client, self.service, self.region = aws_client, service, aws_client.meta.region_name
        self._credentials: Any = None
        self._credentials_at = 0.0
        self._signer: CachedKeySigV4 | None = None

    def fresh(self) -> CachedKeySigV4 | None:
        """The signer, when its credentials were read within the second (no coroutine to await), else None."""
        if self._signer is not None and time.monotonic() - self._credentials_at <= self.TTL_S:
            return self._signer
        return None

    async def now(self) -> CachedKeySigV4:
        """The signer, its credentials read again if they are over a second old."""
        signer = self.fresh()
        if signer is not None:
            return signer
        read_at = time.monotonic()
        credentials = await self.client._request_signer._credentials.get_frozen_credentials()
        if self._signer is None or credentials != self._credentials:
            self._credentials = credentials
            self._signer = CachedKeySigV4(credentials, self.service, self.region)
        self._credentials_at = read_at
        return self._signer


def origin_for(url: str, connections: int, socket_factory: Callable[..., Any] | None) -> Origin:
    """A lean client for an endpoint's origin, with botocore's CA bundle (or AWS_CA_BUNDLE's) for https."""
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or get_cert_path(True))
    return Origin(url, connections, context, socket_factory)


def json_error(headers: Any, body: bytes, code_keys: tuple[str, ...] = ("__type",)) -> tuple[str, str]:
    """(code, message) of an error answer as botocore's JSON parsers read them: the code from the
    x-amzn-errortype header, else the body's first of `code_keys` (its shape's name, past any `#`);
    either may be empty."""
    code = (headers.get("x-amzn-errortype") or "").split(":")[0]
    message = ""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    if isinstance(parsed, dict):
        code = code or str(next((parsed[key] for key in code_keys if parsed.get(key)), "")).rsplit("#", 1)[-1]
        message = str(parsed.get("message") or parsed.get("Message") or "")
    return code, message
