"""Finished invocations into Locust's request statistics, many at a time.

Locust counts a request through its `request` event: one call of every listener per request, each
updating two statistics entries (the request's name and the total). At thousands of invocations a
second that is most of the reporting's CPU, taken from the invocations' own loop (they share the
GIL). When Locust's own statistics are the only listener, a batch of invocations updates the same
entries directly, once per name, to the same figures. Any other listener (a plugin, a user's hook)
and every invocation is fired as an event, one by one, as Locust would.
"""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Iterable
from typing import Any

from locust import stats as locust_stats
from locust.event import EventHook
from locust.stats import RequestStats, StatsEntry

_RUNNER_LISTENER = ("locust.runners", "Runner.__init__.<locals>.on_request")


def only_locust_statistics_listen(request: EventHook) -> bool:
    """True when the runner's statistics are the `request` event's one listener."""
    handlers = request._handlers
    return len(handlers) == 1 and (getattr(handlers[0], "__module__", None),
                                   getattr(handlers[0], "__qualname__", None)) == _RUNNER_LISTENER


class RequestBatch:
    """Invocations of one drain, grouped by name, then logged into a `RequestStats` at once."""

    def __init__(self, request_type: str) -> None:
        self.request_type = request_type
        self.times: dict[str, list[float]] = {}
        self.in_order: list[float] = []  # all names' times as they came: the total adds them in that order
        self.lengths: collections.Counter[str] = collections.Counter()
        self.errors: list[tuple[str, Exception]] = []

    def add(self, name: str, response_time_ms: float, response_length: int, error: Exception | None) -> None:
        times = self.times.get(name)
        if times is None:
            times = self.times[name] = []
        times.append(response_time_ms)
        self.in_order.append(response_time_ms)
        self.lengths[name] += response_length
        if error is not None:
            self.errors.append((name, error))

    def log_into(self, stats: RequestStats, now: float | None = None) -> None:
        """What firing each invocation's `request` event would have done to `stats`, in order: the
        requests, then their errors (Locust's listener logs each request, then its error)."""
        if not self.in_order:
            return
        now = time.time() if now is None else now
        total: collections.Counter[Any] = collections.Counter()
        for name, times in self.times.items():
            histogram = collections.Counter(map(locust_stats.bucket_response_time, times))
            total.update(histogram)
            _log_many(stats.entries[(name, self.request_type)], times, histogram, self.lengths[name], now)
        _log_many(stats.total, self.in_order, total, sum(self.lengths.values()), now)
        for name, error in self.errors:
            stats.log_error(self.request_type, name, error)
        self.times.clear()
        self.in_order.clear()
        self.lengths.clear()
        self.errors.clear()


def _log_many(entry: StatsEntry, times: list[float], histogram: collections.Counter[Any],
              content_length: int, now: float) -> None:
    """`StatsEntry.log` for each of `times`, all at the moment `now`."""
    second = int(now)
    if entry.use_response_times_cache and entry.last_request_timestamp and second > int(entry.last_request_timestamp):
        entry._cache_response_times(second - 1)  # the snapshot Locust takes when a second begins
    entry.num_requests += len(times)
    entry.num_reqs_per_sec[second] += len(times)
    entry.last_request_timestamp = now
    # Locust keeps float milliseconds in these fields, whatever their annotations say
    entry.total_response_time = _sum_from(entry.total_response_time, times)  # type: ignore[assignment]
    low = min(times)
    entry.min_response_time = low if entry.min_response_time is None else min(entry.min_response_time, low)  # type: ignore[assignment]
    entry.max_response_time = max(entry.max_response_time, max(times))  # type: ignore[assignment]
    buckets = entry.response_times
    for bucket, count in histogram.items():
        buckets[bucket] += count
    entry.total_content_length += content_length


def _sum_from(total: float, values: Iterable[float]) -> float:
    for value in values:  # one at a time, as Locust adds them: the same float, to the last bit
        total += value
    return total


_WRAPPED = re.compile(r"""^RuntimeError\((['"])(.*)\1\)$""", re.DOTALL)
SAID_PER_NAME = 3


def said_errors(stats: RequestStats) -> dict[str, list[tuple[str, int]]]:
    """What the invocations' errors said, per Locust name ("invoke v1", "invoke Other v1"): the most
    frequent texts ("function_error: ValueError: region is required"), with how often, at most 3."""
    said: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for error in stats.errors.values():
        if error.method == "Lambda" and error.name.startswith("invoke "):
            said[error.name][error_text(error.error)] += error.occurrences
    return {name: counts.most_common(SAID_PER_NAME) for name, counts in said.items()}


def error_text(error: Any) -> str:
    """An invocation's failure as Locust keeps it, without the RuntimeError('...') it was raised in:
    "function_error: ValueError: region is required"."""
    text = str(error)
    wrapped = _WRAPPED.match(text)
    return wrapped.group(2) if wrapped else text
