"""A template's own Lambda layers as a function's import paths: what Lambda extracts into /opt, and
its runtime looks in (Python: /opt/python/lib/pythonX.Y/site-packages, then /opt/python; Node.js:
/opt/nodejs/nodeNN/node_modules, then /opt/nodejs/node_modules). A layer whose Metadata's BuildMethod
names a runtime is built as `sam build` builds it: its folder becomes python/ with its
requirements.txt installed beside it, or nodejs/ with its package.json's node_modules."""

from __future__ import annotations

import sys
from pathlib import Path

from simulator.scenario.dependencies import dependencies_of, node_build


def layer_paths(content: Path, runtime: str, build_method: str | None) -> list[str]:
    """The import paths of a layer whose content is `content`, for a function on `runtime`."""
    if runtime.startswith("nodejs"):
        if build_method and build_method.startswith("nodejs"):
            built = node_build(content, build_method) or content
            return [str(built / "node_modules")]
        major = runtime.removeprefix("nodejs").split(".")[0]
        return [str(content / "nodejs" / f"node{major}" / "node_modules"), str(content / "nodejs" / "node_modules")]
    if build_method and build_method.startswith("python"):
        installed = dependencies_of(content)
        return [str(content), *([str(installed)] if installed is not None else [])]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"  # the Python the code runs on here
    return [str(content / "python" / "lib" / version / "site-packages"), str(content / "python")]
