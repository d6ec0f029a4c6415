"""Files idpool creates for itself (the SQLite database, the key secret): private from the
first byte.

They are created with mode 0600 (their directory 0700) by `os.open`, never created with the
default mode and narrowed afterwards, so there is no moment at which another user can open
them. Stdlib only: storage and the composition root both use it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Create `path` (mode 0700) if missing; an existing directory is left as it is."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)


def create_private_file(path: Path) -> bool:
    """Create an empty file with mode 0600 (and its directory, 0700) unless it exists.

    Returns True when this call created it.
    """
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private_file_once(path: Path, text: str) -> bool:
    """Write `text` to `path` (mode 0600) unless the file exists; True when this call wrote it.

    Written to a private temporary file and linked into place, so a concurrent reader sees
    either no file or the whole text, and two processes racing to create it keep one text.
    """
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def readable_by_others(path: Path) -> bool:
    """True when group or other users may read `path`."""
    try:
        return bool(path.stat().st_mode & 0o044)
    except OSError:
        return False
