"""Request and response bodies of the REST API (pydantic v2; unknown fields are refused).

These models fix the *shape* of each body for validation and the OpenAPI schema; the rules
a record must satisfy (signatures, times, scopes) are checked by the chaincode's own parsers
(chaincode/), which the gateway runs before it calls the ledger, and again on the ledger.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from chaincode.consent_statement import COLLECTION_METHODS, DATA_CATEGORIES, PURPOSES
from chaincode.preferences import EVENT_TYPES, MAX_BATCH_EVENTS

CustomerId = Annotated[str, Field(pattern=r"^c_[A-Za-z0-9_-]{43}$",
                                  examples=["c_" + "A" * 43])]
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
MspId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Timestamp = Annotated[str, Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                                 examples=["2026-11-21T10:00:00.000Z"])]
Signature = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
Nonce = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
Purpose = Literal[PURPOSES]  # type: ignore[valid-type]
Category = Literal[DATA_CATEGORIES]  # type: ignore[valid-type]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RegisterCustomer(_Body):
    public_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{40,200}$",
                                     description="WebCrypto SPKI export, base64url")]


class ConsentStatement(_Body):
    """A customer-signed grant, narrowing or withdrawal (docs/chaincode.md)."""

    action: Literal["grant", "narrow", "withdraw"]
    consent_id: Id
    customer_id: CustomerId
    given_at: Timestamp
    nonce: Nonce
    collection_method: Literal[COLLECTION_METHODS]  # type: ignore[valid-type]
    policy_version: Annotated[str, Field(max_length=32)]
    jurisdiction: Annotated[str, Field(max_length=8)]
    recipients: Annotated[list[Annotated[str, Field(max_length=64)]],
                          Field(max_length=64)] | None = None
    purposes: Annotated[list[Purpose], Field(max_length=8)] | None = None
    data_categories: Annotated[list[Category], Field(max_length=8)] | None = None
    expires_at: Timestamp | None = None
    signature: Signature


class RightsRequest(_Body):
    """A customer-signed export or erasure request."""

    action: Literal["export", "erase"]
    customer_id: CustomerId
    requested_at: Timestamp
    nonce: Nonce
    #: The member whose gateway may serve it (this one's MSP id: GET /v1/retailer).
    gateway: MspId
    signature: Signature


class MemberPortal(BaseModel):
    """Another member's consent portal, where the same key of hers works too."""

    msp_id: str
    portal_url: str


class RetailerOut(BaseModel):
    """The retailer this gateway serves (the pages sign requests naming it, and its kiosk
    serves only it), and the other members' portals."""

    msp_id: str
    name: str
    members: list[MemberPortal] = []


class StoreOut(BaseModel):
    """A store of this retailer, as its catalogue knows it (the kiosk's setup check)."""

    store_id: str
    retailer: str
    items: int


class CatalogueItemOut(BaseModel):
    item_id: str
    name: str
    category: str
    brand: str
    price_band: str


class CatalogueItemsOut(BaseModel):
    store_id: str
    query: str
    items: list[CatalogueItemOut]


class PreferenceEventIn(_Body):
    event_id: Id
    item_id: Id
    item_category: Id
    event_type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    value: Annotated[float, Field(ge=-1e9, le=1e9)] = 1.0
    timestamp: Timestamp


class EventBatch(_Body):
    events: Annotated[list[PreferenceEventIn], Field(min_length=1, max_length=MAX_BATCH_EVENTS)]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="stable upper-case code (docs/gateway.md, docs/chaincode.md)")
    message: str = Field(description="names the field and the rule, never a request value")
    details: Any = Field(description="field locations or the refused field; null when none")


class ErrorBody(BaseModel):
    """Every error the gateway answers: ``{"error": {"code", "message", "details"}}``."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


class Recorded(BaseModel):
    recorded: int


class IssuedCredential(BaseModel):
    store_id: str
    role: str
    credential: str = Field(description="shown once; the gateway keeps only its hash")
    key_id: str | None = Field(default=None, description="names it in lists, revocation "
                                                         "and rotation")
    expires_at: str | None = Field(default=None, description="when it stops working")
    replaces: str | None = Field(default=None, description="the key id it rotated, which "
                                                           "works until that one's expires_at")


class CredentialOut(BaseModel):
    """An issued credential as the admin lists it: never its secret."""

    key_id: str
    store_id: str
    role: str
    status: Literal["active", "expired", "revoked"]
    issued_at: str
    expires_at: str
    revoked_at: str | None
    replaced_by: str | None


class CredentialList(BaseModel):
    items: list[CredentialOut]


class Page(BaseModel):
    items: list[Any]
    next_cursor: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    peer: Literal["reachable", "unreachable"]


class SuggestionReason(BaseModel):
    kind: str
    retailer: str = Field(description="the member whose data this reason rests on")
    detail: str
    weight: float
    category: str | None = Field(description="her consent data category, if any")


class SuggestionItem(BaseModel):
    item_id: str
    name: str
    category: str
    brand: str
    price_band: str
    score: float
    reasons: list[SuggestionReason]
    why: str = Field(description="the strongest reason, in words for her")
    source: str = Field(description="whose data the reason rests on, in words for her")


class SuggestionsOut(BaseModel):
    customer_id: str
    store_id: str
    model_id: str | None
    strategy: Literal["personalised", "cold_start_stated", "popularity"]
    data_sources: list[str] = Field(description="members whose data about her shaped this")
    items: list[SuggestionItem]
    notice: str | None = Field(description="why her data was not used, when it was not")


class ModelTraining(BaseModel):
    """What the model was trained on, as its artifact records it (recommender/training.py)."""

    block_height: int | None = Field(description="ledger height of the training read")
    record_count: int | None = Field(description="records read: events and stated preferences")
    purpose: str | None
    consent_set_hash: str | None = Field(description="SHA-256 of the consents that opened "
                                                     "the data (chaincode/provenance.py)")


class ModelOut(BaseModel):
    """The model serving the kiosk suggestions, summarised from its artifact's metadata;
    every field but ``model_id`` is null (``metrics`` empty) before a model is installed or
    when the artifact does not record it."""

    model_id: str | None = Field(description="lightfm-<24 hex>, from the artifact's content "
                                             "hash; null while popular items are served")
    retailer: str | None = Field(description="the MSP id the model was trained for")
    created_at: str | None
    training: ModelTraining | None
    metrics: dict[str, float] = Field(description="held-out precision@10, recall@10, ndcg@10, "
                                                  "auc, popularity.precision@10, "
                                                  "evaluated_customers; empty when skipped")

    @classmethod
    def summarise(cls, model_id: str | None, metadata: Mapping[str, Any],
                  **fields: Any) -> Self:
        """The summary of ``metadata`` (and a subclass's own ``fields``); a value of the
        wrong type is left out (null), so a hand-made artifact's metadata cannot break the
        answer."""
        def typed(source: Any, name: str, kind: type) -> Any:
            value = source.get(name) if isinstance(source, Mapping) else None
            return value if isinstance(value, kind) and not isinstance(value, bool) else None

        training = metadata.get("training")
        metrics = metadata.get("metrics")
        return cls(
            model_id=model_id, retailer=typed(metadata, "retailer", str),
            created_at=typed(metadata, "created_at", str),
            training=ModelTraining(
                block_height=typed(training, "block_height", int),
                record_count=typed(training, "record_count", int),
                purpose=typed(training, "purpose", str),
                consent_set_hash=typed(training, "consent_set_hash", str),
            ) if isinstance(training, Mapping) else None,
            metrics={k: float(v) for k, v in metrics.items()
                     if isinstance(v, int | float) and not isinstance(v, bool)
                     and math.isfinite(v)} if isinstance(metrics, Mapping) else {},
            **fields,
        )


class ModelInstalled(ModelOut):
    model_id: str = Field(description="the model serving from now on")
    previous_model_id: str | None = Field(description="the model it replaced; equal to "
                                                      "model_id when it was already serving")


class ModelCard(BaseModel):
    """The serving model's card and gate figures (recommender/model_card.py, figures only),
    as recorded on the ledger with its provenance; empty before a model is installed or when
    its artifact predates cards."""

    model_id: str | None
    card: dict[str, float] = Field(description="card.* (hit@10 by segment, popularity share, "
                                               "exposure, coverage, records per member) and "
                                               "gate.* figures")


class GateRefusal(BaseModel):
    figure: str
    value: float
    limit: float
    rule: Literal["at most", "at least"]


class RetrainOut(BaseModel):
    """How a retrain ended (gateway/lifecycle.py)."""

    model_id: str = Field(description="the model trained (its provenance is on the ledger)")
    installed: bool
    previous_model_id: str | None
    refusals: list[GateRefusal]
    card: dict[str, float]
    records: int = Field(description="records the model was trained on")
    seconds: float
    reason: str = Field(description="operator, schedule or new data")


class LifecycleOut(BaseModel):
    """The life cycle's progress: the step under way, new records since the last retrain,
    retrains by result, the last one's outcome, and the model a rollback would restore."""

    step: str
    new_records: int
    retrains: dict[str, int]
    last: RetrainOut | None
    last_error: str | None
    previous_model_id: str | None
    retrain_interval_s: float | None
    retrain_min_new_records: int | None


class RolledBack(BaseModel):
    model_id: str | None = Field(description="the model serving from now on")
    previous_model_id: str | None = Field(description="the model it replaced, which a second "
                                                      "rollback restores")
