"""Kiosk suggestions, training and the model's provenance end to end on the real network.

Northwind's kiosk asks its gateway for suggestions; her consents come from its own peer and
the events southgate holds about her from southgate's gateway, which checks her consent on
its own peer. Under her consent to northwind the answer uses southgate's events about her
(``data_sources``, her southgate purchases excluded); the very next answer after she
withdraws it uses none of them. Training reads its own collection and each other owner's
shared pages, records the model's provenance on it (read back with
``GetModelProvenance`` on every peer), and the admin route installs the trained model, whose
id every later answer names.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chaincode.fields import format_timestamp
from demo.wallet import DemoCustomer
from gateway.fabric import GatewayError
from gateway.stores import Role
from gateway.training import train_from_ledger

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def members(start_ledger_gateways, catalogue) -> Iterator[dict[str, Any]]:
    """All three members' gateways: northwind reads southgate's events through southgate's."""
    ports = {"northwind": 24286, "southgate": 24287, "eastmarket": 24288}
    # Thirteen customers register from this one address within a minute: above the
    # default 10/minute an address (test_abuse.py tests that limit).
    with start_ledger_gateways(ports, catalogue=catalogue,
                               rate_registrations_per_address="60/minute") as running:
        yield running


@pytest.fixture(scope="module")
def north(members) -> Any:
    return members["northwind"]


@pytest.fixture(scope="module")
def south(members) -> Any:
    return members["southgate"]


def _buy(gateway: Any, customer: DemoCustomer, store: str, items: list[str]) -> None:
    when = format_timestamp(datetime.now(UTC) - timedelta(minutes=3))
    batch = {"events": [{"event_id": f"k-{secrets.token_hex(6)}", "item_id": item,
                         "item_category": "kiosk", "event_type": "purchase", "value": 1.0,
                         "timestamp": when} for item in items]}
    r = gateway.write(f"/v1/stores/{store}/customers/{customer.customer_id}/events", batch,
              gateway.credential(store))
    assert r.status_code == 201, r.text


def _suggest(gateway: Any, store: str, customer: DemoCustomer, n: int = 10) -> dict[str, Any]:
    r = gateway.client.get(f"/v1/stores/{store}/customers/{customer.customer_id}/suggestions",
                           params={"n": n}, headers=gateway.credential(store))
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def shoppers(north, south, catalogue, same_height) -> dict[str, Any]:
    """Alice (purchases at southgate, a consent naming northwind) and a dozen customers
    with purchases at both, on the ledger."""
    rng = random.Random(12)
    nw_store, sg_store = catalogue.stores("NorthwindMSP")[0], catalogue.stores("SouthgateMSP")[0]
    nw_items, sg_items = catalogue.items_in_store(nw_store), catalogue.items_in_store(sg_store)
    alice = DemoCustomer.new()
    assert north.write("/v1/customers", {"public_key": alice.public_key}).status_code == 201
    bought = rng.sample(list(sg_items), 4)
    _buy(south, alice, sg_store, bought)
    others = []
    for _ in range(12):
        other = DemoCustomer.new()
        assert north.write("/v1/customers", {"public_key": other.public_key}).status_code == 201
        _buy(north, other, nw_store, rng.sample(list(nw_items), 4))
        _buy(south, other, sg_store, rng.sample(list(sg_items), 3))
        assert north.write("/v1/consents", other.grant(["*"])).status_code == 201
        others.append(other)
    # An item northwind once sold and no longer lists: on the ledger, not in the catalogue.
    _buy(north, others[0], nw_store, ["discontinued-item-1"])
    consent = alice.grant(["NorthwindMSP"], categories=("purchases",))
    assert north.write("/v1/consents", consent).status_code == 201
    same_height(north, south)
    return {"alice": alice, "consent": consent, "bought": bought, "store": nw_store,
            "others": others}


def test_suggestions_use_consented_events_and_a_withdrawal_changes_the_very_next_answer(
        north, shoppers):
    alice, store = shoppers["alice"], shoppers["store"]
    before = _suggest(north, store, alice)
    assert "no suggestion model yet" in before["notice"]  # the ledger was read: no other notice
    assert before["data_sources"] == ["SouthgateMSP"]
    assert not {i["item_id"] for i in before["items"]} & set(shoppers["bought"])

    r = north.write("/v1/consents", alice.withdraw(shoppers["consent"]["consent_id"]))
    assert r.status_code == 201, r.text
    after = _suggest(north, store, alice)
    assert after["data_sources"] == [] and after["strategy"] == "popularity"


def test_an_unregistered_customer_gets_popular_items_with_a_notice(north, shoppers):
    answer = _suggest(north, shoppers["store"], DemoCustomer.new(), n=5)
    assert answer["strategy"] == "popularity" and answer["data_sources"] == []
    assert "not known here" in answer["notice"] and len(answer["items"]) == 5


def test_training_reads_the_ledger_records_provenance_and_the_admin_route_installs_it(
        north, south, shoppers, catalogue, fabric_network, same_height):
    admin = north.credential("hq", Role.ADMIN)
    ledger = north.services.connection.ledger
    height = ledger.block_height(fabric_network.consortium.channel)
    provenance = train_from_ledger(ledger, north.services.sharing,
                                   fabric_network.consortium.channel, catalogue,
                                   north.settings.model_dir)
    assert provenance["retailer"] == "NorthwindMSP"
    assert provenance["training"]["block_height"] >= height
    assert provenance["training"]["record_count"] >= 12 * 7  # the discontinued item left out
    same_height(north, south)  # committed on the own peer; now on the other too
    for gateway in (north, south):  # the record is on the ledger, read on both peers
        found = gateway.services.connection.ledger.contract.evaluate(
            "GetModelProvenance", args=[provenance["model_id"]])
        assert provenance["model_id"].encode() in found
        assert provenance["content_hash"].encode() in found

    r = north.client.post("/v1/admin/model", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["model_id"] == provenance["model_id"]
    assert north.client.get("/v1/admin/model", headers=admin).json()["model_id"] == \
        provenance["model_id"]

    # A customer the model was trained on, under her consent: personalised by the new model,
    # with southgate's data; alice, who withdrew, still gets none of southgate's.
    answer = _suggest(north, shoppers["store"], shoppers["others"][0])
    assert (answer["model_id"], answer["strategy"]) == (provenance["model_id"], "personalised")
    assert "SouthgateMSP" in answer["data_sources"]
    answer = _suggest(north, shoppers["store"], shoppers["alice"])
    assert answer["model_id"] == provenance["model_id"]
    assert "SouthgateMSP" not in answer["data_sources"]
    # The provenance is recorded once per model id, by the chaincode's rule.
    with pytest.raises(GatewayError) as caught:
        ledger.record_provenance(provenance)
    assert caught.value.chaincode_error().code == "MODEL_EXISTS"
