"""CloudWatch's alarm rule over one evaluation: the datapoints of the last `EvaluationPeriods`
periods (None where missing), the comparison with the threshold, `DatapointsToAlarm` and the
treatment of missing data, to the alarm's next state. Pure: the emulator's alarms and the planner's
vectorised ones (tested against this) both follow it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def next_state(values: Sequence[float | None], comparison: str, threshold: float, datapoints_to_alarm: int,
               treat_missing_data: str) -> tuple[str | None, int]:
    """(the state, or None to keep the current one, and the breaching count) for one evaluation."""
    compare = COMPARISONS[comparison]
    present = [v for v in values if v is not None]
    breaching = sum(1 for v in present if compare(v, threshold))
    if treat_missing_data == "breaching":
        breaching += len(values) - len(present)
    if breaching >= datapoints_to_alarm:
        return "ALARM", breaching
    if not present and treat_missing_data == "missing":
        return "INSUFFICIENT_DATA", breaching
    if not present and treat_missing_data == "ignore":
        return None, breaching
    return "OK", breaching
