import json
import re

import pytest

from chaincode import errors
from chaincode.errors import (
    ChaincodeError,
    ConsentWithdrawn,
    UnknownField,
    error_class,
    error_from_json,
    error_table,
)

BRIEF_CODES = {
    "MALFORMED_JSON",
    "UNKNOWN_FIELD",
    "BATCH_TOO_LARGE",
    "BAD_SIGNATURE",
    "UNKNOWN_CUSTOMER",
    "CUSTOMER_EXISTS",
    "CONSENT_EXPIRED",
    "CONSENT_WITHDRAWN",
    "CONSENT_NOT_FOUND",
    "NOT_A_RECIPIENT",
    "PURPOSE_NOT_GRANTED",
    "CATEGORY_NOT_GRANTED",
    "REPLAYED_NONCE",
    "NOT_YET_VALID",
    "BACKDATED",
    "WIDENING_NOT_ALLOWED",
}


def test_every_documented_refusal_has_a_code():
    codes = {code for code, _, _ in error_table()}
    assert BRIEF_CODES <= codes


def test_module_docstring_table_lists_every_code_with_its_kind():
    doc = errors.__doc__ or ""
    rows = dict(re.findall(r"^([A-Z_]{4,})\s+(\w+)\s", doc, re.MULTILINE))
    assert rows == {code: kind for code, kind, _ in error_table()}


def test_codes_are_unique_upper_snake_case_with_a_meaning():
    table = error_table()
    assert len({code for code, _, _ in table}) == len(table)
    for code, kind, meaning in table:
        assert re.fullmatch(r"[A-Z][A-Z_]+", code)
        assert kind in {"invalid", "unauthenticated", "forbidden", "not_found", "conflict"}
        assert meaning


def test_error_json_names_code_kind_message_and_field():
    err = UnknownField("field is not defined", field="colour")
    assert json.loads(err.to_json()) == {
        "code": "UNKNOWN_FIELD",
        "kind": "invalid",
        "message": "field is not defined",
        "field": "colour",
    }
    assert str(err) == "UNKNOWN_FIELD: field is not defined (colour)"


def test_error_json_round_trips_to_the_same_type():
    err = ConsentWithdrawn("consent was withdrawn", details={"consent_id": "k1"})
    back = error_from_json(err.to_json())
    assert isinstance(back, ConsentWithdrawn)
    assert back.to_dict() == err.to_dict()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"code": "NO_SUCH"}',
        '{"code": ["x"], "message": "m"}',
        '{"code": "BACKDATED", "message": 3}',
        '{"code": "BACKDATED", "message": "m", "field": 1}',
    ],
)
def test_foreign_error_text_is_not_mistaken_for_a_chaincode_error(text):
    assert error_from_json(text) is None


def test_error_class_looks_up_codes():
    assert error_class("CONSENT_WITHDRAWN") is ConsentWithdrawn
    assert error_class("NOPE") is None


def test_subclass_without_code_or_with_taken_code_is_refused():
    with pytest.raises(TypeError):
        type("NoCode", (ChaincodeError,), {})
    with pytest.raises(TypeError):
        type("Taken", (ChaincodeError,), {"code": "BACKDATED"})
