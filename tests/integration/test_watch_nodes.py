"""Node health on the real network: northwind's gateway reads every peer's and orderer's
``/metrics`` (endpoints from its generated settings). Normal traffic (customers registered,
each a ledger write) flags no node; southgate's peer frozen in SIGSTOP bursts is flagged,
by name and for the scrapes it delays or fails, while no other node is; it is healthy again
once thawed.

The assertions are on causes (scrapes that go unanswered while the process is stopped, the
blocks it falls behind), never on a latency, so a loaded machine does not decide them.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from demo.wallet import DemoCustomer
from gateway.stores import Role

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PORT = 24190
NODE_WATCH = {"node_watch_interval_s": 1.0, "node_watch_timeout_s": 1.5,
              "node_watch_consecutive": 2, "watch_enabled": False}
VICTIM = "peer0-southgate"
#: Each burst: stopped this long, then running this long; at most this many bursts.
STOPPED_S, RUNNING_S, MAX_BURSTS = 2.5, 0.5, 12


@pytest.fixture(scope="module")
def gateway(start_ledger_gateway) -> Iterator[Any]:
    with start_ledger_gateway("northwind", http_port=PORT, **NODE_WATCH) as running:
        yield running


def _status(gateway: Any) -> dict[str, Any]:
    answer = gateway.client.get("/v1/admin/watch/nodes",
                                headers=gateway.credential("admin", Role.ADMIN))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _wait_rounds(gateway: Any, rounds: int) -> dict[str, Any]:
    """Wait for the watch's next ``rounds`` rounds (each bounded by its scrape timeout)."""
    first = _status(gateway)["rounds"]
    deadline = time.monotonic() + rounds * (NODE_WATCH["node_watch_interval_s"] +
                                            NODE_WATCH["node_watch_timeout_s"]) + 10
    while (status := _status(gateway))["rounds"] < first + rounds:
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status


def test_every_node_is_read_and_normal_traffic_flags_none(gateway):
    status = _wait_rounds(gateway, 3)
    nodes = status["nodes"]
    assert {n["kind"] for n in nodes.values()} == {"peer", "orderer"}
    assert VICTIM in nodes and all(n["features"]["rss_mb"] for n in nodes.values()), nodes
    # Every node's chain height is read (peers' ledger height, orderers' Raft block number).
    assert all(n["features"]["height_lag"] is not None for n in nodes.values()), nodes
    end = time.monotonic() + 12
    while time.monotonic() < end:
        answer = gateway.write("/v1/customers", {"public_key": DemoCustomer.new().public_key})
        assert answer.status_code == 201, answer.text
        time.sleep(0.5)
    status = _wait_rounds(gateway, 2)
    assert status["recent_alerts"] == [], status["recent_alerts"]
    assert not any(n["flagged"] for n in status["nodes"].values()), status["nodes"]
    metrics = gateway.client.get("/metrics").text
    assert f'prefshare_watch_node_flagged{{node="{VICTIM}"}} 0.0' in metrics


def test_the_node_health_is_the_admins_alone(gateway):
    answer = gateway.client.get("/v1/admin/watch/nodes", headers=gateway.credential("s1"))
    assert answer.status_code == 403 and answer.json()["error"]["code"]
    assert gateway.client.get("/v1/admin/watch/nodes").status_code == 401


def test_a_peer_frozen_in_bursts_is_flagged_and_no_other_node(gateway, fabric_network):
    peer = next(p for p in fabric_network.plan.peers if p.process == VICTIM)
    pid = fabric_network.supervisor.pid(peer.process)
    assert pid is not None
    started = time.monotonic()
    flagged_after = None
    try:
        for _ in range(MAX_BURSTS):
            os.killpg(pid, signal.SIGSTOP)
            time.sleep(STOPPED_S)
            os.killpg(pid, signal.SIGCONT)
            time.sleep(RUNNING_S)
            if _status(gateway)["nodes"][VICTIM]["flagged"]:
                flagged_after = time.monotonic() - started
                break
    finally:
        os.killpg(pid, signal.SIGCONT)
    status = _status(gateway)
    assert flagged_after is not None, status["nodes"][VICTIM]
    alerts = status["recent_alerts"]
    print(f"\n{VICTIM} frozen in bursts flagged after {flagged_after:.1f} s for "
          f"{alerts[0]['drivers'] if alerts else None}")
    assert [a["node"] for a in alerts] == [VICTIM], alerts
    # The causes of a stopped process: its scrapes time out, or are answered only once it
    # runs again (far slower than its own and the other peers'), or it falls behind.
    drivers = set(alerts[0]["drivers"])
    assert drivers and drivers <= {"scrape_failed", "scrape_s", "height_lag"}, alerts
    metrics = gateway.client.get("/metrics").text
    assert f'prefshare_watch_node_alerts_total{{node="{VICTIM}"}} 1.0' in metrics
    # Thawed, it answers again: healthy once its failed scrapes age out of the window.
    deadline = time.monotonic() + 60
    while _status(gateway)["nodes"][VICTIM]["flagged"]:
        assert time.monotonic() < deadline, _status(gateway)["nodes"][VICTIM]
        time.sleep(0.5)
    assert [a["node"] for a in _status(gateway)["recent_alerts"]] == [VICTIM]


def test_a_gateway_without_node_endpoints_says_so(start_ledger_gateway):
    with start_ledger_gateway("southgate", http_port=PORT + 1, node_metrics=(),
                              watch_enabled=False) as other:
        answer = other.client.get("/v1/admin/watch/nodes",
                                  headers=other.credential("admin", Role.ADMIN))
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "NODE_WATCH_DISABLED"
        assert other.services.nodes is None
