"""CloudWatch's embedded metric format (EMF): a log event that is one JSON object with an `_aws`
member whose `CloudWatchMetrics` directives name a namespace, dimension sets and metrics, the values
being the object's members of those names. CloudWatch Logs extracts them as metrics, as Powertools'
Metrics and the aws-embedded-metrics libraries expect of a function's printed lines (after the Node.js
runtime's console.log prefix, in Lambda's text log format). An event that is not valid EMF stays a
plain log event, with no metric from it (as CloudWatch does). Pure: an
event's text in, PutMetricData's data out.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DIMENSIONS = 30  # a dimension set's keys, at most
MAX_VALUES = 100  # a metric's values in one event, at most
# What Lambda's Node.js runtime puts before a console.log line in its text log format (time, request
# id, level): CloudWatch reads the EMF document after it, as the AWS libraries that log EMF through
# console.log (aws-embedded-metrics, Powertools' Metrics) rely on
_NODE_PREFIX = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\t[0-9a-fA-F-]+\t[A-Z]+\t")


def could_hold_metrics(text: str) -> bool:
    """A cheap first look: only an event naming `_aws` can be EMF."""
    return '"_aws"' in text


def emf_data(message: str, at: float, weight: float = 1.0) -> list[tuple[str, list[dict[str, Any]]]]:
    """The metrics an event's text carries, as (namespace, PutMetricData data) pairs at emulated time
    `at` (the event's own Timestamp is the function's clock, which a compressed rehearsal runs apart
    from), each value standing for `weight` events; [] for an event that is not valid EMF."""
    text = message.strip()
    prefix = _NODE_PREFIX.match(text)
    if prefix is not None:
        text = text[prefix.end():]
    try:
        root = json.loads(text)
    except ValueError:
        return []
    if not isinstance(root, dict):
        return []
    meta = root.get("_aws")
    if not isinstance(meta, dict) or not isinstance(meta.get("Timestamp"), (int, float)):
        return []
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        return []
    found = []
    for directive in directives:
        data = _directive_data(directive, root, at, weight)
        if data is None:  # one invalid directive: the event is not valid EMF
            return []
        found.append((directive["Namespace"], data))
    return [(namespace, data) for namespace, data in found if data]


def _directive_data(directive: Any, root: dict[str, Any], at: float, weight: float) -> list[dict[str, Any]] | None:
    if not isinstance(directive, dict):
        return None
    namespace, dimension_sets, metrics = directive.get("Namespace"), directive.get("Dimensions"), directive.get("Metrics")
    if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
        return None
    if not isinstance(dimension_sets, list) or not isinstance(metrics, list):
        return None
    dimensions = []
    for keys in dimension_sets:
        if not isinstance(keys, list) or len(keys) > MAX_DIMENSIONS:
            return None
        if not all(isinstance(key, str) and isinstance(root.get(key), str) for key in keys):
            return None  # a dimension's value is a string member of the root
        dimensions.append([{"Name": key, "Value": root[key]} for key in keys])
    data = []
    for metric in metrics:
        if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
            return None
        values = root.get(metric["Name"])
        values = values if isinstance(values, list) else [values]
        if not 1 <= len(values) <= MAX_VALUES or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return None
        unit = metric.get("Unit")
        for dimension_set in dimensions or [[]]:  # no dimension set at all: the metric without dimensions
            datum: dict[str, Any] = {"MetricName": metric["Name"], "Timestamp": at, "Values": [float(v) for v in values],
                                     "Counts": [weight] * len(values)}
            if dimension_set:
                datum["Dimensions"] = dimension_set
            if isinstance(unit, str) and unit:
                datum["Unit"] = unit
            data.append(datum)
    return data
