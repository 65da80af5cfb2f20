"""Client of the emulator's own admin routes (`/_shiftsim/...`), for `shiftsim stage`."""

from __future__ import annotations

from typing import Any

import aiohttp

from simulator.aws import TargetError
from simulator.clock import ScaledClock


async def stage_code(endpoint: str, function: str, body: dict[str, Any],
                     publish: bool = False) -> dict[str, Any]:
    """Replace `$LATEST`'s code and faults; with `publish`, also publish it as a version."""
    method, path = ("POST", "versions") if publish else ("PUT", "code")
    url = f"{endpoint.rstrip('/')}/_shiftsim/functions/{function}/{path}"
    try:
        async with aiohttp.ClientSession(trust_env=True) as session:
            async with session.request(method, url, json=body) as response:
                answer = await response.json(content_type=None)
    except aiohttp.ClientError as exc:
        raise TargetError(f"cannot reach the emulator at {endpoint}: {exc}") from None
    if response.status >= 400:
        message = answer.get("error") or answer.get("Message") or answer
        raise TargetError(f"{endpoint}: {message}")
    return answer


async def emulator_clock(endpoint: str) -> ScaledClock:
    """A clock in step with a running emulator's (same scale, same emulated now)."""
    try:
        async with aiohttp.ClientSession(trust_env=True) as session:
            async with session.get(f"{endpoint.rstrip('/')}/_shiftsim/health") as response:
                health = await response.json(content_type=None)
    except (aiohttp.ClientError, ValueError) as exc:
        raise TargetError(f"cannot reach the emulator at {endpoint}: {exc}") from None
    return ScaledClock(health["time_scale"], start=health["emulated_now"])
