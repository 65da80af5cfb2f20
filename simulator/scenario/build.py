"""What `sam build` makes of a function's code before it runs: Python's requirements installed beside
it, Node.js's package.json dependencies and the runtime's AWS SDK, or an esbuild bundle where the
template's BuildMethod says so (with the runtime's SDK beside it); and what of the code runs here
differently from Lambda, said."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

from simulator.scenario.dependencies import dependencies_of, node_build, node_version
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


def runtime_notes(function: str, code: CodeSpec) -> list[str]:
    """What differs from Lambda in how this code runs here: a runtime that does not run at all (a
    stand-in answers), or another version of Python or Node.js than the runtime's."""
    if not code.runs_here:
        return [f"{function}: runtime {code.runtime} does not run here; a stand-in handler answers "
                "{\"version\": N}"]
    if code.node:
        major = node_version().lstrip("v").split(".")[0]
        if code.runtime != f"nodejs{major}.x":
            return [f"{function}: {code.runtime} code runs on this machine's Node.js {node_version()}"]
    elif code.runtime != f"python{sys.version_info.major}.{sys.version_info.minor}":
        return [f"{function}: {code.runtime} code runs on this machine's Python "
                f"{sys.version_info.major}.{sys.version_info.minor}"]
    return []
