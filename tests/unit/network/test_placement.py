import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

from network.control import Network
from network.description import load_consortium
from network.errors import CommandFailed, PortInUse
from network.layout import RunLayout
from network.placement import Placement
from network.supervisor import ProcessState, Supervisor, check_ports_free

ENV = shutil.which("env") or "/usr/bin/env"


def test_default_placement_runs_every_command_unchanged():
    assert Placement().command("127.0.0.1", ["true"]) == ["true"]
    assert Placement().command(None, ["true"]) == ["true"]


def test_a_placed_host_runs_commands_through_its_prefix_and_others_do_not():
    p = Placement.of({"10.0.0.2": ["ip", "netns", "exec", "ns2"]})
    assert p.command("10.0.0.2", ["x", "-y"]) == ["ip", "netns", "exec", "ns2", "x", "-y"]
    assert p.command("10.0.0.3", ["x"]) == ["x"]
    assert p.is_placed("10.0.0.2") and not p.is_placed("10.0.0.3")


@pytest.mark.parametrize(("prefixes", "message"), [
    ({"shop.example": ["ssh"]}, "must be an IP address"),
    ({"10.0.0.2": []}, "is empty"),
])
def test_placement_refuses_a_bad_host_or_an_empty_prefix(prefixes, message):
    with pytest.raises(ValueError, match=message):
        Placement.of(prefixes)


def test_network_refuses_a_placement_for_a_host_no_node_runs_on(tmp_path):
    consortium = load_consortium(Path("network/consortium.yaml"))
    with pytest.raises(ValueError, match=r"10\.9\.9\.9"):
        Network(consortium, RunLayout(tmp_path), tmp_path, Placement.of({"10.9.9.9": [ENV]}))


def test_supervisor_starts_a_process_through_its_hosts_prefix(tmp_path):
    layout = RunLayout(tmp_path)
    sup = Supervisor(layout, Placement.of({"10.0.0.2": [ENV, "PLACED=on-10.0.0.2"]}))
    script = "import os, time; print(os.environ.get('PLACED'), flush=True); time.sleep(60)"
    sup.start("placed", [sys.executable, "-c", script], env={}, host="10.0.0.2")
    try:
        deadline = time.monotonic() + 10
        while "on-10.0.0.2" not in layout.log("placed").read_text():
            assert time.monotonic() < deadline, "the placed process wrote nothing"
            time.sleep(0.05)
        assert sup.state("placed") is ProcessState.RUNNING
    finally:
        sup.stop("placed")
    assert sup.state("placed") is ProcessState.STOPPED


def test_ports_of_a_placed_host_are_checked_through_its_prefix():
    # `env` stands in for "on that host": the check runs in a child process, not here.
    placement = Placement.of({"127.0.0.1": [ENV]})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} \\(for ca-x\\)"):
            check_ports_free([("ca-x", "127.0.0.1", port)], placement)


def test_a_port_check_that_cannot_run_on_its_host_is_an_error():
    false = shutil.which("false") or "/bin/false"
    with pytest.raises(CommandFailed, match=r"port check on 127\.0\.0\.1 failed"):
        check_ports_free([("ca-x", "127.0.0.1", 1)], Placement.of({"127.0.0.1": [false]}))
