"""Lambda's state and behaviour: functions, published versions, aliases with weighted routing,
concurrency limits and Invoke. No HTTP here: `responses.py` speaks the wire protocol.

Errors are `LambdaError`s carrying AWS's status, code and exact message. Routing and fault draws use
their own seeded RNGs, so a seeded run routes the same whatever faults it injects.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from simulator.client.fast_ids import random_uuid4
from simulator.deployment.arn import ALIAS_NAME, VERSION, ArnError, function_arn, parse_function_name
from simulator.deployment.clock import Clock
from simulator.emulator.functions import (
    FaultDraw,
    Handler,
    HandlerResult,
    LambdaContext,
    draw_faults,
    malformed_value,
    resolve_handler,
    run_handler,
    version_echo,
)
from simulator.emulator.holdings import Full, Holdings
from simulator.emulator.lambda_.answers import LogRecord, lambda_time, log_lines, log_tail, response_body
from simulator.emulator.lambda_.event_sources import (
    EventSourceMapping,
    QueueReader,
    StreamReader,
    new_mapping,
    poll,
    poll_queue,
)
from simulator.emulator.lambda_.packages import PackageError, Packages
from simulator.emulator.lambda_.provisioned import ProvisionedConfig, allocate, allocated, config_answer
from simulator.emulator.lambda_.sandbox import ProcessHandler, lambda_environment, wait_ended
from simulator.emulator.member_types import model_enum
from simulator.scenario.spec import CodeSpec, FunctionSpec, Scenario, VersionSpec

log = logging.getLogger("shiftsim.emulator")
LATEST = "$LATEST"
INVOCATION_TYPES = model_enum("lambda", "InvocationType")  # RequestResponse, Event, DryRun
LOG_TYPES = model_enum("lambda", "LogType")  # None, Tail
SYNC_PAYLOAD_LIMIT = 6_291_456
ASYNC_PAYLOAD_LIMIT = 262_144
EVENT_RETRY_DELAYS_S = (60.0, 120.0)  # Lambda's retries of an asynchronous invocation's function error


class LambdaError(Exception):
    """An AWS Lambda error response: HTTP status, error code, message and any modelled fields."""

    def __init__(self, status: int, code: str, message: str,
                 fields: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or {}
        self.headers = headers or {}


def _invalid(message: str) -> LambdaError:
    return LambdaError(400, "InvalidParameterValueException", message)


def _validation(message: str) -> LambdaError:
    return LambdaError(400, "ValidationException", message)


def _throttled(reason: str, injected: bool = False) -> LambdaError:
    headers = {"Retry-After": "1"}
    if injected:
        headers["X-Shiftsim-Injected"] = "throttle"
    return LambdaError(429, "TooManyRequestsException", "Rate Exceeded.",
                       {"Reason": reason, "retryAfterSeconds": "1"}, headers)


_ids = random.Random()


def new_id() -> str:
    """A UUID4 for request and revision ids, from a PRNG (no system call per invocation)."""
    return random_uuid4(_ids)


def _revision() -> str:
    return new_id()


@dataclass
class Version:
    """`$LATEST` or a published version: its code (handler), faults and identity."""

    number: str
    spec: VersionSpec
    handler: Handler | ProcessHandler
    code_sha256: str
    last_modified: float
    revision_id: str = field(default_factory=_revision)
    first_traffic_at: float | None = None
    provisioned: int = 0  # environments of provisioned concurrency allocated to it (an alias's share, or its own)
    provisioned_busy: int = 0  # of them, serving an invocation (code run in-process, which has no environments)


@dataclass
class Alias:
    name: str
    function_version: str
    weights: dict[str, float]
    description: str = ""
    revision_id: str = field(default_factory=_revision)


@dataclass
class Function:
    name: str
    arn: str
    timeout: int
    memory: int
    latest: Version
    versions: dict[str, Version] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    role: str | None = None
    in_flight: int = 0
    last_published: int = 0
    provisioned: dict[str, ProvisionedConfig] = field(default_factory=dict)  # alias or version -> its configuration

    def version(self, number: str) -> Version | None:
        return self.latest if number == LATEST else self.versions.get(number)


# Made for every invocation: slotted, not frozen (a frozen dataclass costs four times as much to make).
@dataclass(slots=True)
class InvocationObserved:
    """One invocation as the metrics see it (emulated start time, real duration)."""

    function: str
    alias: str | None
    executed_version: str | None
    start: float
    duration_ms: float
    kind: str  # "ok" | "function_error" | "throttled"
    weight: float = 1.0  # the production invocations a sampled one stands for (metrics count it so)
    provisioned: bool | None = None  # on provisioned concurrency, or spilled over; None: the version has none


@dataclass(slots=True)
class InvokeResult:
    """What Invoke answers: status, executed version, function error, payload, log tail."""

    status: int
    payload: bytes = b""
    executed_version: str | None = None
    function_error: str | None = None
    log_result: str | None = None
    injected: tuple[str, ...] = ()
    request_id: str | None = None  # the invocation's (its context's and its log lines'); None: the answer's own


def _code_sha(spec: VersionSpec, upload: int) -> str:
    """Each code upload is new code, even with the same handler (a new build on AWS)."""
    digest = hashlib.sha256(f"{spec.handler}|{spec.code!r}|{spec.faults!r}|{upload}".encode()).digest()
    return base64.b64encode(digest).decode()


def _unparsable(why: str) -> LambdaError:
    return LambdaError(400, "InvalidRequestContentException", f"Could not parse request body into json: {why}")


def _is_base64_json(text: str) -> bool:
    try:
        orjson.loads(base64.b64decode(text, validate=True))
    except (ValueError, orjson.JSONDecodeError):
        return False
    return True


class LambdaBackend:
    """All functions of one emulated account and region."""

    def __init__(self, clock: Clock, *, region: str, account: str, seed: int | None = None,
                 account_concurrency: int = 1000, handler_threads: int = 64, holdings: Holdings | None = None) -> None:
        self.clock, self.region, self.account = clock, region, account
        self.holdings = holdings or Holdings()
        self.account_concurrency = account_concurrency
        self.functions: dict[str, Function] = {}
        self.routing_rng = random.Random(seed)
        self.fault_rng = random.Random(None if seed is None else seed + 1)
        self.in_flight = 0
        self.observers: list[Callable[[InvocationObserved], None]] = []
        self.background: set[asyncio.Task[Any]] = set()
        self.uploads = 0
        self.sandboxes: list[ProcessHandler] = []  # the user's code, in worker processes
        self.packages = Packages()  # code that requests uploaded, unpacked
        self.warnings: list[str] = []  # what this backend runs differently from Lambda, said once each
        # Where each invocation's log lines go (CloudWatch Logs' /aws/lambda/<function>), if anywhere:
        # (function, version, emulated start, the invocation's lines formatted when asked for, the
        # invocations it stands for)
        self.log_sink: Callable[[str, str, float, LogRecord, float], None] | None = None
        # What each invocation's code printed, at its emulated end, with the invocations it stands for:
        # CloudWatch reads metrics embedded in those lines (EMF) as they arrive
        self.printed_sink: Callable[[str, float, float], None] | None = None
        self.stream_reader: StreamReader | None = None  # DynamoDB streams, for event source mappings
        self.queue_reader: QueueReader | None = None  # SQS queues, likewise
        self.mappings: dict[str, EventSourceMapping] = {}
        self.endpoint_url: str | None = None  # set once served; handed to handlers' context
        self.pool = ThreadPoolExecutor(max_workers=handler_threads, thread_name_prefix="lambda")

    def start(self) -> None:
        """Initialise the environments of provisioned concurrency given before the loop ran; call
        from inside the running loop."""
        for fn in self.functions.values():
            if fn.provisioned:
                self._allocate(fn)

    def close(self) -> None:
        for task in self.background:
            task.cancel()
        wait_ended([pid for sandbox in self.sandboxes for pid in sandbox.close()])
        self.packages.close()
        for mapping in self.mappings.values():
            if mapping.task is not None:
                mapping.task.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ---- provisioning ---------------------------------------------------------------------------

    def provision(self, scenario: Scenario) -> None:
        """Create the functions, versions and aliases a scenario declares (like `sam deploy`)."""
        for spec in scenario.functions:
            fn = self.create_function(spec, spec.versions[0])
            for version in spec.versions:
                self.set_code(fn.name, version)
                self.publish_version(fn.name)
            self.set_code(fn.name, spec.staged or spec.versions[-1])
            for alias in spec.aliases:
                self.create_alias(fn.name, alias.name, alias.version, alias.description,
                                  {"AdditionalVersionWeights": alias.additional_version_weights})
                if alias.provisioned_concurrency:
                    self.put_provisioned(fn.name, alias.name, alias.provisioned_concurrency)

    def _hold(self, kind: str) -> None:
        """One more of `kind` (functions, versions: Lambda's code storage; aliases, mappings), or AWS's refusal."""
        try:
            self.holdings.take(kind)
        except Full as full:
            code = "CodeStorageExceededException" if kind in ("functions", "versions") else "InvalidParameterValueException"
            raise LambdaError(400, code, full.sentence) from None

    def create_function(self, spec: FunctionSpec, code: VersionSpec, sha: str | None = None) -> Function:
        self._hold("functions")
        fn = Function(
            name=spec.name, arn=function_arn(self.region, self.account, spec.name),
            timeout=spec.timeout, memory=spec.memory, latest=self._upload(code, sha),
            reserved_concurrency=spec.reserved_concurrency,
        )
        self.functions[spec.name] = fn
        return fn

    def _upload(self, code: VersionSpec, sha: str | None = None) -> Version:
        self.uploads += 1
        return Version(LATEST, code, self._handler(code), sha or _code_sha(code, self.uploads), self.clock.now())

    def _handler(self, spec: VersionSpec) -> Handler | ProcessHandler:
        if spec.code is None:
            return resolve_handler(spec.handler)
        if not spec.code.runs_here:
            warning = (f"runtime {spec.code.runtime} ({spec.code.path}) does not run here: a stand-in "
                       "handler answers {\"version\": N} in its place")
            if warning not in self.warnings:
                self.warnings.append(warning)
                log.warning("shiftsim emulator: %s", warning)
            return version_echo
        sandbox = ProcessHandler(spec.code)
        self.sandboxes.append(sandbox)
        return sandbox

    def set_code(self, name: str, code: VersionSpec) -> Version:
        """Replace `$LATEST`'s code and faults (what UpdateFunctionCode does on AWS)."""
        fn = self.function(name)
        fn.latest = self._upload(code)
        return fn.latest

    # ---- the function API (CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction)

    def create_function_from_package(self, name: str, package: bytes, *, runtime: str, handler: str, role: str,
                                     timeout: int = 3, memory: int = 128, description: str = "",
                                     environment: dict[str, str] | None = None, publish: bool = False) -> dict[str, Any]:
        """A function from a zip (the request already validated): `$LATEST`, and version 1 if `publish`."""
        self._ref(name)
        if name in self.functions:
            raise LambdaError(409, "ResourceConflictException", f"Function already exist: {name}")
        folder, sha = self._unpack(package)
        code = CodeSpec(path=folder, handler=handler, runtime=runtime, environment=dict(environment or {}))
        fn = self.create_function(FunctionSpec(name=name, timeout=timeout, memory=memory),
                                  VersionSpec(handler=handler, description=description, code=code), sha)
        fn.role = role
        config = self.publish_version(name) if publish else self.configuration(fn, fn.latest)
        return {**config, "State": "Pending", "StateReason": "The function is being created.",
                "StateReasonCode": "Creating"}

    def _unpack(self, package: bytes) -> tuple[str, str]:
        try:
            return self.packages.unpack(package)
        except PackageError as exc:
            raise _invalid(str(exc)) from None

    def update_function_code(self, name: str, package: bytes, *, publish: bool = False,
                             revision_id: str | None = None) -> dict[str, Any]:
        fn = self.function(name)
        self._check_revision(fn.latest, revision_id)
        folder, sha = self._unpack(package)
        spec = fn.latest.spec
        current = spec.code or CodeSpec(path="", handler=spec.handler)
        fn.latest = self._upload(replace(spec, code=replace(current, path=folder)), sha)
        return self.publish_version(name) if publish else self.configuration(fn, fn.latest)

    def update_function_configuration(self, name: str, *, timeout: int | None = None, memory: int | None = None,
                                      handler: str | None = None, runtime: str | None = None,
                                      description: str | None = None, environment: dict[str, str] | None = None,
                                      role: str | None = None, revision_id: str | None = None) -> dict[str, Any]:
        fn = self.function(name)
        latest = fn.latest
        self._check_revision(latest, revision_id)
        fn.timeout, fn.memory = timeout or fn.timeout, memory or fn.memory
        fn.role = role or fn.role
        spec = latest.spec
        if description is not None:
            spec = replace(spec, description=description)
        if spec.code is not None and (handler, runtime, environment) != (None, None, None):
            code = replace(spec.code, handler=handler or spec.code.handler, runtime=runtime or spec.code.runtime,
                           environment=spec.code.environment if environment is None else dict(environment))
            spec = replace(spec, handler=code.handler, code=code)
        if spec != latest.spec:  # new settings are new execution environments; the code is the same
            fn.latest = self._upload(spec, latest.code_sha256)
        return self.configuration(fn, fn.latest)

    def _check_revision(self, version: Version, revision_id: str | None) -> None:
        if revision_id is not None and revision_id != version.revision_id:
            raise LambdaError(412, "PreconditionFailedException",
                              "The Revision Id provided does not match the latest Revision Id. "
                              "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")

    def delete_function(self, function_name: str, qualifier: str | None = None) -> None:
        fn, qualifier = self._qualified(function_name, qualifier)
        if qualifier is None:
            del self.functions[fn.name]
            self.holdings.give("functions")
            self.holdings.give("versions", len(fn.versions))
            self.holdings.give("aliases", len(fn.aliases))
            for version in (fn.latest, *fn.versions.values()):
                if isinstance(version.handler, ProcessHandler):
                    version.handler.close()
            self.packages.keep_only({v.spec.code.path for f in self.functions.values()
                                     for v in (f.latest, *f.versions.values()) if v.spec.code is not None})
            return
        if qualifier == LATEST:
            raise _invalid("$LATEST version cannot be deleted without deleting the function.")
        if qualifier in fn.aliases:
            raise _invalid("Deletion of aliases is not supported.")
        if qualifier not in fn.versions:
            raise self._not_found(fn, qualifier)
        users = sorted(a.name for a in fn.aliases.values() if qualifier == a.function_version or qualifier in a.weights)
        if users:
            raise LambdaError(409, "ResourceConflictException", "Unable to delete version because the following "
                              f"aliases reference it: [{', '.join(users)}]")
        version = fn.versions.pop(qualifier)
        self.holdings.give("versions")
        if fn.provisioned.pop(qualifier, None) is not None:
            version.provisioned = 0
            self._allocate(fn)
        if isinstance(version.handler, ProcessHandler) and version.handler is not fn.latest.handler:
            version.handler.close()

    # ---- event source mappings (DynamoDB streams, SQS queues) ----------------------------------------

    def create_event_source_mapping(self, event_source_arn: str, function_name: str, *,
                                    starting_position: str | None, batch_size: int | None = None, enabled: bool = True,
                                    maximum_retry_attempts: int = -1) -> dict[str, Any]:
        fn, qualifier = self._qualified(function_name, None)
        if qualifier is not None:
            self._version_for(fn, qualifier)  # the alias or version must exist
        if event_source_arn.startswith("arn:aws:sqs:"):
            batch_size = batch_size or 10
            if starting_position is not None:
                raise _invalid("StartingPosition is not valid for SQS event sources.")
            if not 1 <= batch_size <= 10:  # more needs a batching window, which is not served
                raise _invalid("shiftsim emulator: BatchSize must be between 1 and 10 for an SQS queue (a larger "
                               "batch needs MaximumBatchingWindowInSeconds, which is not served).")
            queues, position = self.queue_reader, ""
            polling = None if queues is None else (lambda m, invoke: poll_queue(m, queues, self.clock, invoke))
        else:
            batch_size = batch_size or 100  # a stream's default, as Lambda's
            if ":dynamodb:" not in event_source_arn or "/stream/" not in event_source_arn:
                raise _invalid("shiftsim emulator: only DynamoDB stream and SQS event sources are served (Kinesis, "
                               f"Kafka and MQ are not): {event_source_arn}")
            if starting_position not in ("LATEST", "TRIM_HORIZON"):
                raise _invalid("1 validation error detected: Value '" + str(starting_position) + "' at "
                               "'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: "
                               "[LATEST, TRIM_HORIZON]" if starting_position
                               else "StartingPosition is required for DynamoDB stream event sources.")
            if not 1 <= batch_size <= 10000:
                raise _invalid("BatchSize must be between 1 and 10000 for a DynamoDB stream.")
            streams, position = self.stream_reader, starting_position
            polling = None if streams is None else (lambda m, invoke: poll(m, streams, self.clock, invoke))
        if polling is None:
            raise LambdaError(500, "ServiceException", "shiftsim emulator: nothing to poll the event source with")
        arn = f"{fn.arn}:{qualifier}" if qualifier else fn.arn
        self._hold("event source mappings")
        mapping = new_mapping(event_source_arn, arn, position, batch_size, enabled, maximum_retry_attempts,
                              self.clock.now())
        self.mappings[mapping.uuid] = mapping
        mapping.task = asyncio.ensure_future(polling(mapping, functools.partial(self._invoke_for, mapping)))
        return {**mapping.configuration(), "State": "Creating"}

    async def _invoke_for(self, mapping: EventSourceMapping, event: dict[str, Any]) -> bool:
        """One batch from a stream, as Lambda's poller invokes it (synchronously); True if it succeeded."""
        try:
            fn, qualifier = self._qualified(mapping.function_arn, None)
            version, alias = self.route(fn, qualifier)
            now = self.clock.now()
            if version.first_traffic_at is None:
                version.first_traffic_at = now
            faults = draw_faults(version.spec.faults, now - version.first_traffic_at, self.fault_rng)
            self._admit(fn)
            result = await self._run(fn, version, alias, mapping.function_arn, event, faults, None, None)
        except LambdaError:
            return False
        return result.function_error is None

    def event_source_mapping(self, uuid: str) -> EventSourceMapping:
        mapping = self.mappings.get(uuid)
        if mapping is None:
            raise LambdaError(404, "ResourceNotFoundException", "The resource you requested does not exist.")
        return mapping

    def list_event_source_mappings(self, function_name: str | None, event_source_arn: str | None) -> list[dict[str, Any]]:
        wanted = None if function_name is None else self.function(function_name).name
        return [m.configuration() for m in self.mappings.values()
                if (wanted is None or m.function_arn.split(":")[6] == wanted)
                and (event_source_arn is None or m.event_source_arn == event_source_arn)]

    def update_event_source_mapping(self, uuid: str, enabled: bool | None, batch_size: int | None) -> dict[str, Any]:
        mapping = self.event_source_mapping(uuid)
        if enabled is not None:
            mapping.enabled, mapping.state = enabled, "Enabled" if enabled else "Disabled"
        if batch_size is not None:
            mapping.batch_size = batch_size
        mapping.last_modified = self.clock.now()
        return mapping.configuration()

    def delete_event_source_mapping(self, uuid: str) -> dict[str, Any]:
        mapping = self.mappings.pop(self.event_source_mapping(uuid).uuid)
        self.holdings.give("event source mappings")
        if mapping.task is not None:
            mapping.task.cancel()
        return {**mapping.configuration(), "State": "Deleting"}

    # ---- lookups --------------------------------------------------------------------------------

    def _ref(self, function_name: str):
        try:
            ref = parse_function_name(function_name)
        except ArnError:
            raise _validation(
                f"1 validation error detected: Value '{function_name}' at 'functionName' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                "(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
            ) from None
        if ref.account not in (None, self.account) or ref.region not in (None, self.region):
            raise LambdaError(404, "ResourceNotFoundException",
                              f"Function not found: {function_arn(ref.region or self.region, ref.account or self.account, ref.name)}")
        return ref

    def function(self, function_name: str) -> Function:
        ref = self._ref(function_name)
        fn = self.functions.get(ref.name)
        if fn is None:
            raise LambdaError(404, "ResourceNotFoundException",
                              f"Function not found: {function_arn(self.region, self.account, ref.name)}")
        return fn

    def _qualified(self, function_name: str, qualifier: str | None) -> tuple[Function, str | None]:
        """The function and the one qualifier meant by the name and the Qualifier parameter."""
        ref = self._ref(function_name)
        if ref.qualifier and qualifier and ref.qualifier != qualifier:
            raise _invalid("The derived qualifier from the function name does not match the "
                           "specified qualifier.")
        return self.function(function_name), ref.qualifier or qualifier

    def _not_found(self, fn: Function, qualifier: str) -> LambdaError:
        return LambdaError(404, "ResourceNotFoundException",
                           f"Function not found: {fn.arn}:{qualifier}")

    def alias(self, function_name: str, name: str, missing: str = "Alias not found: ") -> tuple[Function, Alias]:
        """The function and its alias; `missing` begins the message when there is no such alias (GetAlias
        says "Cannot find alias arn: ", UpdateAlias "Alias not found: ")."""
        fn = self.function(function_name)
        alias = fn.aliases.get(name)
        if alias is None:
            raise LambdaError(404, "ResourceNotFoundException", f"{missing}{fn.arn}:{name}")
        return fn, alias

    # ---- configuration views (AWS shapes) -------------------------------------------------------

    def configuration(self, fn: Function, version: Version) -> dict[str, Any]:
        code = version.spec.code
        config = {
            "FunctionName": fn.name,
            "FunctionArn": fn.arn if version.number == LATEST else f"{fn.arn}:{version.number}",
            "Runtime": code.runtime if code else "python3.12",
            "Role": fn.role or f"arn:aws:iam::{self.account}:role/ConnectLambdaFunctionRole",
            "Handler": code.handler if code else version.spec.handler,
            "CodeSize": 1024,
            "Description": version.spec.description,
            "Timeout": fn.timeout,
            "MemorySize": fn.memory,
            "LastModified": lambda_time(version.last_modified),
            "CodeSha256": version.code_sha256,
            "Version": version.number,
            "RevisionId": version.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
        }
        if code is not None and code.environment:
            config["Environment"] = {"Variables": dict(code.environment)}
        return config

    def alias_configuration(self, fn: Function, alias: Alias) -> dict[str, Any]:
        config: dict[str, Any] = {
            "AliasArn": f"{fn.arn}:{alias.name}",
            "Name": alias.name,
            "FunctionVersion": alias.function_version,
            "Description": alias.description,
            "RevisionId": alias.revision_id,
        }
        if alias.weights:
            config["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.weights)}
        return config

    def get_function(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        fn, qualifier = self._qualified(function_name, qualifier)
        version = self._version_for(fn, qualifier)
        result: dict[str, Any] = {
            "Configuration": self.configuration(fn, version),
            "Code": {"RepositoryType": "S3", "Location": f"https://shiftsim.invalid/{fn.name}.zip"},
        }
        if fn.reserved_concurrency is not None:
            result["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
        return result

    def _version_for(self, fn: Function, qualifier: str | None) -> Version:
        if qualifier is None:
            return fn.latest
        if qualifier in fn.aliases:
            qualifier = fn.aliases[qualifier].function_version
        version = fn.version(qualifier)
        if version is None:
            raise self._not_found(fn, qualifier)
        return version

    def list_functions(self) -> list[dict[str, Any]]:
        return [self.configuration(fn, fn.latest) for fn in self.functions.values()]

    def list_versions(self, function_name: str) -> list[dict[str, Any]]:
        fn = self.function(function_name)
        return [self.configuration(fn, v) for v in (fn.latest, *fn.versions.values())]

    # ---- versions -------------------------------------------------------------------------------

    def publish_version(self, function_name: str, description: str | None = None,
                        code_sha256: str | None = None, revision_id: str | None = None) -> dict[str, Any]:
        fn = self.function(function_name)
        latest = fn.latest
        self._check_revision(latest, revision_id)
        if code_sha256 is not None and code_sha256 != latest.code_sha256:
            raise _invalid(f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in "
                           f"$LATEST ({latest.code_sha256}). Please try again with the CodeSHA256 in $LATEST.")
        newest = fn.versions.get(str(fn.last_published))
        if newest is not None and newest.code_sha256 == latest.code_sha256 and newest.spec.code == latest.spec.code:
            return self.configuration(fn, newest)  # AWS publishes nothing new for unchanged code
        self._hold("versions")
        fn.last_published += 1
        spec = latest.spec if description is None else replace(latest.spec, description=description)
        version = Version(str(fn.last_published), spec, latest.handler, latest.code_sha256,
                          self.clock.now())
        fn.versions[version.number] = version
        return self.configuration(fn, version)

    # ---- aliases --------------------------------------------------------------------------------

    def _check_routing(self, fn: Function, primary: str, routing: dict[str, Any] | None) -> dict[str, float]:
        if routing is not None and not isinstance(routing, dict):
            raise _unparsable("RoutingConfig must be an object")
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        if not isinstance(weights, dict):
            raise _unparsable("AdditionalVersionWeights must be an object")
        weights = dict(weights)
        for weight in weights.values():
            if not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0 or math.isnan(weight):
                shown = ", ".join(f"{k}={float(v) if isinstance(v, (int, float)) else v}"
                                  for k, v in weights.items())
                raise _validation(
                    f"1 validation error detected: Value '{{{shown}}}' at "
                    "'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value "
                    "must satisfy constraint: [Member must have value less than or equal to 1.0, "
                    "Member must have value greater than or equal to 0.0, Member must not be null]")
        if len(weights) > 1:
            raise _invalid("Number of items in AdditionalVersionWeights cannot be greater than 1")
        if weights and primary == LATEST:
            raise _invalid("$LATEST is not supported for an alias pointing to more than 1 version")
        for version in weights:
            if version == primary:
                raise _invalid(f"Invalid function version {version}. Function version {version} is "
                               "already included in routing configuration.")
            if not VERSION.match(version) or version not in fn.versions:
                raise self._not_found(fn, version)
        return {k: float(v) for k, v in weights.items()}

    def _check_version(self, fn: Function, version: str) -> None:
        if version != LATEST and version not in fn.versions:
            raise self._not_found(fn, version)

    def create_alias(self, function_name: str, name: str, function_version: str,
                     description: str | None = None,
                     routing: dict[str, Any] | None = None) -> dict[str, Any]:
        fn = self.function(function_name)
        if not ALIAS_NAME.match(name or "") or len(name) > 128:
            raise _validation(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
        if name in fn.aliases:
            raise LambdaError(409, "ResourceConflictException", f"Alias already exists: {fn.arn}:{name}")
        self._check_version(fn, function_version)
        weights = self._check_routing(fn, function_version, routing)
        self._hold("aliases")
        fn.aliases[name] = Alias(name, function_version, weights, description or "")
        return self.alias_configuration(fn, fn.aliases[name])

    def get_alias(self, function_name: str, name: str) -> dict[str, Any]:
        return self.alias_configuration(*self.alias(function_name, name, missing="Cannot find alias arn: "))

    def update_alias(self, function_name: str, name: str, function_version: str | None = None,
                     description: str | None = None, routing: dict[str, Any] | None = None,
                     revision_id: str | None = None) -> dict[str, Any]:
        fn, alias = self.alias(function_name, name)
        if revision_id is not None and revision_id != alias.revision_id:
            raise LambdaError(412, "PreconditionFailedException",
                              "The Revision Id provided does not match the latest Revision Id. "
                              "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
        primary = function_version or alias.function_version
        self._check_version(fn, primary)
        if routing is not None:
            weights = self._check_routing(fn, primary, routing)
        else:
            weights = self._check_routing(fn, primary, {"AdditionalVersionWeights": alias.weights})
        alias.function_version, alias.weights = primary, weights
        if description is not None:
            alias.description = description
        alias.revision_id = _revision()
        if name in fn.provisioned:  # its provisioned concurrency follows the routing to the versions
            self._allocate(fn)
        return self.alias_configuration(fn, alias)

    def delete_alias(self, function_name: str, name: str) -> None:
        fn = self.function(function_name)
        if fn.aliases.pop(name, None) is not None:  # AWS answers 204 for an alias that does not exist
            self.holdings.give("aliases")
            if fn.provisioned.pop(name, None) is not None:  # its provisioned concurrency goes with it
                self._allocate(fn)

    def list_aliases(self, function_name: str, function_version: str | None = None) -> list[dict[str, Any]]:
        fn = self.function(function_name)
        return [self.alias_configuration(fn, a) for a in fn.aliases.values()
                if function_version is None or a.function_version == function_version
                or function_version in a.weights]

    # ---- concurrency ----------------------------------------------------------------------------

    def put_concurrency(self, function_name: str, reserved: int | None) -> dict[str, Any]:
        fn = self.function(function_name)
        if reserved is not None and (not isinstance(reserved, int) or reserved < 0):
            raise _validation(f"1 validation error detected: Value '{reserved}' at "
                              "'reservedConcurrentExecutions' failed to satisfy constraint: Member "
                              "must have value greater than or equal to 0")
        if reserved is not None and reserved > self.account_concurrency - 100:
            raise _invalid("Specified ReservedConcurrentExecutions for function decreases account's "
                           "UnreservedConcurrentExecution below its minimum value of [100].")
        fn.reserved_concurrency = reserved
        return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}

    # ---- provisioned concurrency ----------------------------------------------------------------

    def put_provisioned(self, function_name: str, qualifier: str | None, requested: Any) -> dict[str, Any]:
        """PutProvisionedConcurrencyConfig: environments kept initialised for an alias (shared between
        the versions it routes to, by weight) or a published version; its status is IN_PROGRESS until
        they are."""
        fn, qualifier = self._qualified(function_name, qualifier)
        if not isinstance(requested, int) or isinstance(requested, bool) or requested < 1:
            raise _validation(f"1 validation error detected: Value '{requested}' at 'provisionedConcurrentExecutions' "
                              "failed to satisfy constraint: Member must have value greater than or equal to 1")
        if not qualifier or qualifier == LATEST:
            raise _invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
        alias = fn.aliases.get(qualifier)
        if alias is None and qualifier not in fn.versions:
            raise self._not_found(fn, qualifier)
        if alias is not None and alias.function_version in fn.provisioned:
            raise LambdaError(409, "ResourceConflictException",
                              "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version")
        if alias is None and any(a.function_version == qualifier for name, a in fn.aliases.items() if name in fn.provisioned):
            raise LambdaError(409, "ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias")
        others = sum(c.requested for q, c in fn.provisioned.items() if q != qualifier)
        if fn.reserved_concurrency is not None and others + requested > fn.reserved_concurrency:
            raise _invalid("Requested Provisioned Concurrency should not be greater than the "
                           "reservedConcurrentExecution for function")
        if fn.reserved_concurrency is None and self._unreserved(fn, qualifier) - requested < 100:
            raise _invalid("Specified ConcurrentExecutions for function decreases account's "
                           "UnreservedConcurrentExecution below its minimum value of [100].")
        fn.provisioned[qualifier] = ProvisionedConfig(requested, self.clock.now())
        self._allocate(fn)
        return self.provisioned_config(fn, qualifier)

    def _unreserved(self, fn: Function, qualifier: str) -> int:
        """The account's concurrency no function reserves, less other provisioned concurrency taken from it."""
        taken = sum(f.reserved_concurrency for f in self.functions.values() if f.reserved_concurrency is not None)
        taken += sum(c.requested for f in self.functions.values() if f.reserved_concurrency is None
                     for q, c in f.provisioned.items() if (f, q) != (fn, qualifier))
        return self.account_concurrency - taken

    def provisioned_config(self, fn: Function, qualifier: str, with_arn: bool = False) -> dict[str, Any]:
        config = fn.provisioned.get(qualifier)
        if config is None:
            raise LambdaError(404, "ProvisionedConcurrencyConfigNotFoundException",
                              "No Provisioned Concurrency Config found for this function")
        return config_answer(config, *allocated(fn, qualifier), f"{fn.arn}:{qualifier}" if with_arn else None)

    def get_provisioned(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        fn, qualifier = self._qualified(function_name, qualifier)
        return self.provisioned_config(fn, qualifier or LATEST)

    def list_provisioned(self, function_name: str) -> list[dict[str, Any]]:
        fn = self.function(function_name)
        return [self.provisioned_config(fn, qualifier, with_arn=True) for qualifier in fn.provisioned]

    def delete_provisioned(self, function_name: str, qualifier: str | None) -> None:
        fn, qualifier = self._qualified(function_name, qualifier)
        if fn.provisioned.pop(qualifier or LATEST, None) is None:
            raise LambdaError(404, "ProvisionedConcurrencyConfigNotFoundException",
                              "No Provisioned Concurrency Config found for this function")
        self._allocate(fn)

    def _allocate(self, fn: Function) -> None:
        allocate(fn, lambda version: functools.partial(self._environment, fn, fn.versions[version.number]))

    # ---- invoke ---------------------------------------------------------------------------------

    def route(self, fn: Function, qualifier: str | None, draw: bool = True) -> tuple[Version, str | None]:
        """The version an invocation runs on, with one weighted draw per call through an alias (none
        when not `draw`: a DryRun runs nothing, and must not move a seeded run's routing)."""
        if qualifier is None or qualifier == LATEST:
            return fn.latest, None
        alias = fn.aliases.get(qualifier)
        if alias is None:
            version = fn.versions.get(qualifier)
            if version is None:
                raise self._not_found(fn, qualifier)
            return version, None
        number = alias.function_version
        for additional, weight in alias.weights.items() if draw else ():
            if self.routing_rng.random() < weight:
                number = additional
        return fn.version(number), alias.name  # type: ignore[return-value]

    async def warm(self, function_name: str, qualifier: str | None, idle: int = 1) -> list[str]:
        """Up to `idle` idle execution environments for each version the qualifier serves (an alias: its
        version and any it shifts traffic to), as production's would have from serving traffic, less
        those its provisioned concurrency keeps (traffic within it leaves no on-demand ones); the
        versions warmed. Code the emulator runs in-process has no environment to warm."""
        fn, qualifier = self._qualified(function_name, qualifier)
        alias = fn.aliases.get(qualifier) if qualifier is not None else None
        numbers = [alias.function_version, *alias.weights] if alias is not None else [qualifier or LATEST]
        warmed = []
        for number in numbers:
            version = fn.latest if number == LATEST else fn.versions.get(number)
            if version is None:
                raise self._not_found(fn, number)
            handler = version.handler
            if not isinstance(handler, ProcessHandler):
                continue
            added = await handler.warm(self._environment(fn, version), idle - version.provisioned)
            await handler.settled()  # production's provisioned concurrency is READY before its traffic
            if added or handler.provisioned_ready:
                warmed.append(version.number)
        return warmed

    def _admit(self, fn: Function) -> None:
        if fn.reserved_concurrency is not None and fn.in_flight >= fn.reserved_concurrency:
            raise _throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
        if self.in_flight >= self.account_concurrency:
            raise _throttled("ConcurrentInvocationLimitExceeded")

    def _observe(self, event: InvocationObserved) -> None:
        for observer in self.observers:
            observer(event)

    async def invoke(self, function_name: str, qualifier: str | None, payload: bytes,
                     invocation_type: str = "RequestResponse", log_type: str | None = None,
                     client_context: str | None = None, weight: float = 1.0,
                     attempted: Callable[[InvokeResult], None] | None = None) -> InvokeResult:
        """`attempted`, for an asynchronous invocation: told each attempt's result (what a caller of
        AWS would read in the function's logs)."""
        fn, qualifier = self._qualified(function_name, qualifier)
        if invocation_type not in INVOCATION_TYPES:
            raise _validation(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed "
                f"to satisfy constraint: Member must satisfy enum value set: [{', '.join(INVOCATION_TYPES)}]")
        if log_type is not None and log_type not in LOG_TYPES:
            raise _validation(
                f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [{', '.join(LOG_TYPES)}]")
        if client_context is not None and not _is_base64_json(client_context):
            raise LambdaError(400, "InvalidRequestContentException",
                              "Client context must be a valid Base64-encoded JSON object.")
        limit = ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
        if len(payload) > limit:
            operation = "InvokeAsync" if invocation_type == "Event" else "InvokeFunction"
            raise LambdaError(413, "RequestTooLargeException",
                              f"Request must be smaller than {limit} bytes for the {operation} operation")
        try:
            event = orjson.loads(payload) if payload else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise LambdaError(400, "InvalidRequestContentException",
                              f"Could not parse request body into json: {exc}") from None
        version, alias = self.route(fn, qualifier, draw=invocation_type != "DryRun")
        if invocation_type == "DryRun":
            return InvokeResult(status=204)
        now = self.clock.now()
        if version.first_traffic_at is None:
            version.first_traffic_at = now
        faults = draw_faults(version.spec.faults, now - version.first_traffic_at, self.fault_rng)
        try:
            self._admit(fn)
            if faults.throttle:
                raise _throttled("ReservedFunctionConcurrentInvocationLimitExceeded", injected=True)
        except LambdaError:
            self._observe(InvocationObserved(fn.name, alias, version.number, now, 0.0, "throttled", weight))
            raise
        invoked_arn = f"{fn.arn}:{qualifier}" if qualifier else fn.arn
        if invocation_type == "Event":
            request_id = new_id()  # the same for Lambda's retries, as their log lines show
            task = asyncio.create_task(self._run_event(fn, version, alias, invoked_arn, event, faults,
                                                       client_context, weight, attempted, request_id))
            self.background.add(task)
            task.add_done_callback(self.background.discard)
            return InvokeResult(status=202, request_id=request_id)
        return await self._run(fn, version, alias, invoked_arn, event, faults, client_context, log_type, weight)

    async def _run_event(self, fn: Function, version: Version, alias: str | None, invoked_arn: str,
                         event: Any, faults: FaultDraw, client_context: str | None, weight: float,
                         attempted: Callable[[InvokeResult], None] | None = None,
                         request_id: str | None = None) -> None:
        """An asynchronous invocation, with Lambda's retries of a function error (or a timeout): two
        more attempts, one minute and then two minutes (emulated) after the last."""
        for delay in (0.0, *EVENT_RETRY_DELAYS_S):
            if delay:
                await self.clock.sleep(delay)
                faults = draw_faults(version.spec.faults, self.clock.now() - (version.first_traffic_at or 0.0),
                                     self.fault_rng)
            result = await self._run(fn, version, alias, invoked_arn, event, faults, client_context, None, weight,
                                     request_id)
            if attempted is not None:
                attempted(result)
            if result.function_error is None:
                return

    async def _run(self, fn: Function, version: Version, alias: str | None, invoked_arn: str,
                   event: Any, faults: FaultDraw, client_context: str | None,
                   log_type: str | None, weight: float = 1.0, request_id: str | None = None) -> InvokeResult:
        request_id = request_id or new_id()
        start_emulated, started = self.clock.now(), time.perf_counter()
        fn.in_flight += 1
        self.in_flight += 1
        try:
            result = await self._execute(fn, version, invoked_arn, event, faults, request_id,
                                         client_context)
        finally:
            fn.in_flight -= 1
            self.in_flight -= 1
        duration_ms = (time.perf_counter() - started) * 1000
        body, function_error = response_body(result, fn.timeout, request_id)
        self._observe(InvocationObserved(fn.name, alias, version.number, start_emulated,
                                         duration_ms, "function_error" if function_error else "ok", weight,
                                         result.provisioned if version.provisioned else None))
        log_result = None
        if self.log_sink is not None or log_type == "Tail":
            record = self._log_record(fn, version, request_id, duration_ms, result)
            if self.log_sink is not None:  # formatted only when the logs are read: not on the invocation's path
                self.log_sink(fn.name, version.number, start_emulated, record, weight)
            if log_type == "Tail":
                log_result = log_tail(log_lines(record))
        if result.logs and self.printed_sink is not None:
            self.printed_sink(result.logs, self.clock.now(), weight)
        return InvokeResult(status=200, payload=body, executed_version=version.number,
                            function_error=function_error, log_result=log_result,
                            injected=faults.names, request_id=request_id)

    async def _execute(self, fn: Function, version: Version, invoked_arn: str, event: Any,
                       faults: FaultDraw, request_id: str, client_context: str | None) -> HandlerResult:
        injected = version.provisioned > 0  # an injected fault meets no environment: counted as provisioned
        if faults.extra_latency_s:
            await asyncio.sleep(min(faults.extra_latency_s, fn.timeout))
            if faults.extra_latency_s >= fn.timeout:
                return HandlerResult(timed_out=True, provisioned=injected)
        if faults.timeout:
            await asyncio.sleep(max(0.0, fn.timeout - faults.extra_latency_s))
            return HandlerResult(timed_out=True, provisioned=injected)
        if faults.error:
            return HandlerResult(error_type="InjectedFault",
                                 error_message=f"shiftsim injected an error into version {version.number}",
                                 stack_trace=("  File \"/var/task/shiftsim_fault.py\", line 1, in handler",),
                                 provisioned=injected)
        context = LambdaContext(
            function_name=fn.name, function_version=version.number, invoked_function_arn=invoked_arn,
            aws_request_id=request_id, memory_limit_in_mb=fn.memory,
            timeout_s=fn.timeout - faults.extra_latency_s, client_context=client_context,
            endpoint_url=self.endpoint_url)
        timeout_s = fn.timeout - faults.extra_latency_s
        if isinstance(version.handler, ProcessHandler):
            result = await version.handler.run(event, context, timeout_s, lambda: self._environment(fn, version),
                                               provisioned=version.provisioned > 0)
        elif version.provisioned > version.provisioned_busy:  # in-process code: a provisioned slot, or spillover
            version.provisioned_busy += 1
            try:
                result = await run_handler(version.handler, event, context, timeout_s, self.pool)
            finally:
                version.provisioned_busy -= 1
            result.provisioned = True
        else:
            result = await run_handler(version.handler, event, context, timeout_s, self.pool)
        if faults.malformed and result.error_type is None and not result.timed_out:
            return HandlerResult(value=malformed_value(faults.malformed, version.number), provisioned=result.provisioned)
        return result

    def _environment(self, fn: Function, version: Version) -> dict[str, str]:
        """The variables of an execution environment of the version's code (Lambda's and the function's)."""
        code = version.spec.code
        assert code is not None
        return lambda_environment(code, function=fn.name, version=version.number, memory_mb=fn.memory,
                                  region=self.region, endpoint_url=self.endpoint_url)

    def _log_record(self, fn: Function, version: Version, request_id: str, duration_ms: float,
                    result: HandlerResult) -> LogRecord:
        """What Lambda's lines of one invocation are made of (log_lines makes them)."""
        return (request_id, version.number, result.logs, result.timed_out, result.error_type, result.error_message,
                tuple(result.stack_trace), result.trace_field, result.init_ms, result.memory_used_mb, fn.timeout,
                fn.memory, duration_ms, self.clock.now())
