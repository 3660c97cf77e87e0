"""Shared reads through the owner, the owner's access log, erasure at every holder: on the
real network through three gateways."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from demo.wallet import DemoCustomer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETAILERS = ("northwind", "southgate", "eastmarket")
PORTS = {"northwind": 24180, "southgate": 24280, "eastmarket": 24380}
MSP = {"northwind": "NorthwindMSP", "southgate": "SouthgateMSP", "eastmarket": "EastmarketMSP"}


@pytest.fixture(scope="module")
def gateways(start_ledger_gateways, catalogue) -> Iterator[dict[str, Any]]:
    with start_ledger_gateways(PORTS, catalogue=catalogue) as running:
        yield running


def _register(gateway: Any) -> DemoCustomer:
    customer = DemoCustomer.new()
    r = gateway.write("/v1/customers", {"public_key": customer.public_key})
    assert r.status_code == 201, r.text
    return customer


def _record(gateway: Any, catalogue: Any, customer: DemoCustomer, msp: str, n: int) -> list[str]:
    store = catalogue.stores(msp)[0]
    items = catalogue.items_in_store(store)[:n]
    events = [{"event_id": f"e-{time.monotonic_ns()}-{k}", "item_id": items[k],
               "item_category": "outerwear", "event_type": "purchase",
               "value": 1, "timestamp": "2026-12-01T10:00:00.000Z"} for k in range(n)]
    r = gateway.write(f"/v1/stores/{store}/customers/{customer.customer_id}/events",
                      {"events": events}, headers=gateway.credential(store))
    assert r.status_code == 201, r.text
    return [e["item_id"] for e in events]


def _preferences(gateway: Any, customer: DemoCustomer) -> dict[str, Any]:
    r = gateway.client.get(f"/v1/customers/{customer.customer_id}/preferences",
                           headers=gateway.credential("kiosk-1"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_shared_read_goes_through_the_owner_and_the_owner_logs_it(
        gateways, catalogue, same_height):
    north, south, east = (gateways[r] for r in RETAILERS)
    alice = _register(north)
    grant = alice.grant([MSP["southgate"]], purposes=("personalisation",),
                        categories=("purchases",))
    assert south.write("/v1/consents", grant).status_code == 201
    _record(north, catalogue, alice, MSP["northwind"], 3)
    same_height(*gateways.values())
    got = _preferences(south, alice)
    assert [e["retailer"] for e in got["events"]] == [MSP["northwind"]] * 3
    assert _preferences(east, alice)["events"] == []
    # The log reaches the ledger from the owner's queue.
    deadline = time.monotonic() + 20
    while north.services.sharing.read_log.pending() and time.monotonic() < deadline:
        time.sleep(0.2)
    same_height(*gateways.values())
    request = alice.rights_request("export", MSP["eastmarket"])
    r = east.client.post(f"/v1/customers/{alice.customer_id}/export", json=request)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["unanswered"] == []
    reads = [e for e in doc["holdings"][MSP["northwind"]]["access_log"] if e["kind"] == "kiosk"]
    assert [(e["reader"], e["count"]) for e in reads] == [(MSP["southgate"], 3)]
    again = east.client.post(f"/v1/customers/{alice.customer_id}/export", json=request)
    assert again.status_code == 409, again.text


def test_withdrawal_stops_the_owner_serving_on_the_next_read(gateways, catalogue, same_height):
    north, south, _ = (gateways[r] for r in RETAILERS)
    bob = _register(north)
    grant = bob.grant([MSP["southgate"]], purposes=("personalisation",),
                      categories=("purchases",))
    assert south.write("/v1/consents", grant).status_code == 201
    _record(north, catalogue, bob, MSP["northwind"], 2)
    same_height(*gateways.values())
    assert len(_preferences(south, bob)["events"]) == 2
    assert north.write("/v1/consents", bob.withdraw(grant["consent_id"])).status_code == 201
    same_height(*gateways.values())
    assert _preferences(south, bob)["events"] == []


def test_erasure_completes_at_every_holder_and_an_older_grant_cannot_reopen_her(
        gateways, catalogue, same_height):
    north, south, east = (gateways[r] for r in RETAILERS)
    carol = _register(north)
    grant = carol.grant([MSP["southgate"]], purposes=("personalisation",),
                        categories=("purchases",))
    assert north.write("/v1/consents", grant).status_code == 201
    _record(north, catalogue, carol, MSP["northwind"], 2)
    old_grant = carol.grant([MSP["eastmarket"]], purposes=("personalisation",),
                            categories=("purchases",))
    time.sleep(0.01)
    r = south.write(f"/v1/customers/{carol.customer_id}/erasure",
                    carol.rights_request("erase", MSP["southgate"]))
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 30
    while True:
        progress = north.services.connection.ledger.erasure_progress(carol.customer_id)
        if set(progress["progress"].values()) == {"done"}:
            break
        assert time.monotonic() < deadline, progress
        time.sleep(0.5)
    assert sorted(progress["progress"]) == sorted(MSP.values())
    r = east.write("/v1/consents", old_grant)
    assert r.status_code == 400 and r.json()["error"]["code"] == "BACKDATED", r.text
