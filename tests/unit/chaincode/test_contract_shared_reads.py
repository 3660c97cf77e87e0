"""Shared reads on the memory ledger: the owner serves another member exactly what her
consents open for that reader, purpose and category at the time of the read, and says
nothing about what it withheld.

The same rules run on the real network through the owners' gateways in
``tests/integration/test_trust_sharing.py`` and the consent matrix; here each rule alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chaincode.errors import CustomerErased, InvalidValue, UnknownCustomer
from chaincode.fields import format_timestamp

ORG1, ORG2, ORG3 = "Org1MSP", "Org2MSP", "Org3MSP"  # the members of conftest's Chain
#: One event of each type Org1 records about her, by the category a consent names.
EVENT_TYPES = {"purchase": "purchases", "view": "views", "like": "views",
               "rating": "stated_preferences", "stated": "stated_preferences"}


def _every_type(chain: Any, customer: Any, owner: str = ORG1) -> dict[str, str]:
    """Record one event of each type at ``owner``; their ids by event type."""
    docs = {kind: chain.event(customer, owner, event_type=kind) for kind in EVENT_TYPES}
    chain.record(*docs.values(), msp=owner)
    return {kind: doc["event_id"] for kind, doc in docs.items()}


def _opened(ids: dict[str, str], *categories: str) -> set[str]:
    return {ids[kind] for kind, category in EVENT_TYPES.items() if category in categories}


def _read_ids(answer: dict[str, Any]) -> set[str]:
    return {event["event_id"] for event in answer["events"]}


@pytest.fixture
def held(chain, alice):
    """Alice registered at the chain's time, one event of each type at Org1."""
    chain.register(alice)
    return _every_type(chain, alice)


ALL = ("purchases", "views", "stated_preferences")


@pytest.mark.parametrize(
    ("consent", "reader", "purpose", "categories"),
    [
        ({}, ORG2, "personalisation", ALL),
        ({}, ORG3, "analytics", ALL),
        ({"recipients": [ORG3]}, ORG2, "personalisation", ()),
        ({"recipients": [ORG3]}, ORG3, "personalisation", ALL),
        ({"recipients": ["*"]}, ORG2, "analytics", ALL),
        ({"recipients": ["*"]}, ORG3, "personalisation", ALL),
        ({"purposes": ["analytics"]}, ORG2, "personalisation", ()),
        ({"purposes": ["analytics"]}, ORG2, "analytics", ALL),
        ({"data_categories": ["purchases"]}, ORG2, "personalisation", ("purchases",)),
        ({"data_categories": ["views"]}, ORG2, "personalisation", ("views",)),
        ({"data_categories": ["stated_preferences", "purchases"]}, ORG3, "analytics",
         ("stated_preferences", "purchases")),
    ],
)
def test_a_shared_read_returns_what_her_consent_opens_for_reader_purpose_and_category(
        chain, alice, held, consent, reader, purpose, categories):
    chain.consent(alice, **consent)
    answer = chain.shared(alice, reader, purpose)
    assert _read_ids(answer) == _opened(held, *categories)
    assert answer["consent_ids"] == (["k-0001"] if categories else [])
    assert (answer["owner"], answer["reader"], answer["purpose"]) == (ORG1, reader, purpose)


def test_a_consent_stops_opening_at_its_expiry(chain, alice, held):
    expiry = chain.now + timedelta(hours=1)
    chain.consent(alice, expires_at=format_timestamp(expiry))
    before = chain.shared(alice, at=expiry - timedelta(milliseconds=1))
    assert _read_ids(before) == set(held.values())
    assert chain.shared(alice, at=expiry)["events"] == []


def test_a_withdrawal_stops_the_next_read(chain, alice, held):
    chain.consent(alice)
    assert _read_ids(chain.shared(alice)) == set(held.values())
    chain.consent(alice, "withdraw")
    after = chain.shared(alice)
    assert after["events"] == [] and after["consent_ids"] == []


def test_a_narrowing_stops_opening_what_it_left_out(chain, alice, held):
    chain.consent(alice)
    chain.consent(alice, "narrow", recipients=[ORG3], data_categories=["views"])
    assert chain.shared(alice, ORG2)["events"] == []
    assert _read_ids(chain.shared(alice, ORG3)) == _opened(held, "views")


def test_each_consent_opens_its_own_categories_and_is_named(chain, alice, held):
    chain.consent(alice, consent_id="k-buy", recipients=[ORG2], data_categories=["purchases"],
                  purposes=["personalisation"])
    chain.consent(alice, consent_id="k-look", recipients=[ORG2], data_categories=["views"],
                  purposes=["analytics"])
    personal = chain.shared(alice, ORG2, "personalisation")
    assert _read_ids(personal) == _opened(held, "purchases")
    assert personal["consent_ids"] == ["k-buy"]
    analytic = chain.shared(alice, ORG2, "analytics")
    assert _read_ids(analytic) == _opened(held, "views")
    assert analytic["consent_ids"] == ["k-look"]


def test_a_shared_read_returns_only_the_serving_owners_events(chain, alice, held):
    chain.consent(alice, recipients=["*"])
    at_org3 = _every_type(chain, alice, ORG3)
    assert _read_ids(chain.shared(alice, ORG2, owner=ORG1)) == set(held.values())
    assert _read_ids(chain.shared(alice, ORG2, owner=ORG3)) == set(at_org3.values())


def test_a_non_recipient_gets_the_answer_given_for_a_customer_held_nowhere(chain, alice, mallory,
                                                                          held):
    """No withheld counts: what Org3 is told about Alice (events here, consent to Org2 only)
    is what it is told about Mallory (nothing held, no consent)."""
    chain.consent(alice, recipients=[ORG2])
    chain.register(mallory)
    about_alice = chain.shared(alice, ORG3)
    about_mallory = chain.shared(mallory, ORG3)
    assert about_alice.pop("customer_id") == alice.id
    assert about_mallory.pop("customer_id") == mallory.id
    assert about_alice == about_mallory


def test_nothing_is_shared_of_an_erased_customer(chain, alice, held):
    chain.consent(alice, recipients=["*"])
    chain.erase(alice, ORG2)
    assert isinstance(chain.refused("ReadSharedEvents", alice.id, ORG2, "personalisation"),
                      CustomerErased)
    page = chain.call("ReadSharedTraining", ORG2, "personalisation", "", "10")
    assert page["events"] == [] and page["consents"] == []


def test_a_shared_read_of_an_unregistered_customer_is_refused(chain, alice):
    assert isinstance(chain.refused("ReadSharedEvents", alice.id, ORG2, "personalisation"),
                      UnknownCustomer)


@pytest.mark.parametrize(("reader", "purpose", "field"), [
    (ORG1, "personalisation", "reader"),      # the owner is no reader of its own
    ("Org9MSP", "personalisation", "reader"),  # not a member
    ("Org 2", "personalisation", "reader"),
    (ORG2, "marketing", "purpose"),
])
def test_a_shared_read_names_another_member_and_a_known_purpose(chain, alice, held, reader,
                                                                purpose, field):
    chain.consent(alice, recipients=["*"])
    for function, args in (("ReadSharedEvents", (alice.id, reader, purpose)),
                           ("ReadSharedTraining", (reader, purpose, "", "10"))):
        err = chain.refused(function, *args)
        assert isinstance(err, InvalidValue) and err.field == field


# --- training pages ------------------------------------------------------------------------------


def _consenting_world(chain: Any) -> dict[str, tuple[set[str], list[list[Any]]]]:
    """Five customers at Org1, each with one event per type, and per customer id what she
    opens to Org2 for personalisation (event ids) and the consents that open it
    (``[customer_id, consent_id, version]``): all; purchases only; nothing (recipient Org3);
    nothing (withdrawn); views under a narrowed consent (its version 2)."""
    setups: list[tuple[tuple[tuple[str, dict[str, Any]], ...], tuple[str, ...]]] = [
        ((("grant", {}),), ALL),
        ((("grant", {"data_categories": ["purchases"]}),), ("purchases",)),
        ((("grant", {"recipients": [ORG3]}),), ()),
        ((("grant", {}), ("withdraw", {})), ()),
        ((("grant", {}), ("narrow", {"recipients": [ORG2], "data_categories": ["views"]})),
         ("views",)),
    ]
    world = {}
    for statements, categories in setups:
        customer = chain.new_customer()
        chain.register(customer)
        for action, overrides in statements:
            chain.consent(customer, action, **overrides)
        ids = _every_type(chain, customer)
        opening = [[customer.id, "k-0001", len(statements)]] if categories else []
        world[customer.id] = (_opened(ids, *categories), opening)
    return world


def _all_pages(chain: Any, purpose: str, limit: str) -> tuple[list[dict[str, Any]], ...]:
    pages, after = [], ""
    while True:
        page = chain.call("ReadSharedTraining", ORG2, purpose, after, limit)
        pages.append(page)
        if page["next"] is None:
            return tuple(pages)
        after = page["next"]


def test_training_pages_return_exactly_what_each_customers_consents_open(chain):
    world = _consenting_world(chain)
    pages = _all_pages(chain, "personalisation", "2")
    assert [page["customers"] for page in pages] == [2, 2, 1]
    events = [event["event_id"] for page in pages for event in page["events"]]
    assert sorted(events) == sorted(e for opened, _ in world.values() for e in opened)
    consents = [c for page in pages for c in page["consents"]]
    assert sorted(consents) == sorted(c for _, opening in world.values() for c in opening)


def test_training_pages_follow_customer_id_order(chain):
    world = _consenting_world(chain)
    ordered = sorted(world)
    first, rest = _all_pages(chain, "personalisation", "3")
    assert first["next"] == ordered[2]
    for page, customers in ((first, ordered[:3]), (rest, ordered[3:])):
        served = {event["customer_id"] for event in page["events"]}
        assert served == {cid for cid in customers if world[cid][0]}


def test_a_training_page_opens_each_consent_for_its_own_purpose(chain, alice):
    chain.register(alice)
    ids = _every_type(chain, alice)
    chain.consent(alice, consent_id="k-buy", recipients=[ORG2], data_categories=["purchases"],
                  purposes=["personalisation"])
    chain.consent(alice, consent_id="k-look", recipients=[ORG2], data_categories=["views"],
                  purposes=["analytics"])
    for purpose, category, consent_id in (("personalisation", "purchases", "k-buy"),
                                          ("analytics", "views", "k-look")):
        (page,) = _all_pages(chain, purpose, "10")
        assert {event["event_id"] for event in page["events"]} == _opened(ids, category)
        assert page["consents"] == [[alice.id, consent_id, 1]]
