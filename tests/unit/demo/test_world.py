"""The demo consortium's world, consent plans, event batches and kept keys (pure logic)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from chaincode.keys import CustomerKey
from demo.seed import calls_in_order
from demo.state import DemoState, key_from_jwk, key_to_jwk
from demo.wallet import DemoCustomer
from demo.world import demo_world, event_batches, world_config
from network.description import load_consortium

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def world():
    consortium = load_consortium(ROOT / "network" / "consortium.yaml")
    return demo_world(world_config(consortium, seed=5, customers=200, start=1.7e9))


def test_world_uses_the_consortiums_msp_ids_as_retailers(world):
    assert world.config.retailer_ids == ("NorthwindMSP", "SouthgateMSP", "EastmarketMSP")
    assert {e.retailer for e in world.events} == set(world.config.retailer_ids)


def test_consent_plans_are_varied_and_follow_their_shares(world):
    from demo.seed import plans

    counts = Counter(p.name for p in plans(world))
    assert set(counts) == {"all-members", "her-retailers-purchases", "all-members-all-data",
                           "withdrawn", "none"}
    assert abs(counts["all-members"] - 90) <= 10 and abs(counts["none"] - 30) <= 10
    narrow = [p for p in plans(world) if p.name == "her-retailers-purchases"]
    assert all(p.categories == ("purchases",) for p in narrow)


def test_event_batches_hold_every_event_once_and_respect_the_limit(world):
    batches = event_batches(world, limit=7)
    assert all(1 <= len(b.events) <= 7 for b in batches)
    assert sorted(e.event_id for b in batches for e in b.events) == sorted(
        e.event_id for e in world.events)
    assert all({(e.retailer, e.store_id, e.customer_id) for e in b.events}
               == {(b.retailer, b.store_id, b.customer)} for b in batches)


def test_seeding_calls_are_signed_by_each_customers_own_key(world):
    keys = {c.customer_id: DemoCustomer.new() for c in world.customers}
    names = {"NorthwindMSP": "northwind", "SouthgateMSP": "southgate",
             "EastmarketMSP": "eastmarket"}
    registrations, grants, tasks, withdrawals = (
        [call for task in phase for call in task] for phase in calls_in_order(world, keys, names))
    assert len(registrations) == len(world.customers)
    by_id = {k.customer_id: k for k in keys.values()}
    for call in grants + withdrawals:
        statement = dict(call.body)
        signature = statement.pop("signature")
        key = CustomerKey.from_b64url(by_id[statement["customer_id"]].public_key)
        key.verify_document(statement, signature)  # raises BadSignature otherwise
    assert {c.body["consent_id"] for c in withdrawals} <= {c.body["consent_id"] for c in grants}
    assert all(c.admin and c.path.startswith("/v1/stores/") for c in tasks)
    # One task per customer for her events: her batches never run at once.
    event_tasks = calls_in_order(world, keys, names)[2]
    owners = [{c.path.split("/")[5] for c in task} for task in event_tasks]
    assert all(len(o) == 1 for o in owners) and len({o.pop() for o in owners}) == len(owners)


def test_a_key_survives_its_backup_form_and_is_kept_private(tmp_path):
    customer = DemoCustomer.new()
    jwk = key_to_jwk(customer)
    assert set(jwk) == {"crv", "d", "ext", "key_ops", "kty", "x", "y"}
    assert key_from_jwk(jwk).customer_id == customer.customer_id
    state = DemoState(tmp_path / "demo")
    first = state.customers(["a", "b"])
    again = state.customers(["a", "b"])
    assert {k: v.customer_id for k, v in first.items()} == {
        k: v.customer_id for k, v in again.items()}
    path = tmp_path / "demo" / "customers.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert set(json.loads(path.read_text())) == {"a", "b"}
