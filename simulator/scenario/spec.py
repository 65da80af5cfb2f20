"""The scenario's types: a stack (functions, versions, aliases, alarms, a deployment), the load, the
Connect instance, what to expect, as the readers make them (`reader.py` from TOML, `sam.py` from a
template) and the emulator, the load and the analysis take them. No reading here; with no file,
`default_scenario()` is the seed's stack.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.input_error import InputError

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_FUNCTION = "ConnectLambdaFunction"
DEFAULT_ALIAS = "PROD"
VERSION_ECHO_HANDLER = "simulator.emulator.functions:version_echo"
LATENCY_DISTRIBUTIONS = ("fixed", "uniform", "normal", "lognormal")
MALFORMED_KINDS = ("nested", "non_string", "too_large")


class ScenarioError(InputError):
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
    # What `sam build` made of it, if anything: Python, the folder its requirements.txt was installed
    # into; Node.js, the build folder (its code and the node_modules its package.json names).
    dependencies: str = ""
    # SAM's esbuild build (Metadata BuildMethod esbuild): the template's BuildProperties as JSON text
    esbuild: str = ""
    # its Layers, as import paths (Python: /opt/python's; Node.js: /opt/nodejs/node_modules'), in order
    layers: tuple[str, ...] = ()

    @property
    def node(self) -> bool:
        return self.runtime.startswith("nodejs")

    @property
    def runs_here(self) -> bool:
        """Python code in a folder runs as it is, Node.js code on this machine's `node` (when it has
        one); other runtimes, or code that is not here (S3, an image), get a stand-in handler."""
        if not self.path:
            return False
        return self.runtime.startswith("python3") or (self.node and node_binary() is not None)


def node_binary() -> str | None:
    """The system's Node.js, which runs nodejs* functions (CI installs Debian's)."""
    return shutil.which("node") or shutil.which("nodejs")


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
    provisioned_concurrency: int | None = None  # environments kept initialised, shared by its versions' weights


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    timeout: int = 3
    memory: int = 128
    reserved_concurrency: int | None = None
    versions: tuple[VersionSpec, ...] = (VersionSpec(),)
    staged: VersionSpec | None = None
    aliases: tuple[AliasSpec, ...] = ()

    def provisioned_beyond_reserved(self) -> str | None:
        """Why Lambda would refuse the aliases' provisioned concurrency (more than the function
        reserves), or None."""
        provisioned = sum(a.provisioned_concurrency or 0 for a in self.aliases)
        if self.reserved_concurrency is None or provisioned <= self.reserved_concurrency:
            return None
        return (f"provisioned concurrency {provisioned} is more than the function's reserved concurrency "
                f"{self.reserved_concurrency}: Lambda refuses it (Requested Provisioned Concurrency should not be "
                "greater than the reservedConcurrentExecution for function)")


@dataclass(frozen=True)
class AlarmSpec:
    """A CloudWatch metric alarm (PutMetricAlarm's parameters), or a composite alarm (`rule`: its
    AlarmRule over other alarms' states; PutCompositeAlarm's parameters; no metric of its own)."""

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
    rule: str | None = None  # a composite alarm's AlarmRule


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
    # Environment variables of other functions that name the deployed function's published version
    # (a template's `!Ref Fn.Version` or `!GetAtt FnVersion.Version`): (function, variable, "arn" or
    # "number"). CloudFormation sets them to the new version in the stack update that deploys it.
    version_references: tuple[tuple[str, str, str], ...] = ()
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

    def arn(self, region: str, account: str) -> str:
        """The instance's ARN: its contacts' $.InstanceARN in the stack's region and account."""
        return f"arn:aws:connect:{region}:{account}:instance/{self.instance_id}"


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table the stack holds (served by moto): CreateTable's parameters, and the items
    it starts with (plain JSON objects)."""

    name: str
    parameters: dict[str, Any]
    items: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ResourceSpec:
    """A resource of the stack that the services moto answers hold (a queue, topic, bucket, parameter
    or secret): made on the emulator's endpoint before the load, under the name the template's `Ref`
    and `GetAtt` give the code, so the user's code finds it as in the deployed stack."""

    kind: str  # its CloudFormation type
    name: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventSourceSpec:
    """A DynamoDB stream, or an SQS queue (`queue`, then no table), that invokes a function
    (CreateEventSourceMapping)."""

    table: str
    function: str  # "Name[:qualifier]"
    starting_position: str = "LATEST"
    batch_size: int = 100
    queue: str | None = None


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
    layers: dict[str, str] = field(default_factory=dict)  # a published layer's ARN -> a folder laid out as it is
    resolve: dict[str, str] = field(default_factory=dict)  # a dynamic reference ("ssm:/app/key") -> its value

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
        """These values where given, the other's elsewhere; a change given here (new code or a new ref)
        replaces the other's change, whichever form it had."""
        changed = self.new_code is not None or self.new_ref is not None
        return StackSource(self.template or other.template, {**other.parameters, **self.parameters},
                           self.new_code if changed else other.new_code, self.new_ref if changed else other.new_ref,
                           self.flow or other.flow, {**other.layers, **self.layers}, {**other.resolve, **self.resolve})


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
    resources: tuple[ResourceSpec, ...] = ()  # a template's queues, topics, buckets, parameters, secrets
    stack: StackSource | None = None  # the template the stack came from, when it did
    alarms_file: str | None = None  # the alarms put in place of the group's (`--alarms`), when they were
    source: str = "<default>"

    @property
    def file(self) -> str | None:
        """The scenario file read, if one was (not for the default, nor a template alone)."""
        if self.source == "<default>" or (self.stack is not None and self.source == self.stack.template):
            return None
        return self.source

    def stack_arguments(self) -> list[str]:
        """The command-line options that give this scenario's template stack, and the alarms put in
        place of its group's, to another process."""
        alarms = ["--alarms", self.alarms_file] if self.alarms_file else []
        if self.stack is None or self.stack.template is None:
            return alarms
        args = [*alarms, "--template", self.stack.template]
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

    def provisioned_said(self) -> list[str]:
        """Each alias's provisioned concurrency, as the start says it (rehearsed, not a limit: not a note)."""
        return [f"{fn.name}: {alias.provisioned_concurrency} on alias {alias.name}: each version keeps its share "
                "of it initialised as the deployment shifts the weights; invocations past a version's share run "
                "on demand, and start cold" for fn in self.functions for alias in fn.aliases if alias.provisioned_concurrency]

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


def qualifiers_of(functions: tuple[FunctionSpec, ...]) -> dict[str, frozenset[str]]:
    return {fn.name: frozenset({*(a.name for a in fn.aliases), *(str(n) for n in range(1, len(fn.versions) + 1)),
                                "$LATEST"}) for fn in functions}
