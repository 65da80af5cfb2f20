"""An error-rate alarm as CloudWatch writes it, metric math over Lambda's own metrics:
`100 * errors / invocations`, each a `Sum` over the alarm's period with the alias's dimensions. The
alarm search writes it, the planner recognises it, the emulator evaluates it as CloudWatch does."""

from __future__ import annotations

from typing import Any

EXPRESSION = "100 * errors / invocations"


def error_rate_metrics(dimensions: dict[str, str], period: int) -> list[dict[str, Any]]:
    """PutMetricAlarm's `Metrics` for the error rate (percent) under `dimensions`."""
    def stat(identifier: str, metric: str) -> dict[str, Any]:
        return {"Id": identifier, "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]},
            "Period": period, "Stat": "Sum"}}
    return [{"Id": "rate", "Expression": EXPRESSION, "Label": "error rate (%)", "ReturnData": True},
            stat("errors", "Errors"), stat("invocations", "Invocations")]


def error_rate_dimensions(metrics: list[dict[str, Any]]) -> tuple[dict[str, str], int] | None:
    """The dimensions and period of an error-rate alarm's `Metrics` written as above, else None."""
    by_id = {m.get("Id"): m for m in metrics if isinstance(m, dict)}
    returned = [m for m in by_id.values() if m.get("ReturnData", True)]
    if len(returned) != 1 or "".join(str(returned[0].get("Expression", "")).split()) != "".join(EXPRESSION.split()):
        return None
    stats = []
    for identifier, metric in (("errors", "Errors"), ("invocations", "Invocations")):
        query = (by_id.get(identifier) or {}).get("MetricStat") or {}
        inner = query.get("Metric") or {}
        if inner.get("Namespace") != "AWS/Lambda" or inner.get("MetricName") != metric or query.get("Stat") != "Sum":
            return None
        stats.append(({str(d["Name"]): str(d["Value"]) for d in inner.get("Dimensions") or []}, int(query.get("Period", 60))))
    if stats[0] != stats[1]:
        return None
    return stats[0]
