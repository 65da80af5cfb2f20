"""Whether each version's handler names code its folder has, read without running it: the module
file (Python: `module.py` or a package; Node.js: `.js`, `.mjs` or `.cjs`) and, in it, the name. A
handler that names nothing would make every call fail with Lambda's `Runtime.ImportModuleError` or
`Runtime.HandlerNotFound`: `validate` and `rehearse` refuse it at once, naming the file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from simulator.scenario.spec import CodeSpec, Scenario


def _python(code: CodeSpec) -> str | None:
    module, _, name = code.handler.rpartition(".")
    root = Path(code.path)
    relative = Path(*module.split("."))
    file = next((f for f in (root / relative.with_suffix(".py"), root / relative / "__init__.py") if f.is_file()), None)
    if not module or file is None:
        return f"no module {module!r} in {root} (Lambda would answer Runtime.ImportModuleError)"
    try:
        tree = ast.parse(file.read_bytes(), str(file))
    except (SyntaxError, ValueError) as exc:
        return f"{file}: not valid Python (line {getattr(exc, 'lineno', '?')}): {getattr(exc, 'msg', exc)}"
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    if name not in defined:
        return f"{file} defines no {name!r} (Lambda would answer Runtime.HandlerNotFound)"
    return None


def _node(code: CodeSpec) -> str | None:
    folder, _, tail = code.handler.rpartition("/")
    module, _, name = tail.partition(".")
    root = Path(code.dependencies or code.path)  # the build folder `sam build` made (a bundle, say), where it made one
    base = root / folder / module if folder else root / module
    file = next((base.with_suffix(s) for s in (".js", ".mjs", ".cjs") if base.with_suffix(s).is_file()), None)
    if not name or file is None:
        return f"no module {folder + '/' if folder else ''}{module} (.js, .mjs or .cjs) in {root} (Lambda would answer Runtime.ImportModuleError)"
    first = name.split(".")[0]
    if not re.search(rf"\b{re.escape(first)}\b", file.read_text(encoding="utf-8", errors="replace")):
        return f"{file} exports no {first!r} (Lambda would answer Runtime.HandlerNotFound)"
    return None


def handler_problems(scenario: Scenario) -> list[str]:
    """One line per version whose handler names code its folder does not have."""
    problems = []
    for fn in scenario.functions:
        versions = [*fn.versions, *([fn.staged] if fn.staged is not None else [])]
        seen: set[tuple[str, str]] = set()
        for version in versions:
            code = version.code
            if code is None or not code.runs_here or (code.path, code.handler) in seen:
                continue
            seen.add((code.path, code.handler))
            problem = _node(code) if code.node else _python(code)
            if problem is not None:
                problems.append(f"function {fn.name}: handler {code.handler}: {problem}")
    return problems
