"""The user's change as a folder of code: the deployed function's code folder as a git ref of the
user's repository has it (`--new-ref`), extracted once per commit and process into a fresh private
folder (mkdtemp, 0700) that is removed when the process ends. A folder found by name is never
trusted: another local user could have planted it."""

from __future__ import annotations

import atexit
import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from simulator.scenario.intrinsics import TemplateError


def _git(folder: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TemplateError(f"--new-ref: cannot run git in {folder}: {exc}") from None
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise TemplateError(f"--new-ref: git in {folder}: {why[-1] if why else 'failed'}")
    return done.stdout


_extracted: dict[tuple[str, str], Path] = {}  # (commit, folder) -> this process's own extraction


def _remove_extractions() -> None:
    for folder in _extracted.values():
        shutil.rmtree(folder, ignore_errors=True)
    _extracted.clear()


atexit.register(_remove_extractions)


def _extraction(top: Path, commit: str, relative: str) -> Path:
    """`relative` as the commit has it, under a folder this process created."""
    target = _extracted.get((commit, relative))
    if target is None:
        archive = _git(top, "archive", "--format=tar", commit, "--", relative)
        target = Path(tempfile.mkdtemp(prefix=f"shiftsim-ref-{commit[:12]}-"))
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
        _extracted[(commit, relative)] = target
    return target


def code_at_ref(folder: Path, ref: str) -> Path:
    """`folder` (inside a git work tree) as commit `ref` has it, as a folder of its own."""
    top = Path(_git(folder, "rev-parse", "--show-toplevel").decode().strip())
    try:
        commit = _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except TemplateError:
        raise TemplateError(f"--new-ref: no commit {ref!r} in the repository at {top}") from None
    relative = folder.resolve().relative_to(top.resolve())
    extracted = _extraction(top, commit, str(relative)) / relative
    if not extracted.is_dir():
        raise TemplateError(f"--new-ref {ref}: {relative} is not a folder at {commit[:12]}")
    return extracted
