"""The versions the flows invoke, warmed on the emulator before the load: production's versions have
served traffic and have idle execution environments, unlike a fresh emulator's. A version the
deployment brings in starts cold, as in Lambda."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from simulator.client.admin_client import admin_token, warm_functions
from simulator.client.errors import TargetError
from simulator.connect.flow import FlowSet
from simulator.connect.jsonpath import is_reference
from simulator.report.words import counted

log = logging.getLogger("shiftsim.loadgen")
# Idle execution environments a version gets before the load (no more than users): with one alone,
# the load's first overlapping arrivals cold-start others, whose start-up on this machine's cores
# slows every invocation, which brings more overlaps and more cold starts
WARM_ENVIRONMENTS = 4


async def warm_before_load(endpoint: str, flows: FlowSet, planned_users: int) -> str | None:
    """Warm each version the flows' blocks name; the line said (None: nothing needed warming)."""
    idle = max(1, min(planned_users, WARM_ENVIRONMENTS))  # a web UI may not say its users yet
    functions = sorted({t["invokes"] for t in flows.block_targets() if not is_reference(t["invokes"])})
    try:
        token = None
        with contextlib.suppress(TargetError):  # needed only where the emulator checks signatures
            token = await asyncio.to_thread(admin_token, endpoint)
        warmed = await warm_functions(endpoint, functions, idle, token)
    except TargetError as exc:  # an emulator without the route, say: the load starts cold, and says so
        said = f"the versions could not be warmed before the load, which starts cold: {exc}"
        log.warning("shiftsim: %s", said)
        return said
    if not warmed:
        return None
    said = (f"warmed before the load ({counted(idle, 'execution environment')} a version), as production's are "
            "from serving traffic (a version the deployment brings in starts cold, as in Lambda): " + ", ".join(
                name if versions == ["$LATEST"] else f"{name} (version {', '.join(versions)})"
                for name, versions in warmed.items()))
    log.info("shiftsim: %s", said)
    return said
