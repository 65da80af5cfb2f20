"""Who may talk to the emulator, and what a request may never do: choose code to run.

An AWS client on this machine sends `Host: 127.0.0.1:PORT` (or `localhost`, or the address it was
given) and no `Origin`; a web page in the user's browser sends its own `Origin`, and a DNS-rebinding
page a `Host` that is a name. So a request is refused when its `Host` is not one of the emulator's
own (loopback, the address it listens on, a name given with `--allow-host`; any address of this
machine when it listens on all of them), or when it carries an `Origin` other than the emulator's own
address and port: an IP literal that is not the emulator's is no origin of its. The admin routes also
need the token the process wrote for its own tools, and a handler they name must be one the user
named when the emulator started.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from simulator.deployment.admin_token import ADMIN_TOKEN_HEADER, TOKEN_ENV
from simulator.emulator.signatures import SignatureVerifier
from simulator.scenario.spec import Scenario, VersionSpec

BUILTIN_HANDLERS = frozenset({
    "simulator.emulator.functions:version_echo", "simulator.emulator.functions:failing",
    "simulator.emulator.hooks:succeed", "simulator.emulator.hooks:fail", "simulator.emulator.hooks:silent",
})


class Refused(Exception):
    """A request the emulator does not serve: `status` 401 (no or wrong token) or 403."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _hostname(authority: str) -> str:
    """`host[:port]` or `[v6][:port]` -> the host, lower-cased."""
    if authority.startswith("["):
        return authority[1:].partition("]")[0].lower()
    return authority.rpartition(":")[0].lower() if authority.count(":") == 1 else authority.lower()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses: nothing outside this machine reaches them."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str | None:
    """What binding `host` exposes, when it is not loopback."""
    if is_loopback(host):
        return None
    return (f"warning: listening on {host}: every machine that can reach it can invoke, deploy and "
            "change alarms on this emulator without credentials (the admin routes still need the token)")


class Guard:
    """The checks of every request (`refusal`) and of the admin routes (`admin`, `handler`)."""

    def __init__(self, admin_token: str | None = None, allowed_handlers: Iterable[str] = (),
                 hosts: Iterable[str] = (), verifier: SignatureVerifier | None = None,
                 code_uploads: bool = False, allowed_code: Iterable[tuple[str, str]] = ()) -> None:
        self.verifier = verifier  # SigV4 checked on every AWS request when set
        self.code_uploads = code_uploads  # CreateFunction and UpdateFunctionCode may bring code to run
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self.allowed_handlers = BUILTIN_HANDLERS | frozenset(allowed_handlers)
        self.allowed_code = frozenset(allowed_code)  # (real path of a code folder, its handler)
        self.hosts = frozenset(h.lower().strip("[]") for h in hosts) | {"localhost"}
        self.any_address = bool(self.hosts & {"0.0.0.0", "::"})  # listening on every interface
        self.port: int | None = None  # set once listening: the emulator's own origin has it
        self.refusal = lru_cache(maxsize=256)(self._refusal)

    def _own_address(self, host: str) -> bool:
        return host in self.hosts or is_loopback(host)

    def _host_ok(self, host: str) -> bool:
        return self._own_address(host) or (self.any_address and _is_ip(host))

    def _refusal(self, host: str | None, origin: str | None) -> str | None:
        """Why a request with these `Host` and `Origin` values is refused, or None."""
        if host is not None and not self._host_ok(_hostname(host.strip())):
            return f"Host {host!r} is not this emulator's (loopback, the address it listens on, or --allow-host)"
        if origin is not None:
            scheme, _, authority = origin.strip().partition("://")
            own = (scheme == "http" and self._own_address(_hostname(authority))
                   and authority.rpartition(":")[2] == str(self.port))
            if not own:
                return f"Origin {origin!r} is not this emulator's: web pages may not call it"
        return None

    def admin(self, token: str | None) -> None:
        if token is None:
            raise Refused(401, f"the admin routes need the {ADMIN_TOKEN_HEADER} header (the token "
                          "`shiftsim serve` wrote to its token file)")
        if not secrets.compare_digest(token.encode(), self.admin_token.encode()):
            raise Refused(401, f"wrong {ADMIN_TOKEN_HEADER}")

    def version(self, spec: VersionSpec) -> None:
        """A version the admin routes may stage: its handler, or its code folder with its handler,
        named when the emulator started."""
        if spec.code is None:
            self.handler(spec.handler)
        elif (os.path.realpath(spec.code.path), spec.code.handler) not in self.allowed_code:
            raise Refused(403, f"code folder {spec.code.path!r} with handler {spec.code.handler!r} was not "
                          "named when this emulator started (in its scenario or template): a request never "
                          "chooses the code the emulator runs")

    def handler(self, spec: str) -> None:
        if spec not in self.allowed_handlers:
            raise Refused(403, f"handler {spec!r} was not named when this emulator started (in its "
                          "scenario or with `shiftsim serve --allow-handler`): a request never "
                          "chooses the code the emulator runs")


def signature_verifier(region: str) -> SignatureVerifier:
    """A verifier for the credentials of this process's AWS credential chain (environment, profile)."""
    import botocore.session

    credentials = botocore.session.Session().get_credentials()
    if credentials is None:
        raise ValueError("--verify-signatures: no AWS credentials in this process's environment or profile "
                         "to verify against (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)")
    frozen = credentials.get_frozen_credentials()
    return SignatureVerifier(frozen.access_key, frozen.secret_key, region)


def scenario_guard(scenario: Scenario, **options: Any) -> Guard:
    """A guard that lets the emulator run the code the scenario names, and nothing else."""
    extra = options.pop("allowed_handlers", ())
    return Guard(allowed_handlers=(*scenario.handlers(), *extra), allowed_code=scenario.code_folders(), **options)


def serving_guard(scenario: Scenario, extra_handlers: Iterable[str],
                  hosts: Iterable[str], verifier: SignatureVerifier | None = None,
                  code_uploads: bool = False) -> Guard:
    """The guard of `shiftsim serve`: the token from `$SHIFTSIM_ADMIN_TOKEN` or a fresh one; every
    extra handler importable now (HandlerImportError otherwise), as the scenario's are."""
    from simulator.emulator.functions import resolve_handler

    extra = tuple(extra_handlers)
    for spec in extra:
        resolve_handler(spec)
    return scenario_guard(scenario, admin_token=os.environ.get(TOKEN_ENV), allowed_handlers=extra, hosts=hosts,
                          verifier=verifier, code_uploads=code_uploads)


def refused_answer(message: str, status: int = 403, code: str = "AccessDeniedException") -> tuple[int, dict[str, str], bytes]:
    """A refusal in the JSON shape AWS's JSON protocols share, so any AWS client raises on it."""
    body = json.dumps({"__type": code, "message": message if code != "AccessDeniedException"
                       else f"shiftsim emulator: {message}"})
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, body.encode()
