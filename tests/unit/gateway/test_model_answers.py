"""The model routes' answers: refusals mapped without paths, and metadata summarised safely."""

from __future__ import annotations

import json

import pytest

from gateway.errors import NoModel, to_response
from gateway.models import ModelInstalled, ModelOut
from recommender.artifacts import ArtifactVersionMismatch, CorruptArtifact
from recommender.errors import ModelRejected

PATH = "/srv/prefshare/northwind/gateway/model"


def _rejected(cause: Exception | None) -> ModelRejected:
    try:
        raise ModelRejected(f"artifact at {PATH!r} rejected: {cause}") from cause
    except ModelRejected as exc:
        return exc


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (ArtifactVersionMismatch(2), "format_version"),
        (CorruptArtifact(f"{PATH} has no arrays.npz"), "corrupt"),
        (None, "incompatible"),  # the recommender's own checks: retailer, user model, items
    ],
)
def test_a_refused_artifact_is_409_with_its_reason_and_no_path(cause, reason):
    response = to_response(_rejected(cause))
    body = json.loads(response.body)
    assert response.status_code == 409
    assert body["error"]["code"] == "MODEL_REJECTED"
    assert body["error"]["details"] == {"reason": reason}
    assert "/" not in body["error"]["message"] and "prefshare" not in response.body.decode()


def test_no_model_is_404():
    response = to_response(NoModel("the gateway's model directory holds no model artifact"))
    assert response.status_code == 404
    assert json.loads(response.body)["error"]["code"] == "NO_MODEL"


def test_summary_keeps_the_training_record():
    metadata = {"user_model": "prefshare-slices/1", "retailer": "NorthwindMSP",
                "created_at": "2026-11-21T10:00:00.000Z",
                "training": {"block_height": 7, "record_count": 120,
                             "purpose": "personalisation", "consent_set_hash": "a" * 64},
                "metrics": {"precision@10": 0.1, "evaluated_customers": 14.0}}
    out = ModelInstalled.summarise("lightfm-" + "0" * 24, metadata, previous_model_id=None)
    assert out.model_dump() == {
        "model_id": "lightfm-" + "0" * 24, "retailer": "NorthwindMSP",
        "created_at": "2026-11-21T10:00:00.000Z",
        "training": {"block_height": 7, "record_count": 120, "purpose": "personalisation",
                     "consent_set_hash": "a" * 64},
        "metrics": {"precision@10": 0.1, "evaluated_customers": 14.0},
        "previous_model_id": None,
    }


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"retailer": 3, "created_at": None, "training": [1], "metrics": "high"},
        {"training": {"block_height": True, "record_count": "many"},
         "metrics": {"auc": float("nan"), "flag": True, "note": "x", "ok": 1}},
    ],
)
def test_summary_of_unexpected_metadata_leaves_the_odd_values_out(metadata):
    out = ModelOut.summarise("lightfm-" + "1" * 24, metadata)
    assert out.retailer is None and out.created_at is None
    assert out.training is None or out.training.block_height is None
    assert out.metrics in ({}, {"ok": 1.0})
    ModelOut.model_validate_json(out.model_dump_json())  # the answer stays valid JSON


def test_summary_before_any_model_is_all_null():
    out = ModelOut.summarise(None, {})
    assert out.model_dump() == {"model_id": None, "retailer": None, "created_at": None,
                                "training": None, "metrics": {}}
