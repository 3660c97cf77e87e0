import json
from datetime import timedelta

import pytest

from chaincode.canonical import b64url_encode
from chaincode.consent import apply_statement
from chaincode.errors import (
    Backdated,
    BadSignature,
    CategoryNotGranted,
    ChaincodeError,
    ConsentExpired,
    ConsentNotFound,
    ConsentWithdrawn,
    CustomerMismatch,
    InvalidValue,
    MissingField,
    NotARecipient,
    NotYetValid,
    PurposeNotGranted,
    ReplayedNonce,
    UnknownField,
)
from chaincode.fields import format_timestamp
from chaincode.policy import decide_read, opened_categories
from chaincode.preferences import PreferenceEvent
from chaincode.rights import RightsRequest

OWNER = "Org1MSP"


def consent(customer, now, action_chain=("grant",), **grant):
    scope = {
        "recipients": ["Org2MSP"],
        "purposes": ["personalisation"],
        "data_categories": ["purchases", "views"],
        "expires_at": format_timestamp(now + timedelta(days=30)),
    }
    scope.update(grant)
    record = apply_statement(
        None, customer.signed("grant", **scope), customer.key, now=now, used_nonces=()
    )
    if "withdraw" in action_chain:
        record = apply_statement(
            record, customer.signed("withdraw"), customer.key, now=now, used_nonces=()
        )
    return record


def event(customer_id, event_id, event_type="purchase", retailer=OWNER):
    return PreferenceEvent.from_dict(
        {
            "event_id": event_id,
            "customer_id": customer_id,
            "retailer": retailer,
            "item_id": "sku-1",
            "item_category": "shoes",
            "event_type": event_type,
            "value": 1,
            "store_id": "s-1",
            "timestamp": "2025-01-31T09:30:00.000Z",
            "salt": b64url_encode(b"\x07" * 16),
        }
    )


# --- the consent matrix ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "purpose", "category", "state", "expected"),
    [
        ("Org2MSP", "personalisation", "purchases", "active", None),
        ("Org2MSP", "personalisation", "views", "active", None),
        ("Org3MSP", "personalisation", "purchases", "active", NotARecipient),
        ("Org2MSP", "analytics", "purchases", "active", PurposeNotGranted),
        ("Org2MSP", "personalisation", "stated_preferences", "active", CategoryNotGranted),
        ("Org2MSP", "personalisation", "purchases", "expired", ConsentExpired),
        ("Org2MSP", "personalisation", "purchases", "withdrawn", ConsentWithdrawn),
        ("Org1MSP", "analytics", "stated_preferences", "withdrawn", None),  # owner
    ],
)
def test_consent_matrix(alice, now, caller, purpose, category, state, expected):
    record = consent(alice, now, ("grant", "withdraw") if state == "withdrawn" else ("grant",))
    at = record.expires_at if state == "expired" else now
    decision = decide_read(caller, alice.id, OWNER, purpose, category, [record], at)
    if expected is None:
        assert decision.allowed
        decision.raise_if_refused()
    else:
        assert not decision.allowed
        assert type(decision.reason) is expected
        with pytest.raises(expected):
            decision.raise_if_refused()


@pytest.mark.parametrize("reader", ["Org2MSP", "Org3MSP"])
@pytest.mark.parametrize("purpose", ["personalisation", "analytics"])
@pytest.mark.parametrize("later", [timedelta(0), timedelta(days=31)])
def test_opened_categories_are_exactly_those_decide_read_allows(alice, now, reader, purpose,
                                                                 later):
    # What the gateway asks of her consents (what to blend, whom to notify) is this rule.
    records = [consent(alice, now),
               consent(alice, now, recipients=["*"], purposes=["analytics"],
                       data_categories=["stated_preferences"]),
               consent(alice, now, ("grant", "withdraw"), data_categories=["stated_preferences"])]
    at = now + later
    allowed = {c for c in ("purchases", "views", "stated_preferences")
               if decide_read(reader, alice.id, OWNER, purpose, c, records, at).allowed}
    assert opened_categories(records, reader, purpose, at) == allowed


def test_allowed_read_names_the_consent_that_allowed_it(alice, now):
    record = consent(alice, now)
    decision = decide_read("Org2MSP", alice.id, OWNER, "personalisation", "views", [record], now)
    assert (decision.basis, decision.consent_id) == ("consent", record.consent_id)


def test_owner_reads_own_events_without_any_consent(alice, now):
    decision = decide_read(OWNER, alice.id, OWNER, "analytics", "purchases", [], now)
    assert (decision.allowed, decision.basis) == (True, "owner")


def test_read_without_any_consent_is_refused_as_not_found(alice, now):
    decision = decide_read("Org2MSP", alice.id, OWNER, "personalisation", "views", [], now)
    assert isinstance(decision.reason, ConsentNotFound)


def test_consent_of_another_customer_does_not_count(alice, mallory, now):
    record = consent(mallory, now)
    decision = decide_read("Org2MSP", alice.id, OWNER, "personalisation", "views", [record], now)
    assert isinstance(decision.reason, ConsentNotFound)


def test_all_members_consent_admits_any_member(alice, now):
    record = consent(alice, now, recipients=["*"])
    decision = decide_read("Org9MSP", alice.id, OWNER, "personalisation", "views", [record], now)
    assert decision.allowed


def test_read_is_refused_after_withdrawal_even_if_another_consent_exists(alice, now):
    withdrawn = consent(alice, now, ("grant", "withdraw"))
    other = consent(alice, now, consent_id="k-0002", recipients=["Org3MSP"])
    decision = decide_read(
        "Org2MSP", alice.id, OWNER, "personalisation", "views", [other, withdrawn], now
    )
    assert isinstance(decision.reason, ConsentWithdrawn)


def test_any_one_valid_consent_allows_the_read(alice, now):
    withdrawn = consent(alice, now, ("grant", "withdraw"))
    valid = consent(alice, now, consent_id="k-0002", purposes=["analytics", "personalisation"])
    decision = decide_read(
        "Org2MSP", alice.id, OWNER, "personalisation", "views", [withdrawn, valid], now
    )
    assert decision.consent_id == "k-0002"


def test_refusal_reports_the_consent_that_came_closest(alice, now):
    not_recipient = consent(alice, now, consent_id="k-a", recipients=["Org3MSP"])
    wrong_category = consent(alice, now, consent_id="k-b", data_categories=["views"])
    decision = decide_read(
        "Org2MSP",
        alice.id,
        OWNER,
        "personalisation",
        "purchases",
        [not_recipient, wrong_category],
        now,
    )
    assert isinstance(decision.reason, CategoryNotGranted)
    assert decision.reason.details == {"consent_id": "k-b"}


@pytest.mark.parametrize(("purpose", "category"), [("marketing", "views"), ("analytics", "health")])
def test_unknown_purpose_or_category_is_an_invalid_argument(alice, now, purpose, category):
    with pytest.raises(InvalidValue):
        decide_read("Org2MSP", alice.id, OWNER, purpose, category, [], now)


# --- rights requests ---------------------------------------------------------------------


def request_doc(customer, now, **overrides):
    doc = {
        "action": "erase",
        "customer_id": customer.id,
        "requested_at": format_timestamp(now - timedelta(minutes=1)),
        "nonce": "rights-nonce-0123456789",
        "gateway": "Org1MSP",
    }
    doc.update(overrides)
    return doc


def signed_request(customer, now, signer=None, **overrides):
    doc = request_doc(customer, now, **overrides)
    return json.dumps({**doc, "signature": (signer or customer).sign(doc)})


def test_signed_erase_request_verifies(alice, now):
    request = RightsRequest.from_json(signed_request(alice, now))
    request.verify(alice.key, now=now, used_nonces=())
    assert request.action == "erase"
    assert RightsRequest.from_json(json.dumps(request.to_dict())) == request


def test_export_request_verifies(alice, now):
    request = RightsRequest.from_json(signed_request(alice, now, action="export"))
    request.verify(alice.key, now=now, used_nonces=set())


def test_rights_request_signed_by_another_key_is_refused(alice, mallory, now):
    request = RightsRequest.from_json(signed_request(alice, now, signer=mallory))
    with pytest.raises(BadSignature):
        request.verify(alice.key, now=now, used_nonces=())


def test_rights_request_checked_against_another_customers_key_is_refused(alice, mallory, now):
    request = RightsRequest.from_json(signed_request(alice, now))
    with pytest.raises(CustomerMismatch):
        request.verify(mallory.key, now=now, used_nonces=())


def test_export_request_cannot_be_turned_into_erasure(alice, now):
    doc = request_doc(alice, now, action="export")
    tampered = {**doc, "signature": alice.sign(doc), "action": "erase"}
    with pytest.raises(BadSignature):
        RightsRequest.from_json(json.dumps(tampered)).verify(alice.key, now=now, used_nonces=())


def test_replayed_rights_request_is_refused(alice, now):
    request = RightsRequest.from_json(signed_request(alice, now))
    with pytest.raises(ReplayedNonce):
        request.verify(alice.key, now=now, used_nonces={request.nonce})


@pytest.mark.parametrize(
    ("delta", "error"), [(timedelta(hours=-2), Backdated), (timedelta(minutes=10), NotYetValid)]
)
def test_rights_request_outside_its_time_window_is_refused(alice, now, delta, error):
    text = signed_request(alice, now, requested_at=format_timestamp(now + delta))
    with pytest.raises(error):
        RightsRequest.from_json(text).verify(alice.key, now=now, used_nonces=())


def test_signed_consent_statement_cannot_pass_as_rights_request(alice):
    with pytest.raises(ChaincodeError) as info:
        RightsRequest.from_json(alice.wire(alice.statement("withdraw")))
    assert isinstance(info.value, UnknownField | InvalidValue | MissingField)


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"action": "delete"}, InvalidValue, "action"),
        ({"nonce": "x"}, InvalidValue, "nonce"),
        ({"requested_at": "now"}, InvalidValue, "requested_at"),
        ({"extra": 1}, UnknownField, "extra"),
    ],
)
def test_malformed_rights_request_is_refused(alice, now, overrides, error, field):
    with pytest.raises(error) as info:
        RightsRequest.from_json(
            json.dumps({**request_doc(alice, now, **overrides), "signature": "AAAA"})
        )
    assert info.value.field == field
