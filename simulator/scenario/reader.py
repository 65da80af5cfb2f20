"""Scenario files (TOML) -> the typed, validated configuration of `spec.py`.

Every error names the file and the key path (`functions[0].versions[1].faults.error.rate`) and says
what is expected; unknown keys are errors too, because a typo silently ignored is a rehearsal of the
wrong thing (`section.py` reads each table so). A `[stack]` table hands the stack to `sam.py` (a SAM or
CloudFormation template); `[[functions]]` are read by `function_tables.py`, `[[alarms]]` by
`alarm_tables.py`.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from simulator.deployment.arn import ArnError, parse_function_name
from simulator.deployment.clock import MAX_CONTACTS_PER_MINUTE, MAX_SCALE
from simulator.deployment.vocabulary import CHANNELS, deployment_config_name
from simulator.scenario.alarm_tables import read_alarm
from simulator.scenario.build import runtime_notes
from simulator.scenario.durations import DistributionError, parse_spec
from simulator.scenario.dynamic_references import REFERENCE
from simulator.scenario.function_tables import read_faults, read_function
from simulator.scenario.intrinsics import TemplateError
from simulator.scenario.sam import load_template
from simulator.scenario.section import Section, string_table
from simulator.scenario.spec import (
    DEFAULT_ACCOUNT,
    DEFAULT_ALIAS,
    DEFAULT_REGION,
    EXPECTATION_KEYS,
    OUTCOMES,
    ConnectInstance,
    DeploymentSpec,
    EmulatorOptions,
    EventSourceSpec,
    FunctionSpec,
    LoadSpec,
    MetricFilterSpec,
    Scenario,
    ScenarioError,
    StackSource,
    TableSpec,
    TrafficRouting,
    default_scenario,
    qualifiers_of,
    seed_alarm,
)

# A template given alone is rehearsed as the shipped scenarios are: production's traffic (a small
# contact center's 120 contacts a minute, sampled) on a clock 60 times faster than real time, the
# deployment starting 5 real seconds in (docs/stacks.md).
TEMPLATE_ALONE = """
[scenario]
time_scale = 60
[deployment]
start_after = 5
[load]
contacts_per_minute = 120
prompt_time = "uniform:8:15"
max_contacts_per_second = 4
users = 40
tail = 10
"""


def load_scenario(path: str | Path | None, stack: StackSource | None = None) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError naming file and key on any problem.
    `stack` (the command line's) overrides the file's `[stack]`; with a template and no file, the
    scenario is the template's stack, deployed with the defaults."""
    if path is None:
        if stack is None:
            return default_scenario()
        if stack.template is None:
            raise ScenarioError("--new-code, --new-ref and --parameter change a template's stack: give --template")
        return parse_scenario(TEMPLATE_ALONE, stack.template, stack)
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read scenario: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a BOM, as some editors save UTF-8
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"{source}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}): save the "
                            "scenario as UTF-8") from None
    if not text.strip():
        raise ScenarioError(f"{source}: is empty: a scenario has tables ([[functions]], [deployment], [load] ...; "
                            "docs/rehearsals.md); with no file at all, commands use the seed's stack")
    return parse_scenario(text, source, stack)


def _what_else(text: str) -> str | None:
    """What a file that is not TOML is, when it is one of the other files a user has at hand."""
    head = text.lstrip()[:4000]
    if head.startswith("{") and '"Actions"' in head:
        return "an exported contact flow (JSON), not a scenario (TOML): give it as [load] flow in a scenario"
    if "AWSTemplateFormatVersion" in head or "Transform:" in head or head.startswith("Resources:"):
        return ("a SAM or CloudFormation template, not a scenario (TOML): give it with --template (or [stack] "
                "template in a scenario)")
    return None


def parse_scenario(text: str, source: str = "<scenario>", stack: StackSource | None = None) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        other = _what_else(text)
        if other is not None:
            raise ScenarioError(f"{source}: is {other}") from None
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    top = Section(source, "", data)
    meta = top.table("scenario") or Section(source, "scenario", {})
    aws = top.table("aws") or Section(source, "aws", {})
    region, account = aws.string("region", DEFAULT_REGION), aws.string("account", DEFAULT_ACCOUNT)
    source_of_stack = _stack_source(top.table("stack"), Path(source).parent)
    if stack is not None:
        source_of_stack = stack.over(source_of_stack)
    if source_of_stack.template is not None:
        return _template_scenario(top, meta, aws, source_of_stack, region, account)
    if stack is not None:
        raise ScenarioError("--new-code, --new-ref and --parameter change a template's stack: give --template "
                            f"(or [stack] in {source})")
    functions = tuple(read_function(s) for s in top.tables("functions")) or default_scenario().functions
    alarm_sections = top.tables("alarms")
    deployment_section = top.table("deployment")
    emulator_section = top.table("emulator") or Section(source, "emulator", {})
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
        alarms=tuple(read_alarm(a) for a in alarm_sections) if alarm_sections else (
            (seed_alarm(functions[0].name, functions[0].aliases[0].name),)
            if functions[0].aliases else ()),
        deployment=_deployment(deployment_section or Section(source, "deployment", {}), functions,
                               alarm_sections, top.has("alarms"), deployment_section is not None)
        if functions[0].aliases or deployment_section else None,
        emulator=_emulator_options(emulator_section),
        time_scale=meta.number("time_scale", 1.0, low=0.001, high=MAX_SCALE),
        load=_load(load_section, Path(source).parent) if load_section else LoadSpec(),
        expect=_expect(expect_section) if expect_section else {},
        function_map=_function_map(top.table("function_map"), functions),
        flow_map=string_table(top.table("flow_map")),
        callers=_callers(top.table("callers")),
        connect=_connect(top.table("connect")), judge=_judge(top.table("judge")),
        metric_filters=tuple(_metric_filter(f) for f in top.tables("metric_filters")),
        tables=tuple(_table(t, Path(source).parent) for t in top.tables("tables")),
        event_sources=tuple(_event_source(e) for e in top.tables("event_sources")),
        source=source,
    )
    if scenario.deployment is not None:
        _check_deployment(top, scenario)
    notes, unfaithful = _code_notes(scenario)
    return _finished(replace(scenario, notes=notes + unfaithful, unfaithful=unfaithful), top, meta, aws, emulator_section)


def _code_notes(scenario: Scenario) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """[[functions]] code that runs differently here (another Python or Node.js) or not at all, said
    as a template's is; the deployed function's code not running makes the rehearsal unfaithful."""
    notes: dict[str, None] = {}
    stand_in: set[str] = set()
    for fn in scenario.functions:
        for version in (*fn.versions, fn.staged):
            if version is not None and version.code is not None:
                notes.update(dict.fromkeys(runtime_notes(fn.name, version.code)))
                if not version.code.runs_here:
                    stand_in.add(fn.name)
    deployed = scenario.deployment.function if scenario.deployment is not None else None
    unfaithful = (f"the deployed function {deployed}'s code does not run here (a stand-in answers for it): what its "
                  "versions do is not rehearsed",) if deployed in stand_in else ()
    return tuple(notes), unfaithful


def _finished(scenario: Scenario, top: Section, meta: Section, aws: Section, emulator: Section) -> Scenario:
    if len(scenario.account) != 12 or not scenario.account.isdigit():
        aws.fail(f"must be 12 digits, got {scenario.account!r}", "account")
    for section in (meta, aws, emulator, top):
        section.done()
    names = [f.name for f in scenario.functions]
    if len(set(names)) != len(names):
        top.fail(f"function names must be unique, got {names}", "functions")
    return scenario


def _stack_source(s: Section | None, folder: Path) -> StackSource:
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
                       flow=s.string("flow", None), layers=_published_layers(s.table("layers"), folder),
                       resolve=_dynamic_values(s.table("resolve")))
    s.done()
    return made


def _dynamic_values(s: Section | None) -> dict[str, str]:
    """`[stack.resolve]`: a dynamic reference as the template writes it inside `{{resolve:...}}`
    ("ssm:/app/greeting", "secretsmanager:prod/api:SecretString:key") to the value CloudFormation
    would put in its place."""
    made = {}
    for key in list(s.data) if s is not None else []:
        assert s is not None
        if not REFERENCE.fullmatch(f"{{{{resolve:{key}}}}}"):
            s.fail("is not a dynamic reference (ssm:NAME, ssm-secure:NAME or secretsmanager:SECRET[:SecretString:KEY], "
                   "as the template writes it inside {{resolve:...}})", key)
        made[key] = s.string(key)
    return made


def _published_layers(s: Section | None, folder: Path) -> dict[str, str]:
    """`[stack.layers]`: a published layer's ARN (with its version, or without for every version) to a
    folder laid out as the layer is (python/, nodejs/node_modules/): what Lambda would extract into /opt."""
    made = {}
    for arn in list(s.data) if s is not None else []:
        assert s is not None
        if not re.fullmatch(r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+(:\d+)?", arn):
            s.fail("is not a layer's ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME[:VERSION])", arn)
        content = folder / s.string(arn)
        if not content.is_dir():
            s.fail(f"is not a folder: {content}", arn)
        made[arn] = str(content)
    return made


def _template_scenario(top: Section, meta: Section, aws: Section, stack: StackSource, region: str,
                       account: str) -> Scenario:
    """A scenario whose stack is a template's: the template declares functions, alarms and the
    deployment group; the scenario says when to deploy, the load and what to expect."""
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
                              flow=stack.flow, layers=stack.layers, resolve=stack.resolve)
    except TemplateError as exc:
        raise ScenarioError(str(exc)) from None
    if not built.functions:
        top.fail(f"{stack.template} declares no Lambda function", "stack.template")
    deployment = built.deployment
    changed = stack.new_code is not None or stack.new_ref is not None
    if deployment is not None:
        # a change given (new_code, new_ref) is what the rehearsal is for: deployed, [deployment] table or not
        deployment = replace(deployment, start_after=start_after, requested=deployment_section is not None or changed)
        if faults_section is not None:
            built.functions = tuple(
                replace(fn, staged=replace(fn.staged, faults=read_faults(faults_section)))  # type: ignore[type-var]
                if fn.name == deployment.function else fn for fn in built.functions)
    elif deployment_section is not None or changed:
        if built.disabled:
            said = (f"the DeploymentPreference of {', '.join(built.disabled)} says Enabled: false, so "
                    "SAM deploys it with no traffic shifting and nothing to rehearse; enable it (its value, or the "
                    "parameter it names: [stack.parameters] or --parameter)")
        else:
            said = (f"{stack.template} has no function with AutoPublishAlias and DeploymentPreference to deploy"
                    f"{' the change to' if changed else ''}: give one of its functions "
                    f"({', '.join(fn.name for fn in built.functions)}) `AutoPublishAlias: live` and a "
                    "`DeploymentPreference` (`Type: Linear10PercentEvery1Minute`, say), as SAM's traffic shifting needs")
        if deployment_section is not None:
            deployment_section.fail(said)
        top.fail(said, "stack.new_code" if stack.new_code is not None else "stack.new_ref")
    emulator_section = top.table("emulator") or Section(top.source, "emulator", {})
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
        emulator=_emulator_options(emulator_section), time_scale=meta.number("time_scale", 1.0, low=0.001, high=MAX_SCALE),
        load=load, expect=_expect(expect_section) if expect_section else {},
        function_map=_function_map(top.table("function_map"), built.functions),
        flow_map=string_table(top.table("flow_map")), callers=_callers(top.table("callers")),
        connect=_connect(top.table("connect")), judge=_judge(top.table("judge")), notes=tuple(built.notes),
        unfaithful=built.unfaithful,
        stack=stack, source=top.source,
        metric_filters=tuple(_metric_filter(f) for f in top.tables("metric_filters")),
        tables=_merged_tables(built.tables, tuple(_table(t, Path(top.source).parent) for t in top.tables("tables"))),
        event_sources=built.event_sources + tuple(_event_source(e) for e in top.tables("event_sources")),
        resources=built.resources)
    return _finished(scenario, top, meta, aws, emulator_section)


STREAM_VIEWS = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")


def _table(s: Section, folder: Path) -> TableSpec:
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


def _event_source(s: Section) -> EventSourceSpec:
    """`[[event_sources]]`: table (its stream) or queue (an SQS queue's name), function
    ("Name[:qualifier]"), starting_position (a stream's), batch_size."""
    table, queue, function = s.string("table"), s.string("queue"), s.string("function")
    if queue and not table and function:
        made = EventSourceSpec("", function, "", s.number("batch_size", 10, low=1, high=10, integer=True), queue=queue)
        s.done()
        return made
    if not table or not function or queue:
        s.fail("needs table (whose stream) or queue (an SQS queue's name), and function (Name or Name:qualifier)")
    made = EventSourceSpec(table, function, s.string("starting_position", "LATEST", choices=("LATEST", "TRIM_HORIZON")),
                           s.number("batch_size", 100, low=1, high=10000, integer=True))
    s.done()
    return made


def _metric_filter(s: Section) -> MetricFilterSpec:
    """`[[metric_filters]]`: name, log_group, pattern, metric, namespace, value, default_value."""
    values = {key: s.string(key) for key in ("name", "log_group", "pattern", "metric", "namespace")}
    for key, value in values.items():
        if value is None:
            s.fail(f"missing key {key!r}")
    made = MetricFilterSpec(**values, value=s.string("value", "1"), default_value=s.number("default_value", None))
    s.done()  # the pattern is read by the emulator, which says what is wrong with it
    return made


_INSTANCE_ALIAS = re.compile(r"(?!d-)(?=.{1,45}$)[\da-zA-Z]+(-*[\da-zA-Z])*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _connect(s: Section | None) -> ConnectInstance:
    """`[connect]`: the instance's alias and id, and its flow logs and metrics settings."""
    if s is None:
        return ConnectInstance()
    made = ConnectInstance(alias=s.string("instance_alias", ConnectInstance.alias),
                           instance_id=s.string("instance_id", ConnectInstance.instance_id),
                           flow_logs=_boolean(s, "flow_logs", True), metrics=_boolean(s, "metrics", True))
    if not _INSTANCE_ALIAS.fullmatch(made.alias):  # it names the flow logs' group: Connect's own rule
        s.fail(f"must be 1 to 45 letters, digits and hyphens, not starting with 'd-' nor starting or ending with "
               f"a hyphen (Amazon Connect's rule for an instance alias), got {made.alias!r}", "instance_alias")
    if not _UUID.fullmatch(made.instance_id):  # the InstanceId dimension of AWS/Connect's metrics
        s.fail(f"must be the instance's id, a UUID (the last part of its ARN), got {made.instance_id!r}",
               "instance_id")
    s.done()
    return made


def _judge(s: Section | None) -> dict[str, float]:
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


def _callers(s: Section | None) -> dict[str, Any]:
    """`[callers]`: per block identifier, weighted answers (`"timeout"`: silence); the chance the
    center is open, the queue metrics, the chance a queue is full; how long a third-party call lasts,
    what an outbound call's status and a Voice ID check find; the contacts' segment attributes and what
    their bot conversations leave in session attributes; the numbers they call from, and their channels."""
    if s is None:
        return {}
    made: dict[str, Any] = {"in_hours": s.number("in_hours", 1.0, low=0, high=1),
                            "queue_at_capacity": s.number("queue_at_capacity", 0.0, low=0, high=1),
                            "third_party_seconds": s.number("third_party_seconds", 60.0, low=0, high=86_400),
                            "outbound_call_status": s.string("outbound_call_status", "CallAnswered"),
                            "voice_id": s.string("voice_id", "NotEnrolled")}
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
    made["segment_attributes"] = _weighted_values(s.table("segment_attributes"))
    made["lex_session_attributes"] = _weighted_values(s.table("lex_session_attributes"))
    made["numbers"] = _caller_numbers(s)
    made["channel"] = _caller_channels(s)
    s.done()
    return made


def _weighted_values(s: Section | None) -> dict[str, dict[str, float]]:
    """`[callers.segment_attributes]`, `[callers.lex_session_attributes]`: each key a value, or a table of
    values by weight (drawn per contact, per bot conversation)."""
    return {key: _value_or_weights(s, key) for key in list(s.data)} if s is not None else {}


def _value_or_weights(s: Section, key: str) -> dict[str, float]:
    """A key that is a value, or a table of values by weight: {value: weight}."""
    if isinstance(s.data[key], str):
        return {s.string(key): 1.0}
    if not isinstance(s.data[key], dict) or not s.data[key]:
        s.fail("must be a string, or a table of values by weight", key)
    table = s.table(key)
    assert table is not None
    weights = {value: float(table.number(value, low=0)) for value in list(table.data)}
    if sum(weights.values()) <= 0:
        table.fail("needs at least one value with a weight above 0")
    return weights


_NUMBER_PATTERN = re.compile(r"^\+[0-9#]{2,15}$")


def _caller_numbers(s: Section) -> dict[str, float]:
    """`numbers`: the callers' phone numbers ($.CustomerEndpoint.Address), E.164 patterns in which each
    `#` is a digit drawn per contact, by weight."""
    if not s.has("numbers"):
        return {}
    patterns = _value_or_weights(s, "numbers")
    for pattern in patterns:
        if not _NUMBER_PATTERN.match(pattern):
            s.fail(f"{pattern!r} is not a phone number in E.164 form: + and 2 to 15 digits, "
                   "each digit or # (a digit drawn per contact), as \"+1206555####\"", "numbers")
    return patterns


def _caller_channels(s: Section) -> dict[str, float]:
    """`channel`: the contacts' channels ($.Channel), one or by weight."""
    channels = _value_or_weights(s, "channel") if s.has("channel") else {}
    for channel in channels:
        if channel not in CHANNELS:
            s.fail(f"{channel!r} is not a channel of Connect's ({', '.join(CHANNELS)})", "channel")
    return channels


def _function_map(s: Section | None, functions: tuple[FunctionSpec, ...]) -> dict[str, str]:
    """`[function_map]`: each key (an ARN, a placeholder or a function name a flow names) to
    "Name[:qualifier]" of a declared function, with a qualifier it has, or to its ARN."""
    if s is None:
        return {}
    qualifiers = qualifiers_of(functions)
    table = {}
    for key in list(s.data):
        value = s.string(key)
        try:
            ref = parse_function_name(value)
        except ArnError as error:
            s.fail(str(error), key)
        name, qualifier = ref.name, ref.qualifier or ""
        value = f"{name}:{qualifier}" if qualifier else name
        if name not in qualifiers:
            s.fail(f"names function {name!r}, which [[functions]] does not declare "
                   f"(declared: {', '.join(qualifiers)})", key)
        if qualifier and qualifier not in qualifiers[name]:
            s.fail(f"{name} has no qualifier {qualifier!r} (it has {', '.join(sorted(qualifiers[name]))})", key)
        table[key] = value
    return table


def _deployment(s: Section, functions: tuple[FunctionSpec, ...], alarm_sections: list[Section],
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


def _boolean(s: Section, key: str, default: bool) -> bool:
    value = s.raw(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        s.fail(f"must be true or false, got {value!r}", key)
    return value


def _traffic_routing(s: Section) -> TrafficRouting:
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


def _emulator_options(s: Section) -> EmulatorOptions:
    return EmulatorOptions(
        alarm_poll_interval=s.number("alarm_poll_interval", 60.0, low=1),
        final_flip_after_intervals=s.number("final_flip_after_intervals", 1, low=1, high=2, integer=True),
        hook_timeout=s.number("hook_timeout", 3600.0, low=1),
    )


def _check_deployment(top: Section, scenario: Scenario) -> None:
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


def _load(s: Section, folder: Path) -> LoadSpec:
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
        contacts_per_minute=float(s.number("contacts_per_minute", 0.0, low=0, high=MAX_CONTACTS_PER_MINUTE)),
        max_contacts_per_second=float(s.number("max_contacts_per_second", 0.0, low=0)),
        traffic_profile=",".join(_profile_span(p) for p in s.tables("profile")),
        start_time=_time_of_day(s, "start_time", "12:00"),
        loops_per_contact=s.number("loops_per_contact", 10, low=1, integer=True),
        result_attribute=s.string("result_attribute", ""),
        contact_duration=float(s.number("contact_duration", 0.0, low=0)),
        max_invocations_per_contact=s.number("max_invocations_per_contact", 1000, low=1, integer=True),
        max_contact_seconds=float(s.number("max_contact_seconds", 3600.0, low=0.001)),
        prompt_time=_prompt_time(s),
        flow=flow,
        tail=float(s.number("tail", 5.0, low=0)),
        max_duration=float(s.number("max_duration", 300.0, low=1)),
    )
    if (spec.contacts_per_minute or spec.traffic_profile) and spec.rate:
        s.fail("give contacts_per_minute or a profile (production's arrivals), or rate (real invocations a second), not both")
    s.done()
    return spec


def _prompt_time(s: Section) -> str:
    spec = s.string("prompt_time", "uniform:0.2:0.6")
    try:
        parse_spec(spec)
    except DistributionError as exc:
        s.fail(str(exc), "prompt_time")
    return spec


def minute_of_day(clock: str) -> int | None:
    """`HH:MM` -> minutes since midnight; None for anything else."""
    hours, _, minutes = clock.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and int(hours) < 24 and int(minutes) < 60):
        return None
    return int(hours) * 60 + int(minutes)


def _time_of_day(s: Section, key: str, default: str | None = None) -> str:
    value = s.string(key, default)
    if value is None:
        s.fail("missing key", key)
    if minute_of_day(value) is None:
        s.fail(f"must be a time of day HH:MM, got {value!r}", key)
    return value


def _profile_span(s: Section) -> str:
    """A [[load.profile]] table: from, to (HH:MM of the emulated day) and contacts_per_minute."""
    span = (f"{_time_of_day(s, 'from')}-{_time_of_day(s, 'to')}="
            f"{float(s.number('contacts_per_minute', low=0.001, high=MAX_CONTACTS_PER_MINUTE)) if s.has('contacts_per_minute') else s.fail('missing key', 'contacts_per_minute')}")
    s.done()
    return span


def _expect(s: Section) -> dict[str, Any]:
    expected: dict[str, Any] = {}
    for key in list(s.data):
        kind = EXPECTATION_KEYS.get(key)
        if kind is None:
            s.fail(f"unknown expectation {key!r}; known: {', '.join(EXPECTATION_KEYS)}")
        if kind is str:
            expected[key] = s.string(key, choices=OUTCOMES)
        elif kind is bool:
            expected[key] = _boolean(s, key, False)
        elif key in _SHARES:  # a share of calls, as the summary gives it: 5 % is 0.05
            value = s.raw(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 < value <= 100:
                s.fail(f"is a share from 0 to 1 (5 % is 0.05), got {value!r}: as written it can never fail", key)
            expected[key] = s.number(key, low=0, high=1)
        else:
            expected[key] = s.number(key, low=0, integer=kind is int)
    s.done()
    return expected


_SHARES = ("max_error_rate",)
