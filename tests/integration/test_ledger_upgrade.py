"""The chaincode upgraded to a new version at the next sequence keeps every record.

Runs late in a session (alphabetically after the other ledger modules) and restores nothing:
later tests read the committed version from the network, never assume "1.0". The upgrade
is what an operator does: a description with a new chaincode version, then ``up`` (new
packages, chaincode servers restarted under the new package ids, approved by every retailer
and committed at the next sequence: network/lifecycle.py). A gateway that kept running
through the upgrade reads every earlier record (customers, consents and their history,
private events, each owner's access log, model provenance) and writes again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chaincode.fields import format_timestamp
from demo.wallet import DemoCustomer
from network.control import Network

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def gateway(start_ledger_gateways, catalogue) -> Iterator[Any]:
    """Southgate's gateway, with the others' (her export gathers every owner's part)."""
    ports = {"northwind": 24293, "southgate": 24291, "eastmarket": 24294}
    with start_ledger_gateways(ports, catalogue=catalogue) as running:
        yield running["southgate"]


def _committed(net: Network) -> list[dict[str, Any]]:
    """The committed definition as each peer reports it (Fabric's own CLI)."""
    spec = net.consortium.chaincode
    return [json.loads(net.tools.peer_cli(peer, [
        "lifecycle", "chaincode", "querycommitted", "-C", net.consortium.channel,
        "-n", spec.name, "--output", "json"], what="querycommitted"))
        for peer in net.plan.peers]


def _snapshot(gateway: Any, alice: DemoCustomer, consent_id: str) -> dict[str, Any]:
    store = gateway.credential("kiosk-1")
    base = f"/v1/customers/{alice.customer_id}"
    export = gateway.write(f"{base}/export", alice.rights_request("export", "SouthgateMSP")).json()
    return {
        "consents": gateway.client.get(f"{base}/consents", headers=store).json()["items"],
        "history": gateway.client.get(f"{base}/consents/{consent_id}/history",
                                      headers=store).json()["items"],
        "events": sorted(e["event_id"] for e in export["holdings"]["SouthgateMSP"]["events"]),
        "customer": export["customer"],
        # Each owner logs each export it serves (this one's entries included).
        "access_log": len(export["access_log"]),
    }


def test_upgrade_to_the_next_sequence_keeps_every_record(gateway, fabric_network):
    net = fabric_network
    before = _committed(net)
    assert len({(d["sequence"], d["version"]) for d in before}) == 1
    sequence, version = before[0]["sequence"], before[0]["version"]

    alice = DemoCustomer.new()
    assert gateway.write("/v1/customers", {"public_key": alice.public_key}).status_code == 201
    grant = alice.grant(["NorthwindMSP", "EastmarketMSP"])
    assert gateway.write("/v1/consents", grant).status_code == 201
    narrow = alice.narrow(grant["consent_id"], ["NorthwindMSP"], ["personalisation"],
                          ["purchases"], grant["expires_at"])
    assert gateway.write("/v1/consents", narrow).status_code == 201
    when = format_timestamp(datetime.now(UTC) - timedelta(minutes=1))
    batch = {"events": [{"event_id": f"up-{i}", "item_id": f"item-{i}", "item_category": "up",
                         "event_type": "purchase", "value": 1.0, "timestamp": when}
                        for i in range(5)]}
    r = gateway.write(f"/v1/stores/sg-1/customers/{alice.customer_id}/events", batch,
              gateway.credential("sg-1"))
    assert r.status_code == 201, r.text
    assert gateway.client.get(f"/v1/customers/{alice.customer_id}/preferences",
                              headers=gateway.credential("kiosk-1")).status_code == 200
    kept = _snapshot(gateway, alice, grant["consent_id"])
    owners = len(net.consortium.retailers)
    assert len(kept["events"]) == 5 and kept["access_log"] == owners
    assert len(kept["history"]) == 2

    spec = net.consortium.chaincode
    upgraded = net.consortium.model_copy(update={
        "chaincode": spec.model_copy(update={"version": f"{version}.u{sequence + 1}"})})
    Network(upgraded, net.layout, net.bin_dir, builder_dir=net.builder_dir).up()
    net.channel.wait_same_height()

    after = _committed(net)
    assert {(d["sequence"], d["version"]) for d in after} == {
        (sequence + 1, f"{version}.u{sequence + 1}")}
    # Every record kept: the earlier exports' log entries and this one's.
    assert _snapshot(gateway, alice, grant["consent_id"]) == {**kept,
                                                              "access_log": 2 * owners}
    # The upgraded chaincode writes, and its checks hold: the old statement is a replay.
    again = gateway.write("/v1/consents", narrow)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "REPLAYED_NONCE")
    withdrawal = alice.withdraw(grant["consent_id"])
    assert gateway.write("/v1/consents", withdrawal).status_code == 201
    history = gateway.client.get(
        f"/v1/customers/{alice.customer_id}/consents/{grant['consent_id']}/history",
        headers=gateway.credential("kiosk-1")).json()["items"]
    assert [v["record"]["version"] for v in history] == [1, 2, 3]
