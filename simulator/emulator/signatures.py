"""SigV4 verification, off by default: with it the emulator accepts only requests signed with the
credentials it was given, as AWS does, so a client set up for production (another key, another
region in its scope, no credentials at all) is caught locally. The signature is recomputed with
botocore's own signer over the request as received."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/\s]+)/(?P<service>[^/\s]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$")
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
            "AWS Secret Access Key and signing method. Consult the service documentation for details.")


@dataclass(frozen=True)
class SignatureRefusal:
    code: str
    message: str


class SignatureVerifier:
    """Checks requests against one access key and its secret, in one region."""

    def __init__(self, access_key: str, secret_key: str, region: str) -> None:
        self.access_key, self.secret_key, self.region = access_key, secret_key, region

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
        signed = match["signed"].split(";")
        lowered = {name.lower(): value for name, value in headers.items()}
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
