"""Connect's JSONPath references as flows write them: `$.External.version`, `$['AwsRegion']`,
`$.Attributes['my attribute']`, `$.SegmentAttributes['connect:EmailSubject']` (dots, or brackets for
names with other characters), whole in a parameter or inside a prompt's text. Parsing only: what a
reference resolves to is the interpreter's."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

_STEP = r"""(?:\.[A-Za-z0-9_\-]+|\.?\[(?:'[^'\]]*'|"[^"\]]*")\])"""
REFERENCE = re.compile(rf"\${_STEP}+")  # a reference inside text (a dot that ends a sentence is not one)
_STEPS = re.compile(_STEP)


REFERENCE_STARTS = ("$.", "$[")  # how a value that is a reference as a whole begins


def is_reference(value: Any) -> bool:
    """A parameter whose whole value is a reference (`$.` or `$[`)."""
    return isinstance(value, str) and value.startswith(REFERENCE_STARTS)


@functools.lru_cache(maxsize=4096)
def parts(value: str) -> tuple[str, ...]:
    """`$.A['b:c'].D` -> ("A", "b:c", "D"); a flow's references are few, and resolved at every step.
    KeyError when `value` is not a reference as a whole."""
    found, at = [], 1
    for step in _STEPS.finditer(value, 1):
        if step.start() != at:
            break
        text = step.group(0).lstrip(".")
        found.append(text[2:-2] if text.startswith("[") else text)
        at = step.end()
    if not found or at != len(value) or not value.startswith("$"):
        raise KeyError(value)
    return tuple(found)


def references_in(value: Any) -> Iterator[str]:
    """Every reference a parameter holds: a whole value, or inside text, in nested objects and lists."""
    if isinstance(value, str):
        yield from REFERENCE.findall(value)  # a whole value is one match; text that starts with one, several
    elif isinstance(value, dict):
        for item in value.values():
            yield from references_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from references_in(item)
