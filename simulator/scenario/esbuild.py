"""SAM's esbuild build method (`Metadata: BuildMethod: esbuild`, TypeScript or bundled JavaScript), run
with aws-lambda-builders, the library `sam build` runs it with: the package.json's production
dependencies installed, the entry points bundled with the template's BuildProperties, into a build
folder of the user's cache, once per content. esbuild itself is the machine's, else the version the
package.json's devDependencies name (else the latest), installed once into the cache with npm, as a
developer's `npm install` would have put it where `sam build` finds it."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from simulator.scenario.dependencies import PACKAGE, cache_root, code_files, node_version, npm_install, remove
from simulator.scenario.intrinsics import TemplateError

ESBUILD = "esbuild"


def build_options(properties: dict[str, Any]) -> dict[str, Any]:
    """A template's BuildProperties (EntryPoints, Minify, Target, External ...) as the snake_case options
    aws-lambda-builders takes (entry_points, minify, target, external ...), as SAM passes them."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in properties.items()}


def esbuild_build(code_folder: str | Path, runtime: str, properties: dict[str, Any]) -> Path:
    """The folder `sam build` makes of `code_folder` with esbuild: the bundle of each entry point."""
    folder = Path(code_folder)
    options = build_options(properties)
    if not options.get("entry_points"):
        raise TemplateError(f"{folder}: BuildMethod esbuild needs BuildProperties EntryPoints (the files to bundle, "
                            "as `sam build` does)")
    files = code_files(folder)
    digest = hashlib.sha256(f"esbuild|{node_version()}|{runtime}|{json.dumps(options, sort_keys=True)}".encode())
    for file in files:
        digest.update(str(file.relative_to(folder)).encode() + b"\0" + file.read_bytes() + b"\0")
    built = cache_root() / f"esbuild-{digest.hexdigest()[:32]}"
    if built.is_dir():
        return built
    tool = _esbuild_binary(folder)
    built.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=built.parent))
    try:
        _bundle(folder, work, runtime, options, tool)
    except TemplateError:
        remove(work)
        raise
    try:
        work.rename(built)
    except OSError:  # another rehearsal built the same code meanwhile: theirs is as good
        remove(work)
    return built


def _bundle(folder: Path, work: Path, runtime: str, options: dict[str, Any], tool: Path) -> None:
    # imported here: 70 ms that only a template with BuildMethod esbuild pays
    from aws_lambda_builders.builder import LambdaBuilder
    from aws_lambda_builders.exceptions import LambdaBuilderError

    manifest = folder / PACKAGE
    builder = LambdaBuilder(language="nodejs", dependency_manager="npm-esbuild", application_framework=None)
    try:
        builder.build(str(folder), str(work), str(work.with_name(work.name + "-scratch")), str(manifest),
                      runtime=runtime, options=options, executable_search_paths=[str(tool)])
    except LambdaBuilderError as exc:
        raise TemplateError(f"{folder}: esbuild (BuildMethod esbuild, as `sam build` runs it) failed: "
                            f"{_first_error(str(exc)) or type(exc).__name__}") from None
    finally:
        remove(work.with_name(work.name + "-scratch"))


def _first_error(text: str) -> str:
    """esbuild's first error and where it is ("Unexpected end of file at app.ts:2:0"), without the
    builder's prefix."""
    lines = [line.strip() for line in text.split("Failed: ", 1)[-1].splitlines() if line.strip()]
    if not lines:
        return ""
    where = next((line.rstrip(":") for line in lines[1:] if re.fullmatch(r"\S+:\d+:\d+:", line)), None)
    first = lines[0].removeprefix("✘ ").removeprefix("[ERROR] ")
    return f"{first} at {where}" if where else first


def _esbuild_binary(folder: Path) -> Path:
    """The folder of an `esbuild` executable: the machine's, else one installed into the cache."""
    found = shutil.which(ESBUILD)
    if found is not None:
        return Path(found).parent
    wanted = _wanted_version(folder / PACKAGE)
    tools = cache_root() / f"esbuild-tool-{hashlib.sha256(wanted.encode()).hexdigest()[:16]}"
    binary = tools / "node_modules" / ".bin"
    if (binary / ESBUILD).exists():
        return binary
    tools.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=tools.parent))
    npm_install(["install", "--no-save", "--no-package-lock", f"{ESBUILD}@{wanted}"], work, folder / PACKAGE, work)
    try:
        work.rename(tools)
    except OSError:
        remove(work)
    return binary


def _wanted_version(manifest: Path) -> str:
    """The esbuild version range the package.json names (devDependencies or dependencies), else latest."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "latest"
    for section in ("devDependencies", "dependencies"):
        wanted = (data.get(section) or {}).get(ESBUILD) if isinstance(data, dict) else None
        if isinstance(wanted, str) and wanted:
            return wanted
    return "latest"
