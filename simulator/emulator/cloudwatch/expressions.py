"""Metric math for alarms (`Metrics` with an `Expression`): arithmetic over the queries' ids, as the
error-rate alarm `100 * errors / invocations` needs. Parsed once with Python's own parser and
checked to hold nothing but numbers, ids, + - * / and parentheses; evaluated per period, a missing
value (or a division by zero) making the result missing, as CloudWatch's math does."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping

_OPERATORS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


class ExpressionError(ValueError):
    pass


MAX_LENGTH = 2048  # MetricDataQuery.Expression's length constraint
MAX_DEPTH = 100  # operators nested: evaluation recurses, and a long chain of them would exhaust the stack


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


class Expression:
    def __init__(self, text: str, ids: set[str]) -> None:
        if len(text) > MAX_LENGTH:
            raise ExpressionError(f"Invalid metrics expression: longer than {MAX_LENGTH} characters ({len(text)})")
        if text.lstrip().upper().startswith("SELECT"):
            raise ExpressionError("Metrics Insights queries (SELECT ...) are not emulated by shiftsim: use metric "
                                  "math over MetricStat queries.")
        try:
            tree = ast.parse(text, mode="eval").body
        except (SyntaxError, RecursionError, MemoryError):
            raise ExpressionError(f"Invalid metrics expression: {text[:200]}") from None
        if _depth(tree) > MAX_DEPTH:
            raise ExpressionError(f"Invalid metrics expression: more than {MAX_DEPTH} operations nested")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id not in ids:
                raise ExpressionError(f"Invalid metrics expression: {text}: unknown id {node.id}")
            if not isinstance(node, (ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd, ast.Name, ast.Load, ast.Constant,
                                     *_OPERATORS)) or (isinstance(node, ast.Constant)
                                                       and not isinstance(node.value, (int, float))):
                raise ExpressionError(f"Invalid metrics expression: {text}: only numbers, ids, + - * / and "
                                      "parentheses are evaluated by the shiftsim emulator")
        self.text, self.tree = text, tree
        self.ids = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}

    def value(self, values: Mapping[str, float | None]) -> float | None:
        return _value(self.tree, values)


def _value(node: ast.AST, values: Mapping[str, float | None]) -> float | None:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, (int, float))  # checked when parsed
        return float(node.value)
    if isinstance(node, ast.Name):
        return values.get(node.id)
    if isinstance(node, ast.UnaryOp):
        inner = _value(node.operand, values)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    assert isinstance(node, ast.BinOp)
    left, right = _value(node.left, values), _value(node.right, values)
    if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
        return None
    return _OPERATORS[type(node.op)](left, right)
