"""The user's change as a folder of code: the deployed function's code folder as a git ref of the
user's repository has it (`--new-ref`), extracted once per commit into the temporary folder."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

from simulator.stack.intrinsics import TemplateError


def _git(folder: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TemplateError(f"--new-ref: cannot run git in {folder}: {exc}") from None
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()
        raise TemplateError(f"--new-ref: git in {folder}: {why[-1] if why else 'failed'}")
    return done.stdout


def code_at_ref(folder: Path, ref: str) -> Path:
    """`folder` (inside a git work tree) as commit `ref` has it, as a folder of its own."""
    top = Path(_git(folder, "rev-parse", "--show-toplevel").decode().strip())
    try:
        commit = _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except TemplateError:
        raise TemplateError(f"--new-ref: no commit {ref!r} in the repository at {top}") from None
    relative = folder.resolve().relative_to(top.resolve())
    target = Path(tempfile.gettempdir()) / f"shiftsim-ref-{commit[:16]}"
    extracted = target / relative
    if not extracted.is_dir():
        archive = _git(top, "archive", "--format=tar", commit, "--", str(relative) if str(relative) != "." else ".")
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
    if not extracted.is_dir():
        raise TemplateError(f"--new-ref {ref}: {relative} is not a folder at {commit[:12]}")
    return extracted
