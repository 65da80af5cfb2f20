"""The emulator's own routes (`/_shiftsim/...`): health, and changing code and faults during a run.

`PUT /_shiftsim/functions/{name}/code` replaces `$LATEST`'s handler and faults, as UpdateFunctionCode
would on AWS, so the next PublishVersion (from CodeDeploy's driver or the user) publishes it.
`POST /_shiftsim/functions/{name}/versions` does both at once and answers the new version. Both
need the process's admin token, and take only handlers the user named when the emulator started
(`Guard`): a request never chooses the code the emulator runs. `POST /_shiftsim/functions/{name}/warm`
leaves idle execution environments for each version a qualifier serves, as traffic would.
"""

from __future__ import annotations

import json

from aiohttp import web

from simulator.deployment.admin_token import ADMIN_TOKEN_HEADER
from simulator.emulator.functions import HandlerImportError
from simulator.emulator.guard import Guard, Refused
from simulator.emulator.lambda_.models import LambdaBackend, LambdaError
from simulator.scenario.function_tables import parse_version_spec
from simulator.scenario.spec import ScenarioError

MAX_WARM = 64  # idle environments a version keeps (sandbox.ProcessHandler's max_idle)


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def admin_error_response(error: AdminError) -> web.Response:
    return web.json_response({"error": error.message}, status=error.status)


class AdminRoutes:
    def __init__(self, backend: LambdaBackend, guard: Guard) -> None:
        self.backend, self.guard = backend, guard
        self.clock = backend.clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_shiftsim/health", self.health),
            web.put("/_shiftsim/functions/{name}/code", self.stage_code),
            web.post("/_shiftsim/functions/{name}/versions", self.publish),
            web.post("/_shiftsim/functions/{name}/warm", self.warm),
        ]

    async def health(self, request: web.Request) -> web.Response:
        holdings = self.backend.holdings
        return web.json_response({"ok": True, "functions": sorted(self.backend.functions),
                                  "emulated_now": self.clock.now(), "time_scale": self.clock.scale,
                                  # requests refused at the emulator's own ceilings: a run they touch is not AWS's
                                  "refused_at_ceilings": {kind: {"requests": n, "ceiling": holdings.ceilings[kind]}
                                                          for kind, n in sorted(holdings.refused.items())}})

    async def _spec(self, request: web.Request):
        try:
            self.guard.admin(request.headers.get(ADMIN_TOKEN_HEADER))
            data = json.loads(await request.read() or b"{}")
            spec = parse_version_spec(data, f"{request.method} {request.path}")
            self.guard.version(spec)
        except Refused as exc:
            raise AdminError(exc.status, exc.message) from None
        except ValueError as exc:  # JSONDecodeError and ScenarioError alike
            message = str(exc) if isinstance(exc, ScenarioError) else f"body is not JSON: {exc}"
            raise AdminError(400, message) from None
        return spec

    async def stage_code(self, request: web.Request) -> web.Response:
        spec = await self._spec(request)
        try:
            latest = self.backend.set_code(request.match_info["name"], spec)
        except HandlerImportError as exc:
            raise AdminError(400, str(exc)) from None
        return web.json_response({"FunctionName": request.match_info["name"],
                                  "CodeSha256": latest.code_sha256})

    async def publish(self, request: web.Request) -> web.Response:
        await self.stage_code(request)
        return web.json_response(self.backend.publish_version(request.match_info["name"]), status=201)

    async def warm(self, request: web.Request) -> web.Response:
        """Up to `?idle=` (1) idle environments for each version `?qualifier=` serves, as invocations would
        leave them: bounded as the environments are, and with the admin token only where invoking needs a
        signature (`--verify-signatures`), as Lambda's own calls do."""
        try:
            if self.guard.verifier is not None:
                self.guard.admin(request.headers.get(ADMIN_TOKEN_HEADER))
        except Refused as exc:
            raise AdminError(exc.status, exc.message) from None
        try:
            idle = int(request.query.get("idle", "1"))
        except ValueError:
            raise AdminError(400, f"idle must be a whole number, got {request.query['idle']!r}") from None
        if not 1 <= idle <= MAX_WARM:
            raise AdminError(400, f"idle must be from 1 to {MAX_WARM}, got {idle}")
        try:
            warmed = await self.backend.warm(request.match_info["name"], request.query.get("qualifier"), idle)
        except LambdaError as exc:
            raise AdminError(exc.status, exc.message) from None
        return web.json_response({"FunctionName": request.match_info["name"], "Warmed": warmed})
