"""The stack's resources that the services moto answers hold (SQS queues, SNS topics, S3 buckets, SSM
parameters, Secrets Manager secrets), made through each service's own API from their CloudFormation
properties, before the load: the user's code finds them under the names `Ref` and `GetAtt` gave it.
What CloudFormation would refuse, the service refuses here, said in one line naming the resource.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from typing import Any

from simulator.scenario.spec import ResourceSpec

Client = Callable[[str], Any]  # a boto3 client of moto's service, by name


def make_resources(resources: tuple[ResourceSpec, ...], client: Client, region: str) -> None:
    """Make each resource, one that names another (a queue's dead-letter queue) after it, as
    CloudFormation orders them; raise ValueError naming one its service refused."""
    pending = list(resources)
    while pending:
        refused: list[tuple[ResourceSpec, Exception]] = []
        for resource in pending:
            try:
                _MAKERS[resource.kind](resource, client, region)
            except Exception as exc:  # the service's refusal (botocore's ClientError or ParamValidationError)
                refused.append((resource, exc))
        if len(refused) == len(pending):  # nothing made this round: no order makes these
            first, why = refused[0]
            raise ValueError(f"{first.kind} {first.name}: {why}")
        pending = [resource for resource, _ in refused]


def _attributes(props: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, str]:
    """CloudFormation's properties as a service's string attributes (objects as JSON, booleans as true/false)."""
    made = {}
    for key, value in props.items():
        if key in skip:
            continue
        if isinstance(value, bool):
            made[key] = "true" if value else "false"
        elif isinstance(value, dict | list):
            made[key] = json.dumps(value)
        else:
            made[key] = str(value)
    return made


def _queue(resource: ResourceSpec, client: Client, region: str) -> None:
    attributes = _attributes(resource.properties)
    client("sqs").create_queue(QueueName=resource.name, Attributes=attributes)


def _topic(resource: ResourceSpec, client: Client, region: str) -> None:
    attributes = _attributes(resource.properties, skip=("Subscription",))
    client("sns").create_topic(Name=resource.name, Attributes=attributes)


def _bucket(resource: ResourceSpec, client: Client, region: str) -> None:
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    client("s3").create_bucket(Bucket=resource.name, **where)


def _parameter(resource: ResourceSpec, client: Client, region: str) -> None:
    props = resource.properties
    client("ssm").put_parameter(Name=resource.name, Value=str(props.get("Value", "")),
                                Type=str(props.get("Type", "String")),
                                **({"Description": str(props["Description"])} if "Description" in props else {}))


def _secret(resource: ResourceSpec, client: Client, region: str) -> None:
    props = resource.properties
    value = props.get("SecretString")
    if value is None:  # GenerateSecretString: a password, alone or as a key of its template's JSON
        spec = props.get("GenerateSecretString") or {}
        password = _password(int(spec.get("PasswordLength", 32)), str(spec.get("ExcludeCharacters", "")))
        template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
        value = json.dumps({**json.loads(template), key: password}) if template and key else password
    client("secretsmanager").create_secret(Name=resource.name, SecretString=str(value),
                                           **({"Description": str(props["Description"])} if "Description" in props else {}))


def _password(length: int, excluded: str) -> str:
    alphabet = [c for c in string.ascii_letters + string.digits + "!#$%&()*+,-.:;<=>?[]^_{|}~" if c not in excluded]
    return "".join(secrets.choice(alphabet) for _ in range(max(1, length)))


_MAKERS: dict[str, Callable[[ResourceSpec, Client, str], None]] = {
    "AWS::SQS::Queue": _queue, "AWS::SNS::Topic": _topic, "AWS::S3::Bucket": _bucket,
    "AWS::SSM::Parameter": _parameter, "AWS::SecretsManager::Secret": _secret,
}
