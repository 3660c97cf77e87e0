import hashlib
import json

import pytest

from chaincode.errors import InvalidValue, MissingField, RetailerMismatch, UnknownField, WrongType
from chaincode.provenance import ModelProvenance, hash_consent_set, model_key

HASH = "ab" * 32


def doc(**overrides):
    out = {
        "model_id": "lightfm-2025-01-31-a",
        "retailer": "Org1MSP",
        "content_hash": HASH,
        "created_at": "2025-01-31T09:30:00.000Z",
        "training": {
            "block_height": 1234,
            "record_count": 100004,
            "purpose": "personalisation",
            "consent_set_hash": HASH,
        },
        "metrics": {"precision@10": 0.121, "auc": 0.91, "users": 671},
    }
    out.update(overrides)
    return out


def test_provenance_parses_and_round_trips_deterministically():
    record = ModelProvenance.from_json(json.dumps(doc()))
    assert record.metrics == {"auc": 0.91, "precision@10": 0.121, "users": 671.0}
    assert record.key == model_key("lightfm-2025-01-31-a")
    data = record.to_json_bytes()
    assert ModelProvenance.from_json(data) == record
    assert ModelProvenance.from_json(data).to_json_bytes() == data


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"content_hash": "AB" * 32}, InvalidValue, "content_hash"),
        ({"content_hash": "ab" * 31}, InvalidValue, "content_hash"),
        ({"metrics": {"auc": "high"}}, WrongType, "metrics.auc"),
        ({"metrics": {"auc": True}}, WrongType, "metrics.auc"),
        ({"metrics": [0.5]}, WrongType, "metrics"),
        ({"metrics": {"bad name": 1}}, InvalidValue, "metrics"),
        ({"metrics": {f"m{i}": 1 for i in range(65)}}, InvalidValue, "metrics"),
        (
            {
                "training": {
                    "block_height": -1,
                    "record_count": 1,
                    "purpose": "analytics",
                    "consent_set_hash": HASH,
                }
            },
            InvalidValue,
            "training.block_height",
        ),
        (
            {
                "training": {
                    "block_height": 1.0,
                    "record_count": 1,
                    "purpose": "analytics",
                    "consent_set_hash": HASH,
                }
            },
            WrongType,
            "training.block_height",
        ),
        (
            {
                "training": {
                    "block_height": 1,
                    "record_count": 1,
                    "purpose": "ads",
                    "consent_set_hash": HASH,
                }
            },
            InvalidValue,
            "training.purpose",
        ),
        (
            {"training": {"block_height": 1, "record_count": 1, "purpose": "analytics"}},
            MissingField,
            "training.consent_set_hash",
        ),
        ({"owner": "x"}, UnknownField, "owner"),
    ],
)
def test_malformed_provenance_is_refused_with_code_and_field(overrides, error, field):
    with pytest.raises(error) as info:
        ModelProvenance.from_json(json.dumps(doc(**overrides)))
    assert info.value.field == field


def test_consent_set_hash_ignores_order_and_duplicates():
    a = hash_consent_set([("c_b", "k2", 1), ("c_a", "k1", 3)])
    b = hash_consent_set([("c_a", "k1", 3), ("c_b", "k2", 1), ("c_a", "k1", 3)])
    assert a == b
    assert a != hash_consent_set([("c_a", "k1", 2), ("c_b", "k2", 1)])
    assert hash_consent_set([]) == hashlib.sha256(b"[]").hexdigest()


def test_only_the_named_retailer_may_record_a_model():
    record = ModelProvenance.from_dict(doc())
    record.check_written_by("Org1MSP")
    with pytest.raises(RetailerMismatch):
        record.check_written_by("Org2MSP")
