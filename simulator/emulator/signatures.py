"""SigV4 verification, off by default: with it the emulator accepts only requests signed with the
credentials it was given, as AWS does, so a client set up for production (another key, another
region in its scope, no credentials at all) is caught locally. The signature is recomputed with
botocore's own signer over the request as received. As AWS: the request's time must be within 15
minutes of now (a captured request cannot be replayed after that), and a payload hash the client
sends (`x-amz-content-sha256`) must be the body's: only S3 takes `UNSIGNED-PAYLOAD`."""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/\s]+)/(?P<service>[^/\s]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$")
SKEW_S = 15 * 60  # how far a request's X-Amz-Date may be from now
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
            "AWS Secret Access Key and signing method. Consult the service documentation for details.")


@dataclass(frozen=True)
class SignatureRefusal:
    code: str
    message: str


class SignatureVerifier:
    """Checks requests against one access key and its secret, in one region."""

    def __init__(self, access_key: str, secret_key: str, region: str,
                 now: Callable[[], float] = time.time) -> None:
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.now = now  # the wall clock: signatures expire in real time, whatever the emulated clock

    def refusal(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> SignatureRefusal | None:
        """Why a request (its method, path and query as sent, headers and body) is refused, or None."""
        authorization = headers.get("Authorization")
        if authorization is None:
            return SignatureRefusal("MissingAuthenticationTokenException", "Missing Authentication Token")
        match = _AUTHORIZATION.match(authorization.strip())
        if match is None:
            return SignatureRefusal("IncompleteSignatureException",
                                    f"Authorization header requires a SigV4 credential, signed headers and "
                                    f"signature: {authorization[:80]!r}")
        if match["key"] != self.access_key:
            return SignatureRefusal("UnrecognizedClientException", "The security token included in the request is invalid.")
        if match["region"] != self.region:
            return SignatureRefusal("InvalidSignatureException",
                                    f"Credential should be scoped to a valid region, not '{match['region']}'.")
        stamp = headers.get("X-Amz-Date", "")
        if not stamp.startswith(match["date"]):
            return SignatureRefusal("InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.")
        expired = self._expired(stamp)
        if expired is not None:
            return expired
        signed = match["signed"].split(";")
        lowered = {name.lower(): value for name, value in headers.items()}
        claimed = lowered.get("x-amz-content-sha256")
        if claimed is not None and match["service"] != "s3" and claimed != sha256(body).hexdigest():
            return SignatureRefusal("InvalidSignatureException",
                                    "The provided 'x-amz-content-sha256' header does not match what was computed.")
        if any(name not in lowered for name in signed) or "host" not in signed:
            return SignatureRefusal("InvalidSignatureException", "The request's SignedHeaders name headers it does not have, or not host.")
        request = AWSRequest(method=method, url=f"http://{lowered['host']}{target}",
                             headers={name: lowered[name] for name in signed}, data=body)
        request.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(self.access_key, self.secret_key), match["service"], match["region"])
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, match["signature"]):
            return SignatureRefusal("InvalidSignatureException", MISMATCH)
        return None

    def _expired(self, stamp: str) -> SignatureRefusal | None:
        """AWS's refusal of a request signed more than 15 minutes from now, either way."""
        try:
            signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return SignatureRefusal("IncompleteSignatureException", f"Date must be in ISO-8601 'basic format', got {stamp!r}")
        now = self.now()

        def iso(t: float) -> str:
            return datetime.fromtimestamp(t, UTC).strftime("%Y%m%dT%H%M%SZ")

        if signed_at < now - SKEW_S:
            return SignatureRefusal("InvalidSignatureException", f"Signature expired: {stamp} is now earlier than "
                                    f"{iso(now - SKEW_S)} ({iso(now)} - 15 min.)")
        if signed_at > now + SKEW_S:
            return SignatureRefusal("InvalidSignatureException", f"Signature not yet current: {stamp} is still later "
                                    f"than {iso(now + SKEW_S)} ({iso(now)} + 15 min.)")
        return None
