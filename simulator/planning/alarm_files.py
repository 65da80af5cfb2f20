"""The alarm search's answer as files a user takes away: a scenario fragment (`alarms.toml`, which
`shiftsim rehearse SCENARIO --alarms` puts in place of the group's alarms) and a SAM snippet
(`alarms.yaml`: the `AWS::CloudWatch::Alarm` resources and the function's `DeploymentPreference`),
both for a configuration and the set the search chose for it."""

from __future__ import annotations

import json
from typing import Any

import yaml

from simulator.deployment.error_rate import error_rate_metrics
from simulator.deployment.vocabulary import PREFIX
from simulator.scenario.spec import Scenario


def _logical_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").replace(".", "-").split("-") if part)


def alarm_parameters(alarm: dict[str, Any], scenario: Scenario, flow_name: str) -> dict[str, Any]:
    """PutMetricAlarm's parameters (a template's alarm properties) of one chosen alarm."""
    spec = scenario.deployment
    assert spec is not None
    lambda_dims = {"FunctionName": spec.function, "Resource": f"{spec.function}:{spec.alias}"}
    params: dict[str, Any] = {"AlarmName": alarm["name"], "AlarmDescription": f"shiftsim plan --alarms: {alarm['label']}",
                              "EvaluationPeriods": alarm["evaluation_periods"],
                              "DatapointsToAlarm": alarm["datapoints_to_alarm"], "Threshold": alarm["threshold"],
                              "ComparisonOperator": "GreaterThanThreshold",
                              "TreatMissingData": alarm["treat_missing_data"]}
    if alarm["kind"] == "error-rate":
        params["Metrics"] = error_rate_metrics(lambda_dims, alarm["period"])
        return params
    if alarm["kind"] == "connect":
        namespace, metric = "AWS/Connect", "ContactFlowErrors"
        dims = {"InstanceId": scenario.connect.instance_id, "MetricGroup": "ContactFlow", "ContactFlowName": flow_name}
    else:
        namespace, metric, dims = "AWS/Lambda", alarm["metric"], lambda_dims
    params.update(Namespace=namespace, MetricName=metric, Period=alarm["period"],
                  Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()])
    if alarm["statistic"].startswith("p"):
        params["ExtendedStatistic"] = alarm["statistic"]
    else:
        params["Statistic"] = alarm["statistic"]
    return params


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[ " + ", ".join(_toml_value(v) for v in value) + " ]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))


def scenario_fragment(row: dict[str, Any], scenario: Scenario, flow_name: str, header: str) -> str:
    """`[[alarms]]` tables and the group's alarm names, as a scenario has them."""
    lines = [f"# {line}" for line in header.splitlines()]
    for alarm in row["alarms"]:
        params = alarm_parameters(alarm, scenario, flow_name)
        lines += ["", "[[alarms]]", f"name = {_toml_value(params['AlarmName'])}"]
        if "Metrics" in params:
            lines.append(f"metrics = {_toml_value(params['Metrics'])}")
        else:
            lines += [f"namespace = {_toml_value(params['Namespace'])}", f"metric = {_toml_value(params['MetricName'])}",
                      "dimensions = " + _toml_value({d["Name"]: d["Value"] for d in params["Dimensions"]}),
                      f"statistic = {_toml_value(params.get('Statistic') or params['ExtendedStatistic'])}",
                      f"period = {params['Period']}"]
        lines += [f"evaluation_periods = {params['EvaluationPeriods']}",
                  f"datapoints_to_alarm = {params['DatapointsToAlarm']}", f"threshold = {float(params['Threshold'])!r}",
                  'comparison = "GreaterThanThreshold"', f"treat_missing_data = {_toml_value(params['TreatMissingData'])}"]
    names = [a["name"] for a in row["alarms"]]
    lines += ["", "[deployment]", f"alarms = {_toml_value(names)}",
              f"config = {_toml_value(row['config'].removeprefix(PREFIX))}", ""]
    return "\n".join(lines)


def sam_snippet(row: dict[str, Any], scenario: Scenario, flow_name: str, header: str) -> str:
    """The alarms as template resources, and the function's DeploymentPreference that names them."""
    spec = scenario.deployment
    assert spec is not None
    resources: dict[str, Any] = {}
    refs = []
    for alarm in row["alarms"]:
        logical = _logical_id(alarm["name"])
        resources[logical] = {"Type": "AWS::CloudWatch::Alarm", "Properties": alarm_parameters(alarm, scenario, flow_name)}
        refs.append({"Ref": logical})
    function = next((f for f in scenario.functions if f.name == spec.function), None)
    logical_function = spec.function if spec.function.isalnum() else _logical_id(spec.function)
    resources[logical_function if function else spec.function] = {  # merge into your function's own
        "Type": "AWS::Serverless::Function",
        "Properties": {"DeploymentPreference": {"Type": row["config"].removeprefix(PREFIX), "Alarms": refs}}}
    body = yaml.safe_dump({"Resources": resources}, sort_keys=False, default_flow_style=False, width=110)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body
