"""CloudFormation's intrinsic functions over a transformed template: `Ref`, `Fn::GetAtt`, `Fn::Sub`,
`Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::If` (with the template's Conditions), `Fn::FindInMap`,
`Fn::Base64` and the pseudo parameters, resolved to the values the stack's resources have once
deployed. What cannot be known without AWS (`Fn::ImportValue`, an attribute shiftsim does not model)
is a `TemplateError` naming the resource and the expression.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from simulator.input_error import InputError


class TemplateError(InputError):
    """A template shiftsim cannot build a stack from; the message names the file and the place."""


NO_VALUE = object()  # AWS::NoValue: the property is dropped
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Values of `Ref` and `Fn::GetAtt` come from `ref(name)` and `attribute(name, attr)`, which the
    stack builder gives (they know what each resource type yields)."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, Any],
                 ref: Callable[[str], Any], attribute: Callable[[str, str], Any], where: str) -> None:
        self.template, self.parameters = template, parameters
        self.ref, self.attribute, self.where = ref, attribute, where
        self.conditions: dict[str, bool] = {}

    def fail(self, message: str) -> TemplateError:
        return TemplateError(f"{self.where}: {message}")

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            definition = (self.template.get("Conditions") or {}).get(name)
            if definition is None:
                raise self.fail(f"condition {name!r} is not in Conditions")
            self.conditions[name] = bool(self._condition_value(definition))
        return self.conditions[name]

    def _condition_value(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (key, args), = node.items()
            if key == "Fn::Equals":
                left, right = (self.value(a) for a in args)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._condition_value(args[0])
            if key == "Fn::And":
                return all(self._condition_value(a) for a in args)
            if key == "Fn::Or":
                return any(self._condition_value(a) for a in args)
            if key == "Condition":
                return self.condition(args)
        return self.value(node)

    def value(self, node: Any) -> Any:
        """The node with every intrinsic function in it resolved (NO_VALUE members dropped)."""
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, args), = node.items()
            function = self._FUNCTIONS.get(key)
            if function is not None:
                return function(self, args)
            if key.startswith("Fn::"):
                raise self.fail(f"{key} is not an intrinsic function shiftsim resolves")
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in (self.template.get("Resources") or {}):
            return self.ref(name)
        raise self.fail(f"Ref {name!r}: no parameter or resource has that name")

    def _get_att(self, args: Any) -> Any:
        if isinstance(args, str):
            args = args.split(".", 1)
        name, attr = (self.value(a) for a in args)
        if name not in (self.template.get("Resources") or {}):
            raise self.fail(f"Fn::GetAtt {name}.{attr}: no resource has that name")
        return self.attribute(name, attr)

    def _sub(self, args: Any) -> str:
        text, variables = (args, {}) if isinstance(args, str) else (args[0], self.value(args[1]))

        def one(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in (self.template.get("Resources") or {}):
                return str(self._get_att(name))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(one, text).replace("${!", "${")

    def _join(self, args: Any) -> str:
        delimiter, items = args
        return str(delimiter).join(str(v) for v in self.value(items))

    def _select(self, args: Any) -> Any:
        index, items = self.value(args[0]), self.value(args[1])
        return items[int(index)]

    def _split(self, args: Any) -> list[str]:
        return str(self.value(args[1])).split(args[0])

    def _if(self, args: Any) -> Any:
        name, yes, no = args
        return self.value(yes if self.condition(name) else no)

    def _find_in_map(self, args: Any) -> Any:
        table, first, second = (self.value(a) for a in args)
        try:
            return self.template["Mappings"][table][first][second]
        except (KeyError, TypeError):
            raise self.fail(f"Fn::FindInMap [{table}, {first}, {second}]: not in Mappings") from None

    def _import_value(self, args: Any) -> Any:
        raise self.fail(f"Fn::ImportValue {self.value(args)!r}: another stack's export is not known "
                        "here; give the value as a template parameter")

    def _base64(self, args: Any) -> str:
        return base64.b64encode(str(self.value(args)).encode()).decode()

    _FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
        "Ref": lambda self, a: self._ref(self.value(a)), "Fn::GetAtt": _get_att, "Fn::Sub": _sub,
        "Fn::Join": _join, "Fn::Select": _select, "Fn::Split": _split, "Fn::If": _if,
        "Fn::FindInMap": _find_in_map, "Fn::ImportValue": _import_value, "Fn::Base64": _base64,
        "Condition": lambda self, a: self.condition(a),
    }
