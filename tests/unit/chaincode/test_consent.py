import json
from dataclasses import replace
from datetime import timedelta

import pytest

from chaincode.consent import (
    ConsentRecord,
    TimeWindow,
    apply_statement,
    consent_key,
    customer_consents_prefix,
    erase_record,
    nonce_key,
)
from chaincode.consent_statement import ConsentStatement, SignedStatement, parse_signed_statement
from chaincode.errors import (
    Backdated,
    BadSignature,
    ChaincodeError,
    ConsentExists,
    ConsentExpired,
    ConsentMismatch,
    ConsentNotFound,
    ConsentWithdrawn,
    CustomerMismatch,
    DuplicateValue,
    EmptyList,
    ExpiryBeforeGiven,
    InvalidValue,
    MalformedJson,
    MissingField,
    NotYetValid,
    PayloadTooLarge,
    ReplayedNonce,
    UnknownField,
    WideningNotAllowed,
    WrongType,
)
from chaincode.fields import format_timestamp
from chaincode.rights import RightsRequest


def _ts(moment):
    return format_timestamp(moment)


def _apply(current, signed, key, now, used=()):
    return apply_statement(current, signed, key, now=now, used_nonces=used)


@pytest.fixture
def granted(alice, now):
    return _apply(None, alice.signed("grant"), alice.key, now)


# --- parsing -----------------------------------------------------------------------------


def test_grant_statement_parses_and_reserialises_to_what_was_signed(alice):
    doc = alice.statement("grant")
    signed = parse_signed_statement(alice.wire(doc))
    assert signed.statement.to_dict() == doc
    assert signed.statement.scope is not None
    assert signed.statement.scope.recipients == ("Org2MSP", "Org3MSP")


def test_withdraw_statement_has_no_scope(alice):
    assert alice.signed("withdraw").statement.scope is None


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"colour": "red"}, UnknownField, "colour"),
        ({"recipients": "Org2MSP"}, WrongType, "recipients"),
        ({"recipients": []}, EmptyList, "recipients"),
        ({"purposes": []}, EmptyList, "purposes"),
        ({"data_categories": []}, EmptyList, "data_categories"),
        ({"purposes": ["analytics", "analytics"]}, DuplicateValue, "purposes[1]"),
        ({"purposes": ["marketing"]}, InvalidValue, "purposes[0]"),
        ({"data_categories": ["health"]}, InvalidValue, "data_categories[0]"),
        ({"recipients": ["*", "Org2MSP"]}, InvalidValue, "recipients"),
        ({"recipients": ["Org 2"]}, InvalidValue, "recipients[0]"),
        ({"recipients": [7]}, WrongType, "recipients[0]"),
        ({"_action": "renew"}, InvalidValue, "action"),
        ({"_action": True}, WrongType, "action"),
        ({"given_at": 1740830400}, WrongType, "given_at"),
        ({"given_at": "2025-03-01T12:00:00Z"}, InvalidValue, "given_at"),
        ({"given_at": "2025-03-01T12:00:00.000+00:00"}, InvalidValue, "given_at"),
        ({"given_at": "2025-02-30T12:00:00.000Z"}, InvalidValue, "given_at"),
        ({"expires_at": "2025-03-01T11:00:00.000Z"}, ExpiryBeforeGiven, "expires_at"),
        ({"nonce": "short"}, InvalidValue, "nonce"),
        ({"customer_id": "alice@example.com"}, InvalidValue, "customer_id"),
        ({"collection_method": "phone"}, InvalidValue, "collection_method"),
        ({"jurisdiction": "Germany"}, InvalidValue, "jurisdiction"),
        ({"policy_version": ""}, InvalidValue, "policy_version"),
        ({"consent_id": "a~b"}, InvalidValue, "consent_id"),
        ({"recipients": [f"Org{i}MSP" for i in range(65)]}, InvalidValue, "recipients"),
    ],
)
def test_malformed_statement_is_refused_with_code_and_field(alice, overrides, error, field):
    overrides = dict(overrides)
    action = overrides.pop("_action", "grant")
    doc = {**alice.statement("grant", **overrides), "action": action}
    with pytest.raises(error) as info:
        parse_signed_statement(json.dumps({**doc, "signature": "AAAA"}))
    assert info.value.field == field


@pytest.mark.parametrize(
    "name",
    [
        "action",
        "consent_id",
        "customer_id",
        "given_at",
        "nonce",
        "collection_method",
        "policy_version",
        "jurisdiction",
        "recipients",
        "purposes",
        "data_categories",
        "expires_at",
        "signature",
    ],
)
def test_statement_missing_a_required_field_is_refused(alice, name):
    doc = json.loads(alice.wire(alice.statement("grant")))
    del doc[name]
    with pytest.raises(MissingField) as info:
        parse_signed_statement(json.dumps(doc))
    assert info.value.field == name


@pytest.mark.parametrize("name", ["recipients", "purposes", "data_categories", "expires_at"])
def test_withdraw_statement_with_scope_fields_is_refused(alice, name):
    doc = alice.statement("withdraw", **{name: alice.statement("grant")[name]})
    with pytest.raises(UnknownField, match="withdraw") as info:
        parse_signed_statement(json.dumps({**doc, "signature": "AAAA"}))
    assert info.value.field == name


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{", MalformedJson),
        ("[]", WrongType),
        ('{"action": "grant", "action": "withdraw"}', MalformedJson),
        ('{"value": NaN}', MalformedJson),
        (b"\xff\xfe{}", MalformedJson),
        ("[" * 5000 + "]" * 5000, PayloadTooLarge),
        ('{"a": "' + "x" * 5000 + '"}', PayloadTooLarge),
        ("[" * 2000 + "]" * 2000, MalformedJson),
    ],
)
def test_undecodable_or_oversize_statement_is_refused(text, error):
    with pytest.raises(error):
        parse_signed_statement(text)


# --- signatures --------------------------------------------------------------------------


def test_statement_forged_by_another_key_is_refused(alice, mallory, now):
    doc = alice.statement("grant")
    forged = parse_signed_statement(json.dumps({**doc, "signature": mallory.sign(doc)}))
    with pytest.raises(BadSignature):
        _apply(None, forged, alice.key, now)


def test_statement_checked_against_another_customers_key_is_refused(alice, mallory, now):
    with pytest.raises(CustomerMismatch):
        _apply(None, alice.signed("grant"), mallory.key, now)


def test_statement_naming_another_customer_signed_by_mallory_is_refused(alice, mallory, now):
    signed = mallory.signed("grant", customer_id=alice.id)
    with pytest.raises(BadSignature):
        _apply(None, signed, alice.key, now)


@pytest.mark.parametrize(
    "tamper",
    [
        {"recipients": ["*"]},
        {"purposes": ["analytics", "personalisation"]},  # order is signed too
        {"expires_at": "2030-01-01T00:00:00.000Z"},
        {"consent_id": "k-0002"},
    ],
)
def test_statement_tampered_after_signing_is_refused(alice, now, tamper):
    doc = alice.statement("grant")
    wire = {**doc, "signature": alice.sign(doc), **tamper}
    with pytest.raises(BadSignature):
        _apply(None, parse_signed_statement(json.dumps(wire)), alice.key, now)


def test_signature_survives_reordered_keys_and_whitespace(alice, now):
    doc = alice.statement("grant")
    wire = {"signature": alice.sign(doc), **dict(reversed(list(doc.items())))}
    text = json.dumps(wire, indent=4)
    _apply(None, parse_signed_statement(text), alice.key, now)


# --- grant -------------------------------------------------------------------------------


def test_grant_creates_version_one_record_that_verifies(alice, now, granted):
    assert granted.version == 1
    assert granted.customer_id == alice.id
    assert granted.public_key == alice.key.b64url
    assert granted.withdrawn_at is None
    assert granted.status(now) == "active"
    assert granted.updated_at == now
    assert granted.key == consent_key(alice.id, "k-0001")
    granted.verify()


def test_record_serialisation_is_deterministic_and_round_trips(granted):
    data = granted.to_json_bytes()
    assert ConsentRecord.from_json(data) == granted
    assert ConsentRecord.from_json(data).to_json_bytes() == data
    assert (
        data
        == json.dumps(
            json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )


def test_grant_reusing_a_consent_id_is_refused(alice, now, granted):
    with pytest.raises(ConsentExists):
        _apply(granted, alice.signed("grant"), alice.key, now)


def test_replayed_nonce_is_refused(alice, now):
    signed = alice.signed("grant")
    with pytest.raises(ReplayedNonce):
        _apply(None, signed, alice.key, now, used={signed.statement.nonce})


def test_grant_signed_in_the_future_beyond_skew_is_not_yet_valid(alice, now):
    signed = alice.signed("grant", given_at=_ts(now + timedelta(minutes=6)))
    with pytest.raises(NotYetValid):
        _apply(None, signed, alice.key, now)


def test_grant_signed_slightly_ahead_within_skew_is_accepted(alice, now):
    signed = alice.signed("grant", given_at=_ts(now + timedelta(minutes=4)))
    assert _apply(None, signed, alice.key, now).version == 1


def test_grant_older_than_max_age_is_backdated(alice, now):
    signed = alice.signed("grant", given_at=_ts(now - timedelta(hours=25)))
    with pytest.raises(Backdated):
        _apply(None, signed, alice.key, now)


def test_max_age_and_skew_are_parameters(alice, now):
    signed = alice.signed("grant", given_at=_ts(now - timedelta(hours=25)))
    window = TimeWindow(clock_skew=timedelta(0), max_age=timedelta(days=2))
    apply_statement(None, signed, alice.key, now=now, used_nonces=(), window=window)


def test_grant_that_has_already_expired_is_refused(alice, now):
    signed = alice.signed(
        "grant",
        given_at=_ts(now - timedelta(hours=1)),
        expires_at=_ts(now - timedelta(minutes=1)),
    )
    with pytest.raises(ConsentExpired):
        _apply(None, signed, alice.key, now)


# --- narrow ------------------------------------------------------------------------------


def test_narrowing_removes_recipients_purposes_and_categories(alice, now, granted):
    later = now + timedelta(hours=1)
    signed = alice.signed(
        "narrow",
        given_at=_ts(later),
        recipients=["Org3MSP"],
        purposes=["personalisation"],
        data_categories=["views"],
        expires_at=_ts(now + timedelta(days=30)),
        policy_version="2025-02",
        collection_method="app",
    )
    narrowed = _apply(granted, signed, alice.key, later)
    assert narrowed.version == 2
    assert narrowed.recipients == ("Org3MSP",)
    assert narrowed.purposes == ("personalisation",)
    assert narrowed.data_categories == ("views",)
    assert narrowed.expires_at == now + timedelta(days=30)
    assert narrowed.given_at == granted.given_at
    assert (narrowed.policy_version, narrowed.collection_method) == ("2025-02", "app")
    narrowed.verify()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"recipients": ["Org2MSP", "Org4MSP"]}, "recipients[1]"),
        ({"recipients": ["*"]}, "recipients[0]"),
        ({"purposes": ["personalisation", "analytics"]}, None),  # same set: allowed
        ({"data_categories": ["purchases"], "purposes": ["analytics"]}, None),
        ({"expires_at": "2027-01-01T00:00:00.000Z"}, "expires_at"),
    ],
)
def test_narrowing_cannot_widen(alice, now, overrides, field):
    current = _apply(
        None,
        alice.signed(
            "grant",
            purposes=["personalisation", "analytics"],
            data_categories=["purchases", "views"],
        ),
        alice.key,
        now,
    )
    signed = alice.signed("narrow", **{"data_categories": ["purchases", "views"], **overrides})
    if field is None:
        assert _apply(current, signed, alice.key, now).version == 2
        return
    with pytest.raises(WideningNotAllowed) as info:
        _apply(current, signed, alice.key, now)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("purposes", ["analytics"], "purposes[0]"),
        ("data_categories", ["stated_preferences"], "data_categories[0]"),
    ],
)
def test_narrowing_cannot_add_purpose_or_category(alice, now, name, value, field):
    current = _apply(
        None,
        alice.signed("grant", purposes=["personalisation"], data_categories=["views"]),
        alice.key,
        now,
    )
    with pytest.raises(WideningNotAllowed) as info:
        narrow = {"purposes": ["personalisation"], "data_categories": ["views"], name: value}
        _apply(current, alice.signed("narrow", **narrow), alice.key, now)
    assert info.value.field == field


def test_narrowing_all_members_to_named_members_is_allowed(alice, now):
    current = _apply(None, alice.signed("grant", recipients=["*"]), alice.key, now)
    narrowed = _apply(current, alice.signed("narrow", recipients=["Org2MSP"]), alice.key, now)
    assert narrowed.recipients == ("Org2MSP",)


def test_narrowing_cannot_change_jurisdiction(alice, now, granted):
    with pytest.raises(ConsentMismatch):
        _apply(granted, alice.signed("narrow", jurisdiction="FR"), alice.key, now)


def test_narrowing_an_unknown_consent_is_refused(alice, now):
    with pytest.raises(ConsentNotFound):
        _apply(None, alice.signed("narrow"), alice.key, now)


def test_narrowing_a_withdrawn_consent_is_refused(alice, now, granted):
    withdrawn = _apply(granted, alice.signed("withdraw"), alice.key, now)
    with pytest.raises(ConsentWithdrawn):
        _apply(withdrawn, alice.signed("narrow"), alice.key, now)


def test_narrowing_an_expired_consent_is_refused(alice, now, granted):
    signed_at = _ts(granted.expires_at - timedelta(minutes=1))
    later = granted.expires_at + timedelta(minutes=1)
    signed = alice.signed("narrow", given_at=signed_at, expires_at=_ts(granted.expires_at))
    with pytest.raises(ConsentExpired):
        _apply(granted, signed, alice.key, later)


def test_narrowing_older_than_the_records_statement_is_backdated(alice, now, granted):
    older = _ts(granted.statement.given_at - timedelta(seconds=1))
    with pytest.raises(Backdated):
        _apply(granted, alice.signed("narrow", given_at=older), alice.key, now)


def test_statement_for_another_consent_record_is_refused(alice, now, granted):
    with pytest.raises(ConsentMismatch):
        _apply(granted, alice.signed("narrow", consent_id="k-0002"), alice.key, now)


# --- withdraw ----------------------------------------------------------------------------


def test_withdrawal_sets_withdrawn_at_to_transaction_time(alice, now, granted):
    tx_time = now + timedelta(hours=2, microseconds=1234)
    withdrawn = _apply(granted, alice.signed("withdraw", given_at=_ts(now)), alice.key, tx_time)
    assert withdrawn.withdrawn_at == now + timedelta(hours=2, microseconds=1000)
    assert withdrawn.version == 2
    assert withdrawn.status(tx_time) == "withdrawn"
    assert withdrawn.scope == granted.scope
    withdrawn.verify()
    with pytest.raises(ConsentWithdrawn):
        withdrawn.check_active(tx_time)


def test_withdrawing_twice_is_refused(alice, now, granted):
    withdrawn = _apply(granted, alice.signed("withdraw"), alice.key, now)
    with pytest.raises(ConsentWithdrawn):
        _apply(withdrawn, alice.signed("withdraw"), alice.key, now)


def test_late_delivered_withdrawal_is_still_accepted(alice, now, granted):
    later = now + timedelta(days=3)
    withdrawn = _apply(granted, alice.signed("withdraw", given_at=_ts(now)), alice.key, later)
    assert withdrawn.withdrawn_at == later


def test_withdrawal_signed_in_the_future_is_not_yet_valid(alice, now, granted):
    signed = alice.signed("withdraw", given_at=_ts(now + timedelta(hours=1)))
    with pytest.raises(NotYetValid):
        _apply(granted, signed, alice.key, now)


def test_expired_consent_can_still_be_withdrawn(alice, now, granted):
    later = granted.expires_at + timedelta(days=1)
    signed = alice.signed("withdraw", given_at=_ts(later))
    assert _apply(granted, signed, alice.key, later).status(later) == "withdrawn"


def test_withdrawing_an_unknown_consent_is_refused(alice, now):
    with pytest.raises(ConsentNotFound):
        _apply(None, alice.signed("withdraw"), alice.key, now)


def test_every_version_in_the_history_verifies_on_its_own(alice, now, granted):
    v2 = _apply(granted, alice.signed("narrow", recipients=["Org2MSP"]), alice.key, now)
    v3 = _apply(v2, alice.signed("withdraw"), alice.key, now)
    for version in (granted, v2, v3):
        ConsentRecord.from_json(version.to_json_bytes()).verify()
    assert [v.version for v in (granted, v2, v3)] == [1, 2, 3]


# --- status and stored records -----------------------------------------------------------


def test_consent_expires_exactly_at_expires_at(granted):
    assert granted.status(granted.expires_at - timedelta(milliseconds=1)) == "active"
    assert granted.status(granted.expires_at) == "expired"
    with pytest.raises(ConsentExpired):
        granted.check_active(granted.expires_at)


def test_stored_record_whose_statement_names_another_customer_is_refused(granted, mallory):
    doc = granted.to_dict()
    doc["statement"]["customer_id"] = mallory.id
    with pytest.raises(CustomerMismatch):
        ConsentRecord.from_json(json.dumps(doc))


def test_stored_record_with_tampered_scope_fails_verification(granted):
    tampered = replace(
        granted, statement=replace(granted.statement, nonce="another-nonce-0123456789")
    )
    with pytest.raises(BadSignature):
        tampered.verify()


@pytest.mark.parametrize("name", ["version", "withdrawn_at", "statement"])
def test_stored_record_missing_a_field_is_refused(granted, name):
    doc = granted.to_dict()
    del doc[name]
    with pytest.raises(MissingField):
        ConsentRecord.from_json(json.dumps(doc))


def test_state_keys_follow_the_documented_layout(alice):
    assert consent_key(alice.id, "k1").render() == f"\x00consent\x00{alice.id}\x00k1\x00"
    assert customer_consents_prefix(alice.id).render() == f"\x00consent\x00{alice.id}\x00"
    assert nonce_key(alice.id, "n" * 16).attributes == (alice.id, "n" * 16)


def test_every_refusal_is_a_chaincode_error(alice, now):
    with pytest.raises(ChaincodeError):
        _apply(None, alice.signed("withdraw"), alice.key, now)


def test_signed_statement_to_dict_is_the_wire_form(alice):
    doc = alice.statement("grant")
    signed = parse_signed_statement(alice.wire(doc))
    assert signed.to_dict() == {**doc, "signature": signed.signature}
    assert isinstance(signed, SignedStatement)
    assert isinstance(signed.statement, ConsentStatement)


# --- erasure --------------------------------------------------------------------------------


def _erase_request(customer, now, signer=None):
    doc = {
        "action": "erase",
        "customer_id": customer.id,
        "requested_at": _ts(now - timedelta(minutes=1)),
        "nonce": "erase-nonce-0123456789",
        "gateway": "Org1MSP",
    }
    signature = (signer or customer).sign(doc)
    return RightsRequest.from_json(json.dumps({**doc, "signature": signature}))


def test_erasure_withdraws_an_open_consent_and_the_record_verifies(alice, now, granted):
    erased = erase_record(granted, _erase_request(alice, now), now=now)
    assert erased.withdrawn_at == now and erased.version == 2
    assert erased.statement == granted.statement
    back = ConsentRecord.from_json(erased.to_json_bytes())
    assert back == erased
    back.verify()


def test_erasure_leaves_an_already_withdrawn_consent_alone(alice, now, granted):
    withdrawn = _apply(granted, alice.signed("withdraw"), alice.key, now)
    assert erase_record(withdrawn, _erase_request(alice, now), now=now) is None


def test_record_without_erasure_serialises_without_the_field(granted):
    assert "erasure" not in json.loads(granted.to_json_bytes())


def test_erased_record_with_a_forged_request_fails_verification(alice, mallory, now, granted):
    erased = erase_record(granted, _erase_request(alice, now, signer=mallory), now=now)
    with pytest.raises(BadSignature):
        ConsentRecord.from_json(erased.to_json_bytes()).verify()


def test_erase_request_of_another_customer_is_refused(alice, mallory, now, granted):
    with pytest.raises(CustomerMismatch):
        erase_record(granted, _erase_request(mallory, now), now=now)
