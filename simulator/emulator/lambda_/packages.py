"""Deployment packages a request uploads (CreateFunction, UpdateFunctionCode): a zip checked as
Lambda checks it, unpacked into a folder of this emulator's own, and its CodeSha256 (the zip's)."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tempfile
import zipfile
from pathlib import Path

UNZIPPED_LIMIT = 262_144_000


class PackageError(ValueError):
    """A package Lambda would refuse; the message is Lambda's."""


class Packages:
    """The unpacked packages of one emulator, removed when it closes."""

    def __init__(self) -> None:
        self.root: Path | None = None
        self.by_sha: dict[str, str] = {}  # the same zip again is the same code, in the same folder

    def unpack(self, data: bytes) -> tuple[str, str]:
        """(folder, CodeSha256) of a zip's contents."""
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            size = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, ValueError):
            raise PackageError("Could not unzip uploaded file. Please check your file, then try to upload again.") from None
        if size > UNZIPPED_LIMIT:
            raise PackageError(f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes")
        sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
        if sha in self.by_sha:
            return self.by_sha[sha], sha
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="shiftsim-packages-"))
        folder = self.root / str(len(self.by_sha) + 1)
        try:
            archive.extractall(folder)  # zipfile drops absolute paths and ".." from member names
        except (zipfile.BadZipFile, OSError, ValueError):
            raise PackageError("Could not unzip uploaded file. Please check your file, then try to upload again.") from None
        self.by_sha[sha] = str(folder)
        return str(folder), sha

    def keep_only(self, in_use: set[str]) -> None:
        """Remove the unpacked packages no function's version uses any more (DeleteFunction): what a
        client uploads does not stay on disk after it is deleted."""
        for sha, folder in list(self.by_sha.items()):
            if folder not in in_use:
                shutil.rmtree(folder, ignore_errors=True)
                del self.by_sha[sha]

    def close(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
            self.by_sha.clear()
