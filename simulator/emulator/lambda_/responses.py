"""Lambda's REST-JSON wire protocol: aiohttp routes that parse requests, call the model and write
AWS's response shapes, headers and error bodies (so botocore raises the ClientError it would on AWS).

Invoke and the error bodies are also given as an `Answer` (status, headers, body), which the
emulator's front door writes itself, with no aiohttp response in between.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from aiohttp import web

from simulator.emulator.front_door import Answer
from simulator.emulator.lambda_.models import LambdaBackend, LambdaError
from simulator.emulator_vocabulary import WEIGHT_HEADER

# Error shapes whose message member is spelled "Message" in the service model (others: "message").
_CAPITALISED_MESSAGE = {"ResourceNotFoundException", "ResourceConflictException",
                        "InvalidParameterValueException", "PreconditionFailedException",
                        "ServiceException"}




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
               "x-amzn-RequestId": "shiftsim", **error.headers}
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

    def __init__(self, backend: LambdaBackend | Callable[[], LambdaBackend]) -> None:
        self._backend = backend  # or, with state per region, what gives the request's region's

    @property
    def backend(self) -> LambdaBackend:
        return self._backend() if callable(self._backend) else self._backend

    def routes(self) -> list[web.RouteDef]:
        fn = "/2015-03-31/functions/{FunctionName}"
        return [
            web.get("/2015-03-31/functions", self.list_functions),
            web.get("/2015-03-31/functions/", self.list_functions),
            web.get(fn, self.get_function),
            web.get(fn + "/configuration", self.get_function_configuration),
            web.post(fn + "/invocations", self.invoke),
            web.post(fn + "/versions", self.publish_version),
            web.get(fn + "/versions", self.list_versions),
            web.post(fn + "/aliases", self.create_alias),
            web.get(fn + "/aliases", self.list_aliases),
            web.get(fn + "/aliases/{Name}", self.get_alias),
            web.put(fn + "/aliases/{Name}", self.update_alias),
            web.delete(fn + "/aliases/{Name}", self.delete_alias),
            web.put("/2017-10-31/functions/{FunctionName}/concurrency", self.put_concurrency),
            web.delete("/2017-10-31/functions/{FunctionName}/concurrency", self.delete_concurrency),
            web.get("/2019-09-30/functions/{FunctionName}/concurrency", self.get_concurrency),
        ]

    async def list_functions(self, request: web.Request) -> web.Response:
        return web.json_response(_page(request, "Functions", self.backend.list_functions()))

    async def get_function(self, request: web.Request) -> web.Response:
        name = request.match_info["FunctionName"]
        return web.json_response(self.backend.get_function(name, request.query.get("Qualifier")))

    async def get_function_configuration(self, request: web.Request) -> web.Response:
        name = request.match_info["FunctionName"]
        return web.json_response(self.backend.get_function(name, request.query.get("Qualifier"))["Configuration"])

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
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": "shiftsim"}
        if result.executed_version is not None:
            headers["X-Amz-Executed-Version"] = result.executed_version
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if result.log_result:
            headers["X-Amz-Log-Result"] = result.log_result
        if result.injected:
            headers["X-Shiftsim-Injected"] = ",".join(result.injected)
        return result.status, headers, result.payload
