"""CloudWatch's wire protocols: `smithy-rpc-v2-cbor` (current botocore), `json` 1.0 and `query`
(older clients, some AWS CLI builds). One table of operations; each protocol only decodes the
request into the model's parameters and encodes its answer.

Timestamps travel as epoch seconds inside the model; here they become CBOR tag 1, JSON numbers or
ISO 8601 in XML.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import cbor2
from aiohttp import web

from simulator.emulator.cloudwatch.alarms import Alarm, CompositeAlarm
from simulator.emulator.cloudwatch.metric_data import CloudWatchError
from simulator.emulator.cloudwatch.models import CloudWatchBackend
from simulator.emulator.json_protocol import epoch_seconds
from simulator.emulator.member_types import member_type_error

TARGET_PREFIX = "GraniteServiceVersion20100801"
XMLNS = "http://monitoring.amazonaws.com/doc/2010-08-01/"
TIMESTAMP_KEYS = {"AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp", "LastModified",
                  "StateTransitionedTimestamp", "Timestamp", "Timestamps"}
INTEGER_KEYS = {"Period", "EvaluationPeriods", "DatapointsToAlarm", "MaxRecords"}
FLOAT_KEYS = {"Threshold"}
BOOLEAN_KEYS = {"ActionsEnabled", "ReturnData"}


def epoch(value: Any) -> float:
    """A request timestamp in any protocol's form, as epoch seconds."""
    seconds = epoch_seconds(value)
    if seconds is None:
        raise CloudWatchError(400, "InvalidParameterValue", f"not a timestamp: {value!r}")
    return seconds




def _page(items: list[Any], token: Any, size: Any, largest: int) -> tuple[list[Any], str | None]:
    """One page of a list as CloudWatch's describe calls page: up to `size` (1 to `largest`) from
    `token` (opaque: here the index of the page's first item), and the next token while more remain."""
    try:
        start = int(token or 0)
        count = int(size or largest)
    except (TypeError, ValueError):
        raise CloudWatchError(400, "InvalidNextToken", "Request parameter NextToken is invalid") from None
    if not 1 <= count <= largest or start < 0:
        raise CloudWatchError(400, "InvalidParameterValue",
                              f"The value {size} for parameter MaxRecords is not in range 1-{largest}.")
    end = start + count
    return items[start:end], (str(end) if end < len(items) else None)


class CloudWatchOperations:
    """Operation name -> model call, on plain dicts."""

    def __init__(self, backend: CloudWatchBackend | Callable[[], CloudWatchBackend]) -> None:
        self._backend = backend  # or, with state per region, what gives the request's region's
        self.table: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "PutMetricAlarm": self.put_metric_alarm, "DescribeAlarms": self.describe_alarms,
            "DeleteAlarms": self.delete_alarms, "SetAlarmState": self.set_alarm_state,
            "GetMetricStatistics": self.get_metric_statistics, "GetMetricData": self.get_metric_data,
            "PutMetricData": self.put_metric_data, "EnableAlarmActions": self.enable_alarm_actions,
            "DisableAlarmActions": self.disable_alarm_actions, "DescribeAlarmsForMetric": self.describe_alarms_for_metric,
            "DescribeAlarmHistory": self.describe_alarm_history, "ListMetrics": self.list_metrics,
            "PutCompositeAlarm": self.put_composite_alarm, "PutDashboard": self.put_dashboard,
            "TagResource": self.tag_resource, "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource, "GetDashboard": self.get_dashboard,
            "ListDashboards": self.list_dashboards, "DeleteDashboards": self.delete_dashboards,
        }

    @property
    def backend(self) -> CloudWatchBackend:
        return self._backend() if callable(self._backend) else self._backend

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.table.get(operation)
        if handler is None:
            raise CloudWatchError(400, "InvalidAction",
                                  f"The action {operation} is not supported by the shiftsim emulator.")
        try:
            return handler(params)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise CloudWatchError(400, "InvalidParameterValue", f"malformed {operation} request: {exc!r}") from None

    def put_metric_alarm(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.put_metric_alarm(p)
        return {}

    def describe_alarms(self, p: dict[str, Any]) -> dict[str, Any]:
        types = tuple(p.get("AlarmTypes") or ("MetricAlarm",))  # none asked: metric alarms only, as AWS
        for kind in types:
            if kind not in ("MetricAlarm", "CompositeAlarm"):
                raise CloudWatchError(400, "InvalidParameterValue", f"The value {kind} for parameter AlarmTypes is not valid.")
        alarms = self.backend.describe_alarms(p.get("AlarmNames"), p.get("AlarmNamePrefix"), p.get("StateValue"), types)
        page, token = _page(alarms, p.get("NextToken"), p.get("MaxRecords"), 100)
        return {"MetricAlarms": [self.backend.alarm_description(a) for a in page if isinstance(a, Alarm)],
                "CompositeAlarms": [self.backend.composite_description(a) for a in page if isinstance(a, CompositeAlarm)],
                **({"NextToken": token} if token else {})}

    def tag_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.tag_resource(p["ResourceARN"], list(p.get("Tags") or []))
        return {}

    def untag_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.untag_resource(p["ResourceARN"], list(p.get("TagKeys") or []))
        return {}

    def list_tags_for_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": self.backend.list_tags(p["ResourceARN"])}

    def put_composite_alarm(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.put_composite_alarm(p)
        return {}

    def enable_alarm_actions(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.set_actions_enabled(list(p.get("AlarmNames") or []), True)
        return {}

    def disable_alarm_actions(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.set_actions_enabled(list(p.get("AlarmNames") or []), False)
        return {}

    def describe_alarms_for_metric(self, p: dict[str, Any]) -> dict[str, Any]:
        alarms = self.backend.alarms_for_metric(p["Namespace"], p["MetricName"], p.get("Dimensions"),
                                                p.get("Statistic"), p.get("Period"))
        return {"MetricAlarms": [self.backend.alarm_description(a) for a in alarms]}

    def describe_alarm_history(self, p: dict[str, Any]) -> dict[str, Any]:
        items = self.backend.alarm_history(p.get("AlarmName"), epoch(p["StartDate"]) if p.get("StartDate") else None,
                                           epoch(p["EndDate"]) if p.get("EndDate") else None)
        if p.get("HistoryItemType") not in (None, "StateUpdate"):
            items = []
        page, token = _page(items, p.get("NextToken"), p.get("MaxRecords"), 100)
        return {"AlarmHistoryItems": page, **({"NextToken": token} if token else {})}

    def list_metrics(self, p: dict[str, Any]) -> dict[str, Any]:
        metrics = self.backend.list_metrics(p.get("Namespace"), p.get("MetricName"), p.get("Dimensions"))
        page, token = _page(metrics, p.get("NextToken"), None, 500)
        return {"Metrics": page, **({"NextToken": token} if token else {})}

    def put_dashboard(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.put_dashboard(p["DashboardName"], p["DashboardBody"])
        return {"DashboardValidationMessages": []}

    def get_dashboard(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.backend.get_dashboard(p["DashboardName"])

    def list_dashboards(self, p: dict[str, Any]) -> dict[str, Any]:
        page, token = _page(self.backend.list_dashboards(p.get("DashboardNamePrefix")), p.get("NextToken"), None, 1000)
        return {"DashboardEntries": page, **({"NextToken": token} if token else {})}

    def delete_dashboards(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.delete_dashboards(list(p.get("DashboardNames") or []))
        return {}

    def delete_alarms(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.delete_alarms(list(p.get("AlarmNames") or []))
        return {}

    def set_alarm_state(self, p: dict[str, Any]) -> dict[str, Any]:
        self.backend.set_alarm_state(p["AlarmName"], p["StateValue"], p.get("StateReason", ""),
                                     p.get("StateReasonData"))
        return {}

    def get_metric_statistics(self, p: dict[str, Any]) -> dict[str, Any]:
        points = self.backend.get_metric_statistics(
            p["Namespace"], p["MetricName"], p.get("Dimensions"), epoch(p["StartTime"]),
            epoch(p["EndTime"]), int(p["Period"]),
            list(p.get("Statistics") or []) + list(p.get("ExtendedStatistics") or []), unit=p.get("Unit"))
        return {"Label": p["MetricName"], "Datapoints": points}

    def get_metric_data(self, p: dict[str, Any]) -> dict[str, Any]:
        results = self.backend.get_metric_data(list(p["MetricDataQueries"]), epoch(p["StartTime"]),
                                               epoch(p["EndTime"]), p.get("ScanBy"))
        return {"MetricDataResults": results, "Messages": []}

    def put_metric_data(self, p: dict[str, Any]) -> dict[str, Any]:
        data = [{**d, "Timestamp": epoch(d["Timestamp"]) if d.get("Timestamp") else None}
                for d in p.get("MetricData") or []]
        self.backend.put_metric_data(p["Namespace"], data)
        return {}


def _with_timestamps(value: Any, convert: Callable[[float], Any], key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _with_timestamps(v, convert, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_timestamps(v, convert, key) for v in value]
    if key in TIMESTAMP_KEYS and isinstance(value, (int, float)):
        return convert(value)
    return value


def _iso(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


class CloudWatchResponses:
    def __init__(self, backend: CloudWatchBackend | Callable[[], CloudWatchBackend]) -> None:
        self.operations = CloudWatchOperations(backend)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(f"/service/{TARGET_PREFIX}/operation/{{operation}}", self.cbor)]

    # -- smithy-rpc-v2-cbor ----------------------------------------------------------------------

    async def cbor(self, request: web.Request) -> web.Response:
        headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                   "x-amzn-RequestId": str(uuid.uuid4())}
        try:
            raw = await request.read()
            try:
                params = cbor2.loads(raw) if raw else {}
            except Exception as exc:
                raise CloudWatchError(400, "SerializationException", f"body is not CBOR: {exc}") from None
            _check_types(request.match_info["operation"], params or {})
            result = self.operations.call(request.match_info["operation"], params or {})
            body = cbor2.dumps(_with_timestamps(result, lambda t: cbor2.CBORTag(1, t)))
            return web.Response(body=body, headers=headers)
        except CloudWatchError as error:
            headers["x-amzn-query-error"] = f"{error.code};Sender"
            body = cbor2.dumps({"__type": f"com.amazonaws.cloudwatch#{error.code}",
                                "message": error.message})
            return web.Response(status=error.status, body=body, headers=headers)

    # -- json 1.0 (X-Amz-Target) -----------------------------------------------------------------

    async def json(self, request: web.Request, operation: str) -> web.Response:
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        try:
            try:
                params = json.loads(await request.read() or b"{}")
            except ValueError as exc:
                raise CloudWatchError(400, "SerializationException", f"body is not JSON: {exc}") from None
            _check_types(operation, params)
            result = self.operations.call(operation, params)
            return web.json_response(result, headers=headers,
                                     content_type="application/x-amz-json-1.0")
        except CloudWatchError as error:
            headers["x-amzn-query-error"] = f"{error.code};Sender"
            return web.json_response({"__type": error.code, "message": error.message},
                                     status=error.status, headers=headers,
                                     content_type="application/x-amz-json-1.0")

    # -- query (form in, XML out) ----------------------------------------------------------------

    async def query(self, request: web.Request, form: dict[str, str]) -> web.Response:
        request_id = str(uuid.uuid4())
        operation = form.pop("Action", "")
        form.pop("Version", None)
        try:
            try:
                params = _unflatten(form)
            except ValueError as exc:
                raise CloudWatchError(400, "InvalidParameterValue", f"malformed query parameter: {exc}") from None
            result = self.operations.call(operation, params)
        except CloudWatchError as error:
            body = (f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type>'
                    f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
                    f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
            return web.Response(status=error.status, text=body, content_type="text/xml")
        inner = _to_xml(_with_timestamps(result, _iso))
        result_xml = f"<{operation}Result>{inner}</{operation}Result>" if result else ""
        body = (f'<{operation}Response xmlns="{XMLNS}">{result_xml}<ResponseMetadata><RequestId>'
                f"{request_id}</RequestId></ResponseMetadata></{operation}Response>")
        return web.Response(text=body, content_type="text/xml")


def _check_types(operation: str, params: Any) -> None:
    """A member of a type the model does not take is refused here, never stored, in CloudWatch's
    query-compatible words (the query protocol's members are all text: the operations read them so)."""
    wrong = member_type_error("cloudwatch", operation, params)
    if wrong is not None:
        raise CloudWatchError(400, "InvalidParameterValue", f"malformed {operation} request: {wrong}")


def parse_form(raw: bytes) -> dict[str, str]:
    return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))


def _unflatten(form: dict[str, str]) -> dict[str, Any]:
    """`Dimensions.member.1.Name=x` -> {"Dimensions": [{"Name": "x"}]}, with typed scalars."""
    root: dict[str, Any] = {}
    for flat, value in form.items():
        node = root
        parts = flat.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _scalar(parts, value)
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if set(node) == {"member"} and isinstance(node["member"], dict):
        members = node["member"]
        return [_lists(members[k]) for k in sorted(members, key=int)]
    return {k: _lists(v) for k, v in node.items()}


def _scalar(parts: list[str], value: str) -> Any:
    key = parts[-1] if not parts[-1].isdigit() else parts[0]
    if key == "Value" and parts[0] == "MetricData":
        return float(value)
    if key in INTEGER_KEYS:
        return int(value)
    if key in FLOAT_KEYS:
        return float(value)
    if key in BOOLEAN_KEYS:
        return value.lower() == "true"
    return value


def _to_xml(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"<{k}>{_to_xml(v)}</{k}>" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "".join(f"<member>{_to_xml(v)}</member>" for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))
