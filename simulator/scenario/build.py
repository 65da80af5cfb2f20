"""What `sam build` makes of a function's code before it runs: Python's requirements installed beside
it, Node.js's package.json dependencies and the runtime's AWS SDK, or an esbuild bundle where the
template's BuildMethod says so (with the runtime's SDK beside it)."""

from __future__ import annotations

import json
from dataclasses import replace

from simulator.scenario.dependencies import dependencies_of, node_build
from simulator.scenario.esbuild import esbuild_build
from simulator.scenario.spec import CodeSpec


def with_dependencies(code: CodeSpec) -> CodeSpec:
    """The code with its dependencies installed, as `sam build` would."""
    if not code.runs_here:
        return code
    if code.node and code.esbuild:
        bundled = esbuild_build(code.path, code.runtime, json.loads(code.esbuild))
        return replace(code, dependencies=str(node_build(bundled, code.runtime) or bundled))
    installed = node_build(code.path, code.runtime) if code.node else dependencies_of(code.path)
    return replace(code, dependencies=str(installed)) if installed is not None else code
