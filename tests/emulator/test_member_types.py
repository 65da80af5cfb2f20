"""Request members checked against botocore's model: the fault found and where, as one line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.emulator.member_types import _checker, member_type_error
from simulator.service_models import service_model

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
    ("cloudwatch", "PutMetricData", {"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": []}]},
     "PutMetricData.MetricData[0].Value: expected a double, got list '[]'"),  # was a TypeError: a 500
    ("logs", "NoSuchOperation", {"x": 1}, None),
])
def test_a_fault_is_named_with_where_it_is(service, operation, params, said):
    assert member_type_error(service, operation, params) == said


class _Text(str):
    """A string of a subclass: isinstance passes it, the bulk check leaves it to the item check."""


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=3),
                    st.sampled_from(["NaN", "Infinity"]), st.builds(_Text, st.text(max_size=3)),
                    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
_ITEM = st.one_of(st.dictionaries(st.sampled_from(["timestamp", "message", "Name", "Value", "Unit", "other"]),
                                  _VALUES, max_size=4), _VALUES)


@pytest.mark.parametrize("service, operation, member", [
    ("logs", "PutLogEvents", "logEvents"), ("cloudwatch", "PutMetricData", "MetricData"),
    ("cloudwatch", "PutMetricAlarm", "Dimensions")])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(_ITEM, max_size=6))
def test_the_bulk_check_of_a_list_finds_what_the_item_by_item_check_finds(service, operation, member, items):
    """A list checked a member at a time across the list says exactly what the item-by-item check
    says: nothing when all pass, else the same fault at the same place."""
    shape = service_model(service).operation_model(operation).input_shape
    params = {member: items}
    assert _checker(shape, {})(params) == _checker(shape, {}, bulk=False)(params)
