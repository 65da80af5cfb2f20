"""The prompt-time grammar a scenario and Locust's `--prompt-time` share: `fixed:S`, `uniform:LO:HI`,
`exp:MEAN` or `normal:MEAN:SD`, in seconds. Read here, so that a scenario with a bad one is refused
when it is read (validate says what rehearse would); sampled by `loadgen.pacing`."""

from __future__ import annotations

import functools


class DistributionError(ValueError):
    pass


_SHAPES = {"fixed": 1, "uniform": 2, "exp": 1, "normal": 2}  # kind -> how many numbers follow it


@functools.lru_cache(maxsize=64)  # a load parses its spec for every contact's prompts
def parse_spec(spec: str) -> tuple[str, tuple[float, ...]]:
    """A prompt-time spec -> its kind and numbers; DistributionError saying what is expected."""
    kind, *raw = spec.split(":")
    try:
        values = tuple(float(v) for v in raw)
    except ValueError:
        raise DistributionError(f"prompt time {spec!r}: numbers expected after the kind") from None
    if any(v < 0 for v in values):
        raise DistributionError(f"prompt time {spec!r}: seconds cannot be negative")
    if _SHAPES.get(kind) != len(values) or (kind == "uniform" and values[0] > values[1]):
        raise DistributionError(f"prompt time {spec!r}: expected fixed:S, uniform:LO:HI, exp:MEAN or normal:MEAN:SD")
    return kind, values
