"""Consent end to end on the real Fabric 2.1.1 network, through three retailers' gateways.

Each retailer's gateway runs over HTTPS against its own peer (conftest
``start_ledger_gateway``). A customer (``DemoCustomer``: her own P-256 key) registers,
grants, narrows, renews and withdraws; every gateway reads the result back from the ledger.
Hostile statements (forged, replayed, widened, backdated) are refused by the chaincode with
its own code, and leave the channel height and her consents unchanged.

The consent matrix: one customer per consent state (none, granted, narrowed, withdrawn,
expired), northwind holding events of every data category for each; every reader x purpose x
category is asked through each reader's gateway (``GET .../preferences``, which asks
northwind's gateway) and, bypassing the gateways, through the Fabric client: ``CheckConsent``
as the reader's own identity on its own peer, and ``ReadSharedEvents`` on northwind's peer as
northwind's gateway identity with that reader as the argument (northwind reads its own
events with ``ReadOwnEvents``, no consent needed). What should pass passes, everything else
is the chaincode's refusal, and the reader's answer says nothing of what was left out.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chaincode.consent_statement import DATA_CATEGORIES, PURPOSES
from chaincode.fields import format_timestamp
from demo.gateway_settings import gateway_settings
from demo.wallet import DemoCustomer
from gateway.fabric import (
    CommitError,
    EndorsementPolicy,
    EvaluateError,
    Gateway,
    GatewayError,
    ecdsa_signer,
    load_msp_folder,
)
from gateway.ledger import LedgerConnection, open_ledger

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETAILERS = ("northwind", "southgate", "eastmarket")
PORTS = {"northwind": 24280, "southgate": 24281, "eastmarket": 24380}
MSP = {"northwind": "NorthwindMSP", "southgate": "SouthgateMSP", "eastmarket": "EastmarketMSP"}
HOLDER, RECIPIENT, OUTSIDER = "northwind", "southgate", "eastmarket"
STATES = ("none", "granted", "narrowed", "withdrawn", "expired")
GRANTED = ("purchases", "views")
#: One event of each data category (docs/chaincode.md, "Reads").
EVENT_OF_CATEGORY = {"purchases": "purchase", "views": "view", "stated_preferences": "rating"}


@pytest.fixture(scope="module")
def gateways(start_ledger_gateways, catalogue) -> Iterator[dict[str, Any]]:
    with start_ledger_gateways(PORTS, catalogue=catalogue) as running:
        yield running


@pytest.fixture(scope="module")
def direct(fabric_network, tmp_path_factory) -> Iterator[dict[str, LedgerConnection]]:
    """Each retailer's own Fabric identity on the client library, no gateway in between."""
    opened = {org: open_ledger(gateway_settings(
        fabric_network.consortium, org, fabric_network.layout,
        data_dir=tmp_path_factory.mktemp(f"{org}-direct"))) for org in RETAILERS}
    yield opened
    for connection in opened.values():
        connection.close()


def _error(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return str(body["error"]["code"])


def _register(gateway: Any) -> DemoCustomer:
    customer = DemoCustomer.new()
    r = gateway.write("/v1/customers", {"public_key": customer.public_key})
    assert r.status_code == 201, r.text
    assert r.json()["customer_id"] == customer.customer_id
    return customer


def _consents(gateway: Any, customer: DemoCustomer) -> list[dict[str, Any]]:
    r = gateway.client.get(f"/v1/customers/{customer.customer_id}/consents",
                           headers=gateway.credential("kiosk-1"))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _height(direct: dict[str, LedgerConnection], channel: str) -> int:
    return direct["northwind"].ledger.block_height(channel)


# -- the life cycle ------------------------------------------------------------------------


def test_grant_narrow_renew_withdraw_are_read_back_from_the_ledger_on_every_gateway(
        gateways, same_height):
    north, south, east = (gateways[r] for r in RETAILERS)
    alice = _register(north)
    grant = alice.grant([MSP["southgate"], MSP["eastmarket"]],
                        purposes=PURPOSES, categories=GRANTED)
    r = south.write("/v1/consents", grant)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    same_height(*gateways.values())
    for gateway in gateways.values():  # each reads its own peer
        [found] = _consents(gateway, alice)
        assert (found["consent_id"], found["status"]) == (grant["consent_id"], "active")
        assert found["recipients"] == [MSP["southgate"], MSP["eastmarket"]]

    narrow = alice.narrow(grant["consent_id"], [MSP["southgate"]], ["personalisation"],
                          ["purchases"], grant["expires_at"])
    r = east.write("/v1/consents", narrow)
    assert r.status_code == 201, r.text
    renewal = alice.grant([MSP["eastmarket"]], categories=("views",), days=30)
    assert north.write("/v1/consents", renewal).status_code == 201
    withdrawal = alice.withdraw(grant["consent_id"])
    assert north.write("/v1/consents", withdrawal).status_code == 201
    same_height(*gateways.values())

    for gateway in gateways.values():
        found = {c["consent_id"]: c for c in _consents(gateway, alice)}
        assert found[grant["consent_id"]]["status"] == "withdrawn"
        assert found[grant["consent_id"]]["recipients"] == [MSP["southgate"]]
        assert found[grant["consent_id"]]["purposes"] == ["personalisation"]
        assert found[renewal["consent_id"]]["status"] == "active"
    r = south.client.get(
        f"/v1/customers/{alice.customer_id}/consents/{grant['consent_id']}/history",
        headers=south.credential("kiosk-1"))
    assert r.status_code == 200, r.text
    versions = r.json()["items"]
    assert [v["record"]["version"] for v in versions] == [1, 2, 3]
    assert [v["record"]["data_categories"] for v in versions] == [
        list(GRANTED), ["purchases"], ["purchases"]]
    assert versions[-1]["record"]["withdrawn_at"] is not None
    assert len({v["tx_id"] for v in versions}) == 3


def _hostile(customer: DemoCustomer, consent: dict[str, Any], kind: str) -> dict[str, Any]:
    if kind == "forged":  # her statement, signed by someone else's key
        unsigned = {k: v for k, v in customer.grant([MSP["eastmarket"]]).items()
                    if k != "signature"}
        return DemoCustomer.new().sign(unsigned)
    if kind == "replayed":  # a statement already applied, sent again under another key
        return consent
    if kind == "widened":  # a retailer adds itself: her real signature over a wider scope
        return customer.narrow(consent["consent_id"], [MSP["southgate"], MSP["eastmarket"]],
                               ["personalisation"], ["purchases"], consent["expires_at"])
    if kind == "tampered":  # her signed narrowing, widened after signing
        narrowed = customer.narrow(consent["consent_id"], [MSP["southgate"]],
                                   ["personalisation"], ["purchases"], consent["expires_at"])
        return {**narrowed, "data_categories": ["purchases", "stated_preferences"]}
    assert kind == "backdated"
    return customer.grant([MSP["eastmarket"]], given_ago=timedelta(hours=25))


@pytest.mark.parametrize(("kind", "status", "code"), [
    ("forged", 403, "BAD_SIGNATURE"),
    ("replayed", 409, "REPLAYED_NONCE"),
    ("widened", 403, "WIDENING_NOT_ALLOWED"),
    ("tampered", 403, "BAD_SIGNATURE"),
    ("backdated", 400, "BACKDATED"),
])
def test_hostile_statement_is_refused_by_the_chaincode_and_changes_nothing(
        gateways, direct, fabric_network, kind, status, code):
    north, south = gateways["northwind"], gateways["southgate"]
    customer = _register(north)
    consent = customer.grant([MSP["southgate"]], categories=("purchases",))
    assert north.write("/v1/consents", consent).status_code == 201
    statement = _hostile(customer, consent, kind)
    channel = fabric_network.consortium.channel
    fabric_network.channel.wait_same_height()
    before, state = _height(direct, channel), _consents(north, customer)

    r = south.write("/v1/consents", statement)

    assert (r.status_code, _error(r)) == (status, code), r.text
    # The gateway passed it on: the very same code comes from the chaincode when the client
    # library submits it directly as another member.
    with pytest.raises(EvaluateError) as caught:
        direct["eastmarket"].ledger.contract.evaluate(
            "SubmitConsentStatement", args=[r.request.content.decode()])
    refusal = caught.value.chaincode_error()
    assert refusal is not None and refusal.code == code
    time.sleep(0.3)  # a batch timeout: a write that got through would be in a block now
    assert fabric_network.channel.wait_same_height() == before
    assert all(_consents(g, customer) == state for g in gateways.values())


def test_a_replayed_narrowing_is_refused_as_a_replayed_nonce(gateways):
    north = gateways["northwind"]
    customer = _register(north)
    consent = customer.grant([MSP["southgate"], MSP["eastmarket"]])
    assert north.write("/v1/consents", consent).status_code == 201
    narrow = customer.narrow(consent["consent_id"], [MSP["southgate"]], ["personalisation"],
                             ["purchases", "views"], consent["expires_at"])
    assert north.write("/v1/consents", narrow).status_code == 201
    again = gateways["eastmarket"].write("/v1/consents", narrow)
    assert (again.status_code, _error(again)) == (409, "REPLAYED_NONCE")
    [found] = _consents(north, customer)
    assert found["version"] == 2


def test_a_statement_for_an_unregistered_customer_is_404_from_the_chaincode(gateways):
    stranger = DemoCustomer.new()
    r = gateways["southgate"].write("/v1/consents", stranger.grant([MSP["northwind"]]))
    assert (r.status_code, _error(r)) == (404, "UNKNOWN_CUSTOMER")
    r = gateways["southgate"].client.get(f"/v1/customers/{stranger.customer_id}/consents",
                                         headers=gateways["southgate"].credential("kiosk-1"))
    assert (r.status_code, _error(r)) == (404, "UNKNOWN_CUSTOMER")


# -- the consent matrix --------------------------------------------------------------------


def _expected(state: str, reader: str, purpose: str, category: str) -> str | None:
    """The chaincode's answer to a read of northwind's data (None: allowed), in the order
    its checks run (chaincode/policy.py)."""
    if reader == HOLDER:
        return None
    if state == "none":
        return "CONSENT_NOT_FOUND"
    if reader != RECIPIENT:
        return "NOT_A_RECIPIENT"
    if purpose != "personalisation":
        return "PURPOSE_NOT_GRANTED"
    if category not in (("purchases",) if state == "narrowed" else GRANTED):
        return "CATEGORY_NOT_GRANTED"
    return {"withdrawn": "CONSENT_WITHDRAWN", "expired": "CONSENT_EXPIRED"}.get(state)


@pytest.fixture(scope="module")
def matrix_customers(gateways, same_height) -> dict[str, DemoCustomer]:
    """A customer per consent state, northwind holding one event per category of each."""
    north = gateways["northwind"]
    customers = {state: _register(north) for state in STATES}
    grants = {}
    for state, customer in customers.items():
        if state == "none":
            continue
        expires = timedelta(seconds=8) if state == "expired" else None
        grants[state] = customer.grant([MSP[RECIPIENT]], categories=GRANTED,
                                       expires_in=expires)
        assert north.write("/v1/consents", grants[state]).status_code == 201
    narrowed = grants["narrowed"]
    assert north.write("/v1/consents", customers["narrowed"].narrow(
        narrowed["consent_id"], [MSP[RECIPIENT]], ["personalisation"], ["purchases"],
        narrowed["expires_at"])).status_code == 201
    assert north.write("/v1/consents",
                 customers["withdrawn"].withdraw(grants["withdrawn"]["consent_id"])
                 ).status_code == 201
    store = "nw-matrix"
    now = format_timestamp(datetime.now(UTC) - timedelta(minutes=1))
    for customer in customers.values():
        events = [{"event_id": f"m-{category}", "item_id": f"item-{category}",
                   "item_category": "matrix", "event_type": event_type,
                   "value": 4.0 if event_type == "rating" else 1.0, "timestamp": now}
                  for category, event_type in EVENT_OF_CATEGORY.items()]
        r = north.write(f"/v1/stores/{store}/customers/{customer.customer_id}/events",
                  {"events": events}, north.credential(store))
        assert (r.status_code, r.json()) == (201, {"recorded": 3}), r.text
    expires_at = datetime.fromisoformat(grants["expired"]["expires_at"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds() + 0.5))
    same_height(*gateways.values())
    return customers


MATRIX = list(itertools.product(STATES, RETAILERS, PURPOSES))


@pytest.mark.parametrize(("state", "reader", "purpose"), MATRIX,
                         ids=["-".join(case) for case in MATRIX])
def test_consent_matrix_reads_pass_exactly_where_consent_allows(
        gateways, direct, matrix_customers, state, reader, purpose):
    customer = matrix_customers[state]
    allowed = {c for c in DATA_CATEGORIES if _expected(state, reader, purpose, c) is None}
    gateway = gateways[reader]
    # Through the reader's gateway: the events northwind's chaincode lets it read; nothing
    # about the rest (no count: it would tell a non-recipient where she shops).
    r = gateway.client.get(f"/v1/customers/{customer.customer_id}/preferences",
                           params={"purpose": purpose}, headers=gateway.credential("kiosk-1"))
    assert r.status_code == 200, r.text
    read = r.json()
    assert set(read) == {"customer_id", "purpose", "events", "unanswered"}
    assert {e["event_id"].removeprefix("m-") for e in read["events"]} == allowed
    assert MSP[HOLDER] not in read["unanswered"]
    # Bypassing the gateways: the owner's chaincode on the owner's peer, asked by the
    # owner's identity on the reader's behalf, serves the same events (the holder reads its
    # own without consent) ...
    owner = direct[HOLDER].ledger
    if reader == HOLDER:
        bypass = owner.read_own_events(customer.customer_id)
    else:
        bypass = owner.read_shared_events(customer.customer_id, MSP[reader], purpose).events
    assert {e.event_id.removeprefix("m-") for e in bypass} == allowed
    # ... and, as the reader's own identity on its own peer, for each category the
    # chaincode's own decision and refusal code.
    ledger = direct[reader].ledger
    for category in DATA_CATEGORIES:
        expected = _expected(state, reader, purpose, category)
        if expected is None:
            answer = ledger.check_consent(customer.customer_id, MSP[HOLDER], purpose, category)
            assert answer.basis == ("owner" if reader == HOLDER else "consent")
            continue
        with pytest.raises(EvaluateError) as caught:
            ledger.check_consent(customer.customer_id, MSP[HOLDER], purpose, category)
        refusal = caught.value.chaincode_error()
        assert refusal is not None and refusal.code == expected, (category, refusal)


def test_matrix_covers_every_state_reader_purpose_and_category():
    outcomes = {_expected(*case, c) for case in MATRIX for c in DATA_CATEGORIES}
    assert outcomes == {None, "CONSENT_NOT_FOUND", "NOT_A_RECIPIENT", "PURPOSE_NOT_GRANTED",
                        "CATEGORY_NOT_GRANTED", "CONSENT_WITHDRAWN", "CONSENT_EXPIRED"}
    assert len(MATRIX) * len(DATA_CATEGORIES) == 90


def test_a_member_bypassing_its_gateway_cannot_commit_a_consent_on_its_own(
        gateways, direct, fabric_network, same_height):
    """Eastmarket, with its own Fabric identity and no gateway: a forged grant naming
    itself is refused by the chaincode at endorsement (BAD_SIGNATURE); and a transaction
    endorsed by its own peer alone (what a modified chaincode on that peer could endorse)
    fails the MAJORITY policy at validation on every peer, so nothing is committed."""
    customer = _register(gateways["northwind"])
    same_height(*gateways.values())
    grant = customer.grant([MSP["eastmarket"]], categories=DATA_CATEGORIES)
    forged = DemoCustomer.new().sign({k: v for k, v in grant.items() if k != "signature"})
    own = direct["eastmarket"]
    with pytest.raises(GatewayError) as caught:
        own.ledger.contract.submit("SubmitConsentStatement", args=[json.dumps(forged)])
    assert caught.value.chaincode_error().code == "BAD_SIGNATURE"

    msp = load_msp_folder(fabric_network.layout.msp("eastmarket", "gateway"), MSP["eastmarket"])
    lone = Gateway.connect(msp.identity, ecdsa_signer(msp.private_key), own.gateway.peer,
                           orderers=own.gateway.broadcaster.orderers,
                           policy=EndorsementPolicy((MSP["eastmarket"],), 1))
    try:
        with pytest.raises(CommitError) as refused:
            lone.network(fabric_network.consortium.channel).contract(
                fabric_network.consortium.chaincode.name).submit(
                "SubmitConsentStatement", args=[json.dumps(grant)])
    finally:
        lone.close()
    assert refused.value.code_name == "ENDORSEMENT_POLICY_FAILURE"
    for gateway in gateways.values():
        assert _consents(gateway, customer) == []


def test_a_grant_right_after_her_registration_commits_although_other_peers_lag(
        gateways, direct):
    """The registration is committed on the own peer when the gateway answers; the other
    peers may not have it yet when her grant is endorsed at once (the portal does exactly
    this; seen once in the authorisation matrix's 131 requests). The client asks the peers
    that were behind again, so every grant commits, through the gateway and through the
    client alone."""
    north = gateways["northwind"]
    ledger = direct["southgate"].ledger

    def register_then_grant(n: int) -> int:
        customer = DemoCustomer.new()
        if n % 2:
            ledger.register_customer(customer.public_key)
            ledger.submit_consent(customer.grant([MSP["northwind"]]))
            return 201
        assert north.write("/v1/customers", {"public_key": customer.public_key}
                           ).status_code == 201
        return north.write("/v1/consents", customer.grant([MSP["southgate"]])).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(register_then_grant, range(64)))
    assert statuses == [201] * 64
