"""Request members checked against botocore's model of the operation before a model sees them: a
number where AWS takes a string (`PutMetricAlarm(AlarmName=1)`), an object where it takes a list,
would otherwise be stored and break every later reader. What is checked is each member's type, as
the wire decoded it (JSON, CBOR), the way AWS's deserialiser refuses it; required members, ranges and
patterns stay the models' own (their errors are AWS's per operation). Checkers are built once per
operation from the model and cost a fraction of a microsecond a member; a list of flat structures
(a batch of log events, of metric data without dimensions) is checked a member at a time across the
list, in C, and item by item only when something in it is not as it should be."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import cache
from operator import methodcaller
from typing import Any

from simulator.service_models import service_model

Wrong = tuple[str, Any, str]  # (where below the checked value, the value, what it should be)
Checker = Callable[[Any], Wrong | None]  # what is wrong in a value, or None

_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,), "character": (str,), "boolean": (bool,),
    "integer": (int,), "long": (int,), "short": (int,), "byte": (int,), "bigInteger": (int,),
    "float": (int, float), "double": (int, float), "bigDecimal": (int, float),
    "timestamp": (int, float, str, datetime.datetime), "blob": (bytes, bytearray, str),
}


_FLOATS = frozenset({"float", "double"})
_SPECIAL_FLOATS = frozenset({"NaN", "Infinity", "-Infinity"})


def _flat_members(shape: Any) -> dict[str, frozenset[type]] | None:
    """A structure whose members are all scalars: each member's name and the exact types that pass
    (None passes: a member that is null is not checked), else None."""
    if shape.type_name != "structure":
        return None
    types: dict[str, frozenset[type]] = {}
    for name, member in shape.members.items():
        allowed = _SCALARS.get(member.type_name)
        if allowed is None:
            return None
        types[name] = frozenset((*allowed, type(None)))
    return types


def _all_pass(items: list[Any], members: dict[str, frozenset[type]]) -> bool:
    """Whether every item is an object whose members all have exactly a type that passes: a subclass,
    or a float spelt as text, is left to the item-by-item check."""
    if not set(map(type, items)) <= {dict}:
        return False
    return all(set(map(type, map(methodcaller("get", name), items))) <= allowed for name, allowed in members.items())


def _checker(shape: Any, built: dict[str, Checker], bulk: bool = True) -> Checker:
    """A shape's checker; where a fault is is spelt out only when there is one (a batch of log
    events is checked member by member). With `bulk` False, lists are checked item by item only
    (what the bulk check is tested against)."""
    known = built.get(shape.name)
    if known is not None:
        return known
    kind = shape.type_name
    if kind == "structure":
        members: dict[str, Checker] = {}

        def structure(value: Any) -> Wrong | None:
            if not isinstance(value, dict):
                return "", value, "an object"
            for key, member in value.items():
                check = members.get(key)
                if check is not None and member is not None:
                    found = check(member)
                    if found is not None:
                        return f".{key}{found[0]}", found[1], found[2]
            return None

        built[shape.name] = structure  # before its members: a shape may contain itself
        members.update({name: _checker(member, built, bulk) for name, member in shape.members.items()})
        return structure
    if kind == "list":
        element = _checker(shape.member, built, bulk)
        flat = _flat_members(shape.member) if bulk else None

        def sequence(value: Any) -> Wrong | None:
            if not isinstance(value, list):
                return "", value, "a list"
            if flat is not None and _all_pass(value, flat):
                return None
            for index, item in enumerate(value):
                found = element(item)
                if found is not None:
                    return f"[{index}]{found[0]}", found[1], found[2]
            return None

        built[shape.name] = sequence
        return sequence
    if kind == "map":
        mapped = _checker(shape.value, built, bulk)

        def mapping(value: Any) -> Wrong | None:
            if not isinstance(value, dict):
                return "", value, "an object"
            for key, item in value.items():
                if not isinstance(key, str):
                    return " key", key, "a string"
                found = mapped(item)
                if found is not None:
                    return f".{key}{found[0]}", found[1], found[2]
            return None

        built[shape.name] = mapping
        return mapping
    allowed = _SCALARS.get(kind, (object,))
    expected = f"a {kind}"

    def scalar(value: Any) -> Wrong | None:
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            if kind in _FLOATS and isinstance(value, str) and value in _SPECIAL_FLOATS:
                return None  # the JSON protocols' spelling of a float JSON has no number for
            return "", value, expected
        return None

    built[shape.name] = scalar
    return scalar


@cache
def model_enum(service: str, shape: str) -> tuple[str, ...]:
    """An enumeration of botocore's model of a service (Lambda's InvocationType, CodeDeploy's
    AutoRollbackEvent ...): what AWS accepts follows botocore, not a list kept here."""
    return tuple(service_model(service).shape_for(shape).enum)


@cache
def operation_checker(service: str, operation: str) -> Checker | None:
    """The checker of an operation's input, or None for an operation the model does not have."""
    model = service_model(service)
    if operation not in model.operation_names:
        return None
    shape = model.operation_model(operation).input_shape
    return _checker(shape, {}) if shape is not None else None


def member_type_error(service: str, operation: str, params: Any) -> str | None:
    """What in `params` has a type the operation's model does not take, or None."""
    check = operation_checker(service, operation)
    wrong = check(params) if check is not None else None
    if wrong is None:
        return None
    where, value, expected = wrong
    return f"{operation}{where}: expected {expected}, got {type(value).__name__} {str(value)[:40]!r}"
