"""A function's dependencies as `sam build` installs them: the `requirements.txt` beside its code
(SAM's convention for Python functions) installed with pip, once per content, into a build folder of
the user's cache (`$XDG_CACHE_HOME/shiftsim/dependencies/<hash>`), which the function's execution
environments then import from, after its own code. A requirement pip cannot install is the user's
input error, naming the package; an install is built in a private folder and moved into place whole,
so a half-built folder is never used."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from simulator.scenario.intrinsics import TemplateError
from simulator.scenario.spec import CodeSpec

REQUIREMENTS = "requirements.txt"
INSTALL_TIMEOUT_S = 600.0


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "shiftsim" / "dependencies"


def _key(requirements: Path) -> str:
    """What the build depends on: the requirements' content, the Python that runs the code, the machine."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}|{sys.platform}|{os.uname().machine}".encode())
    return digest.hexdigest()[:32]


def dependencies_of(code_folder: str | Path) -> Path | None:
    """The folder of the installed dependencies of the code in `code_folder`, installed now if they
    are not yet; None when it has no requirements.txt."""
    requirements = Path(code_folder) / REQUIREMENTS
    if not requirements.is_file():
        return None
    built = cache_root() / _key(requirements)
    if built.is_dir():
        return built
    built.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=built.parent))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
             "--no-warn-script-location", "--target", str(work), "-r", str(requirements.resolve())],
            cwd=str(code_folder), capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _remove(work)
        raise TemplateError(f"{requirements}: the dependencies could not be installed: {exc}") from None
    if done.returncode != 0:
        _remove(work)
        raise TemplateError(f"{requirements}: pip could not install the dependencies: {_pip_problem(done.stderr)}")
    try:
        work.rename(built)
    except OSError:  # another rehearsal built the same requirements meanwhile: theirs is as good
        _remove(work)
    return built


def _pip_problem(stderr: str) -> str:
    """The line of pip's error output that names the package it could not install."""
    errors = [line.removeprefix("ERROR: ").strip() for line in stderr.splitlines() if line.startswith("ERROR: ")]
    named = [e for e in errors if e.startswith("No matching distribution found for")]
    return (named or errors or stderr.strip().splitlines() or ["pip failed"])[-1]


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def with_dependencies(code: CodeSpec) -> CodeSpec:
    """The code with its requirements.txt installed, as `sam build` would (Python code only)."""
    if not code.runs_here:
        return code
    installed = dependencies_of(code.path)
    return replace(code, dependencies=str(installed)) if installed is not None else code
