"""The emulator's composition root: one clock, the service models, and the aiohttp application that
routes AWS wire requests to them on 127.0.0.1.

`Emulator` holds the state; `EmulatorServer` serves it. Tests and `shiftsim serve` both start it
with `await EmulatorServer(...).start()`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from simulator.clock import Clock, ScaledClock
from simulator.emulator.admin import AdminError, AdminRoutes, admin_error_response
from simulator.emulator.cloudwatch.models import CloudWatchBackend
from simulator.emulator.cloudwatch.responses import TARGET_PREFIX as CLOUDWATCH_TARGET
from simulator.emulator.cloudwatch.responses import CloudWatchResponses, parse_form
from simulator.emulator.codedeploy.models import CodeDeployBackend, CodeDeployError
from simulator.emulator.codedeploy.responses import TARGET_PREFIX as CODEDEPLOY_TARGET
from simulator.emulator.codedeploy.responses import CodeDeployResponses
from simulator.emulator.codedeploy.responses import error_response as codedeploy_error
from simulator.emulator.lambda_.models import LambdaBackend, LambdaError
from simulator.emulator.lambda_.responses import LambdaResponses, error_response
from simulator.scenario import Scenario, default_scenario

log = logging.getLogger("shiftsim.emulator")


class Emulator:
    """The state of the emulated account: every service model, on one clock."""

    def __init__(self, scenario: Scenario | None = None, *, clock: Clock | None = None,
                 seed: int | None = None) -> None:
        self.scenario = scenario or default_scenario()
        self.clock = clock or ScaledClock()
        seed = self.scenario.seed if seed is None else seed
        self.lambda_ = LambdaBackend(self.clock, region=self.scenario.region,
                                     account=self.scenario.account, seed=seed,
                                     account_concurrency=self.scenario.account_concurrency)
        self.cloudwatch = CloudWatchBackend(self.clock, region=self.scenario.region,
                                            account=self.scenario.account)
        self.lambda_.observers.append(self.cloudwatch.record_lambda)
        self.codedeploy = CodeDeployBackend(self.clock, self.lambda_, self.cloudwatch,
                                            self.scenario.emulator, region=self.scenario.region,
                                            account=self.scenario.account)
        self.lambda_.provision(self.scenario)
        for alarm in self.scenario.alarms:
            self.cloudwatch.put_metric_alarm({
                "AlarmName": alarm.name, "Namespace": alarm.namespace, "MetricName": alarm.metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in alarm.dimensions.items()],
                "Statistic": alarm.statistic, "Period": alarm.period,
                "EvaluationPeriods": alarm.evaluation_periods,
                "DatapointsToAlarm": alarm.datapoints_to_alarm, "Threshold": alarm.threshold,
                "ComparisonOperator": alarm.comparison, "TreatMissingData": alarm.treat_missing_data})
        if self.scenario.deployment is not None:
            self.codedeploy.provision(self.scenario.deployment)

    def start(self) -> None:
        """Start the clock-driven work (alarm evaluation); call from inside the running loop."""
        self.cloudwatch.start()

    def close(self) -> None:
        self.codedeploy.close()
        self.cloudwatch.close()
        self.lambda_.close()


@web.middleware
async def _aws_errors(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    try:
        return await handler(request)
    except LambdaError as error:
        return error_response(error)
    except AdminError as error:
        return admin_error_response(error)
    except CodeDeployError as error:
        return codedeploy_error(error)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("emulator failure on %s %s", request.method, request.path)
        return error_response(LambdaError(500, "ServiceException", "internal emulator error"))


class _RootDispatch:
    """`POST /` carries the JSON protocols (by `X-Amz-Target`) and CloudWatch's query protocol."""

    def __init__(self, emulator: Emulator) -> None:
        self.cloudwatch = CloudWatchResponses(emulator.cloudwatch)
        self.codedeploy = CodeDeployResponses(emulator.codedeploy)

    async def handle(self, request: web.Request) -> web.Response:
        service, _, operation = request.headers.get("X-Amz-Target", "").partition(".")
        if service == CODEDEPLOY_TARGET:
            return await self.codedeploy.handle(request, operation)
        if service == CLOUDWATCH_TARGET:
            return await self.cloudwatch.json(request, operation)
        if request.content_type == "application/x-www-form-urlencoded":
            form = parse_form(await request.read())
            if "Action" in form:
                return await self.cloudwatch.query(request, form)
        return web.json_response(
            {"__type": "UnknownOperationException",
             "message": "unrecognised request: no X-Amz-Target header and no query Action"}, status=400)


def build_app(emulator: Emulator) -> web.Application:
    app = web.Application(middlewares=[_aws_errors], client_max_size=16 * 1024 * 1024)
    app.add_routes(LambdaResponses(emulator.lambda_).routes())
    app.add_routes(CloudWatchResponses(emulator.cloudwatch).routes())
    app.add_routes(AdminRoutes(emulator.lambda_).routes())
    app.router.add_post("/", _RootDispatch(emulator).handle)
    return app


class EmulatorServer:
    """Serves an `Emulator` over HTTP; `start()` returns the endpoint URL."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator, self.host, self.port = emulator, host, port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        self.emulator.start()
        self._runner = web.AppRunner(build_app(self.emulator), access_log=None,
                                     handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.emulator.lambda_.endpoint_url = self.url
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.emulator.close()


async def serve_until_signalled(emulator: Emulator, host: str, port: int,
                                announce: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM; `announce` gets the endpoint URL once listening."""
    import asyncio
    import signal

    server = EmulatorServer(emulator, host, port)
    await server.start()
    gc.collect()
    gc.freeze()  # the stack provisioned so far lives as long as the server: spare it full GC passes
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    announce(server.url)
    try:
        await stop.wait()
    finally:
        gc.unfreeze()
        await server.stop()
