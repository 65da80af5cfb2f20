"""Client of the emulator's own admin routes (`/_shiftsim/...`): `shiftsim stage`, the health and clock
a run reads, the warm-up before its load."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from simulator.client.errors import TargetError
from simulator.deployment.admin_token import ADMIN_TOKEN_HEADER, TOKEN_ENV, token_path
from simulator.deployment.arn import parse_function_name
from simulator.deployment.clock import ScaledClock


def admin_token(endpoint: str, token_file: str | None = None) -> str:
    """The admin token of the emulator at `endpoint`: `$SHIFTSIM_ADMIN_TOKEN`, else the token file
    (`token_file`, or the one `shiftsim serve` writes for the endpoint's port)."""
    if os.environ.get(TOKEN_ENV) and token_file is None:
        return os.environ[TOKEN_ENV]
    try:
        port = urlsplit(endpoint).port
    except ValueError:
        port = None
    if token_file is None and port is None:
        raise TargetError(f"--endpoint {endpoint!r}: give a URL with its port, e.g. http://127.0.0.1:4566")
    path = Path(token_file) if token_file else token_path(port)  # type: ignore[arg-type]
    try:
        return path.read_text().strip()
    except OSError as exc:
        if token_file is None and not _listening(endpoint):  # the token is missing because nothing runs there
            raise TargetError(f"--endpoint {endpoint}: nothing answers there: start `shiftsim serve` (it prints "
                              "its endpoint) and give that") from None
        raise TargetError(f"no admin token for {endpoint}: cannot read {path} ({exc.strerror}); "
                          f"give --admin-token-file or ${TOKEN_ENV}") from None


def _listening(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=5):
            return True
    except OSError:
        return False


async def stage_code(endpoint: str, function: str, body: dict[str, Any], publish: bool = False,
                     token_file: str | None = None) -> dict[str, Any]:
    """Replace `$LATEST`'s code and faults; with `publish`, also publish it as a version."""
    method, path = ("POST", "versions") if publish else ("PUT", "code")
    url = f"{endpoint.rstrip('/')}/_shiftsim/functions/{function}/{path}"
    headers = {ADMIN_TOKEN_HEADER: admin_token(endpoint, token_file)}
    try:
        async with aiohttp.ClientSession(trust_env=True) as session:
            async with session.request(method, url, json=body, headers=headers) as response:
                answer = await response.json(content_type=None)
    except aiohttp.ClientError as exc:
        raise TargetError(f"cannot reach the emulator at {endpoint}: {exc}") from None
    if response.status >= 400:
        message = answer.get("error") or answer.get("Message") or answer
        raise TargetError(f"{endpoint}: {message}")
    return answer


async def warm_functions(endpoint: str, function_arns: list[str], idle: int = 1,
                         token: str | None = None) -> dict[str, list[str]]:
    """Up to `idle` idle execution environments for each version each qualified function ARN serves
    (the emulator's warm route), as production's would have from serving traffic: {Name:qualifier:
    the versions warmed}, those already warm or run in the emulator's process left out. `token`: the
    admin token, which an emulator that checks signatures wants."""
    warmed = {}
    headers = {ADMIN_TOKEN_HEADER: token} if token else {}
    try:
        async with aiohttp.ClientSession(trust_env=True, headers=headers) as session:
            for arn in function_arns:
                ref = parse_function_name(arn)
                url = f"{endpoint.rstrip('/')}/_shiftsim/functions/{ref.name}/warm"
                params = {"idle": str(idle), **({"qualifier": ref.qualifier} if ref.qualifier else {})}
                async with session.post(url, params=params) as response:
                    try:
                        answer = await response.json(content_type=None)
                    except ValueError:
                        answer = None
                if response.status >= 400 or not isinstance(answer, dict) or not isinstance(answer.get("Warmed"), list):
                    said = answer.get("error") if isinstance(answer, dict) else None
                    raise TargetError(f"{endpoint}: warming {arn}: HTTP {response.status}" + (f": {said}" if said else ""))
                if answer["Warmed"]:
                    warmed[f"{ref.name}:{ref.qualifier or '$LATEST'}"] = answer["Warmed"]
    except aiohttp.ClientError as exc:
        raise TargetError(f"cannot reach the emulator at {endpoint}: {exc}") from None
    return warmed


async def emulator_health(endpoint: str) -> dict[str, Any]:
    """A running emulator's health route: its clock, functions and requests refused at its ceilings."""
    try:
        async with aiohttp.ClientSession(trust_env=True) as session:
            async with session.get(f"{endpoint.rstrip('/')}/_shiftsim/health") as response:
                health: dict[str, Any] = await response.json(content_type=None)
                return health
    except (aiohttp.ClientError, ValueError) as exc:
        raise TargetError(f"cannot reach the emulator at {endpoint}: {exc}") from None


async def emulator_clock(endpoint: str) -> ScaledClock:
    """A clock in step with a running emulator's (same scale, same emulated now)."""
    health = await emulator_health(endpoint)
    return ScaledClock(health["time_scale"], start=health["emulated_now"])
