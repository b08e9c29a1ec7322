"""Files the CRM keeps beside its database: uploaded logos, stored PDFs of issued documents.

Everything lives under `DATA_DIR/files/` so that one directory is backed up and restored with the
database (`opex-crm backup`). Paths stored in the database are relative to that directory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath

from crm_app.platform.config import get_settings

FILES_DIRNAME = "files"


def files_dir() -> Path:
    """The root of every stored file (created on first use)."""
    root = get_settings().data_dir / FILES_DIRNAME
    root.mkdir(parents=True, exist_ok=True)
    return root


def path_of(relative: str) -> Path:
    """The absolute path of a stored file; refuses anything that would leave the files directory."""
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or not parts.parts:
        raise ValueError(f"not a stored file path: {relative!r}")
    return files_dir().joinpath(*parts.parts)


def write_file(relative: str, content: bytes) -> str:
    """Store `content` atomically (temporary file + rename) and return its SHA-256 in hex."""
    target = path_of(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, prefix=".tmp-") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, target)
    return hashlib.sha256(content).hexdigest()


def read_file(relative: str) -> bytes:
    return path_of(relative).read_bytes()


def delete_file(relative: str) -> None:
    path_of(relative).unlink(missing_ok=True)
