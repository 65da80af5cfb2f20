"""Scenario files (TOML) -> typed, validated configuration.

Every error names the file and the key path (`functions[0].versions[1].faults.error.rate`) and says
what is expected; unknown keys are errors too, because a typo silently ignored is a rehearsal of the
wrong thing. With no file, `default_scenario()` is the seed's stack.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from simulator.arn import ALIAS_NAME, VERSION
from simulator.emulator_vocabulary import (
    COMPARISON_OPERATORS,
    STATISTICS,
    TREATMENTS,
    deployment_config_name,
)

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_FUNCTION = "ConnectLambdaFunction"
DEFAULT_ALIAS = "PROD"
VERSION_ECHO_HANDLER = "simulator.emulator.functions:version_echo"
LATENCY_DISTRIBUTIONS = ("fixed", "uniform", "normal", "lognormal")
MALFORMED_KINDS = ("nested", "non_string", "too_large")


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class RateFault:
    """A fault that hits a share of invocations, from `after` emulated seconds past first traffic."""

    rate: float
    after: float = 0.0


@dataclass(frozen=True)
class LatencyFault:
    """Extra handler latency drawn from a distribution (milliseconds)."""

    distribution: str
    params: dict[str, float]
    after: float = 0.0


@dataclass(frozen=True)
class MalformedFault:
    rate: float
    kind: str = "nested"
    after: float = 0.0


@dataclass(frozen=True)
class FaultProfile:
    """The faults injected into one version. Every injected fault is marked on the wire."""

    error: RateFault | None = None
    timeout: RateFault | None = None
    throttle: RateFault | None = None
    malformed: MalformedFault | None = None
    latency: LatencyFault | None = None

    @property
    def empty(self) -> bool:
        return not any((self.error, self.timeout, self.throttle, self.malformed, self.latency))


@dataclass(frozen=True)
class CodeSpec:
    """The user's own code of a version: a folder (CodeUri), its `module.function` handler, the
    runtime and the environment variables. It runs in worker processes, never in the emulator's."""

    path: str
    handler: str
    runtime: str = "python3.12"
    environment: dict[str, str] = field(default_factory=dict)
    dependencies: str = ""  # the folder its requirements.txt was installed into (sam build's), if any

    @property
    def runs_here(self) -> bool:
        """Python code in a folder runs as it is; other runtimes, or code that is not here (S3, an
        image), get a stand-in handler."""
        return bool(self.path) and self.runtime.startswith("python3")


@dataclass(frozen=True)
class VersionSpec:
    """Code and faults of one published version (or of `$LATEST` when staged): a `module:function`
    of this process (`handler`), or the user's folder (`code`, whose handler then names it)."""

    handler: str = VERSION_ECHO_HANDLER
    description: str = ""
    faults: FaultProfile = field(default_factory=FaultProfile)
    code: CodeSpec | None = None


@dataclass(frozen=True)
class AliasSpec:
    name: str
    version: str
    additional_version_weights: dict[str, float] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    timeout: int = 3
    memory: int = 128
    reserved_concurrency: int | None = None
    versions: tuple[VersionSpec, ...] = (VersionSpec(),)
    staged: VersionSpec | None = None
    aliases: tuple[AliasSpec, ...] = ()


@dataclass(frozen=True)
class AlarmSpec:
    """A CloudWatch metric alarm (PutMetricAlarm's parameters)."""

    name: str
    metric: str = "Errors"
    namespace: str = "AWS/Lambda"
    dimensions: dict[str, str] = field(default_factory=dict)
    statistic: str = "Sum"
    period: int = 60
    evaluation_periods: int = 2
    datapoints_to_alarm: int | None = None
    threshold: float = 0.0
    comparison: str = "GreaterThanThreshold"
    treat_missing_data: str = "missing"
    parameters: dict[str, Any] | None = None  # a template's alarm: PutMetricAlarm's parameters as they are


@dataclass(frozen=True)
class TrafficRouting:
    """A deployment configuration's traffic routing (CodeDeploy's trafficRoutingConfig)."""

    type: str  # TimeBasedCanary | TimeBasedLinear | AllAtOnce
    percentage: int = 0
    interval_minutes: int = 0


@dataclass(frozen=True)
class DeploymentSpec:
    """The CodeDeploy application and deployment group of the stack, as SAM creates them."""

    application: str = "ServerlessDeploymentApplication"
    group: str = "ConnectLambdaFunctionDeploymentGroup"
    function: str = DEFAULT_FUNCTION
    alias: str = DEFAULT_ALIAS
    config: str = "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"
    custom_config: TrafficRouting | None = None
    alarms: tuple[str, ...] = ("AliasErrorMetricGreaterThanZeroAlarm",)
    auto_rollback: bool = True
    pre_traffic_hook: str | None = None
    post_traffic_hook: str | None = None
    start_after: float = 30.0
    requested: bool = False  # the scenario file has a [deployment] table: a rehearsal deploys


@dataclass(frozen=True)
class ConnectInstance:
    """The Amazon Connect instance the contacts run in: where its flow logs go
    (`/aws/connect/<alias>`, when the instance's flow logs setting is on) and the InstanceId of its
    AWS/Connect metrics."""

    alias: str = "shiftsim"
    instance_id: str = "00000000-0000-4000-8000-000000000000"
    flow_logs: bool = True
    metrics: bool = True

    @property
    def log_group(self) -> str:
        return f"/aws/connect/{self.alias}"


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table the stack holds (served by moto): CreateTable's parameters, and the items
    it starts with (plain JSON objects)."""

    name: str
    parameters: dict[str, Any]
    items: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class EventSourceSpec:
    """A DynamoDB stream that invokes a function (CreateEventSourceMapping)."""

    table: str
    function: str  # "Name[:qualifier]"
    starting_position: str = "LATEST"
    batch_size: int = 100


@dataclass(frozen=True)
class MetricFilterSpec:
    """A CloudWatch Logs metric filter (PutMetricFilter's parameters): matching events of a log
    group become datapoints of a metric an alarm can watch."""

    name: str
    log_group: str
    pattern: str
    metric: str
    namespace: str
    value: str = "1"
    default_value: float | None = None


@dataclass(frozen=True)
class StackSource:
    """A template the stack comes from (`[stack]`, or the command line's `--template`), and the
    user's change the deployment publishes: a code folder or a git ref."""

    template: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    new_code: str | None = None
    new_ref: str | None = None
    flow: str | None = None

    @classmethod
    def given(cls, template: str | None = None, new_code: str | None = None, new_ref: str | None = None,
              parameters: list[str] | tuple[str, ...] = ()) -> StackSource | None:
        """What a command line gives (`--template`, `--new-code`, `--new-ref`, `--parameter K=V`),
        or None when it gives none of them."""
        pairs = {}
        for item in parameters:
            key, equals, value = item.partition("=")
            if not equals or not key:
                raise ScenarioError(f"--parameter: must be NAME=VALUE, got {item!r}")
            pairs[key] = value
        if new_code and new_ref:
            raise ScenarioError("--new-code and --new-ref: give one, not both")
        if new_code and not Path(new_code).is_dir():
            raise ScenarioError(f"--new-code: is not a folder: {new_code}")
        if not any((template, new_code, new_ref, pairs)):
            return None
        return cls(template, pairs, str(Path(new_code).resolve()) if new_code else None, new_ref)

    def over(self, other: StackSource) -> StackSource:
        """These values where given, the other's elsewhere."""
        return StackSource(self.template or other.template, {**other.parameters, **self.parameters},
                           self.new_code or other.new_code, self.new_ref or other.new_ref,
                           self.flow or other.flow)


@dataclass(frozen=True)
class EmulatorOptions:
    """Behaviours AWS leaves unsettled, as parameters (defaults in docs/emulator.md)."""

    alarm_poll_interval: float = 60.0
    final_flip_after_intervals: int = 1
    hook_timeout: float = 3600.0


@dataclass(frozen=True)
class LoadSpec:
    """The load of a rehearsal (Locust's users and shiftsim's load options)."""

    users: int = 20
    spawn_rate: float = 20.0
    rate: float = 0.0
    contacts_per_minute: float = 0.0  # production's arrivals per emulated minute (0: users and rate, in real time)
    max_contacts_per_second: float = 0.0  # the generator's ceiling in real contact starts a second (0: none)
    traffic_profile: str = ""  # "09:00-17:00=600,17:00-09:00=30": production's arrivals over the day
    start_time: str = "12:00"  # the emulated time of day when the run starts (for the profile)
    loops_per_contact: int = 10
    result_attribute: str = ""  # a contact attribute the flow sets when the caller has their result: timed per contact
    contact_duration: float = 0.0
    max_invocations_per_contact: int = 1000  # past it a contact is a runaway: stopped and said
    max_contact_seconds: float = 3600.0
    prompt_time: str = "uniform:0.2:0.6"
    flow: str | None = None  # default: the seed's looping flow
    tail: float = 5.0  # seconds of load after the deployment ends
    max_duration: float = 300.0  # seconds: a rehearsal never runs longer


EXPECTATION_KEYS = {"judge_flags_within_minutes": float, "max_contacts_without_result": int, "max_time_to_result_seconds": float, "max_flow_errors": int, "outcome": str, "rollback_within_minutes": float, "detect_within_minutes": float,
                    "max_failed_contacts": int, "max_error_rate": float, "alarm_fires": bool,
                    "routing_follows_weights": bool, "min_invocations": int}
OUTCOMES = ("succeeded", "rolled_back", "stopped", "failed")


@dataclass(frozen=True)
class Scenario:
    name: str = "default"
    description: str = ""
    seed: int | None = None
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    account_concurrency: int = 1000
    functions: tuple[FunctionSpec, ...] = ()
    alarms: tuple[AlarmSpec, ...] = ()
    deployment: DeploymentSpec | None = None
    emulator: EmulatorOptions = field(default_factory=EmulatorOptions)
    time_scale: float = 1.0
    load: LoadSpec = field(default_factory=LoadSpec)
    expect: dict[str, Any] = field(default_factory=dict)
    function_map: dict[str, str] = field(default_factory=dict)  # a flow's ARN, placeholder or name -> "Name[:qualifier]"
    flow_map: dict[str, str] = field(default_factory=dict)  # a flow reference -> a flow's file name or Metadata.name
    callers: dict[str, Any] = field(default_factory=dict)  # simulator.connect.caller.CallerSpec's fields
    notes: tuple[str, ...] = ()  # what the rehearsal cannot rehearse faithfully: said at start and in the summary
    unfaithful: tuple[str, ...] = ()  # those of the notes that touch the verdict: they fail the run
    connect: ConnectInstance = field(default_factory=ConnectInstance)
    judge: dict[str, float] = field(default_factory=dict)  # [judge]: its confidence and minimum effects
    metric_filters: tuple[MetricFilterSpec, ...] = ()
    tables: tuple[TableSpec, ...] = ()
    event_sources: tuple[EventSourceSpec, ...] = ()
    stack: StackSource | None = None  # the template the stack came from, when it did
    source: str = "<default>"

    @property
    def file(self) -> str | None:
        """The scenario file read, if one was (not for the default, nor a template alone)."""
        if self.source == "<default>" or (self.stack is not None and self.source == self.stack.template):
            return None
        return self.source

    def stack_arguments(self) -> list[str]:
        """The command-line options that give this scenario's template stack to another process."""
        if self.stack is None or self.stack.template is None:
            return []
        args = ["--template", self.stack.template]
        if self.stack.new_code:
            args += ["--new-code", self.stack.new_code]
        if self.stack.new_ref:
            args += ["--new-ref", self.stack.new_ref]
        for key, value in self.stack.parameters.items():
            args += ["--parameter", f"{key}={value}"]
        return args

    def qualifiers(self) -> dict[str, frozenset[str]]:
        """Each function's qualifiers: its aliases, its published versions and $LATEST."""
        return qualifiers_of(self.functions)

    def handlers(self) -> frozenset[str]:
        """Every `module:function` the scenario names: the code it lets the emulator run."""
        return frozenset(code.handler for fn in self.functions
                         for code in (*fn.versions, *((fn.staged,) if fn.staged else ()))
                         if code.code is None)

    def code_folders(self) -> frozenset[tuple[str, str]]:
        """Every (code folder, handler) the scenario names: the user's code it lets the emulator run."""
        return frozenset((os.path.realpath(code.code.path), code.code.handler) for fn in self.functions
                         for code in (*fn.versions, *((fn.staged,) if fn.staged else ()))
                         if code.code is not None)

    def deployed_alias_arn(self) -> str:
        """The alias the deployment shifts; with no deployment, the first function's first alias."""
        if self.deployment is not None:
            return self.alias_arn(self.deployment.function, self.deployment.alias)
        return self.alias_arn()

    def alias_arn(self, function: str | None = None, alias: str | None = None) -> str:
        """The qualified ARN of an alias; by default the first alias of the first function."""
        fn = next((f for f in self.functions if function in (None, f.name)), None)
        if fn is None or not fn.aliases:
            raise ScenarioError(f"{self.source}: no alias declared for function {function!r}")
        name = alias or fn.aliases[0].name
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{fn.name}:{name}"


def with_dependencies(code: CodeSpec) -> CodeSpec:
    """The code with its requirements.txt installed, as `sam build` would (Python code only)."""
    from simulator.stack.dependencies import dependencies_of

    if not code.runs_here:
        return code
    installed = dependencies_of(code.path)
    return replace(code, dependencies=str(installed)) if installed is not None else code


def default_scenario() -> Scenario:
    """The seed's stack: ConnectLambdaFunction, version 1 echoing its version, alias PROD -> 1."""
    return Scenario(
        functions=(
            FunctionSpec(
                name=DEFAULT_FUNCTION,
                versions=(VersionSpec(description="version 1"),),
                staged=VersionSpec(description="new version"),
                aliases=(AliasSpec(name=DEFAULT_ALIAS, version="1"),),
            ),
        ),
        alarms=(seed_alarm(),),
        deployment=DeploymentSpec(),
    )


def seed_alarm(function: str = DEFAULT_FUNCTION, alias: str = DEFAULT_ALIAS) -> AlarmSpec:
    """The seed template's alarm: any error through the alias in two consecutive minutes."""
    return AlarmSpec(name="AliasErrorMetricGreaterThanZeroAlarm",
                     dimensions={"FunctionName": function, "Resource": f"{function}:{alias}"})


class _Section:
    """A TOML table being read: typed getters that name the key path, unknown keys reported."""

    def __init__(self, source: str, path: str, data: Any) -> None:
        self.source, self.path = source, path
        if not isinstance(data, dict):
            self.fail(f"must be a table, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.seen: set[str] = set()

    def where(self, key: str | None = None) -> str:
        parts = [p for p in (self.path, key) if p]
        return ".".join(parts) or "(top level)"

    def fail(self, message: str, key: str | None = None) -> NoReturn:
        raise ScenarioError(f"{self.source}: {self.where(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key)

    def string(self, key: str, default: str | None = None, choices: tuple[str, ...] = ()) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.fail(f"must be a string, got {value!r}", key)
        if choices and value not in choices:
            self.fail(f"must be one of {', '.join(choices)}; got {value!r}", key)
        return value

    def number(
        self, key: str, default: float | None = None, low: float | None = None,
        high: float | None = None, integer: bool = False,
    ) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            integer and not isinstance(value, int)
        ) or not math.isfinite(value):
            kind = "a whole number" if integer else "a number"
            self.fail(f"must be {kind}, got {value!r}", key)
        if low is not None and value < low or high is not None and value > high:
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            self.fail(f"must be {bounds}, got {value!r}", key)
        return value

    def table(self, key: str) -> _Section | None:
        value = self.raw(key)
        return None if value is None else _Section(self.source, self.where(key), value)

    def tables(self, key: str) -> list[_Section]:
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail("must be an array of tables ([[...]])", key)
        return [_Section(self.source, f"{self.where(key)}[{i}]", v) for i, v in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            self.fail(f"unknown key(s): {', '.join(unknown)}")


def load_scenario(path: str | Path | None, stack: StackSource | None = None) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError naming file and key on any problem.
    `stack` (the command line's) overrides the file's `[stack]`; with a template and no file, the
    scenario is the template's stack, deployed with the defaults."""
    if path is None:
        if stack is None:
            return default_scenario()
        if stack.template is None:
            raise ScenarioError("--new-code, --new-ref and --parameter change a template's stack: give --template")
        return parse_scenario("[deployment]\n", stack.template, stack)
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read scenario: {exc.strerror or exc}") from None
    return parse_scenario(text, source, stack)


def parse_scenario(text: str, source: str = "<scenario>", stack: StackSource | None = None) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    top = _Section(source, "", data)
    meta = top.table("scenario") or _Section(source, "scenario", {})
    aws = top.table("aws") or _Section(source, "aws", {})
    region, account = aws.string("region", DEFAULT_REGION), aws.string("account", DEFAULT_ACCOUNT)
    source_of_stack = _stack_source(top.table("stack"), Path(source).parent)
    if stack is not None:
        source_of_stack = stack.over(source_of_stack)
    if source_of_stack.template is not None:
        return _template_scenario(top, meta, aws, source_of_stack, region, account)
    if stack is not None:
        raise ScenarioError("--new-code, --new-ref and --parameter change a template's stack: give --template "
                            f"(or [stack] in {source})")
    functions = tuple(_function(s) for s in top.tables("functions")) or default_scenario().functions
    alarm_sections = top.tables("alarms")
    deployment_section = top.table("deployment")
    emulator_section = top.table("emulator") or _Section(source, "emulator", {})
    load_section = top.table("load")
    expect_section = top.table("expect")
    scenario = Scenario(
        name=meta.string("name", Path(source).stem),
        description=meta.string("description", ""),
        seed=meta.number("seed", None, low=0, integer=True),
        region=region,
        account=account,
        account_concurrency=aws.number("account_concurrency", 1000, low=1, integer=True),
        functions=functions,
        alarms=tuple(_alarm(a) for a in alarm_sections) if alarm_sections else (
            (seed_alarm(functions[0].name, functions[0].aliases[0].name),)
            if functions[0].aliases else ()),
        deployment=_deployment(deployment_section or _Section(source, "deployment", {}), functions,
                               alarm_sections, top.has("alarms"), deployment_section is not None)
        if functions[0].aliases or deployment_section else None,
        emulator=_emulator_options(emulator_section),
        time_scale=meta.number("time_scale", 1.0, low=0.001),
        load=_load(load_section, Path(source).parent) if load_section else LoadSpec(),
        expect=_expect(expect_section) if expect_section else {},
        function_map=_function_map(top.table("function_map"), functions),
        flow_map=_string_table(top.table("flow_map")),
        callers=_callers(top.table("callers")),
        connect=_connect(top.table("connect")), judge=_judge(top.table("judge")),
        metric_filters=tuple(_metric_filter(f) for f in top.tables("metric_filters")),
        tables=tuple(_table(t, Path(source).parent) for t in top.tables("tables")),
        event_sources=tuple(_event_source(e) for e in top.tables("event_sources")),
        source=source,
    )
    if scenario.deployment is not None:
        _check_deployment(top, scenario)
    return _finished(scenario, top, meta, aws, emulator_section)


def _finished(scenario: Scenario, top: _Section, meta: _Section, aws: _Section, emulator: _Section) -> Scenario:
    if len(scenario.account) != 12 or not scenario.account.isdigit():
        aws.fail(f"must be 12 digits, got {scenario.account!r}", "account")
    for section in (meta, aws, emulator, top):
        section.done()
    names = [f.name for f in scenario.functions]
    if len(set(names)) != len(names):
        top.fail(f"function names must be unique, got {names}", "functions")
    return scenario


def _stack_source(s: _Section | None, folder: Path) -> StackSource:
    """`[stack]`: template, parameters, new_code or new_ref, flow (paths from the scenario's folder)."""
    if s is None:
        return StackSource()
    template = s.string("template", None)
    if template is None:
        s.fail("missing key 'template' (the SAM or CloudFormation template of the stack)")
    new_code, new_ref = s.string("new_code", None), s.string("new_ref", None)
    if new_code is not None and new_ref is not None:
        s.fail("give new_code or new_ref, not both", "new_code")
    parameters = s.table("parameters")
    made = StackSource(template=str(folder / template),
                       parameters={k: str(parameters.raw(k)) for k in list(parameters.data)} if parameters else {},
                       new_code=str(folder / new_code) if new_code else None, new_ref=new_ref,
                       flow=s.string("flow", None))
    s.done()
    return made


def _template_scenario(top: _Section, meta: _Section, aws: _Section, stack: StackSource, region: str,
                       account: str) -> Scenario:
    """A scenario whose stack is a template's: the template declares functions, alarms and the
    deployment group; the scenario says when to deploy, the load and what to expect."""
    from simulator.stack.intrinsics import TemplateError
    from simulator.stack.sam import load_template

    for key in ("functions", "alarms"):
        if top.has(key):
            top.fail(f"[stack] template declares the stack: [{key}] has no place beside it", key)
    deployment_section = top.table("deployment")
    deployment_function = None
    start_after = DeploymentSpec().start_after
    if deployment_section is not None:
        deployment_function = deployment_section.string("function", None)
        start_after = deployment_section.number("start_after", start_after, low=0)
        for key in list(deployment_section.data):
            if key not in ("function", "start_after", "faults"):
                deployment_section.fail("the template's DeploymentPreference says this; here only function, "
                                        "start_after and [deployment.faults] (faults on the new version)", key)
    faults_section = deployment_section.table("faults") if deployment_section else None
    new_code = Path(stack.new_code) if stack.new_code else None
    if new_code is not None and not new_code.is_dir():
        top.fail(f"is not a folder: {new_code}", "stack.new_code")
    try:
        built = load_template(stack.template or "", region=region, account=account, parameters=stack.parameters,
                              new_code=new_code, new_ref=stack.new_ref, deploy_function=deployment_function,
                              flow=stack.flow)
    except TemplateError as exc:
        raise ScenarioError(str(exc)) from None
    if not built.functions:
        top.fail(f"{stack.template} declares no Lambda function", "stack.template")
    deployment = built.deployment
    if deployment is not None:
        deployment = replace(deployment, start_after=start_after, requested=deployment_section is not None)
        if faults_section is not None:
            built.functions = tuple(
                replace(fn, staged=replace(fn.staged, faults=_faults(faults_section)))  # type: ignore[type-var]
                if fn.name == deployment.function else fn for fn in built.functions)
    elif deployment_section is not None:
        deployment_section.fail(f"{stack.template} has no function with AutoPublishAlias and DeploymentPreference "
                                "to deploy")
    emulator_section = top.table("emulator") or _Section(top.source, "emulator", {})
    load_section = top.table("load")
    load = _load(load_section, Path(top.source).parent) if load_section else LoadSpec()
    if load.flow is None and built.flow is not None:
        load = replace(load, flow=built.flow)
    expect_section = top.table("expect")
    scenario = Scenario(
        name=meta.string("name", Path(top.source).stem), description=meta.string("description", ""),
        seed=meta.number("seed", None, low=0, integer=True), region=region, account=account,
        account_concurrency=aws.number("account_concurrency", 1000, low=1, integer=True),
        functions=built.functions, alarms=built.alarms, deployment=deployment,
        emulator=_emulator_options(emulator_section), time_scale=meta.number("time_scale", 1.0, low=0.001),
        load=load, expect=_expect(expect_section) if expect_section else {},
        function_map=_function_map(top.table("function_map"), built.functions),
        flow_map=_string_table(top.table("flow_map")), callers=_callers(top.table("callers")),
        connect=_connect(top.table("connect")), judge=_judge(top.table("judge")), notes=tuple(built.notes),
        unfaithful=built.unfaithful,
        stack=stack, source=top.source,
        metric_filters=tuple(_metric_filter(f) for f in top.tables("metric_filters")),
        tables=_merged_tables(built.tables, tuple(_table(t, Path(top.source).parent) for t in top.tables("tables"))),
        event_sources=built.event_sources + tuple(_event_source(e) for e in top.tables("event_sources")))
    return _finished(scenario, top, meta, aws, emulator_section)


def _string_table(s: _Section | None) -> dict[str, str]:
    return {key: s.string(key) for key in list(s.data)} if s is not None else {}


STREAM_VIEWS = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")


def _table(s: _Section, folder: Path) -> TableSpec:
    """`[[tables]]`: name, key (the partition key, a string), sort_key, stream (a view type) and
    items (a JSON-lines file of plain objects, from the scenario's folder)."""
    name, key = s.string("name"), s.string("key")
    if not name or not key:
        s.fail("needs name and key (the partition key attribute)")
    sort_key = s.string("sort_key", None)
    parameters: dict[str, Any] = {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]
        + ([{"AttributeName": sort_key, "KeyType": "RANGE"}] if sort_key else []),
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": "S"} for k in (key, sort_key) if k]}
    stream = s.string("stream", None, choices=STREAM_VIEWS)
    if stream:
        parameters["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    items: list[dict[str, Any]] = []
    file = s.string("items", None)
    if file is not None:
        path = folder / file
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            s.fail(f"cannot read {path}: {exc.strerror or exc}", "items")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line, parse_float=Decimal)
            except ValueError as exc:
                s.fail(f"{path}:{number}: not JSON: {exc}", "items")
            if not isinstance(item, dict) or key not in item:
                s.fail(f"{path}:{number}: an item is an object with the key {key!r}", "items")
            items.append(item)
    s.done()
    return TableSpec(name, parameters, tuple(items))


def _merged_tables(template: tuple[TableSpec, ...], scenario: tuple[TableSpec, ...]) -> tuple[TableSpec, ...]:
    """The template's tables, with the items the scenario gives a table of the same name."""
    given = {t.name: t for t in scenario}
    merged = [TableSpec(t.name, t.parameters, given.pop(t.name).items) if t.name in given else t for t in template]
    return (*merged, *given.values())


def _event_source(s: _Section) -> EventSourceSpec:
    """`[[event_sources]]`: table (its stream), function ("Name[:qualifier]"), starting_position, batch_size."""
    table, function = s.string("table"), s.string("function")
    if not table or not function:
        s.fail("needs table (whose stream) and function (Name or Name:qualifier)")
    made = EventSourceSpec(table, function, s.string("starting_position", "LATEST", choices=("LATEST", "TRIM_HORIZON")),
                           s.number("batch_size", 100, low=1, high=10000, integer=True))
    s.done()
    return made


def _metric_filter(s: _Section) -> MetricFilterSpec:
    """`[[metric_filters]]`: name, log_group, pattern, metric, namespace, value, default_value."""
    values = {key: s.string(key) for key in ("name", "log_group", "pattern", "metric", "namespace")}
    for key, value in values.items():
        if value is None:
            s.fail(f"missing key {key!r}")
    made = MetricFilterSpec(**values, value=s.string("value", "1"), default_value=s.number("default_value", None))
    s.done()  # the pattern is read by the emulator, which says what is wrong with it
    return made


def _connect(s: _Section | None) -> ConnectInstance:
    """`[connect]`: the instance's alias and id, and its flow logs and metrics settings."""
    if s is None:
        return ConnectInstance()
    made = ConnectInstance(alias=s.string("instance_alias", ConnectInstance.alias),
                           instance_id=s.string("instance_id", ConnectInstance.instance_id),
                           flow_logs=_boolean(s, "flow_logs", True), metrics=_boolean(s, "metrics", True))
    s.done()
    return made


def _judge(s: _Section | None) -> dict[str, float]:
    """`[judge]`: the statistical judge's confidence and the smallest differences it flags."""
    if s is None:
        return {}
    made = {key: float(value) for key, value in (
        ("confidence", s.number("confidence", None, low=0.5, high=0.999999)),
        ("min_error_increase", s.number("min_error_increase", None, low=0, high=1)),
        ("min_latency_increase", s.number("min_latency_increase", None, low=0)),
        ("min_latency_increase_ms", s.number("min_latency_increase_ms", None, low=0))) if value is not None}
    s.done()
    return made


def _callers(s: _Section | None) -> dict[str, Any]:
    """`[callers]`: per block identifier, weighted answers (`"timeout"`: silence); the chance the
    center is open, the queue metrics, the chance a queue is full."""
    if s is None:
        return {}
    made: dict[str, Any] = {"in_hours": s.number("in_hours", 1.0, low=0, high=1),
                            "queue_at_capacity": s.number("queue_at_capacity", 0.0, low=0, high=1)}
    metrics = s.table("metrics")
    made["metrics"] = {k: float(metrics.number(k)) for k in list(metrics.data)} if metrics else {}
    choices = s.table("choices")
    made["choices"] = {}
    for block in list(choices.data) if choices else []:
        table = choices.table(block)  # type: ignore[union-attr]
        weights = {answer: float(table.number(answer, low=0)) for answer in list(table.data)}  # type: ignore[union-attr]
        if not weights or sum(weights.values()) <= 0:
            table.fail("needs at least one answer with a weight above 0")  # type: ignore[union-attr]
        made["choices"][block] = weights
    s.done()
    return made


def qualifiers_of(functions: tuple[FunctionSpec, ...]) -> dict[str, frozenset[str]]:
    return {fn.name: frozenset({*(a.name for a in fn.aliases), *(str(n) for n in range(1, len(fn.versions) + 1)),
                                "$LATEST"}) for fn in functions}


def _function_map(s: _Section | None, functions: tuple[FunctionSpec, ...]) -> dict[str, str]:
    """`[function_map]`: each key (an ARN, a placeholder or a function name a flow names) to
    "Name[:qualifier]" of a declared function, with a qualifier it has."""
    if s is None:
        return {}
    qualifiers = qualifiers_of(functions)
    table = {}
    for key in list(s.data):
        value = s.string(key)
        name, _, qualifier = value.partition(":")
        if name not in qualifiers:
            s.fail(f"names function {name!r}, which [[functions]] does not declare "
                   f"(declared: {', '.join(qualifiers)})", key)
        if qualifier and qualifier not in qualifiers[name]:
            s.fail(f"{name} has no qualifier {qualifier!r} (it has {', '.join(sorted(qualifiers[name]))})", key)
        table[key] = value
    return table


def _function(s: _Section) -> FunctionSpec:
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
    s.done()
    return spec


def _version(s: _Section) -> VersionSpec:
    code = _code(s) if s.has("code") else None
    handler = code.handler if code else s.string("handler", VERSION_ECHO_HANDLER)
    if code is None and ":" not in handler:
        s.fail(f"must be 'module:function', got {handler!r}", "handler")
    faults = s.table("faults")
    spec = VersionSpec(
        handler=handler,
        description=s.string("description", ""),
        faults=_faults(faults) if faults else FaultProfile(),
        code=code,
    )
    s.done()
    return spec


def _code(s: _Section) -> CodeSpec:
    """`code = "folder"` (from the scenario's folder), `handler = "module.function"` as Lambda
    names it, `runtime`, `[environment]`: the user's code, run in worker processes."""
    folder = Path(s.source).parent / s.string("code")
    if not folder.is_dir():
        s.fail(f"is not a folder: {folder}", "code")
    handler = s.string("handler", None)
    if handler is None or "." not in handler or ":" in handler:
        s.fail(f"with code, must be Lambda's 'module.function' (e.g. app.lambda_handler), got {handler!r}",
               "handler")
    from simulator.stack.intrinsics import TemplateError

    code = CodeSpec(path=str(folder), handler=handler, runtime=s.string("runtime", "python3.12"),
                    environment=_string_table(s.table("environment")))
    try:
        return with_dependencies(code)
    except TemplateError as exc:
        s.fail(str(exc), "code")


def _rate_fault(s: _Section | None) -> RateFault | None:
    if s is None:
        return None
    fault = RateFault(rate=s.number("rate", 1.0, 0, 1), after=s.number("after", 0.0, low=0))
    s.done()
    return fault


def _faults(s: _Section) -> FaultProfile:
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


def _malformed(s: _Section) -> MalformedFault:
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


def _latency(s: _Section) -> LatencyFault:
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


def _alias(s: _Section, version_count: int) -> AliasSpec:
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
                     description=s.string("description", ""))
    s.done()
    return spec


def parse_version_spec(data: Any, source: str = "<request>") -> VersionSpec:
    """A version's code and faults given as a JSON/TOML table (admin API, `shiftsim stage`)."""
    return _version(_Section(source, "", data))


def _alarm(s: _Section) -> AlarmSpec:
    name = s.string("name")
    if not name:
        s.fail("missing key 'name'")
    dims = s.table("dimensions")
    dimensions: dict[str, str] = {}
    if dims is not None:
        for key in list(dims.data):
            dimensions[key] = dims.string(key)
        dims.done()
    evaluation = s.number("evaluation_periods", 2, low=1, integer=True)
    spec = AlarmSpec(
        name=name, metric=s.string("metric", "Errors"), namespace=s.string("namespace", "AWS/Lambda"),
        dimensions=dimensions, statistic=s.string("statistic", "Sum", choices=STATISTICS),
        period=s.number("period", 60, low=10, integer=True), evaluation_periods=evaluation,
        datapoints_to_alarm=s.number("datapoints_to_alarm", None, low=1, high=evaluation, integer=True),
        threshold=float(s.number("threshold", 0.0)),
        comparison=s.string("comparison", "GreaterThanThreshold", choices=COMPARISON_OPERATORS),
        treat_missing_data=s.string("treat_missing_data", "missing", choices=TREATMENTS),
    )
    if spec.period % 60 and spec.period not in (10, 20, 30):
        s.fail(f"must be 10, 20, 30 or a multiple of 60, got {spec.period}", "period")
    s.done()
    return spec


def _deployment(s: _Section, functions: tuple[FunctionSpec, ...], alarm_sections: list[_Section],
                alarms_declared: bool, requested: bool) -> DeploymentSpec:
    defaults = DeploymentSpec()
    function = s.string("function", functions[0].name)
    fn = next((f for f in functions if f.name == function), None)
    if fn is None:
        s.fail(f"no function named {function!r} in [[functions]]", "function")
    alias = s.string("alias", fn.aliases[0].name if fn.aliases else DEFAULT_ALIAS)
    if alias not in {a.name for a in fn.aliases}:
        s.fail(f"function {function} has no alias {alias!r}", "alias")
    custom = s.table("custom_config")
    config = s.string("config", None)
    if custom is not None and config is not None:
        s.fail("give either config or [deployment.custom_config], not both", "config")
    try:
        config_name = deployment_config_name(config) if config else defaults.config
    except ValueError as exc:
        s.fail(str(exc), "config")
    alarms = s.raw("alarms")
    if alarms is not None and (not isinstance(alarms, list) or not all(isinstance(a, str) for a in alarms)):
        s.fail("must be a list of alarm names", "alarms")
    spec = DeploymentSpec(
        application=s.string("application", defaults.application),
        group=s.string("group", defaults.group),
        function=function, alias=alias,
        config="shiftsim-custom" if custom else config_name,
        custom_config=_traffic_routing(custom) if custom else None,
        alarms=tuple(alarms) if alarms is not None else (
            tuple(str(a.data.get("name")) for a in alarm_sections) if alarms_declared else defaults.alarms),
        auto_rollback=_boolean(s, "auto_rollback", True),
        pre_traffic_hook=s.string("pre_traffic_hook", None),
        post_traffic_hook=s.string("post_traffic_hook", None),
        start_after=s.number("start_after", defaults.start_after, low=0),
        requested=requested,
    )
    s.done()
    return spec


def _boolean(s: _Section, key: str, default: bool) -> bool:
    value = s.raw(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        s.fail(f"must be true or false, got {value!r}", key)
    return value


def _traffic_routing(s: _Section) -> TrafficRouting:
    kind = s.string("type", None, choices=("TimeBasedCanary", "TimeBasedLinear", "AllAtOnce"))
    if kind is None:
        s.fail("missing key 'type' (TimeBasedCanary, TimeBasedLinear or AllAtOnce)")
    if kind == "AllAtOnce":
        routing = TrafficRouting(kind)
    else:
        routing = TrafficRouting(kind, s.number("percentage", None, low=1, high=99, integer=True),
                                 s.number("interval", None, low=1, high=2880, integer=True))
        if routing.percentage is None or routing.interval_minutes is None:
            s.fail(f"a {kind} configuration needs percentage (1..99) and interval (minutes)")
    s.done()
    return routing


def _emulator_options(s: _Section) -> EmulatorOptions:
    return EmulatorOptions(
        alarm_poll_interval=s.number("alarm_poll_interval", 60.0, low=1),
        final_flip_after_intervals=s.number("final_flip_after_intervals", 1, low=1, high=2, integer=True),
        hook_timeout=s.number("hook_timeout", 3600.0, low=1),
    )


def _check_deployment(top: _Section, scenario: Scenario) -> None:
    deployment = scenario.deployment
    assert deployment is not None
    known = {a.name for a in scenario.alarms}
    for name in deployment.alarms:
        if name not in known:
            top.fail(f"alarm {name!r} is not declared in [[alarms]]", "deployment.alarms")
    functions = {f.name for f in scenario.functions}
    for key in ("pre_traffic_hook", "post_traffic_hook"):
        hook = getattr(deployment, key)
        if hook is not None and hook not in functions:
            top.fail(f"hook function {hook!r} is not declared in [[functions]]", f"deployment.{key}")


def _load(s: _Section, folder: Path) -> LoadSpec:
    flow = s.string("flow", None)
    if flow is not None:
        path = (folder / flow) if not Path(flow).is_absolute() else Path(flow)
        if not path.exists():
            s.fail(f"no such flow file: {path}", "flow")
        flow = str(path)
    spec = LoadSpec(
        users=s.number("users", 20, low=1, integer=True),
        spawn_rate=float(s.number("spawn_rate", 20.0, low=0.001)),
        rate=float(s.number("rate", 0.0, low=0)),
        contacts_per_minute=float(s.number("contacts_per_minute", 0.0, low=0)),
        max_contacts_per_second=float(s.number("max_contacts_per_second", 0.0, low=0)),
        traffic_profile=",".join(_profile_span(p) for p in s.tables("profile")),
        start_time=_time_of_day(s, "start_time", "12:00"),
        loops_per_contact=s.number("loops_per_contact", 10, low=1, integer=True),
        result_attribute=s.string("result_attribute", ""),
        contact_duration=float(s.number("contact_duration", 0.0, low=0)),
        max_invocations_per_contact=s.number("max_invocations_per_contact", 1000, low=1, integer=True),
        max_contact_seconds=float(s.number("max_contact_seconds", 3600.0, low=0.001)),
        prompt_time=s.string("prompt_time", "uniform:0.2:0.6"),
        flow=flow,
        tail=float(s.number("tail", 5.0, low=0)),
        max_duration=float(s.number("max_duration", 300.0, low=1)),
    )
    if (spec.contacts_per_minute or spec.traffic_profile) and spec.rate:
        s.fail("give contacts_per_minute or a profile (production's arrivals), or rate (real invocations a second), not both")
    s.done()
    return spec


def minute_of_day(clock: str) -> int | None:
    """`HH:MM` -> minutes since midnight; None for anything else."""
    hours, _, minutes = clock.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and int(hours) < 24 and int(minutes) < 60):
        return None
    return int(hours) * 60 + int(minutes)


def _time_of_day(s: _Section, key: str, default: str | None = None) -> str:
    value = s.string(key, default)
    if value is None:
        s.fail("missing key", key)
    if minute_of_day(value) is None:
        s.fail(f"must be a time of day HH:MM, got {value!r}", key)
    return value


def _profile_span(s: _Section) -> str:
    """A [[load.profile]] table: from, to (HH:MM of the emulated day) and contacts_per_minute."""
    span = (f"{_time_of_day(s, 'from')}-{_time_of_day(s, 'to')}="
            f"{float(s.number('contacts_per_minute', low=0.001)) if s.has('contacts_per_minute') else s.fail('missing key', 'contacts_per_minute')}")
    s.done()
    return span


def _expect(s: _Section) -> dict[str, Any]:
    expected: dict[str, Any] = {}
    for key in list(s.data):
        kind = EXPECTATION_KEYS.get(key)
        if kind is None:
            s.fail(f"unknown expectation {key!r}; known: {', '.join(EXPECTATION_KEYS)}")
        if kind is str:
            expected[key] = s.string(key, choices=OUTCOMES)
        elif kind is bool:
            expected[key] = _boolean(s, key, False)
        else:
            expected[key] = s.number(key, low=0, integer=kind is int)
    s.done()
    return expected
