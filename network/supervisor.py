"""Starting, watching and stopping the network's native processes.

Each process runs in its own session (so a stop reaches its children), writes stdout and
stderr to ``logs/<name>.log`` and its pid to ``pids/<name>.pid`` in the run folder. A pid file
whose process is gone means the process crashed: :meth:`Supervisor.state` says so rather than
pretending it was stopped. :meth:`Supervisor.stop` removes the pid file.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path

from network.errors import PortInUse
from network.layout import RunLayout


class ProcessState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    CRASHED = "crashed"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def check_ports_free(ports: Sequence[tuple[str, str, int]]) -> None:
    """Raise :class:`PortInUse` for the first (process, host, port) already bound."""
    for process, host, port in ports:
        if not port_is_free(host, port):
            raise PortInUse(f"port {host}:{port} (for {process}) is already in use")


class Supervisor:
    def __init__(self, layout: RunLayout) -> None:
        self._layout = layout

    def pid(self, name: str) -> int | None:
        try:
            return int(self._layout.pid(name).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def state(self, name: str) -> ProcessState:
        pid = self.pid(name)
        if pid is None:
            return ProcessState.STOPPED
        return ProcessState.RUNNING if _alive(pid) else ProcessState.CRASHED

    def start(self, name: str, argv: Sequence[str], *, env: Mapping[str, str],
              cwd: Path | None = None) -> int:
        """Start ``argv`` detached; a process already running under ``name`` is left alone."""
        if self.state(name) is ProcessState.RUNNING:
            pid = self.pid(name)
            assert pid is not None
            return pid
        log = self._layout.log(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        self._layout.pid(name).parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=dict(env), cwd=cwd, start_new_session=True,
            )
        self._layout.pid(name).write_text(f"{proc.pid}\n")
        return proc.pid

    def stop(self, name: str, *, timeout: float = 10.0) -> None:
        """Stop ``name`` (SIGTERM, then SIGKILL after ``timeout`` s); harmless when not running."""
        pid = self.pid(name)
        if pid is not None and _alive(pid):
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                _signal_group(pid, signal.SIGKILL)
                while _alive(pid):
                    time.sleep(0.05)
        self._layout.pid(name).unlink(missing_ok=True)

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` and keep its pid file, as a crash would (used by fault tests)."""
        pid = self.pid(name)
        if pid is not None and _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    # A child of ours that exited stays a zombie until reaped; reap it so it reads as dead.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
