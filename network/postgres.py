"""A throwaway PostgreSQL server on 127.0.0.1, from Debian's binaries: what the tests and the
kiosk benchmark give a gateway whose workers share their state there (gateway/postgres/).

::

    with LocalPostgres.start(work_dir) as pg:
        url = pg.url          # postgresql://prefshare@127.0.0.1:<port>/prefshare

Its own data folder (removed after), a free port, trust authentication on loopback only and
no Unix socket, so it meets no other server on the machine. PostgreSQL refuses to run as
root: under root the server runs as the ``postgres`` user Debian's package creates (or
``nobody``), its folder handed to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Where Debian's ``postgresql`` package puts the server's programs (not on PATH).
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
USER = "prefshare"


class PostgresUnavailable(RuntimeError):
    """initdb / pg_ctl are not installed (``make postgres`` installs Debian's package)."""


class PostgresFailed(RuntimeError):
    """The throwaway server did not initialise or start; the message names its log."""


def find_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's, newest
    version first.

    Raises PostgresUnavailable when neither has them.
    """
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    for folder in sorted(Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/")),
                         key=lambda p: _version(p.parent.name), reverse=True):
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresUnavailable("PostgreSQL's initdb/pg_ctl are not installed "
                              "(run `make postgres`, or apt-get install postgresql)")


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in name.split(".") if x.isdigit())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> list[str]:
    """The prefix that runs a command as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"]
    raise PostgresUnavailable("running as root and no postgres or nobody user to run as")


@dataclass(frozen=True)
class LocalPostgres:
    bin_dir: Path
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{USER}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    @classmethod
    @contextmanager
    def start(cls, port: int | None = None) -> Iterator[LocalPostgres]:
        """Initialise, start, yield, stop (fast shutdown) and remove its folder.

        Raises PostgresUnavailable (no binaries) or PostgresFailed (see its log).
        """
        bin_dir = find_binaries()
        # Under /tmp rather than a test's tmp_path: the server's user must reach the folder.
        top = Path(tempfile.mkdtemp(prefix="prefshare-pg-"))
        prefix = _run_as()
        if prefix:
            shutil.chown(top, prefix[2], None)
            os.chmod(top, 0o700)
        server = cls(bin_dir, top / "data", port or free_port())
        try:
            server._initdb(prefix)
            server._pg_ctl(prefix, "start", "-w", "-t", "30", "-l", str(server.log), "-o",
                           f"-c listen_addresses=127.0.0.1 -p {server.port} "
                           "-c unix_socket_directories='' -c fsync=off "
                           "-c max_connections=200")
            try:
                subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p",
                                str(server.port), "-U", USER, USER],
                               check=True, capture_output=True, timeout=30)
            except (subprocess.CalledProcessError, FileNotFoundError):
                pass  # older layouts: the URL's database is created by the first connect
            yield server
        finally:
            if (server.data_dir / "postmaster.pid").exists():
                server._pg_ctl(prefix, "stop", "-m", "fast", "-w", "-t", "30", check=False)
            shutil.rmtree(top, ignore_errors=True)

    def _initdb(self, prefix: list[str]) -> None:
        done = subprocess.run([*prefix, str(self.bin_dir / "initdb"), "-D", str(self.data_dir),
                               "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync"],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise PostgresFailed(f"initdb failed: {done.stderr.strip()[-500:]}")

    def _pg_ctl(self, prefix: list[str], *args: str, check: bool = True) -> None:
        done = subprocess.run([*prefix, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir),
                               *args], capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            tail = self.log.read_text()[-800:] if self.log.exists() else done.stderr
            raise PostgresFailed(f"pg_ctl {args[0]} failed: {tail.strip()}")
