"""CloudWatch Logs' wire protocol (JSON 1.1, `X-Amz-Target: Logs_20140328.<Operation>`): decode the
request, call the model, encode AWS's response shapes. A request may carry `X-Shiftsim-Weight` (a
sampled rehearsal's events stand for that many each, which metric filters count)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from aiohttp import web

from simulator.deployment.admin_token import ADMIN_TOKEN_HEADER
from simulator.deployment.flow_log_notes import EntryRenderer, NotesError, read_notes_body
from simulator.deployment.vocabulary import WEIGHT_HEADER
from simulator.emulator.guard import Guard, Refused
from simulator.emulator.json_protocol import operation_call
from simulator.emulator.logs.models import PAGE, LogEvent, LogsBackend, LogsError

TARGET_PREFIX = "Logs_20140328"
_FIRST = itemgetter(0)
# Notes made entries between two turns of the emulator's loop: a body holds the instance's last 50 ms
# (thousands of entries under load), and made at once it held every Invoke behind it for milliseconds
NOTES_AT_ONCE = 512
CONTENT_TYPE = "application/x-amz-json-1.1"


def error_response(error: LogsError) -> web.Response:
    return web.json_response({"__type": error.code, "message": error.message}, status=error.status,
                             content_type=CONTENT_TYPE)


def _required(params: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if params.get(key) in (None, ""):
            raise LogsError("InvalidParameterException", f"1 validation error detected: Value null at '{key}' "
                            "failed to satisfy constraint: Member must not be null")


def _page(items: list[Any], params: dict[str, Any], key: str, default_limit: int) -> dict[str, Any]:
    start = int(params.get("nextToken") or 0)
    limit = int(params.get("limit") or default_limit)
    page: dict[str, Any] = {key: items[start:start + limit]}
    if start + limit < len(items):
        page["nextToken"] = str(start + limit)
    return page


class LogsResponses:
    def __init__(self, backend: LogsBackend | Callable[[], LogsBackend]) -> None:
        self._backend = backend
        self.table: dict[str, Callable[[dict[str, Any], float], dict[str, Any]]] = {
            name: getattr(self, "_" + "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_"))
            for name in ("CreateLogGroup", "DeleteLogGroup", "DescribeLogGroups", "CreateLogStream",
                         "DescribeLogStreams", "PutLogEvents", "GetLogEvents", "FilterLogEvents",
                         "PutMetricFilter", "DescribeMetricFilters", "DeleteMetricFilter", "TestMetricFilter")}

    @property
    def backend(self) -> LogsBackend:
        return self._backend() if callable(self._backend) else self._backend

    async def handle(self, request: web.Request, operation: str) -> web.Response:
        try:
            params, handler = await operation_call(request, operation, self.table, LogsError, "logs")
            if operation not in _READS_NO_EVENTS:  # Lambda's lines can wait for a read of events
                group = params.get("logGroupName") if operation in _ONE_GROUP else None
                self.backend.before_read(group if isinstance(group, str) else None)
            try:
                weight = float(request.headers.get(WEIGHT_HEADER) or 1.0)
            except ValueError:
                raise LogsError("InvalidParameterException", f"{WEIGHT_HEADER} must be a number") from None
            try:
                result = handler(params, weight)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise LogsError("InvalidParameterException", f"malformed {operation} request: {exc!r}") from None
        except LogsError as error:
            return error_response(error)
        return web.json_response(result, content_type=CONTENT_TYPE)

    # ---- groups and streams ----------------------------------------------------------------------

    def _create_log_group(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        _required(p, "logGroupName")
        self.backend.create_log_group(p["logGroupName"])
        return {}

    def _delete_log_group(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        _required(p, "logGroupName")
        self.backend.delete_log_group(p["logGroupName"])
        return {}

    def _describe_log_groups(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        prefix = p.get("logGroupNamePrefix") or ""
        groups = [{"logGroupName": g.name, "creationTime": g.created, "metricFilterCount": len(g.filters),
                   "arn": g.arn, "logGroupArn": g.arn.removesuffix(":*"), "storedBytes": 0, "logGroupClass": "STANDARD"}
                  for name, g in sorted(self.backend.groups.items()) if name.startswith(prefix)]
        return _page(groups, p, "logGroups", 50)

    def _create_log_stream(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        _required(p, "logGroupName", "logStreamName")
        self.backend.create_log_stream(p["logGroupName"], p["logStreamName"])
        return {}

    def _describe_log_streams(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        _required(p, "logGroupName")
        group = self.backend.group(p["logGroupName"])
        prefix = p.get("logStreamNamePrefix") or ""
        streams = []
        for name, info in group.streams.items():
            if not name.startswith(prefix):
                continue
            stream = {"logStreamName": name, "creationTime": info["created"], "storedBytes": 0,
                      "arn": f"{group.arn.removesuffix(':*')}:log-stream:{name}"}
            if info["first"] is not None:
                stream.update(firstEventTimestamp=info["first"], lastEventTimestamp=info["last"],
                              lastIngestionTime=info["ingested"])
            streams.append(stream)
        if p.get("orderBy") == "LastEventTime":
            streams.sort(key=lambda s: s.get("lastEventTimestamp", 0), reverse=bool(p.get("descending")))
        else:
            streams.sort(key=lambda s: s["logStreamName"], reverse=bool(p.get("descending")))
        return _page(streams, p, "logStreams", 50)

    # ---- events ----------------------------------------------------------------------------------

    def _put_log_events(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        _required(p, "logGroupName", "logStreamName", "logEvents")
        return self.backend.put_log_events(p["logGroupName"], p["logStreamName"], p["logEvents"], weight)

    def _get_log_events(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        _required(p, "logGroupName", "logStreamName")
        events = self.backend.get_log_events(p["logGroupName"], p["logStreamName"], p.get("startTime"),
                                             p.get("endTime"), int(p.get("limit") or PAGE),
                                             bool(p.get("startFromHead")))
        last = events[-1].number if events else 0
        return {"events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion}
                           for e in events],
                "nextForwardToken": f"f/{last:056d}", "nextBackwardToken": f"b/{last:056d}"}

    def _filter_log_events(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        _required(p, "logGroupName")
        events = self.backend.filter_log_events(p["logGroupName"], p.get("logStreamNames"),
                                                p.get("logStreamNamePrefix"), p.get("startTime"), p.get("endTime"),
                                                p.get("filterPattern") or "")
        return _page([_filtered(e) for e in events], p, "events", PAGE)

    # ---- metric filters --------------------------------------------------------------------------

    def _put_metric_filter(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        _required(p, "logGroupName", "filterName", "metricTransformations")
        self.backend.put_metric_filter(p["logGroupName"], p["filterName"], p.get("filterPattern") or "",
                                       p["metricTransformations"])
        return {}

    def _describe_metric_filters(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        filters = self.backend.metric_filters(p.get("logGroupName"), p.get("filterNamePrefix"),
                                              p.get("metricName"), p.get("metricNamespace"))
        return _page(filters, p, "metricFilters", 50)

    def _delete_metric_filter(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        _required(p, "logGroupName", "filterName")
        self.backend.delete_metric_filter(p["logGroupName"], p["filterName"])
        return {}

    def _test_metric_filter(self, p: dict[str, Any], weight: float) -> dict[str, Any]:
        _required(p, "logEventMessages")
        pattern = self.backend.compile(p.get("filterPattern") or "")
        return {"matches": [{"eventNumber": i + 1, "eventMessage": m, "extractedValues": {}}
                            for i, m in enumerate(p["logEventMessages"]) if pattern.matches(m)]}


def _filtered(event: LogEvent) -> dict[str, Any]:
    return {"logStreamName": event.stream, "timestamp": event.timestamp, "message": event.message,
            "ingestionTime": event.ingestion, "eventId": f"{event.number:056d}"}


# Operations that read no events (a write, a metric filter's description or trial: each run's start
# asks for the filters on the instance's flow logs): Lambda's waiting lines can wait on
_READS_NO_EVENTS = frozenset({"PutLogEvents", "DescribeMetricFilters", "TestMetricFilter"})
# Operations about the one group their request names: only its waiting lines need writing first
_ONE_GROUP = frozenset({"CreateLogGroup", "DeleteLogGroup", "CreateLogStream", "DescribeLogStreams", "GetLogEvents",
                        "FilterLogEvents", "PutMetricFilter", "DeleteMetricFilter"})


class FlowLogNotesRoute:
    """`POST /_shiftsim/connect/flow-logs`: the simulated Connect instance's flow log entries, as
    compact notes (simulator.deployment.flow_log_notes), written to its log group as Connect writes
    its own inside AWS (no PutLogEvents' batch limits; its stream made if missing). The
    entries are made text here, off the load generator's path. A body of notes has the power of a
    PutLogEvents: where the emulator checks signatures, this route takes the admin token instead."""

    PATH = "/_shiftsim/connect/flow-logs"

    def __init__(self, backend_of: Callable[[str], LogsBackend], guard: Guard) -> None:
        self.backend_of, self.guard = backend_of, guard
        self.renderer = EntryRenderer()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.PATH, self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        try:
            if self.guard.verifier is not None:
                self.guard.admin(request.headers.get(ADMIN_TOKEN_HEADER))
            region, group, stream, weight, templates, notes = read_notes_body(await request.read())
            entries: list[tuple[int, str]] = []
            for start in range(0, len(notes), NOTES_AT_ONCE):
                if start:  # the invocations that came meanwhile are answered between two slices
                    await asyncio.sleep(0)
                entries += self._entries(templates, notes[start:start + NOTES_AT_ONCE])
            entries.sort(key=_FIRST)  # in order already: timsort's linear check
            self.backend_of(region).write_entries(group, stream, entries, weight)  # all or none
        except Refused as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        except NotesError as exc:
            return web.json_response({"error": f"{request.path}: {exc}"}, status=400)
        except LogsError as error:
            return error_response(error)
        return web.json_response({"entries": len(entries)})

    def _entries(self, templates: dict[int, Any], notes: list[Any]) -> list[tuple[int, str]]:
        """(time in ms, text) of each note."""
        try:
            texts = self.renderer.render(templates, notes)
        except KeyError as exc:
            raise NotesError(f"a note names template {exc.args[0]}, which the body does not hold") from None
        except (TypeError, ValueError, OverflowError) as exc:  # a time out of range, an external orjson refuses
            raise NotesError(f"a note cannot be made an entry: {exc}") from None
        return [(int(note[1] * 1000), text) for note, text in zip(notes, texts, strict=True)]
