"""A gateway's own peer stopped and started again, on the real Fabric 2.1.1 network.

While northwind's peer is down its gateway answers 503 (``/healthz`` degraded, reads
PEER_UNAVAILABLE, a write's commit unconfirmed or its endorsement unavailable), never a 2xx
it cannot stand behind. After the peer restarts and catches up, the same gateway (no restart
of its own) answers again, every write it had acknowledged is on every peer, and a write
retried under its Idempotency-Key applies at most once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from demo.wallet import DemoCustomer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HTTP_PORT = 24289


@pytest.fixture(scope="module")
def gateway(start_ledger_gateway, catalogue) -> Iterator[Any]:
    # Short timeouts, so a request meeting the stopped peer answers in seconds.
    with start_ledger_gateway("northwind", catalogue=catalogue, http_port=HTTP_PORT,
                              evaluate_timeout_s=3.0, endorse_timeout_s=3.0,
                              commit_timeout_s=6.0) as running:
        yield running


@pytest.fixture(scope="module")
def witness(start_ledger_gateway, catalogue) -> Iterator[Any]:
    """Southgate's gateway, on a peer that stays up."""
    with start_ledger_gateway("southgate", catalogue=catalogue, http_port=24290) as running:
        yield running


def _post(gateway: Any, path: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key or f"it-{secrets.token_hex(12)}"}
    return gateway.client.post(path, json=body, headers=headers)


def _consents(gateway: Any, customer: DemoCustomer) -> httpx.Response:
    return gateway.client.get(f"/v1/customers/{customer.customer_id}/consents",
                              headers=gateway.credential("kiosk-1"))


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_peer_down_answers_503_and_after_restart_nothing_acknowledged_is_lost(
        gateway, witness, fabric_network, same_height):
    net = fabric_network
    alice = DemoCustomer.new()
    assert _post(gateway, "/v1/customers", {"public_key": alice.public_key}).status_code == 201
    acknowledged = []
    for _ in range(3):
        grant = alice.grant(["SouthgateMSP"])
        assert _post(gateway, "/v1/consents", grant).status_code == 201
        acknowledged.append(grant["consent_id"])
    assert gateway.client.get("/healthz").status_code == 200
    peer = next(p for p in net.plan.peers if p.org == "northwind")

    net.supervisor.stop(peer.process)
    try:
        # /healthz answers from a probe at most half a second old (gateway/health.py), and
        # a probe takes up to a second: the outage shows within a few seconds, not at once.
        deadline = time.monotonic() + 5
        while (health := gateway.client.get("/healthz")).status_code == 200:
            assert time.monotonic() < deadline, "the gateway still calls its stopped peer fine"
            time.sleep(0.1)
        assert (health.status_code, health.json()) == (
            503, {"status": "degraded", "peer": "unreachable"})
        read = _consents(gateway, alice)
        assert (read.status_code, _code(read)) == (503, "PEER_UNAVAILABLE")
        # A write: the other two peers can endorse it and the orderers order it, but its
        # commit cannot be confirmed on the own peer, so it is not acknowledged.
        pending = alice.grant(["EastmarketMSP"])
        key = f"it-{secrets.token_hex(12)}"
        write = _post(gateway, "/v1/consents", pending, key)
        assert write.status_code == 503, write.text
        assert _code(write) in {"COMMIT_UNCONFIRMED", "PEER_UNAVAILABLE"}
        # Nothing of the outage is stored as an answer: the retry below really retries.
        assert "Idempotent-Replay" not in write.headers
    finally:
        net.up()
    net.channel.wait_same_height()

    deadline = time.monotonic() + 30
    while gateway.client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the gateway did not see its peer return"
        time.sleep(0.5)
    retry = _post(gateway, "/v1/consents", pending, key)
    # Landed while the peer was down (the chaincode refuses its nonce again) or applied now.
    assert retry.status_code in (201, 409), retry.text
    if retry.status_code == 409:
        assert _code(retry) == "REPLAYED_NONCE"
    same_height(gateway, witness)
    for reader in (gateway, witness):
        found = _consents(reader, alice)
        assert found.status_code == 200, found.text
        ids = [c["consent_id"] for c in found.json()["items"]]
        assert sorted(ids) == sorted([*acknowledged, pending["consent_id"]])
        assert all(c["version"] == 1 for c in found.json()["items"])
