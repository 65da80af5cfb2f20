"""A SAM (or plain CloudFormation) template -> the stack a rehearsal provisions: functions with the
user's code, the alias and version `AutoPublishAlias` makes, the CodeDeploy group
`DeploymentPreference` makes, the CloudWatch alarms and the Connect flows, with `Ref`, `Sub` and
`GetAtt` resolved to the names and ARNs the stack has once deployed.

SAM's own transform (aws-sam-translator) turns the template into CloudFormation, as `sam deploy`
does; local `CodeUri` folders stand in for the S3 objects `sam package` would upload. What the
template holds that shiftsim does not emulate is listed in `notes`, said at the start of a run.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simulator.deployment.composite_rule import RuleError, parse_rule
from simulator.deployment.vocabulary import PREFIX as CONFIG_PREFIX
from simulator.deployment.vocabulary import deployment_config_name
from simulator.scenario.build import runtime_notes, with_dependencies
from simulator.scenario.dynamic_references import DynamicValues, resolved, unresolved_said
from simulator.scenario.intrinsics import Resolver, TemplateError
from simulator.scenario.layers import layer_paths
from simulator.scenario.new_code import code_at_ref
from simulator.scenario.spec import (
    AlarmSpec,
    AliasSpec,
    CodeSpec,
    DeploymentSpec,
    EventSourceSpec,
    FunctionSpec,
    ResourceSpec,
    TableSpec,
    TrafficRouting,
    VersionSpec,
)
from simulator.scenario.template_parameters import parameter_problem

LOCAL_BUCKET = "shiftsim-local"
STREAM_OF = "latest"  # a table's StreamArn before the table exists: its stream label is made when it is
# Resources the services moto answers hold, made from the template, and the property naming each
# (CloudFormation names one without it after the stack; here, after its logical id)
_SERVED = {"AWS::SQS::Queue": "QueueName", "AWS::SNS::Topic": "TopicName", "AWS::S3::Bucket": "BucketName",
           "AWS::SSM::Parameter": "Name", "AWS::SecretsManager::Secret": "Name"}
# Resource types the rehearsal builds from, or that change nothing it measures.
_USED = {"AWS::Lambda::Function", "AWS::Lambda::Version", "AWS::Lambda::Alias", "AWS::CloudWatch::Alarm",
         "AWS::CloudWatch::CompositeAlarm", *_SERVED,
         "AWS::CodeDeploy::Application", "AWS::CodeDeploy::DeploymentGroup", "AWS::CodeDeploy::DeploymentConfig",
         "AWS::Connect::ContactFlow", "AWS::DynamoDB::Table", "AWS::Lambda::EventSourceMapping",
         "AWS::Lambda::LayerVersion"}
_TABLE_KEYS = ("KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput", "StreamSpecification",
               "GlobalSecondaryIndexes", "LocalSecondaryIndexes")
_UNCHECKED = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::Lambda::Permission",
              "AWS::Logs::LogGroup", "AWS::Connect::Instance", "AWS::Connect::IntegrationAssociation"}
_COMPOSITE_KEYS = ("AlarmName", "AlarmRule", "AlarmDescription", "ActionsEnabled", "ActionsSuppressor",
                   "ActionsSuppressorWaitPeriod", "ActionsSuppressorExtensionPeriod")
_ALARM_KEYS = ("AlarmName", "AlarmDescription", "MetricName", "Namespace", "Statistic", "ExtendedStatistic",
               "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
               "TreatMissingData", "Unit", "Metrics", "ActionsEnabled", "ThresholdMetricId")


@dataclass
class TemplateStack:
    functions: tuple[FunctionSpec, ...]
    alarms: tuple[AlarmSpec, ...]
    deployment: DeploymentSpec | None
    flow: str | None = None  # the entry flow, written from the template's ContactFlow resources
    notes: list[str] = field(default_factory=list)
    tables: tuple[TableSpec, ...] = ()
    event_sources: tuple[EventSourceSpec, ...] = ()
    unfaithful: tuple[str, ...] = ()  # notes that touch the verdict
    resources: tuple[ResourceSpec, ...] = ()
    disabled: tuple[str, ...] = ()  # functions whose DeploymentPreference says Enabled: false


MAX_TEMPLATE_NODES = 200_000  # a template's values once its YAML aliases are expanded (a large one has thousands)


def _expanded_nodes(text: str) -> int:
    """How many values the YAML stands for once every alias is expanded (a billion laughs: a few
    lines that stand for 10^9, which the SAM transform would walk for minutes), counted once per node."""
    import yaml

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return 0
    size: dict[int, int] = {}
    order, stack = [], [root]
    while stack:  # children before parents, without recursion: nesting is the user's to choose
        node = stack.pop()
        if id(node) in size:
            continue
        size[id(node)] = 0
        order.append(node)
        if isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    for node in reversed(order):
        children = ([part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        size[id(node)] = min(10**12, 1 + sum(size[id(child)] for child in children))
    return size[id(root)]


def read_template(path: Path) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse  # CloudFormation's short forms (!Ref, !Sub ...)

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read the template: {exc.strerror or exc}") from None
    try:
        expanded = _expanded_nodes(text)
    except Exception:  # yaml's own errors: said by the parse below
        expanded = 0
    if expanded > MAX_TEMPLATE_NODES:
        raise TemplateError(f"{path}: its YAML aliases expand to {expanded:,} values (at most {MAX_TEMPLATE_NODES:,}): "
                            "a template that size is no stack shiftsim rehearses")
    try:
        template = yaml_parse(text)
    except Exception as exc:  # yaml's and json's errors both
        first = " ".join(str(exc).split())
        raise TemplateError(f"{path}: not a YAML or JSON template: {first}") from None
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path}: a template needs a Resources mapping")
    return template


@dataclass
class TemplateSources:
    """What the template names on this machine, read before SAM's transform: each function's and
    layer's folder (by logical id, the S3 key `sam package` would upload it to), each layer's
    BuildMethod (the transform drops a layer's Metadata), and the functions whose DeploymentPreference
    is disabled (SAM makes no deployment group for them)."""

    folders: dict[str, Path] = field(default_factory=dict)
    layer_builds: dict[str, str] = field(default_factory=dict)
    disabled: tuple[str, ...] = ()
    published: dict[str, str] = field(default_factory=dict)  # a published layer's ARN -> the folder the user gave


def _local_code(template: dict[str, Any], folder: Path, where: Path) -> TemplateSources:
    """Replace each function's and layer's local CodeUri or ContentUri with an S3 location (as `sam
    package` would), and say which folder each logical id's code is in."""
    globals_uri = ((template.get("Globals") or {}).get("Function") or {}).get("CodeUri")
    sources = TemplateSources()
    local = sources.folders
    for name, resource in template["Resources"].items():
        if not isinstance(resource, dict):
            raise TemplateError(f"{where}: Resources.{name}: must be a mapping")
        properties = resource.setdefault("Properties", {}) or {}
        if resource.get("Type") == "AWS::Serverless::LayerVersion":
            if _uploaded(properties, "ContentUri", properties.get("ContentUri"), folder, where, name, local):
                metadata = resource.get("Metadata")
                method = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
                if isinstance(method, str):
                    sources.layer_builds[name] = method
        elif resource.get("Type") == "AWS::Serverless::Function" and "InlineCode" not in properties:
            _uploaded(properties, "CodeUri", properties.get("CodeUri", globals_uri), folder, where, name, local)
        elif resource.get("Type") == "AWS::Lambda::Function" and isinstance(properties.get("Code"), str):
            code = (folder / properties["Code"]).resolve()
            if not code.is_dir():
                raise TemplateError(f"{where}: Resources.{name}.Properties.Code: {properties['Code']!r} is not a folder")
            local[name] = code
            properties["Code"] = {"S3Bucket": LOCAL_BUCKET, "S3Key": name}
    return sources


def _uploaded(properties: dict[str, Any], key: str, uri: Any, folder: Path, where: Path, name: str,
              local: dict[str, Path]) -> bool:
    """A local folder in `key` (CodeUri, ContentUri) noted and replaced by the S3 location `sam
    package` would upload it to; False when `key` names no local folder (S3, or not a string)."""
    if not isinstance(uri, str) or uri.startswith("s3://"):
        return False
    code = (folder / uri).resolve()
    if not code.is_dir():
        raise TemplateError(f"{where}: Resources.{name}.Properties.{key}: {uri!r} is not a folder (looked in {code})")
    local[name] = code
    properties[key] = f"s3://{LOCAL_BUCKET}/{name}"
    return True


def transform(template: dict[str, Any], region: str, account: str, parameters: dict[str, Any],
              where: Path) -> dict[str, Any]:
    """CloudFormation from a SAM template, by SAM's own translator (a template without the SAM
    transform is CloudFormation already)."""
    transforms = template.get("Transform")
    if transforms is None or "AWS::Serverless-2016-10-31" not in (transforms if isinstance(transforms, list) else [transforms]):
        serverless = sorted(f"{name} ({resource['Type']})" for name, resource in (template.get("Resources") or {}).items()
                            if isinstance(resource, dict) and str(resource.get("Type", "")).startswith("AWS::Serverless::"))
        if serverless:  # CloudFormation refuses them: "Unrecognized resource types"
            raise TemplateError(f"{where}: Resources: {', '.join(serverless)} need SAM's transform, which the template "
                                "does not declare (CloudFormation refuses it: Unrecognized resource types); add "
                                "`Transform: AWS::Serverless-2016-10-31` at its top")
        return template
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    values = {"AWS::AccountId": account, **parameters}
    try:
        return translator.translate(template, parameter_values=values, get_managed_policy_map=lambda: {})
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes)
        raise TemplateError(f"{where}: SAM's transform refused the template: {causes}") from None


def cloudformation(path: Path, region: str, account: str,
                   parameters: dict[str, Any]) -> tuple[dict[str, Any], TemplateSources]:
    """The template as CloudFormation (SAM's transform applied), and what it names on this machine."""
    template = read_template(path)
    sources = _local_code(template, path.parent, path)
    sources.disabled = _disabled_preferences(template, parameters)
    return transform(template, region, account, dict(parameters), path), sources


def _disabled_preferences(template: dict[str, Any], parameters: dict[str, Any]) -> tuple[str, ...]:
    """The functions whose DeploymentPreference (its own, or the Globals') says `Enabled: false`, as a
    value or a parameter's (SAM's per-stage switch)."""
    def mapping(value: Any) -> dict[str, Any]:  # anything else is SAM's transform's to refuse
        return value if isinstance(value, dict) else {}

    shared = mapping(mapping(mapping(template.get("Globals")).get("Function")).get("DeploymentPreference"))
    declared = mapping(template.get("Parameters"))
    disabled = []
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        preference = {**shared, **mapping(mapping(resource.get("Properties")).get("DeploymentPreference"))}
        enabled = preference.get("Enabled", True)
        if isinstance(enabled, dict) and set(enabled) == {"Ref"} and isinstance(enabled["Ref"], str):
            ref = enabled["Ref"]
            enabled = parameters.get(ref, mapping(declared.get(ref)).get("Default", True))
        if preference and str(enabled).lower() == "false":
            disabled.append(name)
    return tuple(disabled)


class _Stack:
    """The transformed template's resources and what Ref and GetAtt give for each."""

    def __init__(self, cfn: dict[str, Any], region: str, account: str, stack_name: str,
                 parameters: dict[str, Any], where: Path) -> None:
        self.resources: dict[str, dict[str, Any]] = cfn["Resources"]
        self.region, self.account, self.where = region, account, where
        self.current = ""  # the resource whose properties were read last: named when one is wrong
        self.dynamic = DynamicValues()  # what its dynamic references resolve to (load_template sets it)
        values = {name: spec.get("Default") for name, spec in (cfn.get("Parameters") or {}).items()
                  if isinstance(spec, dict)}
        undeclared = sorted(set(parameters) - set(values))
        if undeclared:  # CloudFormation refuses a value for a parameter the template does not declare
            raise TemplateError(f"{where}: parameters the template does not declare: {', '.join(undeclared)} "
                                f"(it declares: {', '.join(sorted(values)) or 'none'})")
        values.update(parameters)
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise TemplateError(f"{where}: parameters without a Default need a value "
                                f"([stack.parameters] or --parameter): {', '.join(missing)}")
        for name, spec in (cfn.get("Parameters") or {}).items():  # as CloudFormation checks them, defaults too
            problem = parameter_problem(name, spec, values[name]) if isinstance(spec, dict) else None
            if problem is not None:
                raise TemplateError(f"{where}: {problem}")
        values.update({"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
                       "AWS::StackName": stack_name, "AWS::URLSuffix": "amazonaws.com",
                       "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/shiftsim"})
        self.resolver = Resolver(cfn, values, self.ref, self.attribute, str(where))

    def kind(self, name: str) -> str:
        return str(self.resources[name].get("Type", ""))

    def properties(self, name: str) -> dict[str, Any]:
        self.current = name
        properties = self.resources[name].get("Properties") or {}
        try:
            return self.resolver.value(properties)
        except TemplateError as exc:
            raise TemplateError(f"{exc} (in Resources.{name})") from None

    def function_name(self, name: str) -> str:
        given = (self.resources[name].get("Properties") or {}).get("FunctionName")
        return str(self.resolver.value(given)) if given is not None else name

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name(name)}"

    def ref(self, name: str) -> Any:
        kind, props = self.kind(name), self.resources[name].get("Properties") or {}
        if kind == "AWS::Lambda::Function":
            return self.function_name(name)
        if kind == "AWS::Lambda::Version":
            return f"{self.function_arn(self._function_of(props))}:1"
        if kind == "AWS::Lambda::Alias":
            return f"{self.function_arn(self._function_of(props))}:{self.resolver.value(props['Name'])}"
        named = {"AWS::CloudWatch::Alarm": "AlarmName", "AWS::CloudWatch::CompositeAlarm": "AlarmName",
                 "AWS::CodeDeploy::Application": "ApplicationName",
                 "AWS::DynamoDB::Table": "TableName",
                 "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
                 "AWS::CodeDeploy::DeploymentConfig": "DeploymentConfigName", "AWS::IAM::Role": "RoleName"}
        if kind in named and named[kind] in props:
            return self.resolver.value(props[named[kind]])
        if kind == "AWS::Connect::ContactFlow":
            return self.attribute(name, "ContactFlowArn")
        if kind in _SERVED:  # a queue's URL, a topic's and a secret's ARN, a bucket's and a parameter's name
            served = self.served_name(name)
            return {"AWS::SQS::Queue": f"https://sqs.{self.region}.amazonaws.com/{self.account}/{served}",
                    "AWS::SNS::Topic": f"arn:aws:sns:{self.region}:{self.account}:{served}",
                    # without the random suffix AWS adds: Secrets Manager takes such a partial ARN too
                    "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{served}",
                    }.get(kind, served)
        return name

    def dynamic_values(self, given: dict[str, str]) -> DynamicValues:
        """What the template's dynamic references resolve to: the values `given`, and the parameters
        and secrets the stack itself makes (by name)."""
        values = DynamicValues(dict(given))
        for name in self.resources:
            kind, props = self.kind(name), self.resources[name].get("Properties") or {}
            if kind == "AWS::SSM::Parameter" and "Value" in props:
                values.parameters[self.served_name(name)] = str(self.resolver.value(props["Value"]))
            elif kind == "AWS::SecretsManager::Secret" and "SecretString" in props:
                values.secrets[self.served_name(name)] = str(self.resolver.value(props["SecretString"]))
        return values

    def served_name(self, name: str) -> str:
        """The name a queue, topic, bucket, parameter or secret is made under."""
        kind, props = self.kind(name), self.resources[name].get("Properties") or {}
        given = props.get(_SERVED[kind])
        if given is not None:
            return str(self.resolver.value(given))
        if kind == "AWS::S3::Bucket":
            return name.lower()  # bucket names are lower case
        fifo = kind == "AWS::SQS::Queue" and str(self.resolver.value(props.get("FifoQueue", False))).lower() == "true"
        return f"{name}.fifo" if fifo else name

    def attribute(self, name: str, attr: str) -> Any:
        kind = self.kind(name)
        if kind == "AWS::Lambda::Function" and attr == "Arn":
            return self.function_arn(name)
        if kind == "AWS::Lambda::Version" and attr == "Version":
            return "1"
        if kind == "AWS::Lambda::Version" and attr == "FunctionArn":
            return self.function_arn(self._function_of(self.resources[name].get("Properties") or {}))
        if kind == "AWS::IAM::Role" and attr == "Arn":
            return f"arn:aws:iam::{self.account}:role/{self.ref(name)}"
        if kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm") and attr == "Arn":
            return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{self.ref(name)}"
        if kind == "AWS::Connect::ContactFlow" and attr == "ContactFlowArn":
            instance = self.resolver.value((self.resources[name].get("Properties") or {}).get("InstanceArn", ""))
            return f"{instance}/contact-flow/{hashlib.sha1(name.encode()).hexdigest()[:8]}-{name}"
        if kind == "AWS::DynamoDB::Table" and attr in ("Arn", "StreamArn"):
            arn = f"arn:aws:dynamodb:{self.region}:{self.account}:table/{self.ref(name)}"
            return arn if attr == "Arn" else f"{arn}/stream/{STREAM_OF}"
        if kind in _SERVED and (attr, kind) in _SERVED_ATTRIBUTES:
            return _SERVED_ATTRIBUTES[(attr, kind)](self, name)
        if kind == "AWS::Connect::Instance" and attr in ("Arn", "Id"):
            arn = f"arn:aws:connect:{self.region}:{self.account}:instance/{hashlib.sha1(name.encode()).hexdigest()[:32]}"
            return arn if attr == "Arn" else arn.rsplit("/", 1)[1]
        if attr == "Arn":
            return f"arn:aws:{kind.split('::')[1].lower() if '::' in kind else 'unknown'}:{self.region}:{self.account}:{name}"
        raise TemplateError(f"{self.where}: Fn::GetAtt {name}.{attr}: shiftsim does not model that "
                            f"attribute of {kind}")

    def _function_of(self, props: dict[str, Any]) -> str:
        """The logical id of the function a Version or Alias names."""
        target = props.get("FunctionName")
        if isinstance(target, dict) and "Ref" in target:
            return str(target["Ref"])
        value = str(self.resolver.value(target))
        for name in self.resources:
            if self.kind(name) == "AWS::Lambda::Function" and self.function_name(name) == value.rsplit(":", 1)[-1]:
                return name
        raise TemplateError(f"{self.where}: FunctionName {value!r} is not a function of this template")


def load_template(path: str | Path, *, region: str, account: str, parameters: dict[str, Any] | None = None,
                  new_code: Path | None = None, new_ref: str | None = None, deploy_function: str | None = None,
                  flow: str | None = None, layers: dict[str, str] | None = None,
                  resolve: dict[str, str] | None = None) -> TemplateStack:
    """The stack a template describes. `new_code` (a folder) or `new_ref` (a git ref of the
    repository holding the deployed function's code): what the deployment publishes as the new
    version (the user's change); without either, the template's own code again. `layers`: published
    layers' ARNs to the folders that stand for them (`[stack.layers]`); `resolve`: dynamic references'
    values (`[stack.resolve]`)."""
    where = Path(path)
    cfn, sources = cloudformation(where, region, account, parameters or {})
    sources.published = dict(layers or {})
    stack = _Stack(cfn, region, account, where.stem, dict(parameters or {}), where)
    try:
        stack.dynamic = stack.dynamic_values(resolve or {})
        return replace(_read_stack(stack, where, sources, new_code, new_ref, deploy_function, flow),
                       disabled=sources.disabled)
    except TemplateError:
        raise  # already one line naming its place (a code folder, a build)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        # a property of a type or value no deployment would take: CloudFormation refuses such a stack
        where_in = f" (in Resources.{stack.current})" if stack.current else ""
        raise TemplateError(f"{where}: a resource's property has a type or value CloudFormation would refuse"
                            f"{where_in}: {type(exc).__name__}: {exc}".replace("\n", " ")) from None


def _read_stack(stack: _Stack, where: Path, sources: TemplateSources, new_code: Path | None, new_ref: str | None,
                deploy_function: str | None, flow: str | None) -> TemplateStack:
    notes: list[str] = []
    unfaithful: list[str] = []  # what makes the verdict itself unfaithful: said, and it fails the run
    functions = {name: _function(stack, name, sources, notes) for name in stack.resources
                 if stack.kind(name) == "AWS::Lambda::Function"}
    aliases: dict[str, list[AliasSpec]] = {}
    groups: list[tuple[str, str, str, dict[str, Any]]] = []  # (group, function, alias, update policy)
    for name, resource in stack.resources.items():
        if stack.kind(name) == "AWS::Lambda::Version" and (resource.get("Properties") or {}).get("ProvisionedConcurrencyConfig"):
            notes.append(f"{stack._function_of(resource['Properties'])}: the provisioned concurrency of its published "
                         f"version ({name}: AWS::Lambda::Version ProvisionedConcurrencyConfig) is not rehearsed: that "
                         "version's invocations start cold here; on the alias (AWS::Lambda::Alias, or SAM's "
                         "ProvisionedConcurrencyConfig beside AutoPublishAlias) it is rehearsed")
        if stack.kind(name) != "AWS::Lambda::Alias":
            continue
        props = stack.properties(name)
        function = stack._function_of(resource.get("Properties") or {})
        aliases.setdefault(function, []).append(AliasSpec(str(props["Name"]), "1", description=str(props.get("Description", "")),
                                                           provisioned_concurrency=_provisioned(stack, function, props)))
        update = (resource.get("UpdatePolicy") or {}).get("CodeDeployLambdaAliasUpdate")
        if update:
            policy = stack.resolver.value(update)
            groups.append((str(policy["DeploymentGroupName"]), function, str(props["Name"]), policy))
    specs = {name: FunctionSpec(**{**spec.__dict__, "aliases": tuple(aliases.get(name, ()))})
             for name, spec in functions.items()}
    for name, spec in specs.items():
        refused = spec.provisioned_beyond_reserved()
        if refused is not None:
            raise TemplateError(f"{stack.where}: Resources.{name}: {refused}")
    alarms = (*(_alarm(stack, name) for name in stack.resources if stack.kind(name) == "AWS::CloudWatch::Alarm"),
              *(_composite(stack, name) for name in stack.resources if stack.kind(name) == "AWS::CloudWatch::CompositeAlarm"))
    deployment = _deployment(stack, groups, deploy_function, specs, notes)
    if deployment is not None:
        logical = next(n for n, s in specs.items() if s.name == deployment.function)
        deployment = replace(deployment, version_references=_version_references(stack, logical))
        current = specs[logical].versions[0].code
        if new_ref is not None and current is not None and current.path:
            new_code = code_at_ref(Path(current.path), new_ref)
        if new_code is not None:
            specs[logical] = _with_new_code(specs[logical], new_code)
        if current is not None and not current.runs_here:
            unfaithful.append(f"the deployed function {deployment.function}'s code does not run here (a stand-in "
                              "answers for it): what its versions do is not rehearsed")
        unresolved = _unresolved_variables(stack, logical)
        if unresolved:
            unfaithful.append(f"the deployed function {deployment.function}'s environment keeps dynamic references "
                              f"unresolved ({', '.join(unresolved)}): its versions run with the references' text, not "
                              "the values production's get; give them in the scenario's [stack.resolve]")
        if new_code is None:
            notes.append(f"the deployment publishes {deployment.function}'s code unchanged (give the "
                         "change with new_code or new_ref)")
    for name in stack.resources:
        kind = stack.kind(name)
        if kind not in _USED and kind not in _UNCHECKED:
            notes.append(f"{name} ({kind}) is not emulated: calls to it fail")
    unchecked = sorted({stack.kind(n) for n in stack.resources if stack.kind(n) in _UNCHECKED})
    if unchecked:
        notes.append(f"not checked: {', '.join(unchecked)} (permissions are not enforced)")
    tables = tuple(_table(stack, name) for name in stack.resources if stack.kind(name) == "AWS::DynamoDB::Table")
    mappings = tuple(_event_source(stack, name, specs) for name in stack.resources
                     if stack.kind(name) == "AWS::Lambda::EventSourceMapping")
    resources = tuple(_served(stack, name) for name in stack.resources if stack.kind(name) in _SERVED)
    for served in resources:
        for key, what in (("Subscription", "its subscriptions are not delivered"),
                          ("NotificationConfiguration", "its notifications are not sent")):
            if key in served.properties:
                notes.append(f"{served.kind} {served.name}: made, but {what} (moto keeps what it is sent)")
    return TemplateStack(tuple(specs.values()), alarms, deployment, _flows(stack, where, flow, notes),
                         notes + unfaithful, tables, mappings, tuple(unfaithful), resources)


def _unresolved_variables(stack: _Stack, function: str) -> list[str]:
    """A function's environment variables that keep a dynamic reference nothing here resolves."""
    variables = (stack.properties(function).get("Environment") or {}).get("Variables") or {}
    return [name for name, value in variables.items() if resolved(str(value), stack.dynamic)[1]]


def _version_references(stack: _Stack, deployed: str) -> tuple[tuple[str, str, str], ...]:
    """The other functions' environment variables that hold the deployed function's version."""
    versions = {n for n in stack.resources if stack.kind(n) == "AWS::Lambda::Version"
                and stack._function_of(stack.resources[n].get("Properties") or {}) == deployed}
    found = []
    for name in stack.resources:
        if stack.kind(name) != "AWS::Lambda::Function" or name == deployed:
            continue
        variables = ((stack.resources[name].get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        for variable, raw in variables.items():
            if isinstance(raw, dict) and raw.get("Ref") in versions:
                found.append((stack.function_name(name), str(variable), "arn"))
            elif isinstance(raw, dict) and isinstance(raw.get("Fn::GetAtt"), list) and raw["Fn::GetAtt"][:2] in (
                    [v, "Version"] for v in versions):
                found.append((stack.function_name(name), str(variable), "number"))
    return tuple(found)


def _table(stack: _Stack, name: str) -> TableSpec:
    props = stack.properties(name)
    table = str(stack.ref(name))
    parameters = {"TableName": table, **{key: props[key] for key in _TABLE_KEYS if key in props}}
    parameters.setdefault("BillingMode", "PAY_PER_REQUEST" if "ProvisionedThroughput" not in props else "PROVISIONED")
    stream = parameters.get("StreamSpecification")
    if stream is not None:
        parameters["StreamSpecification"] = {"StreamEnabled": True, **stream}
    return TableSpec(table, parameters)


def _provisioned(stack: _Stack, function: str, props: dict[str, Any]) -> int | None:
    """An alias's ProvisionedConcurrencyConfig (where SAM's transform puts a function's), as a count;
    a bad one is said at the function, where it is written."""
    config = props.get("ProvisionedConcurrencyConfig")
    if config is None:
        return None
    count: Any = config.get("ProvisionedConcurrentExecutions") if isinstance(config, dict) else None
    try:
        value = int(count)  # a parameter's value comes as text
    except (TypeError, ValueError):
        value = 0
    if isinstance(count, bool) or value < 1:
        raise TemplateError(f"{stack.where}: Resources.{function}: alias {props.get('Name')}'s ProvisionedConcurrencyConfig: "
                            f"ProvisionedConcurrentExecutions must be a whole number of at least 1, got {count!r}")
    return value


def _event_source(stack: _Stack, name: str, specs: dict[str, FunctionSpec]) -> EventSourceSpec:
    props = stack.properties(name)
    source = str(props.get("EventSourceArn", ""))
    function = str(props["FunctionName"])
    if function.startswith("arn:"):
        function = ":".join(function.split(":")[6:8])
    if source.startswith("arn:aws:sqs:"):
        batch = int(props.get("BatchSize", 10))
        if not 1 <= batch <= 10:
            raise TemplateError(f"{stack.where}: Resources.{name}: BatchSize {batch} for an SQS queue: at most 10 "
                                "are served (a larger batch needs a batching window, which is not)")
        return EventSourceSpec(table="", function=function, starting_position="", batch_size=batch,
                               queue=source.rsplit(":", 1)[1])
    if ":dynamodb:" not in source or "/stream/" not in source:
        raise TemplateError(f"{stack.where}: Resources.{name}: only DynamoDB stream and SQS queue event sources are "
                            f"emulated, not {source or 'this one'}")
    return EventSourceSpec(table=source.split(":table/")[1].split("/")[0], function=function,
                           starting_position=str(props.get("StartingPosition", "LATEST")),
                           batch_size=int(props.get("BatchSize", 100)))


def _function(stack: _Stack, name: str, sources: TemplateSources, notes: list[str]) -> FunctionSpec:
    props = stack.properties(name)
    runtime = str(props.get("Runtime", "python3.12"))
    handler = str(props.get("Handler", "index.handler"))
    environment = {}
    for variable, value in ((props.get("Environment") or {}).get("Variables") or {}).items():
        environment[variable], unresolved = resolved(str(value), stack.dynamic)
        if unresolved:
            notes.append(unresolved_said(name, variable, unresolved))
    folder = sources.folders.get(name)
    code_props = props.get("Code") or {}
    if folder is None and "ZipFile" in code_props:
        folder = _inline_code(str(code_props["ZipFile"]), runtime)
    if folder is None:
        notes.append(f"{name}: its code is in S3 or an image, which shiftsim cannot fetch; a stand-in "
                     "handler answers {\"version\": N}")
        code = CodeSpec(path="", handler=handler, runtime=runtime)
    else:
        code = with_dependencies(CodeSpec(path=str(folder), handler=handler, runtime=runtime, environment=environment,
                                          esbuild=_esbuild_properties(stack, name, runtime, notes),
                                          layers=_layers(stack, name, runtime, sources, notes)))
        notes.extend(runtime_notes(name, code))
    if "FunctionName" not in (stack.resources[name].get("Properties") or {}):
        notes.append(f"{name}: no FunctionName; named {name} here (CloudFormation adds the stack name "
                     "and a suffix)")
    notes.extend(_unrehearsed_properties(name, props))
    reserved = props.get("ReservedConcurrentExecutions")
    version = VersionSpec(handler=handler, description="the template's code", code=code)
    return FunctionSpec(name=stack.function_name(name), timeout=int(props.get("Timeout", 3)),
                        memory=int(props.get("MemorySize", 128)),
                        reserved_concurrency=int(reserved) if reserved is not None else None,
                        versions=(version,), staged=version)


def _unrehearsed_properties(name: str, props: dict[str, Any]) -> list[str]:
    """A function's properties that change how it runs in production, which the rehearsal does not
    reproduce: each said at start, with what differs."""
    said = []
    snap_start = props.get("SnapStart")
    if isinstance(snap_start, dict) and snap_start.get("ApplyOn") == "PublishedVersions":
        said.append(f"{name}: SnapStart is not rehearsed: a cold start here runs the whole init phase, where "
                    "production restores a snapshot of it")
    if props.get("FileSystemConfigs"):
        paths = ", ".join(str(c.get("LocalMountPath")) for c in props["FileSystemConfigs"] if isinstance(c, dict))
        said.append(f"{name}: its file system (FileSystemConfigs: {paths}) is not mounted here: code that reads or "
                    "writes there fails")
    if props.get("VpcConfig"):
        said.append(f"{name}: it runs outside its VPC here (VpcConfig): hosts only the VPC reaches (a database, a "
                    "private endpoint) cannot be reached")
    logging_config = props.get("LoggingConfig")
    if isinstance(logging_config, dict) and str(logging_config.get("LogFormat", "")).upper() == "JSON":
        said.append(f"{name}: LoggingConfig LogFormat JSON is not rehearsed: its log lines are text here (START, "
                    "END, REPORT and the code's own), so a metric filter that reads them as JSON matches differently")
    return said


def _layers(stack: _Stack, name: str, runtime: str, sources: TemplateSources, notes: list[str]) -> tuple[str, ...]:
    """The import paths a function's Layers give it, as Lambda extracts them into /opt: the template's
    own layers (built as `sam build` builds them where their BuildMethod says); a layer this machine
    does not have (a published layer's ARN) is said."""
    paths: list[str] = []
    listed = (stack.resources[name].get("Properties") or {}).get("Layers")
    for entry in listed if isinstance(listed, list) else []:
        target = entry.get("Ref") if isinstance(entry, dict) and isinstance(entry.get("Ref"), str) else None
        content = ((stack.resources.get(target) or {}).get("Properties") or {}).get("Content") if target else None
        key = content.get("S3Key") if isinstance(content, dict) and content.get("S3Bucket") == LOCAL_BUCKET else None
        if key is not None and key in sources.folders:
            paths.extend(layer_paths(sources.folders[key], runtime, sources.layer_builds.get(key)))
            continue
        arn = str(target or stack.resolver.value(entry))
        given = sources.published.get(arn) or sources.published.get(arn.rpartition(":")[0])
        if given is not None:
            paths.extend(layer_paths(Path(given), runtime, None))
            continue
        notes.append(f"{name}: layer {arn} is not in the template's folders (a published layer): what it gives "
                     "/opt is not there here; give a folder laid out as it is in [stack.layers]")
    return tuple(paths)


def _esbuild_properties(stack: _Stack, name: str, runtime: str, notes: list[str]) -> str:
    """A function's BuildProperties as JSON text where its Metadata's BuildMethod is esbuild; a build
    method shiftsim does not run (a Makefile, say) is said, and the folder runs as it is."""
    metadata = stack.resources[name].get("Metadata") or {}
    method = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
    if method == "esbuild":
        properties = stack.resolver.value(metadata.get("BuildProperties") or {})
        if not isinstance(properties, dict):
            raise TemplateError(f"{stack.where}: Resources.{name}.Metadata.BuildProperties: must be a mapping")
        return json.dumps(properties, sort_keys=True)
    if method is not None and method != runtime:
        notes.append(f"{name}: BuildMethod {method} builds it for `sam build`, which shiftsim does not run: its "
                     "folder runs as it is")
    return ""


def _private_folder(prefix: str) -> Path:
    """A fresh folder of this process's (mkdtemp, 0700), removed when the process that made it exits:
    not by a Locust worker forked from it, which inherits the exit hook and would remove the
    master's folder from under it."""
    folder, owner = Path(tempfile.mkdtemp(prefix=prefix)), os.getpid()

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    return folder


_inline_folders: dict[tuple[str, str], Path] = {}  # (source's hash, runtime) -> this process's folder


def _inline_code(source: str, runtime: str) -> Path:
    """InlineCode is Lambda's `index` module (index.py): written once per process to a fresh private
    folder (mkdtemp, 0700), never to one found by name that another local user could have planted."""
    key = (hashlib.sha256(source.encode()).hexdigest(), runtime)
    folder = _inline_folders.get(key)
    if folder is None:
        folder = _inline_folders[key] = _private_folder(f"shiftsim-inline-{key[0][:12]}-")
        suffix = ".py" if runtime.startswith("python") else ".js"
        (folder / f"index{suffix}").write_text(source, encoding="utf-8")
    return folder


def _with_new_code(spec: FunctionSpec, folder: Path) -> FunctionSpec:
    current = spec.versions[0].code
    assert current is not None
    code = with_dependencies(CodeSpec(path=str(folder), handler=current.handler, runtime=current.runtime,
                                      environment=current.environment, esbuild=current.esbuild, layers=current.layers))
    staged = VersionSpec(handler=current.handler, description=f"new code from {folder}", code=code)
    return FunctionSpec(**{**spec.__dict__, "staged": staged})


def _alarm(stack: _Stack, name: str) -> AlarmSpec:
    props = stack.properties(name)
    parameters = {key: props[key] for key in _ALARM_KEYS if key in props}
    parameters["AlarmName"] = str(stack.ref(name))
    if "Dimensions" in props:
        parameters["Dimensions"] = [{"Name": str(d["Name"]), "Value": str(d["Value"])} for d in props["Dimensions"]]
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        if key in props:
            parameters[key] = [str(a) for a in props[key]]
    dimensions = {d["Name"]: d["Value"] for d in parameters.get("Dimensions", [])}
    return AlarmSpec(name=parameters["AlarmName"], metric=str(props.get("MetricName", "")),
                     namespace=str(props.get("Namespace", "")), dimensions=dimensions,
                     statistic=str(props.get("Statistic", props.get("ExtendedStatistic", ""))),
                     period=int(props.get("Period", 60)), evaluation_periods=int(props.get("EvaluationPeriods", 1)),
                     threshold=float(props.get("Threshold", 0.0)),
                     comparison=str(props.get("ComparisonOperator", "")), parameters=parameters)


_SERVED_ATTRIBUTES: dict[tuple[str, str], Callable[[_Stack, str], Any]] = {
    ("Arn", "AWS::SQS::Queue"): lambda st, n: f"arn:aws:sqs:{st.region}:{st.account}:{st.served_name(n)}",
    ("QueueName", "AWS::SQS::Queue"): lambda st, n: st.served_name(n),
    ("QueueUrl", "AWS::SQS::Queue"): lambda st, n: st.ref(n),
    ("TopicArn", "AWS::SNS::Topic"): lambda st, n: st.ref(n),
    ("TopicName", "AWS::SNS::Topic"): lambda st, n: st.served_name(n),
    ("Arn", "AWS::S3::Bucket"): lambda st, n: f"arn:aws:s3:::{st.served_name(n)}",
    ("DomainName", "AWS::S3::Bucket"): lambda st, n: f"{st.served_name(n)}.s3.amazonaws.com",
    ("RegionalDomainName", "AWS::S3::Bucket"): lambda st, n: f"{st.served_name(n)}.s3.{st.region}.amazonaws.com",
    ("Type", "AWS::SSM::Parameter"): lambda st, n: str(st.resolver.value(_raw(st, n).get("Type", "String"))),
    ("Value", "AWS::SSM::Parameter"): lambda st, n: str(st.resolver.value(_raw(st, n).get("Value", ""))),
    ("Id", "AWS::SecretsManager::Secret"): lambda st, n: st.ref(n),
}


def _raw(stack: _Stack, name: str) -> dict[str, Any]:
    """A resource's properties unresolved (resolved one by one, where another resource's are being read)."""
    return stack.resources[name].get("Properties") or {}


def _served(stack: _Stack, name: str) -> ResourceSpec:
    props = stack.properties(name)
    return ResourceSpec(stack.kind(name), stack.served_name(name),
                        {k: v for k, v in props.items() if k not in (_SERVED[stack.kind(name)], "Tags")})


def _composite(stack: _Stack, name: str) -> AlarmSpec:
    """A composite alarm: PutCompositeAlarm's parameters; its state is its rule's over the alarms it names."""
    props = stack.properties(name)
    parameters = {key: props[key] for key in _COMPOSITE_KEYS if key in props}
    parameters["AlarmName"] = str(stack.ref(name))
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        if key in props:
            parameters[key] = [str(a) for a in props[key]]
    rule = str(props.get("AlarmRule", ""))
    try:
        parse_rule(rule)
    except RuleError as exc:  # as PutCompositeAlarm would refuse it
        raise TemplateError(f"{stack.where}: Resources.{name}.Properties.AlarmRule: {exc}") from None
    return AlarmSpec(name=parameters["AlarmName"], metric="", namespace="", statistic="", comparison="",
                     parameters=parameters, rule=rule)


def _deployment(stack: _Stack, groups: list[tuple[str, str, str, dict[str, Any]]], deploy_function: str | None,
                specs: dict[str, FunctionSpec], notes: list[str]) -> DeploymentSpec | None:
    if not groups:
        return None
    by_name = {stack.function_name(function): (group, function, alias, policy) for group, function, alias, policy in groups}
    if deploy_function is not None and deploy_function not in by_name:
        raise TemplateError(f"{stack.where}: no DeploymentPreference for function {deploy_function!r} "
                            f"(functions with one: {', '.join(by_name)})")
    chosen = by_name[deploy_function] if deploy_function else next(iter(by_name.values()))
    for name, (_, function, _, _) in by_name.items():
        if function != chosen[1]:
            notes.append(f"{name} has a DeploymentPreference too; this rehearsal deploys {specs[chosen[1]].name} "
                         "(choose with [deployment] function)")
    group_name, function, alias, policy = chosen
    group_id = next(n for n in stack.resources if stack.kind(n) == "AWS::CodeDeploy::DeploymentGroup"
                    and str(stack.ref(n)) == group_name)
    group = stack.properties(group_id)
    config = str(group.get("DeploymentConfigName", CONFIG_PREFIX + "AllAtOnce"))
    custom = None
    config_id = next((n for n in stack.resources if stack.kind(n) == "AWS::CodeDeploy::DeploymentConfig"
                      and str(stack.ref(n)) == config), None)
    if config_id is not None:
        custom = _traffic_routing(stack, config_id)
    else:
        try:
            deployment_config_name(config)  # a predefined one, or what CodeDeploy would refuse at deploy time
        except ValueError as exc:
            raise TemplateError(f"{stack.where}: Resources.{function}: DeploymentPreference Type: {exc}") from None
    alarms_config = group.get("AlarmConfiguration") or {}
    alarms = tuple(str(a["Name"]) for a in alarms_config.get("Alarms", [])) if alarms_config.get("Enabled", True) else ()
    rollback = group.get("AutoRollbackConfiguration") or {}
    hooks = {key: _hook_function(stack, policy.get(key)) for key in ("BeforeAllowTrafficHook", "AfterAllowTrafficHook")}
    return DeploymentSpec(
        application=str(group["ApplicationName"]), group=group_name, function=specs[function].name, alias=alias,
        config=config, custom_config=custom, alarms=alarms, auto_rollback=bool(rollback.get("Enabled", False)),
        pre_traffic_hook=hooks["BeforeAllowTrafficHook"], post_traffic_hook=hooks["AfterAllowTrafficHook"])


def _hook_function(stack: _Stack, value: Any) -> str | None:
    return None if value is None else str(value).rsplit(":", 1)[-1] if str(value).startswith("arn:") else str(value)


def _traffic_routing(stack: _Stack, name: str) -> TrafficRouting:
    routing = stack.properties(name).get("TrafficRoutingConfig") or {}
    kind = routing.get("Type", "AllAtOnce")
    if kind == "TimeBasedCanary":
        canary = routing.get("TimeBasedCanary") or {}
        return TrafficRouting(kind, int(canary.get("CanaryPercentage", 0)), int(canary.get("CanaryInterval", 0)))
    if kind == "TimeBasedLinear":
        linear = routing.get("TimeBasedLinear") or {}
        return TrafficRouting(kind, int(linear.get("LinearPercentage", 0)), int(linear.get("LinearInterval", 0)))
    return TrafficRouting("AllAtOnce")


# The flow files written from templates' ContactFlow resources, and the resource each came from
FLOW_SOURCES: dict[str, str] = {}


def as_written(message: str) -> str:
    """A message naming a flow file written from a template, naming the template's resource instead."""
    for path, source in FLOW_SOURCES.items():
        if path in message:
            message = message.replace(path, source)
    return message


_flow_folders: dict[str, Path] = {}  # the flows' content hash -> this process's folder of them


def _flows(stack: _Stack, where: Path, entry: str | None, notes: list[str]) -> str | None:
    """The template's ContactFlow resources written as exported flows, in a folder named by their
    content; the entry flow's path (the one named, or the first of type CONTACT_FLOW)."""
    flows, resources = [], []
    for name in stack.resources:
        if stack.kind(name) == "AWS::Connect::ContactFlow":
            props = stack.properties(name)
            content = props.get("Content")
            if not isinstance(content, str):
                raise TemplateError(f"{where}: Resources.{name}.Properties.Content: must be the flow's JSON as a string")
            flow_name = props.get("Name", name)
            if not isinstance(flow_name, str) or not flow_name.strip(". ") or "/" in flow_name or "\0" in flow_name:
                raise TemplateError(f"{where}: Resources.{name}.Properties.Name: {flow_name!r:.60} cannot name a flow "
                                    "here (a string, without '/': it names the flow's file)")
            flows.append((flow_name, str(props.get("Type", "CONTACT_FLOW")), content))
            resources.append(name)
    if not flows:
        if entry is not None:
            raise TemplateError(f"{where}: [stack] flow = {entry!r}, but the template has no AWS::Connect::ContactFlow")
        return None
    digest = hashlib.sha256(json.dumps(flows).encode()).hexdigest()[:16]
    folder = _flow_folders.get(digest)
    if folder is None:  # private (mkdtemp, 0700), as _inline_code's: never a folder found by name in /tmp
        folder = _flow_folders[digest] = _private_folder(f"shiftsim-flows-{digest}-")
    for (flow_name, _, content), resource in zip(flows, resources, strict=True):
        path = folder / f"{flow_name}.json"
        path.write_text(content, encoding="utf-8")
        FLOW_SOURCES[str(path)] = f"{where}: Resources.{resource}.Properties.Content"
    names = [n for n, _, _ in flows]
    if entry is not None and entry not in names:
        raise TemplateError(f"{where}: [stack] flow = {entry!r} is not a flow of the template ({', '.join(names)})")
    chosen = entry or next((n for n, kind, _ in flows if kind == "CONTACT_FLOW"), names[0])
    return str(folder / f"{chosen}.json")
