"""Model provenance: which data a recommender model was trained on, and how it scored.

Public state under ``model~<model_id>``, written once by the retailer that trained the
model, so a suggestion can name its model and an auditor can check what it was allowed
to learn from::

    {"model_id": "lightfm-2025-01-31-a", "retailer": "Org1MSP",
     "content_hash": "<sha256 hex of the saved model files>",
     "created_at": "2025-01-31T09:30:00.000Z",
     "training": {"block_height": 1234, "record_count": 100004,
                  "purpose": "personalisation", "consent_set_hash": "<sha256 hex>"},
     "metrics": {"precision@10": 0.121, "auc": 0.91}}

``training.consent_set_hash`` commits to the exact consents the training data was
filtered by: see :func:`hash_consent_set`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chaincode.canonical import canonical_bytes
from chaincode.consent_statement import PURPOSES
from chaincode.errors import InvalidValue, RetailerMismatch, WrongType
from chaincode.fields import (
    ID_PATTERN,
    MSP_ID_PATTERN,
    SHA256_HEX_PATTERN,
    check_fields,
    expect_object,
    format_timestamp,
    join,
    load_json,
    parse_timestamp,
    read_enum,
    read_int,
    read_number,
    read_str,
)
from chaincode.statekeys import CompositeKey

METRIC_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_@.-]{0,63}")
MAX_METRICS = 64
MAX_METRIC_MAGNITUDE = 1e12
MAX_PROVENANCE_BYTES = 8192


def model_key(model_id: str) -> CompositeKey:
    """``model~<model_id>`` (public state)."""
    return CompositeKey("model", (model_id,))


def hash_consent_set(consents: Iterable[tuple[str, str, int]]) -> str:
    """SHA-256 hex of the canonical sorted list of ``(customer_id, consent_id, version)``.

    Order and duplicates in the input do not matter. The empty set hashes ``[]``.
    """
    entries = sorted({(c, k, v) for c, k, v in consents})
    return hashlib.sha256(canonical_bytes([list(entry) for entry in entries])).hexdigest()


@dataclass(frozen=True)
class TrainingSnapshot:
    block_height: int
    record_count: int
    purpose: str
    consent_set_hash: str

    @classmethod
    def from_dict(cls, value: Any, path: str) -> TrainingSnapshot:
        obj = expect_object(value, path)
        check_fields(
            obj,
            required=("block_height", "record_count", "purpose", "consent_set_hash"),
            path=path,
        )
        return cls(
            block_height=read_int(obj["block_height"], join(path, "block_height")),
            record_count=read_int(obj["record_count"], join(path, "record_count")),
            purpose=read_enum(obj["purpose"], join(path, "purpose"), PURPOSES),
            consent_set_hash=read_str(
                obj["consent_set_hash"],
                join(path, "consent_set_hash"),
                pattern=SHA256_HEX_PATTERN,
                rule="must be 64 lowercase hex digits (SHA-256)",
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "block_height": self.block_height,
            "record_count": self.record_count,
            "purpose": self.purpose,
            "consent_set_hash": self.consent_set_hash,
        }


def _read_metrics(value: Any, path: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise WrongType("expected a JSON object of numbers", field=path)
    if len(value) > MAX_METRICS:
        raise InvalidValue(f"more than {MAX_METRICS} metrics", field=path)
    metrics: dict[str, float] = {}
    for name in sorted(value):
        read_str(name, path, pattern=METRIC_NAME_PATTERN, rule="metric names are [A-Za-z0-9_@.-]")
        metrics[name] = read_number(value[name], join(path, name), bound=MAX_METRIC_MAGNITUDE)
    return metrics


@dataclass(frozen=True)
class ModelProvenance:
    model_id: str
    retailer: str
    content_hash: str
    created_at: datetime
    training: TrainingSnapshot
    metrics: dict[str, float]

    @property
    def key(self) -> CompositeKey:
        return model_key(self.model_id)

    def check_written_by(self, caller_msp: str) -> None:
        """Raise RetailerMismatch unless the caller is the retailer the record names."""
        if self.retailer != caller_msp:
            raise RetailerMismatch("a retailer records only its own models", field="retailer")

    @classmethod
    def from_dict(cls, value: Any) -> ModelProvenance:
        obj = expect_object(value)
        check_fields(
            obj,
            required=("model_id", "retailer", "content_hash", "created_at", "training", "metrics"),
        )
        return cls(
            model_id=read_str(obj["model_id"], "model_id", pattern=ID_PATTERN),
            retailer=read_str(obj["retailer"], "retailer", pattern=MSP_ID_PATTERN),
            content_hash=read_str(
                obj["content_hash"],
                "content_hash",
                pattern=SHA256_HEX_PATTERN,
                rule="must be 64 lowercase hex digits (SHA-256)",
            ),
            created_at=parse_timestamp(obj["created_at"], "created_at"),
            training=TrainingSnapshot.from_dict(obj["training"], "training"),
            metrics=_read_metrics(obj["metrics"], "metrics"),
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> ModelProvenance:
        """Strictly parse a provenance document of at most 8 KiB."""
        return cls.from_dict(load_json(data, max_bytes=MAX_PROVENANCE_BYTES))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "retailer": self.retailer,
            "content_hash": self.content_hash,
            "created_at": format_timestamp(self.created_at),
            "training": self.training.to_dict(),
            "metrics": dict(sorted(self.metrics.items())),
        }

    def to_json_bytes(self) -> bytes:
        return canonical_bytes(self.to_dict())
