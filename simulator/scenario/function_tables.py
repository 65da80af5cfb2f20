"""A scenario's `[[functions]]`: each function's versions (a handler, or the user's code with its
dependencies), the staged version, its aliases and the faults a version carries; and a version given
as a table on its own (the admin API, `shiftsim stage`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.deployment.arn import ALIAS_NAME, VERSION
from simulator.scenario.build import with_dependencies
from simulator.scenario.intrinsics import TemplateError
from simulator.scenario.section import Section, string_table
from simulator.scenario.spec import (
    LATENCY_DISTRIBUTIONS,
    MALFORMED_KINDS,
    VERSION_ECHO_HANDLER,
    AliasSpec,
    CodeSpec,
    FaultProfile,
    FunctionSpec,
    LatencyFault,
    MalformedFault,
    RateFault,
    VersionSpec,
)


def read_function(s: Section) -> FunctionSpec:
    name = s.string("name")
    if name is None:
        s.fail("missing key 'name'")
    versions = tuple(_version(v) for v in s.tables("versions")) or (VersionSpec(),)
    staged_section = s.table("staged")
    spec = FunctionSpec(
        name=name,
        timeout=s.number("timeout", 3, low=1, high=900, integer=True),
        memory=s.number("memory", 128, low=128, high=10240, integer=True),
        reserved_concurrency=s.number("reserved_concurrency", None, low=0, integer=True),
        versions=versions,
        staged=_version(staged_section) if staged_section else versions[-1],
        aliases=tuple(_alias(a, len(versions)) for a in s.tables("aliases")),
    )
    refused = spec.provisioned_beyond_reserved()
    if refused is not None:
        s.fail(refused, "aliases")
    s.done()
    return spec


def _version(s: Section) -> VersionSpec:
    code = _code(s) if s.has("code") else None
    handler = code.handler if code else s.string("handler", VERSION_ECHO_HANDLER)
    if code is None and ":" not in handler:
        s.fail(f"must be 'module:function', got {handler!r}", "handler")
    faults = s.table("faults")
    spec = VersionSpec(
        handler=handler,
        description=s.string("description", ""),
        faults=read_faults(faults) if faults else FaultProfile(),
        code=code,
    )
    s.done()
    return spec


def _code(s: Section) -> CodeSpec:
    """`code = "folder"` (from the scenario's folder), `handler = "module.function"` as Lambda
    names it, `runtime`, `[environment]`: the user's code, run in worker processes."""
    folder = Path(s.source).parent / s.string("code")
    if not folder.is_dir():
        s.fail(f"is not a folder: {folder}", "code")
    handler = s.string("handler", None)
    if handler is None or "." not in handler or ":" in handler:
        s.fail(f"with code, must be Lambda's 'module.function' (e.g. app.lambda_handler), got {handler!r}",
               "handler")
    code = CodeSpec(path=str(folder), handler=handler, runtime=s.string("runtime", "python3.12"),
                    environment=string_table(s.table("environment")))
    try:
        return with_dependencies(code)
    except TemplateError as exc:
        s.fail(str(exc), "code")


def _rate_fault(s: Section | None) -> RateFault | None:
    if s is None:
        return None
    fault = RateFault(rate=s.number("rate", 1.0, 0, 1), after=s.number("after", 0.0, low=0))
    s.done()
    return fault


def read_faults(s: Section) -> FaultProfile:
    malformed = s.table("malformed")
    latency = s.table("latency")
    profile = FaultProfile(
        error=_rate_fault(s.table("error")),
        timeout=_rate_fault(s.table("timeout")),
        throttle=_rate_fault(s.table("throttle")),
        malformed=_malformed(malformed) if malformed else None,
        latency=_latency(latency) if latency else None,
    )
    s.done()
    return profile


def _malformed(s: Section) -> MalformedFault:
    fault = MalformedFault(
        rate=s.number("rate", 1.0, 0, 1),
        kind=s.string("kind", "nested", choices=MALFORMED_KINDS),
        after=s.number("after", 0.0, low=0),
    )
    s.done()
    return fault


_LATENCY_PARAMS = {
    "fixed": ("ms",),
    "uniform": ("min_ms", "max_ms"),
    "normal": ("mean_ms", "stddev_ms"),
    "lognormal": ("median_ms", "p99_ms"),
}


def _latency(s: Section) -> LatencyFault:
    distribution = s.string("distribution", "lognormal", choices=LATENCY_DISTRIBUTIONS)
    params = {}
    for key in _LATENCY_PARAMS[distribution]:
        value = s.number(key, None, low=0)
        if value is None:
            s.fail(f"a {distribution} latency needs {', '.join(_LATENCY_PARAMS[distribution])}", key)
        params[key] = float(value)
    if distribution == "uniform" and params["min_ms"] > params["max_ms"]:
        s.fail("min_ms must not exceed max_ms", "min_ms")
    if distribution == "lognormal" and not 0 < params["median_ms"] < params["p99_ms"]:
        s.fail("needs 0 < median_ms < p99_ms", "p99_ms")
    fault = LatencyFault(distribution, params, after=s.number("after", 0.0, low=0))
    s.done()
    return fault


def _alias(s: Section, version_count: int) -> AliasSpec:
    name = s.string("name")
    if name is None or not ALIAS_NAME.match(name) or len(name) > 128:
        s.fail(f"must be an alias name (letters, digits, - and _, not all digits), got {name!r}", "name")
    version = str(s.raw("version") if s.has("version") else "1")
    weights_section = s.table("additional_version_weights")
    weights: dict[str, float] = {}
    if weights_section is not None:
        for key in list(weights_section.data):
            weights[key] = weights_section.number(key, low=0, high=1)
        weights_section.done()
    for v in (version, *weights):
        if not VERSION.match(v) or not 1 <= int(v) <= version_count:
            s.fail(f"version {v!r} is not one of the function's published versions 1..{version_count}")
    if len(weights) > 1:
        s.fail("at most one additional version can take weighted traffic", "additional_version_weights")
    if version in weights:
        s.fail(f"version {version} is already the alias's primary version", "additional_version_weights")
    spec = AliasSpec(name=name, version=version, additional_version_weights=weights,
                     description=s.string("description", ""),
                     provisioned_concurrency=s.number("provisioned_concurrency", None, low=1, integer=True))
    s.done()
    return spec


def parse_version_spec(data: Any, source: str = "<request>") -> VersionSpec:
    """A version's code and faults given as a JSON/TOML table (admin API, `shiftsim stage`)."""
    return _version(Section(source, "", data))
