"""A function's dependencies as `sam build` installs them, once per content, into a build folder of
the user's cache (`$XDG_CACHE_HOME/shiftsim/dependencies/<hash>`):
- Python: the `requirements.txt` beside its code, installed with pip; the function's execution
  environments import from it after their own code.
- Node.js: the code copied with the `node_modules` its `package.json` names (npm install, without
  dev dependencies), plus the AWS SDK for JavaScript v3 clients the code imports and does not list,
  which Lambda's Node.js runtimes provide; the copy is the function's task root.
A dependency that cannot be installed is the user's input error, naming the package; an install is
built in a private folder and moved into place whole, so a half-built folder is never used."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from simulator.scenario.intrinsics import TemplateError
from simulator.scenario.spec import node_binary

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
    _install([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
              "--no-warn-script-location", "--target", str(work), "-r", str(requirements.resolve())],
             Path(code_folder), requirements, work, "pip", _pip_problem)
    try:
        work.rename(built)
    except OSError:  # another rehearsal built the same requirements meanwhile: theirs is as good
        remove(work)
    return built


def _pip_problem(stderr: str) -> str:
    """The line of pip's error output that names the package it could not install."""
    errors = [line.removeprefix("ERROR: ").strip() for line in stderr.splitlines() if line.startswith("ERROR: ")]
    named = [e for e in errors if e.startswith("No matching distribution found for")]
    return (named or errors or stderr.strip().splitlines() or ["pip failed"])[-1]


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


PACKAGE = "package.json"
_SDK_IMPORT = re.compile(r"""(?:require\(\s*|from\s+|import\s*\(\s*|import\s+)["'](@aws-sdk/[a-z0-9-]+|aws-sdk)["'/]""")
# The SDK a Node.js runtime provides: v2 (`aws-sdk`) up to nodejs16.x, v3's clients from nodejs18.x
_LAST_RUNTIME_WITH_V2 = 16
_SOURCES = (".js", ".mjs", ".cjs")
_MAX_SOURCE_FILES = 5000


def code_files(folder: Path) -> list[Path]:
    """The code's files, its own node_modules left out, in a stable order."""
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "node_modules" and not d.startswith(".git"))
        files.extend(Path(root) / n for n in sorted(names))
        if len(files) > _MAX_SOURCE_FILES:
            raise TemplateError(f"{folder}: more than {_MAX_SOURCE_FILES} files: is CodeUri the function's folder?")
    return files


def _listed(manifest: Path) -> set[str]:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TemplateError(f"{manifest}: not valid JSON: {exc}") from None
    return set(data.get("dependencies") or {}) if isinstance(data, dict) else set()


def _provided_by(runtime: str, package: str) -> bool:
    """Whether Lambda's Node.js `runtime` provides the SDK `package` (`aws-sdk`, or a v3 client)."""
    major = re.match(r"nodejs(\d+)", runtime)
    v2 = major is not None and int(major.group(1)) <= _LAST_RUNTIME_WITH_V2
    return v2 if package == "aws-sdk" else not v2


def node_build(code_folder: str | Path, runtime: str = "nodejs20.x") -> Path | None:
    """The task root of Node.js code as `sam build` makes it (the code beside the node_modules its
    package.json names, with the SDK the runtime would provide), built now if it is not yet; None
    when the folder runs as it is (nothing to install, or its node_modules already there)."""
    folder = Path(code_folder)
    files = code_files(folder)
    manifest = folder / PACKAGE
    listed = _listed(manifest) if manifest.is_file() else set()
    imported: set[str] = set()
    for file in files:
        if file.suffix in _SOURCES:
            imported.update(_SDK_IMPORT.findall(file.read_text(encoding="utf-8", errors="replace")))
    provided = sorted(name for name in imported - listed if _provided_by(runtime, name))
    installed = (folder / "node_modules").is_dir()
    if not provided and (not listed or installed):
        return None
    digest = hashlib.sha256(f"node|{node_version()}|{','.join(provided)}".encode())
    for file in files:
        digest.update(str(file.relative_to(folder)).encode() + b"\0" + file.read_bytes() + b"\0")
    built = cache_root() / f"node-{digest.hexdigest()[:32]}"
    if built.is_dir():
        return built / "task"
    built.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=built.parent))
    task = work / "task"
    shutil.copytree(folder, task, ignore=shutil.ignore_patterns("node_modules", ".git"))
    steps = []
    if listed and not installed:
        steps.append(["install", "--omit=dev"])
    elif listed:  # the user's own node_modules, as their build left them
        shutil.copytree(folder / "node_modules", task / "node_modules", symlinks=True)
    if provided:
        steps.append(["install", "--no-save", "--no-package-lock",
                      *[f"{name}@{2 if name == 'aws-sdk' else 3}" for name in provided]])
    for step in steps:
        npm_install(step, task, manifest if listed else folder, work)
    try:
        work.rename(built)
    except OSError:  # another rehearsal built the same code meanwhile: theirs is as good
        remove(work)
    return built / "task"


def npm_install(arguments: list[str], task: Path, what: Path, work: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        remove(work)
        raise TemplateError(f"{what}: npm is needed to install the Node.js dependencies, and this machine has none")
    _install([npm, *arguments, "--no-audit", "--no-fund", "--loglevel=error"], task, what, work, "npm", _npm_problem)


def _install(command: list[str], cwd: Path, what: Path, work: Path, tool: str,
             problem: Callable[[str], str]) -> None:
    """Run an installer in `cwd`; on failure the build folder goes and the user reads one line
    naming `what` and the installer's own words for the package it could not install."""
    try:
        done = subprocess.run(command, cwd=str(cwd), capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        remove(work)
        raise TemplateError(f"{what}: the dependencies could not be installed: {exc}") from None
    if done.returncode != 0:
        remove(work)
        raise TemplateError(f"{what}: {tool} could not install the dependencies: {problem(done.stderr)}")


def _npm_problem(stderr: str) -> str:
    """The line of npm's error output that says what it could not install."""
    errors = [line.removeprefix("npm error ").removeprefix("npm ERR! ").strip() for line in stderr.splitlines()
              if line.startswith(("npm error", "npm ERR!"))]
    named = [e.removeprefix("notarget ").removeprefix("404 ").strip() for e in errors
             if "No matching version found" in e or "could not be found" in e]
    return (named or [e for e in errors if e and not e.startswith("code ")] or stderr.strip().splitlines()
            or ["npm failed"])[0]


_node_versions: dict[str, str] = {}


def node_version() -> str:
    """The system node's version (its native modules' ABI), part of a build's key."""
    node = node_binary() or ""
    if node not in _node_versions:
        try:
            _node_versions[node] = subprocess.run([node, "--version"], capture_output=True, text=True,
                                                  timeout=30, check=False).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            _node_versions[node] = "?"
    return _node_versions[node]
