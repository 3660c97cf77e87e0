"""Her purchase at one member reaches her next suggestion at another within seconds, on the
real network, with no training: a customer registered after southgate's model was trained
consents to share her purchases with southgate, buys at northwind, and southgate's next
answer is folded in from that purchase and says so in words; withdrawing removes it from the
next answer. Southgate's suggestion cache holds her read until northwind's gateway, having
recorded the purchase, sends southgate its signed notice (gateway/notices.py), and drops
only hers (another customer's entry stays).

The three members' gateways on ports 24296-24298 (moved with the port block).
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chaincode.fields import format_timestamp
from chaincode.provenance import hash_consent_set
from demo.wallet import DemoCustomer
from gateway.members import MemberUnavailable
from recommender.config import ModelConfig
from recommender.training import train_retailer_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Big enough for the item representations to relate brands and categories.
MODEL = ModelConfig(no_components=16, learning_rate=0.1, max_sampled=30, epochs=20, seed=1)
#: The issue's goal for "I bought this" at one member to a changed suggestion at another.
GOAL_S = 2.0


@pytest.fixture(scope="module")
def southgate_model(tmp_path_factory: pytest.TempPathFactory, world: Any, catalogue: Any
                    ) -> Path:
    """Southgate's model, trained before any customer of this module exists."""
    model_dir = tmp_path_factory.mktemp("southgate-model") / "model"
    train_retailer_model("SouthgateMSP", world.events, catalogue, output_dir=model_dir,
                         block_height=1, consent_set_hash=hash_consent_set([]), config=MODEL)
    return model_dir


def _live(gateway: Any) -> None:
    deadline = time.monotonic() + 15
    while not gateway.services.suggestions.cache.live and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gateway.services.suggestions.cache.live, "the consent event stream is down"


@pytest.fixture(scope="module")
def gateways(start_ledger_gateway: Any, catalogue: Any, southgate_model: Path
             ) -> Iterator[tuple[Any, Any]]:
    """All three members' gateways (southgate reads her northwind events through
    northwind's, and asks eastmarket's too); southgate serves its trained model."""
    ports = {"northwind": 24296, "southgate": 24297, "eastmarket": 24298}
    models = {"southgate": {"model_dir": southgate_model}}
    with ExitStack() as stack:
        running = {name: stack.enter_context(start_ledger_gateway(
            name, catalogue=catalogue, http_port=port, member_ports=dict(ports),
            **models.get(name, {}))) for name, port in ports.items()}
        north, south = running["northwind"], running["southgate"]
        _live(north)
        _live(south)
        yield north, south


def _suggest(gateway: Any, store: str, customer: DemoCustomer) -> dict[str, Any]:
    r = gateway.client.get(f"/v1/stores/{store}/customers/{customer.customer_id}/suggestions",
                           headers=gateway.credential(store))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _session(gateway: Any, store: str, *customers: DemoCustomer) -> None:
    """Open each one's kiosk session: ask until her read is served from the cache. Another
    customer's consent event (filtered blocks carry no payload) empties the whole cache when
    it reaches this gateway's watcher, so the earlier grants must have reached it first."""
    cache = gateway.services.suggestions.cache
    deadline = time.monotonic() + 10
    while True:
        for customer in customers:
            _suggest(gateway, store, customer)
        hits = cache.hits
        for customer in customers:
            _suggest(gateway, store, customer)
        if cache.hits == hits + len(customers):
            return
        assert time.monotonic() < deadline, "her read is never served from the cache"
        time.sleep(0.1)


def _registered_and_consenting(north: Any) -> tuple[DemoCustomer, str]:
    customer = DemoCustomer.new()
    assert north.write("/v1/customers", {"public_key": customer.public_key}).status_code == 201
    consent = customer.grant(["SouthgateMSP"], categories=("purchases",))
    assert north.write("/v1/consents", consent).status_code == 201
    return customer, consent["consent_id"]


def _buy(north: Any, customer: DemoCustomer, store: str, items: list[str], catalogue: Any
         ) -> tuple[float, float]:
    """Record her purchases at a northwind store; when the request left and when its 201
    arrived."""
    when = format_timestamp(datetime.now(UTC))
    batch = {"events": [{"event_id": f"rt-{secrets.token_hex(6)}", "item_id": item,
                         "item_category": catalogue.entry(item).category,
                         "event_type": "purchase", "value": 1.0, "timestamp": when}
                        for item in items]}
    headers = north.credential(store)
    sent = time.monotonic()
    r = north.write(f"/v1/stores/{store}/customers/{customer.customer_id}/events", batch,
                    headers)
    assert r.status_code == 201, r.text
    return sent, time.monotonic()


def _until(ask: Any, done: Any, since: float) -> tuple[dict[str, Any], float, int]:
    """Ask until ``done(answer)``; the answer, seconds since ``since``, requests made."""
    asked = 0
    while True:
        answer = ask()
        asked += 1
        elapsed = time.monotonic() - since
        if done(answer):
            return answer, elapsed, asked
        assert elapsed < 10 * GOAL_S, "her purchase never reached southgate's suggestions"
        time.sleep(0.01)


def _cites_northwind(answer: dict[str, Any]) -> bool:
    return any("Northwind" in item["why"] or "Northwind" in item["source"]
               for item in answer["items"])


def test_her_purchase_at_northwind_changes_her_next_southgate_suggestion_in_words(
        gateways, catalogue, same_height):
    north, south = gateways
    cache = south.services.suggestions.cache
    nw_store, sg_store = catalogue.stores("NorthwindMSP")[0], catalogue.stores("SouthgateMSP")[0]
    customer, consent_id = _registered_and_consenting(north)
    bystander, _ = _registered_and_consenting(north)
    same_height(north, south)
    model_id = _suggest(south, sg_store, customer)["model_id"]
    assert model_id is not None

    # Nothing of hers yet: popular items, and the page is told why.
    before = _suggest(south, sg_store, customer)
    assert before["strategy"] == "popularity" and before["data_sources"] == []
    assert "no purchases or likes of yours" in before["notice"]
    _session(south, sg_store, customer, bystander)  # her read is cached: only a notice
    # can change it now

    bought = list(catalogue.items_in_store(nw_store)[:3])
    notices = north.services.notices
    told = notices.sent
    sent, recorded = _buy(north, customer, nw_store, bought, catalogue)
    after, elapsed, asked = _until(lambda: _suggest(south, sg_store, customer),
                                   lambda a: "NorthwindMSP" in a["data_sources"], recorded)
    bought_to_changed = elapsed + (recorded - sent)
    sys.stderr.write(f"\n'I bought this' at northwind -> changed southgate suggestion: "
                     f"{bought_to_changed * 1000:.0f} ms (recording {(recorded - sent) * 1000:.0f}"
                     f" ms, then {elapsed * 1000:.0f} ms, {asked} request(s))\n")
    assert bought_to_changed < GOAL_S
    assert notices.sent == told + 1 and notices.failed == 0  # southgate only: her consent
    assert after["model_id"] == model_id  # no training, no install
    assert after["strategy"] == "personalised" and after["notice"] is None
    assert not {i["item_id"] for i in after["items"]} & set(bought)
    words = {f"You bought {catalogue.entry(i).brand} {catalogue.entry(i).category} at Northwind."
             for i in bought}
    cited = [item for item in after["items"] if item["why"] in words]
    assert cited, [item["why"] for item in after["items"]]
    assert all(item["source"] == "From what you shared from Northwind." for item in cited)
    # Only her entry went: the bystander is still answered from the cache.
    hits = cache.hits
    _suggest(south, sg_store, bystander)
    assert cache.hits == hits + 1

    # Withdrawn through northwind: the next southgate answer uses none of it.
    assert north.write("/v1/consents", customer.withdraw(consent_id)).status_code == 201
    withdrawn_at = time.monotonic()
    gone, elapsed, _ = _until(lambda: _suggest(south, sg_store, customer),
                              lambda a: "NorthwindMSP" not in a["data_sources"], withdrawn_at)
    sys.stderr.write(f"withdrawal at northwind -> southgate answer without it: "
                     f"{elapsed * 1000:.0f} ms\n")
    assert elapsed < GOAL_S
    assert gone["strategy"] == "popularity" and not _cites_northwind(gone)
    assert not any(r["retailer"] == "NorthwindMSP" for i in gone["items"] for r in i["reasons"])


def test_a_notice_drops_only_her_entry_and_answers_alike_whether_she_was_cached(
        gateways, catalogue, same_height):
    north, south = gateways
    cache = south.services.suggestions.cache
    sg_store = catalogue.stores("SouthgateMSP")[0]
    cached, _ = _registered_and_consenting(north)
    bystander, _ = _registered_and_consenting(north)
    never_asked, _ = _registered_and_consenting(north)
    same_height(north, south)
    _session(south, sg_store, cached, bystander)
    members = north.services.sharing.members
    answers = [members.post("SouthgateMSP", "/v1/members/notices",
                            {"customer_id": c.customer_id}) for c in (cached, never_asked)]
    assert answers[0] == answers[1] == {"accepted": True}
    assert cache.get(cached.customer_id) is None
    assert cache.get(bystander.customer_id) is not None
    # Nothing but her id: any other field is refused, and so is an unsigned notice.
    with pytest.raises(MemberUnavailable, match="422"):
        members.post("SouthgateMSP", "/v1/members/notices",
                     {"customer_id": cached.customer_id, "items": ["x"]})
    unsigned = south.client.post("/v1/members/notices", json={"customer_id": "x"})
    assert unsigned.status_code == 401


def test_purchases_at_northwind_reach_southgate_within_the_goal_each_time(gateways, catalogue,
                                                                          same_height):
    """Five new customers, one purchase each (her kiosk session at southgate open, i.e. her
    read cached): "I bought this" to southgate's changed answer, median and worst printed."""
    north, south = gateways
    nw_store, sg_store = catalogue.stores("NorthwindMSP")[0], catalogue.stores("SouthgateMSP")[0]
    items = list(catalogue.items_in_store(nw_store))
    figures: list[float] = []
    for n in range(5):
        customer, _ = _registered_and_consenting(north)
        same_height(north, south)
        _session(south, sg_store, customer)
        sent, recorded = _buy(north, customer, nw_store, items[3 * n: 3 * n + 3], catalogue)
        _, elapsed, _ = _until(lambda c=customer: _suggest(south, sg_store, c),
                               lambda a: "NorthwindMSP" in a["data_sources"], recorded)
        figures.append(elapsed + recorded - sent)
    figures.sort()
    sys.stderr.write(f"\n'I bought this' -> changed suggestion, 5 purchases: median "
                     f"{figures[2] * 1000:.0f} ms, worst {figures[-1] * 1000:.0f} ms\n")
    assert figures[-1] < GOAL_S
