"""A template's parameter values held to their declared constraints, as CloudFormation holds them
before it creates anything: AllowedValues, AllowedPattern (the whole value), MinLength and
MaxLength, a Number's MinValue and MaxValue. One line in CloudFormation's words for the first that
fails (its ConstraintDescription when the template gives one). Lists are passed over."""

from __future__ import annotations

import re
from typing import Any


def cfn_string(value: Any) -> str:
    """A parameter value as CloudFormation reads it: YAML's true, 3 and 0.5 are "true", "3", "0.5"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parameter_problem(name: str, spec: dict[str, Any], value: Any) -> str | None:
    """Why CloudFormation would refuse `value` for the parameter, or None."""
    kind = str(spec.get("Type", "String"))
    if kind not in ("String", "Number"):
        return None
    text = cfn_string(value)
    problem = _constraint_failed(name, spec, kind, text)
    if problem is not None and spec.get("ConstraintDescription"):
        return f"Parameter {name} failed to satisfy constraint: {spec['ConstraintDescription']}"
    return problem


def _constraint_failed(name: str, spec: dict[str, Any], kind: str, text: str) -> str | None:
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and text not in [cfn_string(v) for v in allowed]:
        return f"Parameter '{name}' must be one of AllowedValues"
    if kind == "Number":
        try:
            number = float(text)
        except ValueError:
            return f"Parameter '{name}' must be a number"
        if spec.get("MinValue") is not None and number < float(spec["MinValue"]):
            return f"Parameter '{name}' must be a number not less than {cfn_string(spec['MinValue'])}"
        if spec.get("MaxValue") is not None and number > float(spec["MaxValue"]):
            return f"Parameter '{name}' must be a number not greater than {cfn_string(spec['MaxValue'])}"
        return None
    pattern = spec.get("AllowedPattern")
    if pattern is not None:
        try:
            matched = re.fullmatch(str(pattern), text) is not None
        except re.error:
            matched = True  # a pattern Python cannot read (Java's own syntax): left to CloudFormation
        if not matched:
            return f"Parameter '{name}' must match pattern {pattern}"
    if spec.get("MinLength") is not None and len(text) < int(spec["MinLength"]):
        return f"Parameter '{name}' must contain at least {int(spec['MinLength'])} characters"
    if spec.get("MaxLength") is not None and len(text) > int(spec["MaxLength"]):
        return f"Parameter '{name}' must contain at most {int(spec['MaxLength'])} characters"
    return None
