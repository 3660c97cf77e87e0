"""Starting, watching and stopping the network's native processes.

Each process runs in its own session (so a stop reaches its children), writes stdout and
stderr to ``logs/<name>.log`` and its pid to ``pids/<name>.pid`` in the run folder. A pid file
whose process is gone means the process crashed: :meth:`Supervisor.state` says so rather than
pretending it was stopped. :meth:`Supervisor.stop` removes the pid file.

A process started for a host runs through that host's :class:`~network.placement.Placement`
prefix. The prefix must end by ``exec``-ing the command (``ip netns exec`` does), so the pid
we record is the process itself and stopping its session reaches it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path

from network.errors import CommandFailed, PortInUse
from network.layout import RunLayout
from network.placement import Placement


class ProcessState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    CRASHED = "crashed"


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def port_is_free(host: str, port: int, *, settle_s: float = 15.0,
                 listener_settle_s: float = 3.0) -> bool:
    """True when ``host:port`` can be bound.

    A port that cannot be bound but has no listener is usually a socket of a process that
    has just exited, still being closed by the kernel; it is given up to ``settle_s`` seconds
    to clear before the port counts as taken. (Under load, a CA's port was seen unbindable
    for over 5 s after ``down`` with no socket left in any state ``ss`` shows by the time it
    was looked at; 15 s has held.) A port with a listener gets ``listener_settle_s``: right
    after ``down`` of the whole network, a CA's port was seen still accepting connections
    (2 runs in 10, gone by the time ``ss`` looked), then it counts as taken.
    """
    started = time.monotonic()
    while not _bindable(host, port):
        waited = time.monotonic() - started
        if waited >= settle_s or (_listening(host, port) and waited >= listener_settle_s):
            return False
        time.sleep(0.1)
    return True


#: ``port_is_free`` for a list of ports, as a script run on a placed host: prints the first
#: port that cannot be bound there, or nothing.
_PORT_CHECK = """
import socket, sys
for port in sys.argv[2:]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((sys.argv[1], int(port)))
        except OSError:
            print(port)
            break
"""


def check_ports_free(ports: Sequence[tuple[str, str, int]],
                     placement: Placement | None = None) -> None:
    """Raise :class:`PortInUse` for the first (process, host, port) already bound.

    A port is checked on its host: here for a host that is not placed, through the host's
    placement prefix otherwise. (Binding a host's address only works where that address
    exists, e.g. inside its network namespace; checking it here would report every port of
    the host as taken.) The placed check runs this Python with a short script, so the prefix
    must reach a machine that has it at the same path, which a namespace of this machine does.

    Raises:
        PortInUse: the message names host, port and the process that needs it.
        CommandFailed: the check could not run on a placed host (e.g. its namespace is gone).
    """
    placement = placement or Placement()
    by_host: dict[str, list[tuple[str, int]]] = {}
    for process, host, port in ports:
        by_host.setdefault(host, []).append((process, port))
    for host, wanted in by_host.items():
        if placement.is_placed(host):
            busy = _busy_port_on(placement, host, [port for _, port in wanted])
        else:
            busy = next((port for _, port in wanted if not port_is_free(host, port)), None)
        if busy is not None:
            process = next(p for p, port in wanted if port == busy)
            how = "another process listens on it" if _listening(host, busy) else (
                "bound without a listener")
            raise PortInUse(f"port {host}:{busy} (for {process}) is already in use: {how}")


def _busy_port_on(placement: Placement, host: str, ports: Sequence[int]) -> int | None:
    argv = placement.command(host, [sys.executable, "-c", _PORT_CHECK, host,
                                    *(str(p) for p in ports)])
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"port check on {host} did not finish in 30 s") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit {done.returncode}"
        raise CommandFailed(f"port check on {host} failed: {last}")
    out = done.stdout.strip()
    return int(out) if out else None


class Supervisor:
    """Starts and stops named processes; ``placement`` says how to run one on its host."""

    def __init__(self, layout: RunLayout, placement: Placement | None = None) -> None:
        self._layout = layout
        self._placement = placement or Placement()

    @property
    def placement(self) -> Placement:
        return self._placement

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
              cwd: Path | None = None, host: str | None = None) -> int:
        """Start ``argv`` detached on ``host`` (``None``: here, with no placement prefix).

        A process already running under ``name`` is left alone.
        """
        if self.state(name) is ProcessState.RUNNING:
            pid = self.pid(name)
            assert pid is not None
            return pid
        log = self._layout.log(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        self._layout.pid(name).parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                self._placement.command(host, argv), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=dict(env), cwd=cwd, start_new_session=True,
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
