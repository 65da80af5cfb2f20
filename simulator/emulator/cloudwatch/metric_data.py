"""CloudWatch's metric data: PutMetricData's datapoints checked as CloudWatch checks them, kept in
one-second buckets of emulated time per exact metric identity (count, sum, min, max and value bins for
percentiles), and Lambda's invocations tallied per second until they are published. No wire protocol here.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from simulator.deployment.vocabulary import lambda_dimension_sets


class CloudWatchError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# PutMetricData's limits (CloudWatch's quotas page): items a call, dimensions a metric, values a datum,
# and how far a datapoint's time may be from now
MAX_DATA, MAX_DIMENSIONS, MAX_VALUES = 1000, 30, 150
MAX_PAST_S, MAX_FUTURE_S = 14 * 86400, 2 * 3600
MAX_MAGNITUDE = 2.0 ** 360  # CloudWatch rejects larger values (so no sum of them overflows to Infinity)


def check_limits(data: list[dict[str, Any]], now: float) -> None:
    """PutMetricData's limits, as CloudWatch refuses a call past them: nothing of it is stored."""
    if len(data) > MAX_DATA:
        raise invalid(f"The collection MetricData must not have a size greater than {MAX_DATA}.")
    for datum in data:
        if len(datum.get("Dimensions") or ()) > MAX_DIMENSIONS:
            raise invalid(f"The collection MetricData.member.Dimensions must not have a size greater than {MAX_DIMENSIONS}.")
        if len(datum.get("Values") or ()) > MAX_VALUES or len(datum.get("Counts") or ()) > MAX_VALUES:
            raise invalid(f"The collection MetricData.member.Values must not have a size greater than {MAX_VALUES}.")
        stamp = datum.get("Timestamp")
        if stamp is not None and not now - MAX_PAST_S <= float(stamp) <= now + MAX_FUTURE_S:
            raise invalid("The parameter MetricData.member.Timestamp must specify a time no more than two weeks "
                           "in the past and no more than two hours in the future.")


def number_words(value: float) -> str:
    """A request's number as CloudWatch writes it back in a message (NaN, Infinity, 1.5)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def datum_bucket(datum: dict[str, Any], index: int) -> Bucket:
    """The datapoints one MetricDatum (the `index`th, from 1) stands for. Values with StatisticValues
    is accepted, as CloudWatch accepts it: the summary counts."""
    member = f"MetricData.member.{index}"
    for other in ("Values", "StatisticValues"):
        if datum.get("Value") is not None and datum.get(other) is not None:
            raise CloudWatchError(400, "InvalidParameterCombination",
                                  f"The parameters {member}.Value and {member}.{other} are mutually exclusive and "
                                  "you have specified both.")
    bucket = Bucket()
    if datum.get("StatisticValues") is not None:
        stats = datum["StatisticValues"]
        count, total = float(stats["SampleCount"]), float(stats["Sum"])
        low, high = float(stats["Minimum"]), float(stats["Maximum"])
        if not all(math.isfinite(v) and abs(v) <= MAX_MAGNITUDE for v in (count, total, low, high)) or count <= 0 \
                or low > high:
            raise invalid(f"The parameter {member}.StatisticValues is not valid.")
        return Bucket(count, total, low, high)
    values = [float(v) for v in datum.get("Values") or [datum.get("Value", 0.0)]]
    counts = [float(c) for c in datum.get("Counts") or [1.0] * len(values)]
    if len(counts) != len(values):
        raise invalid(f"The parameters {member}.Values and {member}.Counts must be of the same size.")
    for value, count in zip(values, counts, strict=True):
        if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise invalid(f"The value {number_words(value)} for parameter {member}.Value is invalid.")
        if not math.isfinite(count) or count < 0:
            raise invalid(f"The value {number_words(count)} for parameter {member}.Counts is invalid.")
        bucket.add(value, count)
    return bucket


def invalid(message: str) -> CloudWatchError:
    return CloudWatchError(400, "InvalidParameterValue", message)


def check_range(start: float, end: float) -> None:
    """GetMetricStatistics reads the times to the second: a range under a second is empty, and refused."""
    if math.floor(start) >= math.floor(end):
        raise invalid("The parameter StartTime must be less than the parameter EndTime.")


def check_data_range(start: float, end: float) -> None:
    """GetMetricData's own answer to an empty range (to the second, as GetMetricStatistics reads it)."""
    if math.floor(end) < math.floor(start):
        raise CloudWatchError(400, "ValidationError", "The parameter EndTime must be greater than StartTime.")
    if math.floor(end) == math.floor(start):
        raise CloudWatchError(400, "ValidationError", "The parameter StartTime must not equal parameter EndTime.")


MetricKey = tuple[str, str, frozenset[tuple[str, str]]]


def metric_key(namespace: str, name: str, dimensions: list[dict[str, str]] | None) -> MetricKey:
    return namespace, name, frozenset((d["Name"], d["Value"]) for d in dimensions or ())


_BIN = math.log(1.02)  # percentiles from bins 2 % wide: CloudWatch's own are estimates too
PERCENTILE = re.compile(r"p(100|\d{1,2}(\.\d{1,2})?)")  # an ExtendedStatistic: p0 to p100


def _bin(value: float) -> int:
    return math.floor(math.log(value) / _BIN) if value > 0 else -10**9


def _bin_value(index: int) -> float:
    return 0.0 if index == -10**9 else math.exp((index + 0.5) * _BIN)


@dataclass
class Bucket:
    count: float = 0.0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    bins: dict[int, float] | None = None  # value bins -> datapoints, for percentiles (None: not kept)

    def add(self, value: float, count: float = 1.0) -> None:
        """One datapoint `value`, standing for `count` datapoints of it (a sampled invocation's weight)."""
        self.count += count
        self.total += value * count
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        bins = self.bins
        if bins is None:
            bins = self.bins = {}
        index = _bin(value)
        bins[index] = bins.get(index, 0.0) + count

    def copy(self) -> Bucket:
        return Bucket(self.count, self.total, self.low, self.high, dict(self.bins) if self.bins is not None else None)

    def merge(self, other: Bucket) -> None:
        self.count += other.count
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)
        if other.bins is not None:
            bins = self.bins if self.bins is not None else {}
            for index, count in other.bins.items():
                bins[index] = bins.get(index, 0.0) + count
            self.bins = bins

    def statistic(self, name: str) -> float | None:
        """A statistic of the datapoints; a percentile (`p99`) from their bins, clamped to the
        observed range (None where the datapoints came without values, as a StatisticSet's)."""
        if PERCENTILE.fullmatch(name):
            if not self.bins or not self.count:
                return None
            wanted, seen = float(name[1:]) / 100 * self.count, 0.0
            for index in sorted(self.bins):
                seen += self.bins[index]
                if seen >= wanted:
                    return min(self.high, max(self.low, _bin_value(index)))
            return self.high
        return {"SampleCount": self.count, "Sum": self.total, "Minimum": self.low,
                "Maximum": self.high, "Average": self.total / self.count if self.count else 0.0}[name]


class MetricStore:
    """Datapoints in one-second buckets of emulated time, per exact metric identity."""

    def __init__(self) -> None:
        self.series: dict[MetricKey, dict[int, Bucket]] = defaultdict(dict)

    def put(self, key: MetricKey, timestamp: float, value: float) -> None:
        """One datapoint (the reference the batched Lambda tallies are checked against)."""
        bucket = Bucket()
        bucket.add(value)
        self.merge(key, int(timestamp), bucket)

    def merge(self, key: MetricKey, second: int, bucket: Bucket) -> None:
        """Add a whole bucket's datapoints to one second of a series."""
        buckets = self.series[key]
        held = buckets.get(second)
        if held is None:
            buckets[second] = bucket.copy()
        else:
            held.merge(bucket)

    def aggregate(self, key: MetricKey, start: float, end: float) -> Bucket | None:
        """All datapoints in [start, end) merged, or None when there are none. Costs the fewer of
        the range's seconds and the series' buckets, so a huge range costs what the data does."""
        buckets = self.series.get(key)
        if not buckets:
            return None
        merged = Bucket()
        first, stop = math.floor(start), math.ceil(end)
        if stop - first <= len(buckets):
            for second in range(first, stop):
                bucket = buckets.get(second)
                if bucket is not None:
                    merged.merge(bucket)
        else:
            for second, bucket in buckets.items():
                if first <= second < stop:
                    merged.merge(bucket)
        return merged if merged.count else None


@dataclass(slots=True)
class LambdaTally:
    """Invocations of one function, alias and executed version in one emulated second, as Lambda's
    metrics count them, until they are published."""

    invocations: float = 0.0  # weighted: a sampled invocation counts as the production ones it stands for
    errors: float = 0.0
    throttles: float = 0.0
    duration: Bucket = field(default_factory=Bucket)
    provisioned: float = 0.0  # invocations a version's provisioned concurrency served
    spillover: float = 0.0  # invocations past it, on on-demand environments

    def buckets(self) -> list[tuple[str, Bucket]]:
        """(metric name, the bucket its datapoints make), as adding them one by one would."""
        made = []
        if self.invocations:
            n, errors = float(self.invocations), float(self.errors)
            made.append(("Invocations", Bucket(n, n, 1.0, 1.0)))
            made.append(("Errors", Bucket(n, errors, 0.0 if errors < n else 1.0, 1.0 if errors else 0.0)))
            made.append(("Duration", self.duration))
        if self.throttles:
            made.append(("Throttles", Bucket(float(self.throttles), float(self.throttles), 1.0, 1.0)))
        for name, count in (("ProvisionedConcurrencyInvocations", self.provisioned),
                            ("ProvisionedConcurrencySpilloverInvocations", self.spillover)):
            if count:
                made.append((name, Bucket(float(count), float(count), 1.0, 1.0)))
        return made


@lru_cache(maxsize=4096)
def lambda_keys(function_name: str, alias: str | None, executed_version: str | None,
                 metric: str) -> tuple[MetricKey, ...]:
    return tuple(("AWS/Lambda", metric, d) for d in lambda_dimension_sets(function_name, alias, executed_version))


def with_unit(key: MetricKey, unit: str) -> MetricKey:
    return key[0], f"{key[1]}\0{unit}", key[2]


def default_unit(metric_name: str) -> str:
    return "Milliseconds" if metric_name == "Duration" else "Count"
