"""The kiosk suggestion cache on the real network: a withdrawal made through this gateway
changes the very next answer; one made through another retailer's gateway reaches this one
as a chaincode event on its peer's deliver stream and empties the cache.

The three members' gateways on ports 24290-24292.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chaincode.fields import format_timestamp
from demo.wallet import DemoCustomer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def members(start_ledger_gateways, catalogue) -> Iterator[dict[str, Any]]:
    """All three members' gateways (northwind reads southgate's events through southgate's)."""
    ports = {"northwind": 24290, "southgate": 24291, "eastmarket": 24292}
    with start_ledger_gateways(ports, catalogue=catalogue) as running:
        yield running


@pytest.fixture(scope="module")
def north(members) -> Any:
    running = members["northwind"]
    deadline = time.monotonic() + 15
    while not running.services.suggestions.cache.live and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.services.suggestions.cache.live, "the consent event stream is down"
    return running


@pytest.fixture(scope="module")
def south(members) -> Any:
    return members["southgate"]


def _post(gateway: Any, path: str, body: Any, headers: dict[str, str] | None = None
          ) -> httpx.Response:
    key = {"Idempotency-Key": f"it-{secrets.token_hex(12)}"}
    return gateway.client.post(path, json=body, headers={**key, **(headers or {})})


def _suggest(gateway: Any, store: str, customer: DemoCustomer) -> dict[str, Any]:
    r = gateway.client.get(f"/v1/stores/{store}/customers/{customer.customer_id}/suggestions",
                           headers=gateway.credential(store))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _consenting_shopper(north: Any, south: Any, catalogue: Any) -> tuple[DemoCustomer, str]:
    """A customer with purchases at southgate and a consent naming northwind; its id."""
    customer = DemoCustomer.new()
    assert _post(north, "/v1/customers", {"public_key": customer.public_key}).status_code == 201
    sg_store = catalogue.stores("SouthgateMSP")[0]
    when = format_timestamp(datetime.now(UTC) - timedelta(minutes=3))
    batch = {"events": [{"event_id": f"sc-{secrets.token_hex(6)}", "item_id": item,
                         "item_category": "kiosk", "event_type": "purchase", "value": 1.0,
                         "timestamp": when}
                        for item in catalogue.items_in_store(sg_store)[:3]]}
    r = _post(south, f"/v1/stores/{sg_store}/customers/{customer.customer_id}/events", batch,
              south.credential(sg_store))
    assert r.status_code == 201, r.text
    consent = customer.grant(["NorthwindMSP"], categories=("purchases",))
    assert _post(north, "/v1/consents", consent).status_code == 201
    return customer, consent["consent_id"]


def test_a_withdrawal_through_this_gateway_changes_the_very_next_cached_answer(
        north, south, catalogue):
    customer, consent_id = _consenting_shopper(north, south, catalogue)
    store, cache = catalogue.stores("NorthwindMSP")[0], north.services.suggestions.cache
    assert _suggest(north, store, customer)["data_sources"] == ["SouthgateMSP"]
    hits = cache.hits
    assert _suggest(north, store, customer)["data_sources"] == ["SouthgateMSP"]
    assert cache.hits == hits + 1  # answered from the cache

    assert _post(north, "/v1/consents", customer.withdraw(consent_id)).status_code == 201
    assert _suggest(north, store, customer)["data_sources"] == []


def test_a_withdrawal_through_another_gateway_reaches_the_cache_as_an_event(
        north, south, catalogue):
    customer, consent_id = _consenting_shopper(north, south, catalogue)
    store, cache = catalogue.stores("NorthwindMSP")[0], north.services.suggestions.cache
    _suggest(north, store, customer)
    hits = cache.hits
    assert _suggest(north, store, customer)["data_sources"] == ["SouthgateMSP"]
    assert cache.hits == hits + 1

    # Submitted through southgate: committed on southgate's peer when this returns.
    assert _post(south, "/v1/consents", customer.withdraw(consent_id)).status_code == 201
    started = time.monotonic()
    while _suggest(north, store, customer)["data_sources"]:
        assert time.monotonic() - started < 5, "the withdrawal never reached the cache"
        time.sleep(0.01)
    assert cache.live
