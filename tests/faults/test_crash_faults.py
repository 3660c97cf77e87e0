"""Crash faults under a bounded load through two gateways (``make test-faults``).

One fault per test, 8 s (conftest ``FAULT_AT_S``) into a 30 s load: the Raft leader orderer,
a peer, a chaincode server or a gateway is SIGKILLed, then started again by the test (the
supervisor does not restart crashed processes).
Then every acknowledged write must be on every peer, none applied twice, and writes through
the watched gateway must have resumed. The figures go to docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from network.chaincode_servers import current_package_id, start_server, wait_registered
from network.nodes import raft_leader, start_orderers, start_peers, wait_raft_leader
from network.supervisor import ProcessState

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VICTIM = "northwind"
#: How long a killed node stays down before the test starts it again.
DOWN_S = 6.0
#: The gateways' commit_timeout_s (gateway/settings.py).
COMMIT_TIMEOUT_S = 30.0
#: How long the frozen leader stays cut off.
FROZEN_S = 12.0
#: Any fault may cost a retry or a COMMIT_UNCONFIRMED, but the load must not stall: at
#: least this share of the writes sent is acknowledged.
MIN_ACKNOWLEDGED = 0.5


def _assert_no_lost_transaction_waited_for_the_commit_timeout(run) -> None:
    # A transaction the dead leader had accepted is broadcast again after commit_resend_s
    # (gateway/fabric/client.py Timeouts.resend) instead of waiting 30 s for a 503.
    # (A 503 COMMIT_UNCONFIRMED answered at once, while no orderer has a leader, is fine.)
    waited = [(w.kind, a, round(d, 1)) for w in run.writes
              for a, d in zip(w.answers, w.durations, strict=True)
              if "COMMIT_UNCONFIRMED" in a and d >= COMMIT_TIMEOUT_S - 1]
    assert not waited, waited[:5]


def _assert_sound(run, *, within_s: float) -> None:
    r = run.result
    outcomes = Counter((w.kind, w.status, w.code) for w in run.writes if not w.acknowledged)
    assert r.sent > 0
    assert not run.audit.lost, f"acknowledged writes missing: {run.audit.lost[:5]}"
    assert not run.audit.duplicated, f"writes applied twice: {run.audit.duplicated[:5]}"
    assert r.found == r.acknowledged
    # Her grant and events are sent only after her registration was acknowledged (or had
    # landed): the ledger must not answer that she is unknown (gateway/fabric/endorse.py).
    unknown = [(w.kind, w.answers) for w in run.writes if w.code == "UNKNOWN_CUSTOMER"]
    assert not unknown, unknown[:5]
    assert r.acknowledged >= MIN_ACKNOWLEDGED * r.sent, outcomes
    assert r.recovery_s is not None and r.recovery_s <= within_s, (r.recovery_s, outcomes)


def test_raft_leader_orderer_killed_under_load(fault_network, campaign):
    net = fault_network
    channel = net.consortium.channel
    victim = wait_raft_leader(net.plan, channel)

    def inject() -> None:
        net.supervisor.kill(victim.process)
        time.sleep(DOWN_S)
        start_orderers(net.plan, net.layout, net.supervisor, net.bin_dir,
                       net.layout.genesis_block)

    run = campaign.run_fault("Raft leader orderer", f"SIGKILL, restarted after {DOWN_S:.0f} s",
                    inject)
    _assert_sound(run, within_s=30)
    _assert_no_lost_transaction_waited_for_the_commit_timeout(run)
    assert net.supervisor.state(victim.process) is ProcessState.RUNNING
    assert raft_leader(net.plan, channel) is not None


def test_raft_leader_orderer_frozen_under_load(fault_network, campaign):
    # The three orderers share the ordering organisation's host, so one cannot be cut off by
    # its link; SIGSTOP cuts it off from everything instead (no message in or out, its
    # connections stay open, as behind a dead link) and SIGCONT brings it back.
    net = fault_network
    channel = net.consortium.channel
    victim = wait_raft_leader(net.plan, channel)
    pid = net.supervisor.pid(victim.process)
    assert pid is not None

    def inject() -> dict[str, object]:
        os.killpg(pid, signal.SIGSTOP)
        try:
            frozen = time.monotonic()
            successor = wait_raft_leader(net.plan, channel, timeout=30)
            elected = round(time.monotonic() - frozen, 1)
            # The frozen one answers nothing (its metrics neither): the other two elected one.
            assert successor != victim
            time.sleep(max(0.0, FROZEN_S - (time.monotonic() - frozen)))
        finally:
            os.killpg(pid, signal.SIGCONT)
        return {"new leader elected after s": elected}

    run = campaign.run_fault("Raft leader orderer cut off", f"frozen (SIGSTOP) for "
                             f"{FROZEN_S:.0f} s, then SIGCONT", inject)
    _assert_sound(run, within_s=30)
    _assert_no_lost_transaction_waited_for_the_commit_timeout(run)
    assert raft_leader(net.plan, channel) is not None


def test_peer_killed_under_load(fault_network, campaign):
    net = fault_network
    victim = next(p for p in net.plan.peers if p.org == VICTIM)

    def inject() -> None:
        net.supervisor.kill(victim.process)
        time.sleep(DOWN_S)
        start_peers(net.plan, net.layout, net.supervisor, net.bin_dir, net.builder_dir)

    run = campaign.run_fault(f"peer of {VICTIM}", f"SIGKILL, restarted after {DOWN_S:.0f} s; "
                    f"load on its gateway and another", inject, (VICTIM,))
    _assert_sound(run, within_s=45)


def test_chaincode_server_killed_under_load(fault_network, campaign):
    net = fault_network
    server = next(s for s in net.plan.chaincode_servers if s.org == VICTIM)

    def inject() -> None:
        net.supervisor.kill(server.process)
        time.sleep(DOWN_S)
        package = current_package_id(server, net.layout)
        assert package is not None
        start_server(server, net.layout, net.supervisor, package, net.plan.retailer_msp_ids)
        wait_registered(server, net.layout, net.supervisor, package)

    run = campaign.run_fault(f"chaincode server of {VICTIM}",
                    f"SIGKILL, restarted after {DOWN_S:.0f} s", inject, (VICTIM,))
    _assert_sound(run, within_s=30)


def test_gateway_killed_mid_request_and_restarted(campaign):
    victim = campaign.gateways[VICTIM]

    def inject() -> None:
        victim.kill()
        time.sleep(1.0)
        victim.start()

    run = campaign.run_fault(f"gateway of {VICTIM}", "SIGKILL mid-request, restarted at once; "
                    "clients retry under the same Idempotency-Key", inject, (VICTIM,))
    cut = [w for w in run.writes if w.gateway == VICTIM and w.attempts > 1]
    assert cut, "no request was in flight when the gateway died"
    # The restarted gateway released the dead process's claims: no retry was held back.
    stuck = [w for w in run.writes if w.code == "IDEMPOTENCY_KEY_IN_FLIGHT"]
    assert not stuck, stuck
    _assert_sound(run, within_s=30)
