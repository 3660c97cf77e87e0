"""Preference events, consent-checked reads, the access log, export and erasure end to end
on the real Fabric 2.1.1 network, through three retailers' gateways over HTTPS.

Events go in batches, as private data of the recording retailer's own collection, through a
store's gateway; another retailer reads them only under her consent, through the owner's
gateway, and every read that served events is logged by the OWNER, in its own collection:
her export shows it. Export (her signed request) through each member's gateway returns
everything held about her: every owner's holding and access log. Erasure (her signed
request, then each member's own purge) leaves nothing of hers readable on any peer: checked
with Fabric's own ``peer chaincode query`` on each owner's peer, as that owner, once
``ErasureProgress`` says every member has purged. A unique marker written as an item id is in
no block file of any peer or orderer (so in no public write and no public state, which only
blocks' write-sets change) and in no log of any process.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chaincode.fields import format_timestamp
from demo.wallet import DemoCustomer
from network.errors import CommandFailed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETAILERS = ("northwind", "southgate", "eastmarket")
PORTS = {"northwind": 24283, "southgate": 24284, "eastmarket": 24381}
MSP = {"northwind": "NorthwindMSP", "southgate": "SouthgateMSP", "eastmarket": "EastmarketMSP"}


@pytest.fixture(scope="module")
def gateways(start_ledger_gateways, catalogue) -> Iterator[dict[str, Any]]:
    with start_ledger_gateways(PORTS, catalogue=catalogue) as running:
        yield running


def _register(gateway: Any) -> DemoCustomer:
    customer = DemoCustomer.new()
    assert gateway.write("/v1/customers", {"public_key": customer.public_key}).status_code == 201
    return customer


def _events(prefix: str, items: list[str], event_type: str = "purchase") -> dict[str, Any]:
    when = format_timestamp(datetime.now(UTC) - timedelta(minutes=2))
    return {"events": [{"event_id": f"{prefix}-{i}", "item_id": item,
                        "item_category": "shoes", "event_type": event_type,
                        "value": 1.0, "timestamp": when} for i, item in enumerate(items)]}


def _record(gateway: Any, customer: DemoCustomer, store: str, batch: dict[str, Any]) -> None:
    r = gateway.write(f"/v1/stores/{store}/customers/{customer.customer_id}/events", batch,
              gateway.credential(store))
    assert (r.status_code, r.json()) == (201, {"recorded": len(batch["events"])}), r.text


def _read(gateway: Any, customer: DemoCustomer, purpose: str = "personalisation"
          ) -> dict[str, Any]:
    r = gateway.client.get(f"/v1/customers/{customer.customer_id}/preferences",
                           params={"purpose": purpose}, headers=gateway.credential("kiosk-1"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _flush_read_logs(gateways: dict[str, Any]) -> None:
    """Wait until each owner's read-log writer has committed what it queued (it deletes a
    queued entry only once the ledger took it; flushing from here too would race it)."""
    deadline = time.monotonic() + 30
    for gateway in gateways.values():
        read_log = gateway.services.sharing.read_log
        while read_log is not None and read_log.pending():
            assert time.monotonic() < deadline, "read-log entries still queued"
            time.sleep(0.1)


def _files_with(root: Path, marker: bytes, pattern: str) -> list[Path]:
    return [f for f in root.rglob(pattern) if f.is_file() and marker in f.read_bytes()]


def test_batches_are_read_across_retailers_only_under_her_consent_and_logged(
        gateways, same_height):
    north, south, east = (gateways[r] for r in RETAILERS)
    alice = _register(north)
    _record(north, alice, "nw-1", _events("nw", [f"item-{i}" for i in range(20)]))
    _record(north, alice, "nw-2", _events("nw-view", ["item-v"], "view"))
    _record(east, alice, "em-1", _events("em", ["item-e1", "item-e2"]))
    same_height(*gateways.values())
    # Before any consent: each member reads its own, nothing of the others', and is told
    # nothing of what it could not read (nor which members answered empty).
    assert len(_read(north, alice)["events"]) == 21
    before = _read(south, alice)
    assert before["events"] == [] and before["unanswered"] == []
    assert set(before) == {"customer_id", "purpose", "events", "unanswered"}
    grant = alice.grant([MSP["southgate"]], categories=("purchases",))
    assert south.write("/v1/consents", grant).status_code == 201
    same_height(*gateways.values())

    read = _read(south, alice)
    assert sorted(e["event_id"] for e in read["events"]) == sorted(
        [f"nw-{i}" for i in range(20)] + ["em-0", "em-1"])
    assert "nw-view-0" not in {e["event_id"] for e in read["events"]}  # not granted
    assert "withheld" not in read
    assert _read(south, alice, "analytics")["events"] == []
    assert len(_read(east, alice)["events"]) == 2  # its own only

    # Each owner logged southgate's read of its events, in its own collection.
    _flush_read_logs(gateways)
    same_height(*gateways.values())
    export = north.write(f"/v1/customers/{alice.customer_id}/export",
                         alice.rights_request("export", "NorthwindMSP"))
    assert export.status_code == 200, export.text
    assert export.headers["cache-control"] == "no-store"
    document = export.json()
    assert document["unanswered"] == []
    reads = {owner: [(e["owner"], e["reader"], e["purpose"], e["count"], e["consent_ids"])
                     for e in part["access_log"] if e["kind"] == "kiosk"]
             for owner, part in document["holdings"].items()}
    # Exactly the reads that served events, each logged by the owner of those events under
    # the consent that opened them; the empty reads (before her consent, for analytics) and
    # each owner's reads of its own events leave no entry.
    assert reads == {
        "NorthwindMSP": [("NorthwindMSP", "SouthgateMSP", "personalisation", 20,
                          [grant["consent_id"]])],
        "SouthgateMSP": [],
        "EastmarketMSP": [("EastmarketMSP", "SouthgateMSP", "personalisation", 2,
                           [grant["consent_id"]])]}
    log = document["access_log"]  # every owner's entries, together
    assert sorted((e["owner"], e["count"]) for e in log if e["kind"] == "kiosk") == [
        ("EastmarketMSP", 2), ("NorthwindMSP", 20)]
    assert all(set(e) >= {"owner", "reader", "purpose", "count", "consent_ids"} for e in log)
    assert not any("item" in json.dumps(e) for e in log)


def test_export_through_every_member_returns_everything_held_about_her(gateways, same_height):
    north, south, east = (gateways[r] for r in RETAILERS)
    alice = _register(north)
    held = {"northwind": ["nw-a", "nw-b"], "southgate": ["sg-a"], "eastmarket": ["em-a"]}
    for org, ids in held.items():
        _record(gateways[org], alice, f"{org[:2]}-1", _events(org[:2], ids))
    consent = alice.grant([MSP["eastmarket"]], categories=("purchases", "views"))
    assert east.write("/v1/consents", consent).status_code == 201
    same_height(*gateways.values())

    documents = {}
    for org, gateway in gateways.items():
        r = gateway.write(f"/v1/customers/{alice.customer_id}/export",
                          alice.rights_request("export", gateway.settings.msp_id))
        assert r.status_code == 200, r.text
        documents[org] = r.json()
    for org, doc in documents.items():
        assert doc["customer"]["customer_id"] == alice.customer_id
        assert doc["customer"]["public_key"] == alice.public_key
        assert [c["consent_id"] for c in doc["consents"]] == [consent["consent_id"]]
        assert [v["record"]["version"] for v in doc["consents"][0]["versions"]] == [1]
        # Whichever member she asks, each owner serves her everything it holds of her,
        # consent or not: the whole of what is held about her, by whom.
        assert doc["unanswered"] == [], org
        assert sorted(doc["holdings"]) == sorted(MSP.values()), org
        for owner, ids in held.items():
            part = doc["holdings"][MSP[owner]]
            assert sorted(e["item_id"] for e in part["events"]) == sorted(ids), (org, owner)
            assert {e["retailer"] for e in part["events"]} == {MSP[owner]}
            # This export, served by the owner, is in the owner's own log of her data.
            assert any(e["kind"] == "export" and e["owner"] == MSP[owner]
                       and e["reader"] == MSP[org] for e in part["access_log"]), (org, owner)
    union = {(e["retailer"], e["event_id"]) for d in documents.values()
             for part in d["holdings"].values() for e in part["events"]}
    assert len(union) == 4
    # A forged export is refused by the chaincode, which alone knows her key.
    genuine = alice.rights_request("export", "SouthgateMSP")
    forged = DemoCustomer.new().sign({k: v for k, v in genuine.items() if k != "signature"})
    r = south.write(f"/v1/customers/{alice.customer_id}/export", forged)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "BAD_SIGNATURE")


def test_erasure_leaves_nothing_readable_on_any_member_peer_and_no_marker_anywhere(
        gateways, fabric_network, gateway_cli, same_height, caplog):
    caplog.set_level(logging.DEBUG)
    net = fabric_network
    north, south, east = (gateways[r] for r in RETAILERS)
    marker = f"zzmarker-{secrets.token_hex(12)}"
    alice = _register(north)
    _record(north, alice, "nw-1", _events("nw", [marker, "item-2"]))
    _record(south, alice, "sg-1", _events("sg", [f"{marker}-sg"], "view"))
    grant = alice.grant(["*"], categories=("purchases", "views"))
    assert east.write("/v1/consents", grant).status_code == 201
    same_height(*gateways.values())
    assert marker in json.dumps(_read(east, alice))  # a member reads it under consent
    # Fabric's own CLI on each owner's peer, as that owner: the events are there, each
    # owner's only in its own collection.
    holding = {"northwind": 2, "southgate": 1, "eastmarket": 0}
    for org, count in holding.items():
        found = gateway_cli.query(org, org, "ReadOwnEvents", alice.customer_id)
        assert len(found["events"]) == count, org
        assert {e["retailer"] for e in found["events"]} <= {MSP[org]}

    r = south.write(f"/v1/customers/{alice.customer_id}/erasure",
                    alice.rights_request("erase", "SouthgateMSP"))
    assert r.status_code == 200, r.text
    erased = r.json()
    assert (erased["customer_id"], erased["consents_withdrawn"]) == (alice.customer_id, 1)
    assert "events_purged" not in erased  # no count of what any member held
    # Each member purges its own collection on its own (gateway/erasures.py): wait until the
    # ledger says every one has.
    deadline = time.monotonic() + 60
    while True:
        progress = gateway_cli.query("southgate", "southgate", "ErasureProgress",
                                     alice.customer_id)
        if set(progress["progress"].values()) == {"done"}:
            break
        assert time.monotonic() < deadline, progress
        time.sleep(0.5)
    assert sorted(progress["progress"]) == sorted(MSP.values())
    net.channel.wait_same_height()

    for at in RETAILERS:
        with pytest.raises(CommandFailed, match="CUSTOMER_ERASED"):  # its own: gone
            gateway_cli.query(at, at, "ReadOwnEvents", alice.customer_id)
        with pytest.raises(CommandFailed, match="CUSTOMER_ERASED"):  # her id is closed
            gateway_cli.query(at, at, "ListConsents", alice.customer_id)
        history = gateway_cli.query(at, at, "ConsentHistory", alice.customer_id,
                                    grant["consent_id"])["versions"]
        assert history[-1]["record"]["erasure"]["action"] == "erase"  # the audit trail stays
        training = gateway_cli.query(at, at, "ReadOwnTraining", "", "500")
        assert marker not in json.dumps(training)
    for gateway in gateways.values():  # her id is closed at every gateway
        closed = gateway.client.get(f"/v1/customers/{alice.customer_id}/preferences",
                                    params={"purpose": "personalisation"},
                                    headers=gateway.credential("kiosk-1"))
        assert (closed.status_code, closed.json()["error"]["code"]) == (404, "CUSTOMER_ERASED")
        assert marker not in closed.text
    # An erasure request replayed is refused (at the gateway it names, and at any other),
    # and no member records anything of hers now.
    replayed = json.loads(r.request.content)
    again = south.write(f"/v1/customers/{alice.customer_id}/erasure", replayed)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "REPLAYED_NONCE")
    elsewhere = north.write(f"/v1/customers/{alice.customer_id}/erasure", replayed)
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (
        403, "GATEWAY_MISMATCH")
    late = north.write(f"/v1/stores/nw-1/customers/{alice.customer_id}/events",
                       _events("nw-late", ["item-3"]), north.credential("nw-1"))
    assert (late.status_code, late.json()["error"]["code"]) == (404, "CUSTOMER_ERASED")

    root = net.layout.root
    blocks = [f for f in root.rglob("blockfile_*") if f.is_file()]
    assert len(blocks) >= 6  # every peer's and every orderer's chain
    assert _files_with(root, marker.encode(), "blockfile_*") == []
    logs = root / "logs"  # every process's log: CAs, orderers, peers, chaincode servers
    assert len(list(logs.glob("*.log"))) >= 9
    assert _files_with(logs, marker.encode(), "*.log") == []
    assert [rec for rec in caplog.records if marker in rec.getMessage()
            or marker in json.dumps(rec.__dict__, default=str)] == []
    # What Fabric 2.1 keeps (docs/chaincode.md): the old private write-set in the OWNER's
    # peer's private data store, until the collection's blockToLive; the endorsement-time
    # copy in its transient store's files, and its state database's files, until LevelDB
    # compacts the deleted entries away. Nowhere else in the run folder, and never on a
    # peer of a member that did not record it (eastmarket read it only through a gateway).
    owners = ("northwind", "southgate")
    kept = _files_with(root, marker.encode(), "*")
    print("files holding the marker after erasure:",
          sorted(str(f.relative_to(root)) for f in kept))
    for path in kept:
        parts = path.relative_to(root).parts
        assert parts[:2] in {("orgs", org) for org in owners}, path
        assert {"pvtdataStore", "stateLeveldb", "transientstore"} & set(parts), path
    for org in owners:
        assert any(f"orgs/{org}/" in str(f) and "pvtdataStore" in str(f) for f in kept), org
