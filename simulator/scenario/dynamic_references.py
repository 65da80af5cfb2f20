"""CloudFormation's dynamic references in a template's strings (`{{resolve:ssm:/app/greeting}}`,
`{{resolve:secretsmanager:prod/api:SecretString:key}}`), which CloudFormation replaces with a
parameter's or a secret's value as it deploys: resolved from what the stack itself makes (its
`AWS::SSM::Parameter` and `AWS::SecretsManager::Secret` resources) and what the scenario's
`[stack.resolve]` gives, else left as they are and said. Pure: text and values in, text out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# the reference's service and what follows it, up to the closing braces
REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):([^}]*)\}\}")


@dataclass
class DynamicValues:
    """What the references can be resolved to: `given` by the reference's text without its braces and
    `resolve:` ("ssm:/app/greeting"), the stack's own parameters by name, its secrets' strings by name."""

    given: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def value(self, service: str, rest: str) -> str | None:
        """The value of `{{resolve:<service>:<rest>}}`, or None when nothing here gives it."""
        given = self.given.get(f"{service}:{rest}")
        if given is not None:
            return given
        if service == "ssm":  # ssm:name or ssm:name:version
            name = rest.rsplit(":", 1)[0] if re.search(r":\d+$", rest) else rest
            return self.parameters.get(name)
        if service == "secretsmanager":  # secret-id:SecretString:json-key:version-stage:version-id
            secret_id, _, tail = rest.partition(":SecretString")
            secret = self.secrets.get(secret_id)
            key = tail.lstrip(":").split(":", 1)[0]
            if secret is None or not key:
                return secret
            try:
                picked = json.loads(secret).get(key)
            except (ValueError, AttributeError):
                return None
            return None if picked is None else str(picked)
        return None


def resolved(text: str, values: DynamicValues) -> tuple[str, list[str]]:
    """`text` with each dynamic reference it holds replaced by its value, and the references nothing
    here gives (left as they are)."""
    unresolved: list[str] = []

    def one(match: re.Match[str]) -> str:
        value = values.value(match.group(1), match.group(2))
        if value is None:
            unresolved.append(match.group(0))
            return match.group(0)
        return value

    return REFERENCE.sub(one, text), unresolved


def unresolved_said(function: str, variable: str, references: list[str]) -> str:
    """The note for a function's environment variable whose references stay unresolved."""
    keys = ", ".join(f'"{ref[len("{{resolve:"):-2]}" = "..."' for ref in references)
    return (f"{function}: its environment's {variable} holds {', '.join(references)}, which CloudFormation "
            "resolves as it deploys and the stack does not make: the code gets the text as it is; give the "
            f"value in the scenario's [stack.resolve] ({keys})")
