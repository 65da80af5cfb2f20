"""CloudWatch Logs' state and behaviour: log groups, streams and their events (emulated time), filter
patterns on them, and metric filters that turn matching events into CloudWatch metrics, as the metrics a
function's printed lines embed (EMF, simulator.emulator.logs.emf) are. No HTTP here.

Each group keeps its newest `EVENTS_KEPT` events (a rehearsal's Lambda and flow logs can be
millions; `dropped` counts the older ones let go), and all groups together the emulator's ceiling of
log bytes (holdings.py): past it, the largest group lets its oldest events go. A sampled rehearsal's events carry a weight (the
production events each stands for), which metric filters count.

A group keeps its events as plain tuples of numbers and text (`Kept`), which the cyclic garbage
collector stops tracking: kept as objects, the hundreds of thousands of flow log entries a rehearsal
writes made each full collection pass scan them all (about 100 ms, every few seconds, with every
invocation due meanwhile held up). A read makes `LogEvent`s of what it returns.
"""

from __future__ import annotations

import itertools
import operator
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from simulator.deployment.clock import Clock
from simulator.deployment.vocabulary import (
    LOGS_EVENT_OVERHEAD,
    LOGS_MAX_BATCH_BYTES,
    LOGS_MAX_BATCH_EVENTS,
    LOGS_MAX_EVENT_BYTES,
)
from simulator.emulator.holdings import Full, Holdings
from simulator.emulator.logs.emf import could_hold_metrics, emf_data
from simulator.emulator.logs.filter_pattern import FilterPattern, PatternError, compile_pattern

EVENTS_KEPT = 200_000
PAGE = 10_000


class LogsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _not_found(what: str) -> LogsError:
    return LogsError("ResourceNotFoundException", f"The specified {what} does not exist.")


@dataclass(slots=True)
class LogEvent:
    timestamp: int  # ms, emulated
    message: str
    ingestion: int
    stream: str
    number: int
    weight: float = 1.0


Kept = tuple[int, str, int, str, int, float]  # a LogEvent's fields, in its order
_AT: Final = 0
_MESSAGE: Final = 1
_STREAM: Final = 3
_MESSAGE_OF = operator.itemgetter(_MESSAGE)
_WEIGHT: Final = 5


@dataclass
class MetricFilter:
    name: str
    pattern: FilterPattern
    transformations: list[dict[str, Any]]
    created: int


@dataclass
class LogGroup:
    name: str
    created: int
    arn: str
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> first/last event, created
    events: deque[Kept] = field(default_factory=deque)  # at most EVENTS_KEPT, the oldest let go first
    filters: dict[str, MetricFilter] = field(default_factory=dict)
    dropped: int = 0
    bytes: int = 0  # of the messages kept


class LogsBackend:
    """The log groups of one account and region."""

    def __init__(self, clock: Clock, *, region: str, account: str,
                 put_metric: Callable[[str, list[dict[str, Any]]], None] | None = None,
                 holdings: Holdings | None = None) -> None:
        self.clock, self.region, self.account = clock, region, account
        self.holdings = holdings or Holdings()
        self.groups: dict[str, LogGroup] = {}
        self.put_metric = put_metric  # CloudWatch's PutMetricData, for metric filters and embedded metrics
        # writers that write only when asked (Lambda's logs): told the group a request is about, or None for all
        self.before_read: Callable[[str | None], None] = lambda group: None
        self.numbers = itertools.count()

    def _now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def group(self, name: str) -> LogGroup:
        group = self.groups.get(name)
        if group is None:
            raise _not_found("log group")
        return group

    def _take(self, kind: str) -> None:
        try:
            self.holdings.take(kind)
        except Full as full:
            raise LogsError("LimitExceededException", f"Resource limit exceeded: {full.words}.") from None

    def create_log_group(self, name: str) -> LogGroup:
        if name in self.groups:
            raise LogsError("ResourceAlreadyExistsException", "The specified log group already exists")
        self._take("log groups")
        group = self.groups[name] = LogGroup(
            name, self._now_ms(), f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}:*")
        return group

    def delete_log_group(self, name: str) -> None:
        group = self.group(name)
        del self.groups[name]
        self.holdings.give("log groups")
        self.holdings.give("log streams", len(group.streams))
        self.holdings.give("log bytes", group.bytes)

    def create_log_stream(self, group_name: str, stream: str) -> None:
        group = self.group(group_name)
        if stream in group.streams:
            raise LogsError("ResourceAlreadyExistsException", "The specified log stream already exists")
        self._take("log streams")
        group.streams[stream] = {"created": self._now_ms(), "first": None, "last": None, "ingested": None}

    def ensure_stream(self, group_name: str, stream: str) -> None:
        """The group and stream, made if missing (what a service writing its own logs does)."""
        if group_name not in self.groups:
            self.create_log_group(group_name)
        if stream not in self.groups[group_name].streams:
            self.create_log_stream(group_name, stream)

    def put_log_events(self, group_name: str, stream: str, events: Iterable[dict[str, Any]],
                       weight: float = 1.0) -> dict[str, Any]:
        group = self.group(group_name)
        info = group.streams.get(stream)
        if info is None:
            raise _not_found("log stream")
        batch = sorted(events, key=lambda e: e["timestamp"])
        if len(batch) > LOGS_MAX_BATCH_EVENTS:
            raise LogsError("InvalidParameterException", f"1 validation error detected: Value at 'logEvents' failed "
                            f"to satisfy constraint: Member must have length less than or equal to {LOGS_MAX_BATCH_EVENTS}")
        sizes = [len(str(event["message"]).encode()) + LOGS_EVENT_OVERHEAD for event in batch]
        if sizes and max(sizes) > LOGS_MAX_EVENT_BYTES:
            raise LogsError("InvalidParameterException", f"Log event too large: {max(sizes)} bytes exceeds limit "
                            f"of {LOGS_MAX_EVENT_BYTES}")
        if sum(sizes) > LOGS_MAX_BATCH_BYTES:
            raise LogsError("InvalidParameterException", f"Upload too large: {sum(sizes)} bytes exceeds limit of "
                            f"{LOGS_MAX_BATCH_BYTES}")
        self._store(group, info, stream, [(int(event["timestamp"]), str(event["message"])) for event in batch], weight)
        return {"nextSequenceToken": f"{next(self.numbers):056d}"}

    def write_entries(self, group_name: str, stream: str, entries: list[tuple[int, str]], weight: float = 1.0) -> None:
        """A service's own log entries, (time in ms, message) in order of time, as the service writes
        them inside AWS (Connect's flow logs): into its group (which must exist: a deleted one is not
        made again) and stream (made if missing), with no PutLogEvents batch limits; an entry over
        CloudWatch Logs' size limit is refused, as AWS would."""
        for _, message in entries:
            if len(message) * 4 + LOGS_EVENT_OVERHEAD > LOGS_MAX_EVENT_BYTES:  # rarely: count its bytes
                size = len(message.encode()) + LOGS_EVENT_OVERHEAD
                if size > LOGS_MAX_EVENT_BYTES:
                    raise LogsError("InvalidParameterException", f"Log event too large: {size} bytes exceeds limit "
                                    f"of {LOGS_MAX_EVENT_BYTES}")
        group = self.group(group_name)
        self.ensure_stream(group_name, stream)
        self._store(group, group.streams[stream], stream, entries, weight)

    def _store(self, group: LogGroup, info: dict[str, Any], stream: str, entries: list[tuple[int, str]],
               weight: float) -> None:
        now, numbers = self._now_ms(), self.numbers
        made: list[Kept] = [(at, message, now, stream, next(numbers), weight) for at, message in entries]
        added = sum(map(len, map(_MESSAGE_OF, made)))
        group.events.extend(made)
        group.bytes += added
        self.holdings.held["log bytes"] += added
        if len(group.events) > EVENTS_KEPT:
            self._let_go(group, len(group.events) - EVENTS_KEPT)
        while self.holdings.over("log bytes"):
            largest = max(self.groups.values(), key=lambda g: g.bytes)
            if not self._let_go(largest, len(largest.events), free=self.holdings.over("log bytes")):
                break
        if made:
            info["first"] = made[0][_AT] if info["first"] is None else min(info["first"], made[0][_AT])
            info["last"] = made[-1][_AT] if info["last"] is None else max(info["last"], made[-1][_AT])
            info["ingested"] = now
        self._apply_filters(group, made)

    def _let_go(self, group: LogGroup, count: int, free: int | None = None) -> int:
        """Drop a group's oldest events: `count` of them, or (with `free`) as many as free that many
        bytes; how many went."""
        events = group.events
        if free is None:  # (every write, once a busy group is full: its sizes summed in C)
            gone = min(count, len(events))
            freed = sum(map(len, map(_MESSAGE_OF, itertools.islice(events, gone))))
            popleft = events.popleft
            for _ in range(gone):
                popleft()
        else:
            gone = freed = 0
            while gone < count and events and freed < free:
                freed += len(events.popleft()[_MESSAGE])
                gone += 1
        group.bytes -= freed
        self.holdings.give("log bytes", freed)
        group.dropped += gone
        return gone

    def _apply_filters(self, group: LogGroup, events: list[Kept]) -> None:
        if not group.filters or self.put_metric is None:
            return
        for metric_filter in group.filters.values():
            for transformation in metric_filter.transformations:
                data = []
                default = transformation.get("defaultValue")
                for event in events:
                    message = event[_MESSAGE]
                    if metric_filter.pattern.matches(message):
                        value = _metric_value(metric_filter.pattern, transformation, message)
                    else:  # defaultValue: what an event that does not match reports
                        value = None if default is None else float(default)
                    if value is None:
                        continue
                    datum: dict[str, Any] = {"MetricName": transformation["metricName"], "Timestamp": event[_AT] / 1000,
                                             "Values": [value], "Counts": [event[_WEIGHT]]}
                    if transformation.get("unit"):
                        datum["Unit"] = transformation["unit"]
                    dimensions = transformation.get("dimensions") or {}
                    if dimensions:
                        datum["Dimensions"] = [{"Name": k, "Value": str(metric_filter.pattern.value(message, v))
                                                if str(v).startswith("$.") else str(v)} for k, v in dimensions.items()]
                    data.append(datum)
                self._put_metrics(transformation["metricNamespace"], data)

    def embedded_metrics(self, printed: str, at: float, weight: float = 1.0) -> None:
        """The metrics a function's printed lines embed (EMF), extracted as its logs arrive, at emulated
        time `at`, each value standing for `weight` invocations."""
        if self.put_metric is None or not could_hold_metrics(printed):
            return
        for line in printed.split("\n"):
            if could_hold_metrics(line):
                for namespace, data in emf_data(line, at, weight):
                    self._put_metrics(namespace, data)

    def _put_metrics(self, namespace: str, data: list[dict[str, Any]]) -> None:
        assert self.put_metric is not None
        for start in range(0, len(data), 1000):  # CloudWatch takes at most 1,000 data a call
            self.put_metric(namespace, data[start:start + 1000])

    def get_log_events(self, group_name: str, stream: str, start: int | None, end: int | None,
                       limit: int, from_head: bool) -> list[LogEvent]:
        group = self.group(group_name)
        if stream not in group.streams:
            raise _not_found("log stream")
        events = [e for e in group.events if e[_STREAM] == stream and _within(e[_AT], start, end)]
        return [LogEvent(*e) for e in (events[:limit] if from_head else events[-limit:])]

    def filter_log_events(self, group_name: str, streams: list[str] | None, prefix: str | None,
                          start: int | None, end: int | None, pattern: str) -> list[LogEvent]:
        group = self.group(group_name)
        compiled = self.compile(pattern)
        return [LogEvent(*e) for e in group.events
                if (streams is None or e[_STREAM] in streams) and (prefix is None or e[_STREAM].startswith(prefix))
                and _within(e[_AT], start, end) and compiled.matches(e[_MESSAGE])]

    def compile(self, pattern: str) -> FilterPattern:
        try:
            return compile_pattern(pattern or "")
        except PatternError as exc:
            raise LogsError("InvalidParameterException", f"Invalid filter pattern: {exc}") from None
        except Exception as exc:  # a %regex% that is not one
            raise LogsError("InvalidParameterException", f"Invalid filter pattern: {exc}") from None

    def put_metric_filter(self, group_name: str, name: str, pattern: str,
                          transformations: list[dict[str, Any]]) -> None:
        group = self.group(group_name)
        compiled = self.compile(pattern)
        if not transformations or len(transformations) != 1:
            raise LogsError("InvalidParameterException", "1 validation error detected: Value at "
                            "'metricTransformations' failed to satisfy constraint: Member must have length "
                            "less than or equal to 1")
        for transformation in transformations:
            for key in ("metricName", "metricNamespace", "metricValue"):
                if not transformation.get(key):
                    raise LogsError("InvalidParameterException", f"1 validation error detected: Value null at "
                                    f"'metricTransformations.1.member.{key}' failed to satisfy constraint: Member must not be null")
            value = str(transformation["metricValue"])
            if value.startswith("$.") and not compiled.json:
                raise LogsError("InvalidParameterException", "Invalid metric value: a $.selector needs a JSON filter pattern")
        group.filters[name] = MetricFilter(name, compiled, list(transformations), self._now_ms())

    def delete_metric_filter(self, group_name: str, name: str) -> None:
        group = self.group(group_name)
        if name not in group.filters:
            raise _not_found("metric filter")
        del group.filters[name]

    def metric_filters(self, group_name: str | None, prefix: str | None, metric_name: str | None,
                       namespace: str | None) -> list[dict[str, Any]]:
        groups = [self.group(group_name)] if group_name else list(self.groups.values())
        found = []
        for group in groups:
            for f in group.filters.values():
                if prefix and not f.name.startswith(prefix):
                    continue
                if metric_name and not any(t["metricName"] == metric_name for t in f.transformations):
                    continue
                if namespace and not any(t["metricNamespace"] == namespace for t in f.transformations):
                    continue
                found.append({"filterName": f.name, "filterPattern": f.pattern.text, "logGroupName": group.name,
                              "metricTransformations": f.transformations, "creationTime": f.created})
        return found


def _within(at: int, start: int | None, end: int | None) -> bool:
    return (start is None or at >= start) and (end is None or at < end)


def _metric_value(pattern: FilterPattern, transformation: dict[str, Any], message: str) -> float | None:
    """A matching event's value: the transformation's number, or the JSON field it names."""
    value = str(transformation["metricValue"])
    if value.startswith("$."):
        found = pattern.value(message, value)
        try:
            return float(found)
        except (TypeError, ValueError):
            return None  # a field that is not a number reports nothing
    try:
        return float(value)
    except ValueError:
        return None
