"""Property tests: no input makes a parser raise anything but a ChaincodeError."""

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaincode.consent import ConsentRecord, apply_statement
from chaincode.consent_statement import (
    DATA_CATEGORIES,
    PURPOSES,
    ConsentStatement,
    parse_signed_statement,
)
from chaincode.errors import ChaincodeError, WideningNotAllowed, error_from_json
from chaincode.fields import format_timestamp
from chaincode.identity import decode_signed_proposal, parse_serialized_identity
from chaincode.keys import CustomerKey, CustomerRecord
from chaincode.preferences import PreferenceEvent, parse_event_batch
from chaincode.provenance import ModelProvenance
from chaincode.rights import RightsRequest

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)

PARSERS = [
    parse_signed_statement,
    ConsentRecord.from_json,
    PreferenceEvent.from_json,
    parse_event_batch,
    ModelProvenance.from_json,
    RightsRequest.from_json,
    CustomerRecord.from_json,
]


def _only_chaincode_errors(parse, data):
    try:
        parse(data)
    except ChaincodeError as exc:
        assert exc.code
        json.loads(exc.to_json())


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__qualname__)
@FUZZ
@given(value=json_values)
def test_arbitrary_json_raises_only_chaincode_errors(parse, value):
    _only_chaincode_errors(parse, json.dumps(value))


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: p.__qualname__)
@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_bytes_and_text_raise_only_chaincode_errors(parse, data):
    _only_chaincode_errors(parse, data)


@FUZZ
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_as_identity_or_proposal_raise_only_chaincode_errors(data):
    _only_chaincode_errors(parse_serialized_identity, data)
    _only_chaincode_errors(decode_signed_proposal, data)


@FUZZ
@given(text=st.text(max_size=200) | json_values)
def test_arbitrary_key_text_raises_only_chaincode_errors(text):
    _only_chaincode_errors(CustomerKey.from_b64url, text)


@FUZZ
@given(text=st.text(max_size=100))
def test_error_from_json_never_raises(text):
    error_from_json(text)


@settings(max_examples=200, deadline=None)
@given(
    action=st.sampled_from(["grant", "narrow", "withdraw"]),
    name=st.sampled_from(
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
            "extra",
        ]
    ),
    replacement=st.one_of(st.just(None), json_values),
)
def test_statement_with_one_field_mutated_raises_only_chaincode_errors(
    alice, action, name, replacement
):
    doc = json.loads(alice.wire(alice.statement(action)))
    if replacement is None:
        doc.pop(name, None)
    else:
        doc[name] = replacement
    _only_chaincode_errors(parse_signed_statement, json.dumps(doc))


def _subsets(items):
    return st.lists(st.sampled_from(items), min_size=1, max_size=len(items), unique=True)


@settings(max_examples=40, deadline=None)
@given(
    recipients=_subsets(["Org1MSP", "Org2MSP", "Org3MSP", "*"]),
    purposes=_subsets(list(PURPOSES)),
    categories=_subsets(list(DATA_CATEGORIES)),
)
def test_valid_statements_reserialise_to_exactly_what_was_signed(
    alice, recipients, purposes, categories
):
    if "*" in recipients:
        recipients = ["*"]
    doc = alice.statement(
        "grant", recipients=recipients, purposes=purposes, data_categories=categories
    )
    statement = ConsentStatement.from_dict(doc)
    assert statement.to_dict() == doc
    assert json.loads(statement.signed_bytes()) == doc


@settings(max_examples=30, deadline=None)
@given(
    old=st.tuples(
        _subsets(["Org2MSP", "Org3MSP", "Org4MSP"]),
        _subsets(list(PURPOSES)),
        _subsets(list(DATA_CATEGORIES)),
        st.integers(1, 30),
    ),
    new=st.tuples(
        _subsets(["Org2MSP", "Org3MSP", "Org4MSP"]),
        _subsets(list(PURPOSES)),
        _subsets(list(DATA_CATEGORIES)),
        st.integers(1, 30),
    ),
)
def test_narrowing_succeeds_exactly_when_the_new_scope_is_a_subset(alice, now, old, new):
    def scope(recipients, purposes, categories, days):
        return {
            "recipients": recipients,
            "purposes": purposes,
            "data_categories": categories,
            "expires_at": format_timestamp(now + timedelta(days=days)),
        }

    current = apply_statement(
        None, alice.signed("grant", **scope(*old)), alice.key, now=now, used_nonces=()
    )
    is_subset = (
        set(new[0]) <= set(old[0])
        and set(new[1]) <= set(old[1])
        and set(new[2]) <= set(old[2])
        and new[3] <= old[3]
    )
    signed = alice.signed("narrow", **scope(*new))
    try:
        apply_statement(current, signed, alice.key, now=now, used_nonces=())
    except WideningNotAllowed:
        assert not is_subset
    else:
        assert is_subset
