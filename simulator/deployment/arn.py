"""Lambda function names and ARNs: parse every form AWS accepts, build the canonical ARNs.

Shared by the emulator (which resolves `FunctionName` as Lambda does) and by the simulator (which
validates the alias ARN a user gives before any load starts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_NAME = r"[a-zA-Z0-9-_]{1,64}"
_QUALIFIER = r"(\$LATEST|[a-zA-Z0-9-_]{1,128})"
_FULL = re.compile(
    rf"^arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z]{{2}}(-gov)?-[a-z]+-\d{{1}}):"
    rf"(?P<account>\d{{12}}):function:(?P<name>{_NAME})(:(?P<qualifier>{_QUALIFIER}))?$"
)
_PARTIAL = re.compile(
    rf"^(?P<account>\d{{12}}):function:(?P<name>{_NAME})(:(?P<qualifier>{_QUALIFIER}))?$"
)
_PLAIN = re.compile(rf"^(?P<name>{_NAME})(:(?P<qualifier>{_QUALIFIER}))?$")
ALIAS_NAME = re.compile(r"^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$")
VERSION = re.compile(r"^[0-9]+$")


class ArnError(ValueError):
    """A function name or ARN that no Lambda API would accept."""


@dataclass(frozen=True)
class FunctionRef:
    """What a `FunctionName` parameter names: a function, maybe qualified, maybe in an account."""

    name: str
    qualifier: str | None = None
    account: str | None = None
    region: str | None = None
    partition: str = "aws"


@lru_cache(maxsize=4096)  # the same few names come back on every invocation
def parse_function_name(value: str) -> FunctionRef:
    """Parse `name`, `name:q`, `ACCOUNT:function:name[:q]` or a full ARN."""
    for pattern in (_FULL, _PARTIAL, _PLAIN):
        match = pattern.match(value)
        if match:
            groups = match.groupdict()
            return FunctionRef(
                name=groups["name"],
                qualifier=groups.get("qualifier"),
                account=groups.get("account"),
                region=groups.get("region"),
                partition=groups.get("partition") or "aws",
            )
    raise ArnError(
        f"not a Lambda function name or ARN: {value!r} (expected NAME, NAME:QUALIFIER, "
        "ACCOUNT:function:NAME[:QUALIFIER] or arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])"
    )


def parse_alias_arn(value: str) -> FunctionRef:
    """A fully qualified alias ARN, as a Connect flow's Invoke AWS Lambda function block holds it."""
    ref = parse_function_name(value)
    if ref.region is None:
        raise ArnError(
            f"not a full Lambda ARN: {value!r} (expected "
            "arn:aws:lambda:REGION:ACCOUNT:function:NAME:ALIAS)"
        )
    if ref.qualifier is None or ref.qualifier == "$LATEST" or VERSION.match(ref.qualifier):
        raise ArnError(
            f"{value!r} is not qualified by an alias: traffic shifting needs "
            "arn:aws:lambda:REGION:ACCOUNT:function:NAME:ALIAS"
        )
    return ref


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn
