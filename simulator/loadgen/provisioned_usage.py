"""What the deployed alias's provisioned concurrency served, and what spilled over past it to on-demand
environments (which start cold), per version, as CloudWatch counted them (AWS/Lambda
ProvisionedConcurrencyInvocations and ProvisionedConcurrencySpilloverInvocations): read once when a
test stops, by the same calls on the emulator and on AWS (where the last minutes may not be in yet)."""

from __future__ import annotations

import math
from typing import Any

from botocore.exceptions import ClientError

METRICS = {"served": "ProvisionedConcurrencyInvocations", "spilled": "ProvisionedConcurrencySpilloverInvocations"}
MAX_DATAPOINTS = 1440  # GetMetricStatistics' per call


async def provisioned_usage(lambda_client: Any, cloudwatch: Any, function: str, alias: str,
                            start: float, end: float) -> dict[str, Any] | None:
    """{"requested": N, "by_version": {version: {"served": n, "spilled": n}}} between two emulated
    times, or None when the alias has no provisioned concurrency."""
    try:
        config = await lambda_client.get_provisioned_concurrency_config(FunctionName=function, Qualifier=alias)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ProvisionedConcurrencyConfigNotFoundException":
            return None
        raise
    start, end = math.floor(start / 60) * 60 - 60, math.ceil(end / 60) * 60 + 60
    period = max(60, math.ceil((end - start) / MAX_DATAPOINTS / 60) * 60)
    by_version: dict[str, dict[str, float]] = {}
    resource = [{"Name": "FunctionName", "Value": function}, {"Name": "Resource", "Value": f"{function}:{alias}"}]
    for key, metric in METRICS.items():
        listed = await cloudwatch.list_metrics(Namespace="AWS/Lambda", MetricName=metric, Dimensions=resource)
        for found in listed.get("Metrics", []):
            version = next((d["Value"] for d in found["Dimensions"] if d["Name"] == "ExecutedVersion"), None)
            if version is None:
                continue
            points = await cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda", MetricName=metric, Dimensions=found["Dimensions"], StartTime=start,
                EndTime=end, Period=period, Statistics=["Sum"])
            counts = by_version.setdefault(version, {"served": 0.0, "spilled": 0.0})
            counts[key] += sum(point["Sum"] for point in points["Datapoints"])
    return {"requested": config["RequestedProvisionedConcurrentExecutions"],
            "by_version": {v: {k: round(n) for k, n in counts.items()} for v, counts in sorted(by_version.items())}}
