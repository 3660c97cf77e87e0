"""Node health's pure logic: metrics text to totals, and the judge's verdicts on rounds of
scrapes (a frozen node, a lagging node, a slow node, a machine-wide slowdown, recovery)."""

from __future__ import annotations

import math

import pytest

from gateway.watch.nodes import NodeConfig, NodeJudge, Scrape, parse_metrics, robust_z

TEXT = """\
# HELP endorser_proposal_duration The time to complete a proposal.
# TYPE endorser_proposal_duration histogram
endorser_proposal_duration_bucket{channel="c",chaincode="cc",success="true",le="0.1"} 3
endorser_proposal_duration_bucket{channel="c",chaincode="cc",success="true",le="+Inf"} 4
endorser_proposal_duration_sum{channel="c",chaincode="cc",success="true"} 0.4
endorser_proposal_duration_count{channel="c",chaincode="cc",success="true"} 4
# HELP ledger_blockchain_height Height of the chain in blocks.
# TYPE ledger_blockchain_height gauge
ledger_blockchain_height{channel="c"} 12
ledger_blockchain_height{channel="d"} 3
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 7.5
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.048576e+08
# HELP consensus_etcdraft_leader_changes The number of leader changes since process start.
# TYPE consensus_etcdraft_leader_changes counter
consensus_etcdraft_leader_changes{channel="c"} 2
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 80
"""

NODES = {"p1": "peer", "p2": "peer", "p3": "peer", "o1": "orderer"}


def _totals(height: float, *, cpu: float = 0.0, endorse_sum: float = 0.0,
            endorse_count: float = 0.0, leaders: float = 1.0) -> dict[str, float]:
    return {"ledger_blockchain_height": height, "process_cpu_seconds_total": cpu,
            "process_resident_memory_bytes": 100 * 2**20,
            "endorser_proposal_duration_sum": endorse_sum,
            "endorser_proposal_duration_count": endorse_count,
            "consensus_etcdraft_leader_changes_total": leaders}


def _round(at: float, **by_node: dict[str, float] | None) -> dict[str, Scrape]:
    return {name: Scrape(at, 0.01, totals) for name, totals in by_node.items()}


def _healthy(t: int, height: float = 10.0, **changes: dict[str, float] | None
             ) -> dict[str, Scrape]:
    nodes: dict[str, dict[str, float] | None] = {
        n: _totals(height, cpu=0.05 * t, endorse_sum=0.02 * t, endorse_count=t)
        for n in NODES}
    nodes.update(changes)
    return _round(float(t), **nodes)


def test_the_totals_come_from_prometheus_text():
    totals = parse_metrics(TEXT)
    assert totals["endorser_proposal_duration_sum"] == pytest.approx(0.4)
    assert totals["endorser_proposal_duration_count"] == 4
    assert totals["ledger_blockchain_height"] == 12  # the highest channel
    assert totals["process_cpu_seconds_total"] == 7.5
    assert totals["consensus_etcdraft_leader_changes_total"] == 2
    assert "go_goroutines" not in totals


def test_robust_z_ignores_outliers_in_the_history():
    history = [10.0, 11.0, 9.0, 10.0, 500.0, 10.0]
    assert robust_z(10.0, history) == pytest.approx(0.0)
    assert robust_z(60.0, history) > 6
    assert robust_z(math.nan, history) == 0.0 and robust_z(5.0, []) == 0.0


def test_steady_nodes_raise_no_alert():
    judge = NodeJudge(NODES, NodeConfig())
    alerts = [a for t in range(1, 60) for a in judge.step(_healthy(t, height=10 + t // 5))]
    assert alerts == []
    assert not any(s.flagged for s in judge.nodes.values())


def test_a_frozen_node_is_flagged_for_its_failed_scrapes_and_alone():
    judge = NodeJudge(NODES, NodeConfig(consecutive=2))
    for t in range(1, 20):
        assert judge.step(_healthy(t)) == []
    alerts = []
    for t in range(20, 26):
        alerts += judge.step(_healthy(t, p2=None))
    assert [(a.node, a.drivers[0]) for a in alerts] == [("p2", "scrape_failed")]
    assert judge.nodes["p2"].flagged and not judge.nodes["p1"].flagged
    # Back to normal: no new alert, and it is healthy again once its failures age out.
    for t in range(26, 40):
        assert judge.step(_healthy(t)) == []
    assert not judge.nodes["p2"].flagged


def test_a_lagging_node_is_flagged_with_its_lag():
    judge = NodeJudge(NODES, NodeConfig(lag_blocks=3, consecutive=2))
    alerts = []
    for t in range(1, 10):
        alerts += judge.step(_healthy(t, height=10 + t, p3=_totals(10, cpu=0.05 * t)))
    assert [a.node for a in alerts] == ["p3"] and "height_lag" in alerts[0].drivers
    assert alerts[0].features["height_lag"] >= 3


def test_a_slow_node_is_flagged_but_a_machine_wide_slowdown_is_not():
    judge = NodeJudge(NODES, NodeConfig(min_history=10))
    for t in range(1, 20):
        judge.step(_healthy(t))
    # Every peer's endorsements take a second from now on: the machine, not a node.
    for t in range(20, 26):
        nodes = {n: _totals(10, cpu=0.05 * t, endorse_sum=0.38 + 1.0 * (t - 19),
                            endorse_count=t) for n in NODES}
        assert judge.step(_round(float(t), **nodes)) == []
    # Now only p1 is slow.
    alerts = []
    for t in range(26, 32):
        nodes = {n: _totals(10, cpu=0.05 * t, endorse_sum=6.38 + 0.02 * (t - 25),
                            endorse_count=t) for n in NODES}
        nodes["p1"] = _totals(10, cpu=0.05 * t, endorse_sum=6.38 + 2.0 * (t - 25),
                              endorse_count=t)
        alerts += judge.step(_round(float(t), **nodes))
    assert [(a.node, a.drivers) for a in alerts] == [("p1", ("endorse_ms",))]


def test_raft_leader_changes_flag_an_orderer():
    judge = NodeJudge(NODES, NodeConfig(leader_changes=2, consecutive=1))
    judge.step(_healthy(1))
    alerts = judge.step(_healthy(2, o1=_totals(10, leaders=4.0)))
    assert [(a.node, a.drivers) for a in alerts] == [("o1", ("leader_changes",))]


def test_history_is_bounded():
    judge = NodeJudge(NODES, NodeConfig(history=5))
    for t in range(1, 50):
        judge.step(_healthy(t))
    assert all(len(s.samples) == 5 for s in judge.nodes.values())


def test_other_families_on_the_page_are_skipped_even_with_a_shared_prefix():
    noise = ("# HELP ledger_blockchain_height_seconds other\n"
             "# TYPE ledger_blockchain_height_seconds gauge\n"
             "ledger_blockchain_height_seconds 99\n"
             "# HELP grpc_server_unary_request_duration x\n"
             "# TYPE grpc_server_unary_request_duration histogram\n"
             'grpc_server_unary_request_duration_bucket{le="+Inf"} 5\n'
             "grpc_server_unary_request_duration_sum 1\n"
             "grpc_server_unary_request_duration_count 5\n")
    totals = parse_metrics(noise + TEXT)
    assert totals["ledger_blockchain_height"] == 12
    assert not any(name.startswith("grpc") for name in totals)


def test_a_peer_cut_off_from_gossip_is_flagged():
    judge = NodeJudge(NODES, NodeConfig(consecutive=2))
    known = "gossip_membership_total_peers_known"
    alerts = []
    for t in range(1, 6):
        nodes = {n: {**_totals(10, cpu=0.05 * t), known: 2.0} for n in NODES if n != "o1"}
        nodes["p3"][known] = 0.0 if t > 2 else 2.0
        nodes["o1"] = _totals(10, cpu=0.05 * t)
        alerts += judge.step(_round(float(t), **nodes))
    assert [(a.node, a.drivers) for a in alerts] == [("p3", ("gossip_peers",))]
