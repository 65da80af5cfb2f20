"""The AWS services shiftsim does not own (DynamoDB and its streams, S3, SQS, SNS, SSM, Secrets
Manager, ...; CloudWatch Logs is the emulator's own, for its filter patterns and metric filters), answered on the same endpoint by moto's backends, in this process: a request is
theirs when its SigV4 credential scope (or its `X-Amz-Target`) names a service other than the
emulator's own. moto's WSGI application runs on one thread of its own, so its backends see one
request at a time and the emulator's loop never waits on them.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

from aiohttp import web

from simulator.emulator.guard import refused_answer
from simulator.emulator.holdings import Full, Holdings

# The services the emulator answers itself (SigV4 signing names), and their X-Amz-Target prefixes.
OWN_SERVICES = frozenset({"lambda", "monitoring", "codedeploy", "logs"})
OWN_TARGETS = ("CodeDeploy_20141006", "GraniteServiceVersion20100801", "Logs_20140328")


MOTO_ADMIN_PREFIX = "/moto-api"  # moto's reset, recorder and dashboard: not AWS, never a client's to call


_WRITES = ("Put", "Create", "Update", "Batch", "Transact", "Send", "Publish", "Import", "Upload", "Add", "Tag",
           "Set", "Register", "Start", "Copy", "Restore")


def _stores(method: str, headers: Any) -> bool:
    """Whether a request to moto may make it keep what it carries: an operation named for writing
    (X-Amz-Target, or the query protocol's Action), or S3's PUT and POST."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rpartition(".")[2].startswith(_WRITES)
    return method in ("PUT", "POST")


def _full_answer(headers: Any, message: str) -> web.Response:
    """A refusal for a full ceiling, in the protocol the request came in: JSON for `X-Amz-Target`
    services, XML for S3 and the query protocol's (SQS, SNS ...)."""
    if headers.get("X-Amz-Target"):
        status, refused_headers, answer = refused_answer(message, 400, "LimitExceededException")
        return web.Response(status=status, headers=refused_headers, body=answer)
    error = f"<Code>LimitExceededException</Code><Message>{escape(message)}</Message>"
    body = (f"<Error>{error}</Error>" if signing_service(headers.get("Authorization")) == "s3"
            else f"<ErrorResponse><Error><Type>Sender</Type>{error}</Error></ErrorResponse>")
    return web.Response(status=400, body=body.encode(), content_type="text/xml")


def signing_service(authorization: str | None) -> str | None:
    """The service of a SigV4 Authorization header's credential scope, or None."""
    if not authorization:
        return None
    at = authorization.find("Credential=")
    parts = authorization[at + 11:].split("/", 4) if at >= 0 else []
    return parts[3] if len(parts) >= 4 and parts[3] else None


def belongs_elsewhere(headers: Any) -> bool:
    """Whether a request is for a service moto answers, not the emulator."""
    service = signing_service(headers.get("Authorization"))
    if service is not None:
        return service not in OWN_SERVICES
    target = headers.get("X-Amz-Target")
    return bool(target) and not target.startswith(OWN_TARGETS)


class OtherServices:
    """moto's server application, called in-process with each request's WSGI environ."""

    def __init__(self, holdings: Holdings | None = None) -> None:
        self.holdings = holdings or Holdings()
        self.app: Any = None  # made on moto's thread at the first request (importing moto takes a second)
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="moto")
        self.used = False

    async def handle(self, request: web.Request) -> web.Response:
        if request.path.lower().startswith(MOTO_ADMIN_PREFIX):
            status, refused_headers, answer = refused_answer(
                "moto's own API (reset, recorder, dashboard) is not served through the emulator", 404,
                "UnknownOperationException")
            return web.Response(status=status, headers=refused_headers, body=answer)
        body = await request.read()
        if body and _stores(request.method, request.headers):
            try:  # what moto keeps is never given back: its uploads are counted over the emulator's life
                self.holdings.take("upload bytes", len(body))
            except Full as full:
                return _full_answer(request.headers, full.sentence)
        environ = _environ(request.method, request.path, request.raw_path, request.query_string,
                           request.headers.items(), body)
        status, headers, payload = await asyncio.get_running_loop().run_in_executor(self.thread, self._call, environ)
        response = web.Response(status=status, body=payload)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                response.headers.add(name, value)
        return response

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        self.used = True
        if self.app is None:
            from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

            self.app = DomainDispatcherApplication(create_backend_app)
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started["status"], started["headers"] = int(status.split(" ", 1)[0]), headers
            return lambda data: None

        chunks = self.app(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return started["status"], started["headers"], payload

    async def on_moto_thread(self, call: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.thread, call, *args)

    def client(self, service: str, region: str) -> Any:
        """A boto3 client whose requests go to moto's application in this process (no socket): how
        the emulator provisions a scenario's tables, through their public API."""
        import boto3
        from botocore.awsrequest import AWSResponse

        made = boto3.client(service, region_name=region, endpoint_url="http://127.0.0.1",
                            aws_access_key_id="shiftsim", aws_secret_access_key="shiftsim")

        def send(request: Any, **kwargs: Any) -> AWSResponse:
            split = urlsplit(request.url)
            body = request.body or b""
            if isinstance(body, str):
                body = body.encode()
            elif not isinstance(body, bytes):
                body = body.read()
            environ = _environ(request.method, unquote(split.path), split.path, split.query,
                               [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()], body)
            status, headers, payload = self.thread.submit(self._call, environ).result(60)
            return AWSResponse(request.url, status, dict(headers), _Raw(payload))

        made.meta.events.register(f"before-send.{made.meta.service_model.endpoint_prefix}.*", send)
        return made

    def streams(self, account: str, region: str) -> DynamoDBStreams:
        return DynamoDBStreams(self, account, region)

    def queues(self, region: str) -> SqsQueues:
        return SqsQueues(self, region)

    def close(self) -> None:
        """moto's backends live in this process, not in this object: an emulator that used them leaves
        them empty for the next (as a new account would be), then its thread goes."""
        if self.used:
            self.thread.submit(_reset_moto).result(30)
        self.thread.shutdown(wait=False, cancel_futures=True)


def _reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


class DynamoDBStreams:
    """A DynamoDB stream's records, read from moto's backend on moto's thread (Lambda's event source
    mappings poll it: its records are what the DynamoDB Streams API would give)."""

    def __init__(self, others: OtherServices, account: str, region: str) -> None:
        self.others, self.account, self.region = others, account, region

    def _backend(self) -> Any:
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        return dynamodbstreams_backends[self.account][self.region]

    async def iterators(self, stream_arn: str, position: str) -> list[str]:
        def make() -> list[str]:
            backend = self._backend()
            shards = backend.describe_stream(stream_arn)["Shards"]
            return [backend.get_shard_iterator(stream_arn, shard["ShardId"], position).arn for shard in shards]

        return list(await self.others.on_moto_thread(make))

    async def records(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        def read() -> tuple[list[dict[str, Any]], str | None]:
            backend = self._backend()
            got = backend.get_records(iterator, limit)
            backend.shard_iterators.pop(iterator, None)  # each read makes the next; the old is done with
            return got["Records"], got.get("NextShardIterator")

        return await self.others.on_moto_thread(read)  # type: ignore[no-any-return]


class SqsQueues:
    """An SQS queue's messages, received and deleted through SQS's own API in moto (Lambda's SQS event
    source mappings poll it). The calls wait on moto's thread from a thread of their own, never the loop."""

    def __init__(self, others: OtherServices, region: str) -> None:
        self.others, self.region = others, region
        self._client: Any = None
        self._urls: dict[str, str] = {}

    def _sqs(self) -> Any:
        if self._client is None:  # made on the loop's thread: two pollers never make two
            self._client = self.others.client("sqs", self.region)
        return self._client

    def _url(self, client: Any, queue_arn: str) -> str:
        if queue_arn not in self._urls:
            self._urls[queue_arn] = client.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[1])["QueueUrl"]
        return self._urls[queue_arn]

    async def receive(self, queue_arn: str, limit: int) -> list[dict[str, Any]]:
        client = self._sqs()

        def call() -> list[dict[str, Any]]:
            return list(client.receive_message(QueueUrl=self._url(client, queue_arn), MaxNumberOfMessages=min(10, limit),
                                               AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", []))

        return await asyncio.to_thread(call)

    async def delete(self, queue_arn: str, receipt_handles: list[str]) -> None:
        client = self._sqs()
        entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(receipt_handles)]
        await asyncio.to_thread(lambda: client.delete_message_batch(QueueUrl=self._url(client, queue_arn), Entries=entries))


def _environ(method: str, path: str, raw_path: str, query: str, headers: Iterable[tuple[str, str]],
             body: bytes) -> dict[str, Any]:
    headers = list(headers)
    named = {k.lower(): v for k, v in headers}
    host = named.get("host", "127.0.0.1")
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "80")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "",
        "PATH_INFO": path.encode("utf-8").decode("latin-1"), "RAW_URI": raw_path,
        "REQUEST_URI": raw_path, "QUERY_STRING": query,
        "SERVER_NAME": name or "127.0.0.1", "SERVER_PORT": port or "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": named.get("content-type", ""), "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    environ["HTTP_HOST"] = host  # a request made in this process has no Host header yet (S3 routes by it)
    for key, value in headers:
        upper = key.upper().replace("-", "_")
        if upper not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ["HTTP_" + upper] = value
    return environ


class _Raw:
    """A finished body, as botocore's response reads it."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def stream(self, **kwargs: Any) -> Iterable[bytes]:
        yield self.payload

    def read(self, *args: Any) -> bytes:
        return self.payload
