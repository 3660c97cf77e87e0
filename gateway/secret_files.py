"""Files that hold secrets are readable by their owner only (0600), folders 0700.

The gateway's database holds credential hashes and stored answers (personal data); the
demo's credentials file holds working credentials. Both are created 0600 before anything is
written, and an existing file is narrowed to 0600 when the gateway opens it.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600


def make_private(path: Path) -> None:
    """Create ``path`` empty if missing, and make it 0600 (its SQLite journal and WAL files,
    which SQLite creates with the database's mode, follow).

    An existing file is narrowed by name, never opened: closing any descriptor of a file
    drops every POSIX lock this process holds on it, SQLite's included, and a connection
    that lost its locks lets another process delete the WAL index under it ("file is not a
    database").
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
    except FileExistsError:
        os.chmod(path, PRIVATE_FILE)
        return
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, a file only its owner can read, replaced atomically."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), PRIVATE_FILE)
        out.write(text)
    os.replace(partial, path)
