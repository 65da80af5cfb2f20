"""The emulator's composition root: one clock, the service models, and the aiohttp application that
routes AWS wire requests to them on 127.0.0.1.

`Emulator` holds the state; `EmulatorServer` serves it. Tests and `shiftsim serve` both start it
with `await EmulatorServer(...).start()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from simulator.deployment.admin_token import token_path, write_token
from simulator.deployment.clock import Clock, ScaledClock
from simulator.emulator.admin import AdminError, AdminRoutes, admin_error_response
from simulator.emulator.cloudwatch.models import CloudWatchBackend, CloudWatchError
from simulator.emulator.cloudwatch.responses import TARGET_PREFIX as CLOUDWATCH_TARGET
from simulator.emulator.cloudwatch.responses import CloudWatchResponses, parse_form
from simulator.emulator.cloudwatch.scenario_alarms import put_scenario_alarms
from simulator.emulator.codedeploy.models import CodeDeployBackend, CodeDeployError
from simulator.emulator.codedeploy.responses import TARGET_PREFIX as CODEDEPLOY_TARGET
from simulator.emulator.codedeploy.responses import CodeDeployResponses
from simulator.emulator.codedeploy.responses import error_response as codedeploy_error
from simulator.emulator.front_door import REQUEST_TIMEOUT_S, Answer, FrontDoor
from simulator.emulator.guard import Guard, refused_answer, scenario_guard
from simulator.emulator.holdings import Full, Holdings
from simulator.emulator.lambda_.answers import LogRecord, log_lines
from simulator.emulator.lambda_.models import LambdaBackend, LambdaError
from simulator.emulator.lambda_.responses import (
    ZIP_REQUEST_LIMIT,
    LambdaResponses,
    error_answer,
    web_response,
)
from simulator.emulator.logs.models import EVENTS_KEPT, LogsBackend, LogsError
from simulator.emulator.logs.responses import TARGET_PREFIX as LOGS_TARGET
from simulator.emulator.logs.responses import FlowLogNotesRoute, LogsResponses
from simulator.emulator.other_services import OtherServices, belongs_elsewhere
from simulator.emulator.regions import Regions, current_region, region_of
from simulator.scenario.spec import Scenario, ScenarioError, default_scenario

log = logging.getLogger("shiftsim.emulator")


class _ClientGone(logging.Filter):
    """aiohttp's request handler logs a client that hung up mid-answer as an error with a traceback;
    a client going away is no fault of the emulator's, and nothing to show a user."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, (ConnectionResetError, BrokenPipeError))


logging.getLogger("aiohttp.server").addFilter(_ClientGone())


# Lambda's lines of one invocation, waiting for a read: (group, version, emulated start, end, record)
PendingLines = tuple[str, str, float, float, LogRecord, float]  # group, version, start, end, lines, weight


class Emulator:
    """The state of the emulated account: every service model, on one clock."""

    def __init__(self, scenario: Scenario | None = None, *, clock: Clock | None = None,
                 seed: int | None = None, holdings: Holdings | None = None) -> None:
        self.scenario = scenario or default_scenario()
        self.clock = clock or ScaledClock()
        self.holdings = holdings or Holdings()  # every region's models count against the same ceilings
        seed = self.scenario.seed if seed is None else seed
        self.lambda_ = LambdaBackend(self.clock, region=self.scenario.region,
                                     account=self.scenario.account, seed=seed,
                                     account_concurrency=self.scenario.account_concurrency, holdings=self.holdings)
        self.cloudwatch = CloudWatchBackend(self.clock, region=self.scenario.region,
                                            account=self.scenario.account, holdings=self.holdings)
        self.lambda_.observers.append(self.cloudwatch.record_lambda)
        self.logs = LogsBackend(self.clock, region=self.scenario.region, account=self.scenario.account,
                                put_metric=self.cloudwatch.put_metric_data, holdings=self.holdings)
        self._lambda_pending: deque[PendingLines] = deque(maxlen=EVENTS_KEPT)
        self._lambda_groups: set[str] = set()  # the functions' groups made (or refused) at a first invocation
        self.logs.before_read = self._write_lambda_logs
        self.lambda_.log_sink = self._lambda_log
        self.lambda_.printed_sink = self._embedded_metrics
        self.codedeploy = CodeDeployBackend(self.clock, self.lambda_, self.cloudwatch,
                                            self.scenario.emulator, region=self.scenario.region,
                                            account=self.scenario.account, holdings=self.holdings)
        self.others = OtherServices(self.holdings)  # every other service, by moto's backends
        self.codedeploy.read_s3 = self._read_s3
        self.lambda_.stream_reader = self.others.streams(self.scenario.account, self.scenario.region)
        self.lambda_.queue_reader = self.others.queues(self.scenario.region)
        self.lambda_.provision(self.scenario)
        put_scenario_alarms(self.cloudwatch, self.scenario)
        if self.scenario.deployment is not None:
            self.codedeploy.provision(self.scenario.deployment)
        self._provision_tables()
        self._provision_resources()
        for spec in self.scenario.metric_filters:
            if spec.log_group not in self.logs.groups:
                self.logs.create_log_group(spec.log_group)
            transformation: dict[str, Any] = {"metricName": spec.metric, "metricNamespace": spec.namespace,
                                              "metricValue": spec.value}
            if spec.default_value is not None:
                transformation["defaultValue"] = spec.default_value
            try:
                self.logs.put_metric_filter(spec.log_group, spec.name, spec.pattern, [transformation])
            except LogsError as exc:
                raise ScenarioError(f"{self.scenario.source}: metric filter {spec.name}: {exc.message}") from None

    def _provision_tables(self) -> None:
        """The scenario's DynamoDB tables and items, created in moto through DynamoDB's own API."""
        if not self.scenario.tables:
            return
        from boto3.dynamodb.types import TypeSerializer

        dynamodb = self.others.client("dynamodb", self.scenario.region)
        serializer = TypeSerializer()
        for table in self.scenario.tables:
            try:
                dynamodb.create_table(**table.parameters)
                for start in range(0, len(table.items), 25):
                    dynamodb.batch_write_item(RequestItems={table.name: [
                        {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}}
                        for item in table.items[start:start + 25]]})
            except Exception as exc:  # DynamoDB's refusal of the table or an item, said in one line
                raise ScenarioError(f"{self.scenario.source}: table {table.name}: {exc}") from None

    def _provision_resources(self) -> None:
        """The stack's queues, topics, buckets, parameters and secrets, made in moto (stack_resources)."""
        if not self.scenario.resources:
            return
        from simulator.emulator.stack_resources import make_resources

        try:
            make_resources(self.scenario.resources, lambda service: self.others.client(service, self.scenario.region),
                           self.scenario.region)
        except ValueError as exc:
            raise ScenarioError(f"{self.scenario.source}: {exc}") from None

    def _read_s3(self, bucket: str, key: str, version: str | None) -> str | None:
        """An object of the S3 on this endpoint (moto's), as text; None when there is none."""
        from botocore.exceptions import ClientError

        s3 = self.others.client("s3", self.scenario.region)
        try:
            found = s3.get_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
        except ClientError:
            return None
        return found["Body"].read().decode("utf-8", errors="replace")

    def _start_event_sources(self) -> None:
        """The scenario's mappings: each table's latest stream, or each queue, polled for its function."""
        if not self.scenario.event_sources:
            return
        dynamodb = self.others.client("dynamodb", self.scenario.region)
        for source in self.scenario.event_sources:
            if source.queue is not None:
                queue = f"arn:aws:sqs:{self.scenario.region}:{self.scenario.account}:{source.queue}"
                self.lambda_.create_event_source_mapping(queue, source.function, starting_position=None,
                                                         batch_size=source.batch_size)
                continue
            stream = dynamodb.describe_table(TableName=source.table)["Table"].get("LatestStreamArn")
            if stream is None:
                raise ScenarioError(f"{self.scenario.source}: event source: table {source.table} has no stream "
                                    "(give it a StreamSpecification, or stream = \"NEW_IMAGE\")")
            self.lambda_.create_event_source_mapping(stream, source.function, starting_position=source.starting_position,
                                                     batch_size=source.batch_size)

    def _lambda_log(self, function: str, version: str, started: float, record: LogRecord, weight: float = 1.0) -> None:
        """An invocation's lines for /aws/lambda/<function>, a stream per version and day, as Lambda
        writes them (START at the start, the rest at the end). Kept unformatted until CloudWatch Logs
        is asked for them (formatting every invocation's lines doubled Invoke's cost), except for a
        group a metric filter watches, whose metric must not wait for a reader."""
        group = f"/aws/lambda/{function}"
        entry = (group, version, started, self.clock.now(), record, weight)
        if group in self.logs.groups and self.logs.groups[group].filters:
            self._write_lambda_log(entry)
            return
        if group not in self._lambda_groups:  # the group is made at the first invocation, as Lambda makes it
            self._lambda_groups.add(group)
            if group not in self.logs.groups:
                with contextlib.suppress(LogsError):  # the emulator's ceiling: the lines are let go when written
                    self.logs.create_log_group(group)
        self._lambda_pending.append(entry)

    def _embedded_metrics(self, printed: str, at: float, weight: float) -> None:
        """The metrics an invocation's printed lines embed (EMF), into CloudWatch through its Logs; past
        the emulator's ceiling of metrics they are refused (counted, which the run is told of), never
        the invocation."""
        with contextlib.suppress(CloudWatchError):
            self.logs.embedded_metrics(printed, at, weight)

    def _write_lambda_logs(self, group: str | None = None) -> None:
        """The invocations' lines not yet in CloudWatch Logs, before a request of its is served: those
        of the group it is about, or all of them. A request about another group (the Connect instance's,
        made at each run's start) leaves them waiting: written all at once, the lines of a long-lived
        emulator's last 200,000 invocations held it for seconds, every invocation due meanwhile with it."""
        pending = self._lambda_pending
        written: Iterable[PendingLines]
        if group is None:
            written, self._lambda_pending = pending, deque(maxlen=EVENTS_KEPT)
        else:  # a pass over what waits (milliseconds), on a rare request, not a count kept on every invocation
            written = [entry for entry in pending if entry[0] == group]
            if not written:
                return
            self._lambda_pending = deque((entry for entry in pending if entry[0] != group), maxlen=EVENTS_KEPT)
        for entry in written:
            self._write_lambda_log(entry)

    def _write_lambda_log(self, entry: PendingLines) -> None:
        group, version, started, ended, record, weight = entry
        stream = f"{time.strftime('%Y/%m/%d', time.gmtime(started))}/[{version}]shiftsim"
        try:
            self.logs.ensure_stream(group, stream)
        except LogsError:  # the emulator's ceiling of log groups or streams: Lambda's lines are let go
            return
        events = [{"timestamp": int((started if i == 0 else ended) * 1000), "message": line}
                  for i, line in enumerate(log_lines(record))]
        self.logs.put_log_events(group, stream, events, weight)  # a sampled invocation's lines stand for `weight`

    def start(self) -> None:
        """Start the clock-driven work (alarm evaluation, stream polling); call from inside the running loop."""
        self.cloudwatch.start()
        self.lambda_.start()
        self._start_event_sources()

    def close(self) -> None:
        self.codedeploy.close()
        self.cloudwatch.close()
        self.lambda_.close()
        self.others.close()


def _lambda_error_answer(method: str, path: str, exc: Exception) -> Answer:
    """Lambda's error body for a LambdaError; any other exception is logged, a 500."""
    if isinstance(exc, Full):
        exc = LambdaError(400, "InvalidParameterValueException", exc.sentence)
    elif not isinstance(exc, LambdaError):
        log.error("emulator failure on %s %s", method, path, exc_info=exc)
        exc = LambdaError(500, "ServiceException", "internal emulator error")
    return error_answer(exc)


def _aws_error_response(request: web.BaseRequest, exc: Exception) -> web.Response:
    """The AWS error body a model's exception stands for."""
    if isinstance(exc, AdminError):
        return admin_error_response(exc)
    if isinstance(exc, CodeDeployError):
        return codedeploy_error(exc)
    return web_response(_lambda_error_answer(request.method, request.path, exc))


@web.middleware
async def _aws_errors(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:  # an operation the emulator does not serve
        return web_response(error_answer(LambdaError(
            exc.status, "UnknownOperationException",
            f"{request.method} {request.path} is not an operation the shiftsim emulator serves")))
    except web.HTTPException:
        raise
    except Exception as exc:
        return _aws_error_response(request, exc)


_INVOKE_PREFIX, _INVOKE_SUFFIX = "/2015-03-31/functions/", "/invocations"


@lru_cache(maxsize=1024)
def invoked_function(raw_path: str) -> str | None:
    """The function name in an Invoke path, percent-decoded as the router's match gives it, or None
    for any other path."""
    path = raw_path.partition("?")[0]
    if not (path.startswith(_INVOKE_PREFIX) and path.endswith(_INVOKE_SUFFIX)):
        return None
    name = path[len(_INVOKE_PREFIX):-len(_INVOKE_SUFFIX)]
    return unquote(name) if name and "/" not in name else None


@lru_cache(maxsize=1024)
def _qualifier(target: str) -> str | None:
    """The first `Qualifier` of a request target's query, decoded as aiohttp's `request.query` does."""
    query = target.partition("?")[2]
    if not query:
        return None
    return next((value for name, value in parse_qsl(query, keep_blank_values=True)
                 if name == "Qualifier"), None)


INVOKE_REQUEST_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous payload
# CloudWatch's, CloudWatch Logs' and CodeDeploy's requests: their limits are 1 MB of content (Logs: of
# messages, which JSON escaping can swell up to twice as much on the wire)
API_REQUEST_LIMIT = 3 * 1024 * 1024
_SLACK = 64 * 1024  # the JSON around a payload


def body_limit(method: str, path: str, code_uploads: bool) -> int:
    """The largest body a request may bring, by its operation, as AWS bounds them: a deployment
    package only where code uploads are allowed, an Invoke's payload, else an API call's."""
    if code_uploads and path.startswith("/2015-03-31/functions") and (
            (method == "POST" and path.rstrip("/") == "/2015-03-31/functions") or
            (method == "PUT" and path.endswith("/code"))):
        return ZIP_REQUEST_LIMIT + _SLACK
    if path.endswith("/invocations") or path.endswith("/invoke-async"):
        return INVOKE_REQUEST_LIMIT + _SLACK
    return API_REQUEST_LIMIT + _SLACK


def _bounded(guard: Guard):
    """The middleware that refuses a body larger than its operation takes, before reading any of it
    (a declared length), or as soon as it grows past it (a chunked one): no request holds more memory."""

    @web.middleware
    async def check(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        limit = body_limit(request.method, request.path, guard.code_uploads)
        if request.content_length is not None and request.content_length > limit:
            return web_response(refused_answer(f"Request must be smaller than {limit - _SLACK} bytes for this "
                                               "operation", 413, "RequestEntityTooLargeException"))
        request._client_max_size = limit  # aiohttp's bound on what read() takes, for a chunked body
        return await handler(request)

    return check


def _guarded(guard: Guard):
    """The middleware that refuses requests from web pages and foreign hosts (`Guard.refusal`)."""

    @web.middleware
    async def check(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        refusal = guard.refusal(request.headers.get("Host"), request.headers.get("Origin"))
        if refusal is not None:
            return web_response(refused_answer(refusal))
        if guard.verifier is not None and not request.path.startswith("/_shiftsim/"):
            unsigned = guard.verifier.refusal(request.method, request.raw_path, request.headers, await request.read())
            if unsigned is not None:
                return web_response(refused_answer(unsigned.message, code=unsigned.code))
        return await handler(request)

    return check


class _FastInvoke:
    """The front door's fast route: Invoke, straight to Lambda's responses."""

    def __init__(self, lambda_responses: LambdaResponses, guard: Guard) -> None:
        self.lambda_responses, self.guard = lambda_responses, guard

    def takes(self, target: str) -> str | None:
        if self.guard.verifier is not None:
            return None  # signatures are checked on aiohttp's side, which has every header
        return invoked_function(target)

    async def answer(self, function_name: str, target: str, headers: dict[str, str],
                     body: bytes) -> Answer:
        refusal = self.guard.refusal(headers.get("host"), headers.get("origin"))
        if refusal is not None:
            return refused_answer(refusal)
        current_region.set(region_of(headers.get("authorization")))
        try:
            return await self.lambda_responses.invoke_answer(
                function_name, _qualifier(target), body,
                headers.get("x-amz-invocation-type", "RequestResponse"), headers.get("x-amz-log-type"),
                headers.get("x-amz-client-context"), headers.get("x-shiftsim-weight"))
        except Exception as exc:
            return _lambda_error_answer("POST", target.partition("?")[0], exc)


class _RootDispatch:
    """`POST /` carries the JSON protocols (by `X-Amz-Target`) and CloudWatch's query protocol."""

    def __init__(self, regions: Regions) -> None:
        self.cloudwatch = CloudWatchResponses(lambda: regions.get().cloudwatch)
        self.codedeploy = CodeDeployResponses(lambda: regions.get().codedeploy)
        self.logs = LogsResponses(lambda: regions.get().logs)

    async def handle(self, request: web.Request) -> web.Response:
        service, _, operation = request.headers.get("X-Amz-Target", "").partition(".")
        if service == CODEDEPLOY_TARGET:
            return await self.codedeploy.handle(request, operation)
        if service == CLOUDWATCH_TARGET:
            return await self.cloudwatch.json(request, operation)
        if service == LOGS_TARGET:
            return await self.logs.handle(request, operation)
        if request.content_type == "application/x-www-form-urlencoded":
            form = parse_form(await request.read())
            if "Action" in form:
                return await self.cloudwatch.query(request, form)
        return web.json_response(
            {"__type": "UnknownOperationException",
             "message": "unrecognised request: no X-Amz-Target header and no query Action"}, status=400)


def _elsewhere(others: OtherServices):
    """The middleware that hands a request for a service the emulator does not own to moto's."""

    @web.middleware
    async def route(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if belongs_elsewhere(request.headers):
            return await others.handle(request)
        return await handler(request)

    return route


def _whole_within(timeout: float):
    """The middleware that reads a request's body within `timeout` or answers 408 and closes: a
    client that sends slowly holds nothing for long (aiohttp's server waits for a body forever)."""

    @web.middleware
    async def whole(request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        try:
            await asyncio.wait_for(request.read(), timeout)  # kept: the handlers' read() returns it
        except TimeoutError:
            response = web.Response(status=408)
            response.force_close()
            return response
        return await handler(request)

    return whole


@web.middleware
async def _in_its_region(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """The request is served by the region its signature names (the scenario's when unsigned)."""
    current_region.set(region_of(request.headers.get("Authorization")))
    return await handler(request)


def build_app(emulator: Emulator, guard: Guard | None = None,
              request_timeout: float = REQUEST_TIMEOUT_S, regions: Regions | None = None) -> web.Application:
    guard = guard or scenario_guard(emulator.scenario)
    regions = regions or Regions(emulator, _empty_region(emulator), emulator.holdings.ceilings["regions"])
    app = web.Application(middlewares=[_bounded(guard), _whole_within(request_timeout), _guarded(guard),
                                       _elsewhere(emulator.others), _in_its_region, _aws_errors],
                          client_max_size=ZIP_REQUEST_LIMIT + 64 * 1024)
    app.add_routes(LambdaResponses(lambda: regions.get().lambda_, guard.code_uploads).routes())
    app.add_routes(CloudWatchResponses(lambda: regions.get().cloudwatch).routes())
    app.add_routes(AdminRoutes(emulator.lambda_, guard).routes())  # the scenario's own region
    app.add_routes(FlowLogNotesRoute(lambda region: regions.get(region).logs, guard).routes())
    app.router.add_post("/", _RootDispatch(regions).handle)
    return app


def _empty_region(home: Emulator) -> Callable[[Scenario], Emulator]:
    return lambda scenario: Emulator(scenario, clock=home.clock, seed=home.scenario.seed, holdings=home.holdings)


class EmulatorServer:
    """Serves an `Emulator` over HTTP; `start()` returns the endpoint URL. The front door takes
    Invoke itself and hands every other connection to the aiohttp application, unless
    `front_door=False`: then aiohttp serves everything (to compare). `guard` decides who may call
    (default: the scenario's handlers allowed, a fresh admin token)."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0, *,
                 front_door: bool = True, guard: Guard | None = None,
                 request_timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.emulator, self.host, self.port = emulator, host, port
        self.request_timeout = request_timeout
        self.front_door = front_door
        self.guard = guard or scenario_guard(emulator.scenario, hosts=(host,))
        self._runner: web.AppRunner | None = None
        self._door: FrontDoor | None = None
        self._listener: asyncio.AbstractServer | None = None
        self.regions = Regions(emulator, _empty_region(emulator), emulator.holdings.ceilings["regions"])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        self.emulator.start()
        # after a refusal aiohttp reads what a client still sends for up to lingering_time: bounded too
        self._runner = web.AppRunner(build_app(self.emulator, self.guard, self.request_timeout, self.regions),
                                     access_log=None,
                                     handle_signals=False, lingering_time=min(10.0, self.request_timeout))
        await self._runner.setup()
        if self.front_door:
            assert self._runner.server is not None
            regions = self.regions
            self._door = FrontDoor(_FastInvoke(LambdaResponses(lambda: regions.get().lambda_), self.guard),
                                   self._runner.server,
                                   request_timeout=self.request_timeout)
            self._listener = await asyncio.get_running_loop().create_server(
                self._door, self.host, self.port, backlog=1024)
            self.port = self._listener.sockets[0].getsockname()[1]
        else:
            site = web.TCPSite(self._runner, self.host, self.port, backlog=1024)
            await site.start()
            self.port = self._runner.addresses[0][1]
        self.guard.port = self.port
        self.emulator.lambda_.endpoint_url = self.url
        return self.url

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._door.close()  # type: ignore[union-attr]
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()  # also the connections handed to aiohttp
            self._runner = None
        self.regions.close()
        self.emulator.close()


async def serve_until_signalled(emulator: Emulator, host: str, port: int,
                                announce: Callable[[str], None], *, guard: Guard | None = None,
                                token_file: Path | None = None, exit_with_parent: bool = False) -> None:
    """Serve until SIGINT or SIGTERM (or, with `exit_with_parent`, the end of standard input: the
    parent that holds its other end is gone); `announce` gets the endpoint URL once listening. The
    admin token is written to `token_file` (default: `token_path(port)`) for this user's tools, and
    removed at the end."""
    import signal

    server = EmulatorServer(emulator, host, port, guard=guard)
    await server.start()
    token_file = token_file or token_path(server.port)
    write_token(token_file, server.guard.admin_token)
    gc.collect()
    gc.freeze()  # the stack provisioned so far lives as long as the server: spare it full GC passes
    gc.set_threshold(50_000, 10, 10)  # requests' objects are freed by reference counting: fewer young passes
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if exit_with_parent:
        stdin = sys.stdin.fileno()
        os.set_blocking(stdin, False)

        def on_input() -> None:
            try:
                ended = not os.read(stdin, 4096)
            except BlockingIOError:
                return
            if ended:
                loop.remove_reader(stdin)
                stop.set()

        loop.add_reader(stdin, on_input)
    announce(server.url)
    try:
        await stop.wait()
    finally:
        gc.unfreeze()
        token_file.unlink(missing_ok=True)
        await server.stop()
