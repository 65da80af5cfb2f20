"""Request members checked against botocore's model: the fault found and where, as one line."""

from __future__ import annotations

import pytest

from simulator.emulator.member_types import member_type_error

EVENTS = [{"timestamp": 1_796_400_000_000 + i, "message": f"event {i}"} for i in range(1000)]


@pytest.mark.parametrize("service, operation, params, said", [
    ("logs", "PutLogEvents", {"logGroupName": "/g", "logStreamName": "s", "logEvents": EVENTS}, None),
    ("logs", "PutLogEvents", {"logGroupName": "/g", "logStreamName": "s",
                              "logEvents": [*EVENTS[:3], {"timestamp": 1, "message": 7}]},
     "PutLogEvents.logEvents[3].message: expected a string, got int '7'"),
    ("logs", "PutLogEvents", {"logGroupName": "/g", "logEvents": {"a": 1}},
     "PutLogEvents.logEvents: expected a list, got dict \"{'a': 1}\""),
    ("logs", "CreateLogGroup", [], "CreateLogGroup: expected an object, got list '[]'"),
    ("logs", "CreateLogGroup", {"logGroupName": "/g", "tags": {"team": 1}},
     "CreateLogGroup.tags.team: expected a string, got int '1'"),
    ("cloudwatch", "PutMetricAlarm", {"AlarmName": True}, "PutMetricAlarm.AlarmName: expected a string, got bool 'True'"),
    ("cloudwatch", "PutMetricData", {"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": "1"}]},
     "PutMetricData.MetricData[0].Value: expected a double, got str '1'"),
    ("logs", "NoSuchOperation", {"x": 1}, None),
])
def test_a_fault_is_named_with_where_it_is(service, operation, params, said):
    assert member_type_error(service, operation, params) == said
