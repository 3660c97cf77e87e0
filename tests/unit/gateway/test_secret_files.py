"""Files holding secrets: created or narrowed to 0600, an existing database never opened."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from gateway.secret_files import make_private


def test_a_missing_file_is_created_0600(tmp_path: Path):
    path = tmp_path / "g.sqlite3"
    make_private(path)
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_bytes() == b""


def test_an_open_databases_locks_survive_narrowing_it(tmp_path: Path):
    path = tmp_path / "g.sqlite3"
    held = sqlite3.connect(path, isolation_level=None)
    held.execute("PRAGMA journal_mode=WAL")
    held.execute("CREATE TABLE t (x)")
    held.execute("INSERT INTO t VALUES (1)")
    os.chmod(path, 0o644)
    make_private(path)
    assert path.stat().st_mode & 0o777 == 0o600
    # Another process that opens and closes the database must still see this one's
    # connection (its locks), so it leaves the WAL index in place.
    subprocess.run([sys.executable, "-c", "import sqlite3, sys; "
                    "sqlite3.connect(sys.argv[1]).execute('SELECT * FROM t').fetchall()",
                    str(path)], check=True, timeout=30)
    assert Path(f"{path}-shm").exists()
    assert held.execute("SELECT x FROM t").fetchall() == [(1,)]
    held.close()
