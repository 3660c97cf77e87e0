import socket
import sys

import pytest

from network.errors import PortInUse
from network.layout import RunLayout
from network.supervisor import ProcessState, Supervisor, check_ports_free


def test_stop_is_harmless_when_nothing_runs(tmp_path):
    sup = Supervisor(RunLayout(tmp_path))
    sup.stop("nothing")
    assert sup.state("nothing") is ProcessState.STOPPED


def test_killed_process_reads_as_crashed_not_stopped(tmp_path):
    sup = Supervisor(RunLayout(tmp_path))
    sup.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], env={})
    assert sup.state("sleeper") is ProcessState.RUNNING
    sup.kill("sleeper")
    assert sup.state("sleeper") is ProcessState.CRASHED
    sup.stop("sleeper")
    assert sup.state("sleeper") is ProcessState.STOPPED


def test_start_twice_keeps_the_first_process(tmp_path):
    sup = Supervisor(RunLayout(tmp_path))
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    first = sup.start("s", argv, env={})
    try:
        assert sup.start("s", argv, env={}) == first
    finally:
        sup.stop("s")


def test_port_in_use_is_reported_with_its_process():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} \\(for ca-x\\)"):
            check_ports_free([("ca-x", "127.0.0.1", port)])


def test_port_bound_without_listener_is_taken_after_the_settle_time():
    import time

    from network.supervisor import port_is_free

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, not listening: no connect succeeds
        port = s.getsockname()[1]
        started = time.monotonic()
        assert not port_is_free("127.0.0.1", port, settle_s=0.3)
        assert time.monotonic() - started >= 0.3
    assert port_is_free("127.0.0.1", port, settle_s=0.3)
