"""Lambda's REST-JSON wire protocol: aiohttp routes that parse requests, call the model and write
AWS's response shapes, headers and error bodies (so botocore raises the ClientError it would on AWS).

Invoke and the error bodies are also given as an `Answer` (status, headers, body), which the
emulator's front door writes itself, with no aiohttp response in between.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import Any

from aiohttp import web

from simulator.deployment.vocabulary import WEIGHT_HEADER
from simulator.emulator.front_door import Answer
from simulator.emulator.lambda_.models import LambdaBackend, LambdaError, new_id
from simulator.service_models import service_model

# Error shapes whose message member is spelled "Message" in the service model (others: "message").
_CAPITALISED_MESSAGE = {"ResourceNotFoundException", "ResourceConflictException",
                        "InvalidParameterValueException", "PreconditionFailedException",
                        "ServiceException"}
# The runtimes Lambda's API takes: botocore's service model's, never a list kept here (one would
# refuse a runtime AWS launched, as python3.14 was).
RUNTIMES = tuple(service_model("lambda").shape_for("Runtime").enum)
ZIP_REQUEST_LIMIT = 69_905_067  # a 50 MB zip, base64-encoded in the JSON body
CODE_UPLOADS_REFUSED = ("shiftsim emulator: code a request uploads runs only when the emulator was started with "
                        "`shiftsim serve --allow-code-upload`")


def _null(member: str) -> LambdaError:
    return LambdaError(400, "ValidationException", f"1 validation error detected: Value null at '{member}' "
                       "failed to satisfy constraint: Member must not be null")


def _bounded(body: dict[str, Any], key: str, member: str, low: int, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise LambdaError(400, "InvalidParameterValueException", f"{key} must be a whole number")
    if not low <= value <= high:
        limit = f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
        raise LambdaError(400, "ValidationException", f"1 validation error detected: Value '{value}' at "
                          f"'{member}' failed to satisfy constraint: Member must have value {limit}")
    return value


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _runtime(body: dict[str, Any]) -> str | None:
    runtime = _str_field(body, "Runtime")
    if runtime is not None and runtime not in RUNTIMES:
        raise LambdaError(400, "ValidationException", f"1 validation error detected: Value '{runtime}' at "
                          "'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
                          f"[{', '.join(RUNTIMES)}] or be a valid ARN")
    return runtime


def _environment(body: dict[str, Any]) -> dict[str, str] | None:
    environment = body.get("Environment")
    if environment is None:
        return None
    variables = environment.get("Variables") if isinstance(environment, dict) else None
    if variables is None:
        return {}
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise LambdaError(400, "InvalidParameterValueException", "Environment.Variables must map names to strings")
    return dict(variables)


def _zip(code: Any) -> bytes:
    """The zip a Code (or UpdateFunctionCode) body carries; S3 and image forms are refused as AWS
    refuses them when the object is not there (this emulator has no S3 or ECR)."""
    if not isinstance(code, dict):
        raise _null("code")
    if code.get("ImageUri"):
        raise LambdaError(400, "InvalidParameterValueException",
                          f"Source image {code['ImageUri']} does not exist. Provide a valid source image.")
    if code.get("S3Bucket"):
        raise LambdaError(400, "InvalidParameterValueException",
                          "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: "
                          "The specified bucket does not exist")
    data = code.get("ZipFile")
    if not isinstance(data, str) or not data:
        raise LambdaError(400, "InvalidParameterValueException",
                          "Please provide a source for function code (ZipFile, S3Bucket and S3Key, or ImageUri).")
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        raise LambdaError(400, "InvalidParameterValueException",
                          "Could not unzip uploaded file. Please check your file, then try to upload again.") from None



def _weight(value: str | None) -> float:
    if value is None:
        return 1.0
    try:
        weight = float(value)
    except ValueError:
        weight = math.nan
    if not 1.0 <= weight <= 1e9:  # NaN fails too
        raise LambdaError(400, "InvalidParameterValueException",
                          f"{WEIGHT_HEADER} must be a number from 1 to 1e9, got {value!r}")
    return weight


def error_answer(error: LambdaError) -> Answer:
    key = "Message" if error.code in _CAPITALISED_MESSAGE else "message"
    body = {"Type": "User" if error.status < 500 else "Service", key: error.message, **error.fields}
    headers = {"Content-Type": "application/json; charset=utf-8", "x-amzn-ErrorType": error.code,
               "x-amzn-RequestId": new_id(), **error.headers}
    return error.status, headers, json.dumps(body).encode()


def web_response(answer: Answer) -> web.Response:
    status, headers, body = answer
    return web.Response(status=status, body=body or None, headers=headers)


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise LambdaError(400, "InvalidRequestContentException",
                          f"Could not parse request body into json: {exc}") from None
    if not isinstance(body, dict):
        raise LambdaError(400, "InvalidRequestContentException",
                          "Could not parse request body into json: expected an object")
    return body


def _page(request: web.Request, key: str, items: list[Any]) -> dict[str, Any]:
    """One page of a list, as Lambda's List operations page: `MaxItems` (1 to 10000) from `Marker`
    (an opaque token: here the index of the page's first item), and `NextMarker` while more remain."""
    query = request.query
    try:
        start = int(query.get("Marker") or 0)
        size = int(query.get("MaxItems") or 10000)
    except ValueError:
        raise LambdaError(400, "InvalidParameterValueException", "Marker or MaxItems is not valid") from None
    if not 1 <= size <= 10000:
        raise LambdaError(400, "ValidationException", f"1 validation error detected: Value '{size}' at "
                          "'maxItems' failed to satisfy constraint: Member must have value less than or equal to 10000")
    page: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        page["NextMarker"] = str(start + size)
    return page


def _str_field(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise LambdaError(400, "InvalidParameterValueException", f"{key} must be a string")
    return value


class LambdaResponses:
    """The Lambda routes of the emulator's application."""

    def __init__(self, backend: LambdaBackend | Callable[[], LambdaBackend], code_uploads: bool = False) -> None:
        self._backend = backend  # or, with state per region, what gives the request's region's
        self.code_uploads = code_uploads  # whether a request may upload code for the emulator to run

    @property
    def backend(self) -> LambdaBackend:
        return self._backend() if callable(self._backend) else self._backend

    def routes(self) -> list[web.RouteDef]:
        fn = "/2015-03-31/functions/{FunctionName}"
        return [
            web.get("/2015-03-31/functions", self.list_functions),
            web.get("/2015-03-31/functions/", self.list_functions),
            web.post("/2015-03-31/functions", self.create_function),
            web.get(fn, self.get_function),
            web.delete(fn, self.delete_function),
            web.get(fn + "/configuration", self.get_function_configuration),
            web.put(fn + "/configuration", self.update_function_configuration),
            web.put(fn + "/code", self.update_function_code),
            web.post(fn + "/invocations", self.invoke),
            web.post(fn + "/versions", self.publish_version),
            web.get(fn + "/versions", self.list_versions),
            web.post(fn + "/aliases", self.create_alias),
            web.get(fn + "/aliases", self.list_aliases),
            web.get(fn + "/aliases/{Name}", self.get_alias),
            web.put(fn + "/aliases/{Name}", self.update_alias),
            web.delete(fn + "/aliases/{Name}", self.delete_alias),
            web.post("/2015-03-31/event-source-mappings/", self.create_event_source_mapping),
            web.post("/2015-03-31/event-source-mappings", self.create_event_source_mapping),
            web.get("/2015-03-31/event-source-mappings/", self.list_event_source_mappings),
            web.get("/2015-03-31/event-source-mappings", self.list_event_source_mappings),
            web.get("/2015-03-31/event-source-mappings/{UUID}", self.get_event_source_mapping),
            web.put("/2015-03-31/event-source-mappings/{UUID}", self.update_event_source_mapping),
            web.delete("/2015-03-31/event-source-mappings/{UUID}", self.delete_event_source_mapping),
            web.put("/2017-10-31/functions/{FunctionName}/concurrency", self.put_concurrency),
            web.delete("/2017-10-31/functions/{FunctionName}/concurrency", self.delete_concurrency),
            web.get("/2019-09-30/functions/{FunctionName}/concurrency", self.get_concurrency),
            web.put("/2019-09-30/functions/{FunctionName}/provisioned-concurrency", self.put_provisioned),
            web.get("/2019-09-30/functions/{FunctionName}/provisioned-concurrency", self.get_provisioned),
            web.delete("/2019-09-30/functions/{FunctionName}/provisioned-concurrency", self.delete_provisioned),
        ]

    async def list_functions(self, request: web.Request) -> web.Response:
        return web.json_response(_page(request, "Functions", self.backend.list_functions()))

    async def get_function(self, request: web.Request) -> web.Response:
        name = request.match_info["FunctionName"]
        return web.json_response(self.backend.get_function(name, request.query.get("Qualifier")))

    async def get_function_configuration(self, request: web.Request) -> web.Response:
        name = request.match_info["FunctionName"]
        return web.json_response(self.backend.get_function(name, request.query.get("Qualifier"))["Configuration"])

    async def _upload_body(self, request: web.Request) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > ZIP_REQUEST_LIMIT:
            raise LambdaError(413, "RequestEntityTooLargeException",
                              f"Request must be smaller than {ZIP_REQUEST_LIMIT} bytes for the operation")
        if not self.code_uploads:
            raise LambdaError(403, "AccessDeniedException", CODE_UPLOADS_REFUSED)
        return await _json_body(request)

    async def create_function(self, request: web.Request) -> web.Response:
        body = await self._upload_body(request)
        name, role = _str_field(body, "FunctionName"), _str_field(body, "Role")
        for value, member in ((name, "functionName"), (role, "role"), (body.get("Code"), "code")):
            if not value:
                raise _null(member)
        if body.get("PackageType", "Zip") == "Image":
            _zip({"ImageUri": (body.get("Code") or {}).get("ImageUri") or "(none)"})
        runtime, handler = _runtime(body), _str_field(body, "Handler")
        package = _zip(body.get("Code"))
        if not runtime or not handler:
            raise LambdaError(400, "InvalidParameterValueException",
                              "Runtime and Handler are mandatory parameters for functions created with deployment packages.")
        config = self.backend.create_function_from_package(
            str(name), package, runtime=runtime, handler=handler, role=str(role),
            timeout=_bounded(body, "Timeout", "timeout", 1, 900) or 3,
            memory=_bounded(body, "MemorySize", "memorySize", 128, 10240) or 128,
            description=_str_field(body, "Description") or "", environment=_environment(body),
            publish=bool(body.get("Publish")))
        return web.json_response(config, status=201)

    async def update_function_code(self, request: web.Request) -> web.Response:
        body = await self._upload_body(request)
        code = {k: body[k] for k in ("ZipFile", "S3Bucket", "S3Key", "ImageUri") if k in body}
        config = self.backend.update_function_code(
            request.match_info["FunctionName"], _zip(code), publish=bool(body.get("Publish")),
            revision_id=_str_field(body, "RevisionId"))
        return web.json_response(config)

    async def update_function_configuration(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        config = self.backend.update_function_configuration(
            request.match_info["FunctionName"], timeout=_bounded(body, "Timeout", "timeout", 1, 900),
            memory=_bounded(body, "MemorySize", "memorySize", 128, 10240), handler=_str_field(body, "Handler"),
            runtime=_runtime(body), description=_str_field(body, "Description"),
            environment=_environment(body), role=_str_field(body, "Role"), revision_id=_str_field(body, "RevisionId"))
        return web.json_response(config)

    async def delete_function(self, request: web.Request) -> web.Response:
        self.backend.delete_function(request.match_info["FunctionName"], request.query.get("Qualifier"))
        return web.Response(status=204)

    async def create_event_source_mapping(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        source, function = _str_field(body, "EventSourceArn"), _str_field(body, "FunctionName")
        if not function:
            raise _null("functionName")
        if not source:
            raise _null("eventSourceArn")
        config = self.backend.create_event_source_mapping(
            source, function, starting_position=_str_field(body, "StartingPosition"),
            batch_size=_bounded(body, "BatchSize", "batchSize", 1, 10000),  # None: the source's default
            enabled=body.get("Enabled", True) is not False,
            maximum_retry_attempts=_or(_bounded(body, "MaximumRetryAttempts", "maximumRetryAttempts", -1, 10000), -1))
        return web.json_response(config, status=202)

    async def list_event_source_mappings(self, request: web.Request) -> web.Response:
        mappings = self.backend.list_event_source_mappings(request.query.get("FunctionName"),
                                                           request.query.get("EventSourceArn"))
        return web.json_response(_page(request, "EventSourceMappings", mappings))

    async def get_event_source_mapping(self, request: web.Request) -> web.Response:
        return web.json_response(self.backend.event_source_mapping(request.match_info["UUID"]).configuration())

    async def update_event_source_mapping(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        enabled = body.get("Enabled")
        config = self.backend.update_event_source_mapping(
            request.match_info["UUID"], None if enabled is None else bool(enabled),
            _bounded(body, "BatchSize", "batchSize", 1, 10000))
        return web.json_response(config, status=202)

    async def delete_event_source_mapping(self, request: web.Request) -> web.Response:
        return web.json_response(self.backend.delete_event_source_mapping(request.match_info["UUID"]), status=202)

    async def publish_version(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        config = self.backend.publish_version(
            request.match_info["FunctionName"], _str_field(body, "Description"),
            _str_field(body, "CodeSha256"), _str_field(body, "RevisionId"))
        return web.json_response(config, status=201)

    async def list_versions(self, request: web.Request) -> web.Response:
        versions = self.backend.list_versions(request.match_info["FunctionName"])
        return web.json_response(_page(request, "Versions", versions))

    async def create_alias(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        name, version = _str_field(body, "Name"), _str_field(body, "FunctionVersion")
        if not name or not version:
            missing = "name" if not name else "functionVersion"
            raise LambdaError(400, "ValidationException",
                              f"1 validation error detected: Value null at '{missing}' failed to "
                              "satisfy constraint: Member must not be null")
        config = self.backend.create_alias(request.match_info["FunctionName"], name, version,
                                           _str_field(body, "Description"), body.get("RoutingConfig"))
        return web.json_response(config, status=201)

    async def list_aliases(self, request: web.Request) -> web.Response:
        aliases = self.backend.list_aliases(request.match_info["FunctionName"],
                                            request.query.get("FunctionVersion"))
        return web.json_response(_page(request, "Aliases", aliases))

    async def get_alias(self, request: web.Request) -> web.Response:
        info = request.match_info
        return web.json_response(self.backend.get_alias(info["FunctionName"], info["Name"]))

    async def update_alias(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        info = request.match_info
        config = self.backend.update_alias(
            info["FunctionName"], info["Name"], _str_field(body, "FunctionVersion"),
            _str_field(body, "Description"), body.get("RoutingConfig"), _str_field(body, "RevisionId"))
        return web.json_response(config)

    async def delete_alias(self, request: web.Request) -> web.Response:
        self.backend.delete_alias(request.match_info["FunctionName"], request.match_info["Name"])
        return web.Response(status=204)

    async def put_concurrency(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        reserved = body.get("ReservedConcurrentExecutions")
        if reserved is None:
            raise LambdaError(400, "ValidationException",
                              "1 validation error detected: Value null at 'reservedConcurrentExecutions' "
                              "failed to satisfy constraint: Member must not be null")
        return web.json_response(self.backend.put_concurrency(request.match_info["FunctionName"], reserved))

    async def delete_concurrency(self, request: web.Request) -> web.Response:
        self.backend.put_concurrency(request.match_info["FunctionName"], None)
        return web.Response(status=204)

    async def get_concurrency(self, request: web.Request) -> web.Response:
        fn = self.backend.function(request.match_info["FunctionName"])
        body = {} if fn.reserved_concurrency is None else {
            "ReservedConcurrentExecutions": fn.reserved_concurrency}
        return web.json_response(body)

    async def put_provisioned(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        requested = body.get("ProvisionedConcurrentExecutions")
        if requested is None:
            raise _null("provisionedConcurrentExecutions")
        return web.json_response(self.backend.put_provisioned(
            request.match_info["FunctionName"], request.query.get("Qualifier"), requested), status=202)

    async def get_provisioned(self, request: web.Request) -> web.Response:
        """GetProvisionedConcurrencyConfig, or ListProvisionedConcurrencyConfigs (`?List=ALL`)."""
        name = request.match_info["FunctionName"]
        if request.query.get("List") == "ALL":
            return web.json_response(_page(request, "ProvisionedConcurrencyConfigs", self.backend.list_provisioned(name)))
        return web.json_response(self.backend.get_provisioned(name, request.query.get("Qualifier")))

    async def delete_provisioned(self, request: web.Request) -> web.Response:
        self.backend.delete_provisioned(request.match_info["FunctionName"], request.query.get("Qualifier"))
        return web.Response(status=204)

    async def invoke(self, request: web.Request) -> web.Response:
        return await self.invoke_function(request, request.match_info["FunctionName"])

    async def invoke_function(self, request: web.BaseRequest, function_name: str) -> web.Response:
        """Invoke, with the function name already taken from the path."""
        headers = request.headers
        return web_response(await self.invoke_answer(
            function_name, request.query.get("Qualifier"), await request.read(),
            headers.get("X-Amz-Invocation-Type", "RequestResponse"), headers.get("X-Amz-Log-Type"),
            headers.get("X-Amz-Client-Context"), headers.get(WEIGHT_HEADER)))

    async def invoke_answer(self, function_name: str, qualifier: str | None, payload: bytes,
                            invocation_type: str, log_type: str | None,
                            client_context: str | None, weight: str | None = None) -> Answer:
        """Invoke's answer, from the request's parts (the route's and the front door's)."""
        result = await self.backend.invoke(function_name, qualifier, payload, invocation_type,
                                           log_type, client_context, _weight(weight))
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": result.request_id or new_id()}
        if result.executed_version is not None:
            headers["X-Amz-Executed-Version"] = result.executed_version
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if result.log_result:
            headers["X-Amz-Log-Result"] = result.log_result
        if result.injected:
            headers["X-Shiftsim-Injected"] = ",".join(result.injected)
        return result.status, headers, result.payload
