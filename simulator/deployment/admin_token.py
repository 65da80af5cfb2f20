"""The emulator's admin token: the header that carries it and the file `shiftsim serve` keeps it in,
shared by the emulator and shiftsim's own tools (`shiftsim stage`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ADMIN_TOKEN_HEADER = "X-Shiftsim-Admin-Token"
TOKEN_ENV = "SHIFTSIM_ADMIN_TOKEN"


class TokenFileError(ValueError):
    """The token file cannot be written."""


def token_path(port: int) -> Path:
    """Where `shiftsim serve` on `port` writes its admin token, readable by this user only."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"shiftsim-{os.getuid()}" / f"emulator-{port}.token"


def write_token(path: Path, token: str) -> None:
    """Write the token readable by this user only (a folder made for it is too; a link is refused)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(token + "\n")
    except OSError as exc:
        raise TokenFileError(f"cannot write the admin token file {path}: {exc.strerror}") from None
