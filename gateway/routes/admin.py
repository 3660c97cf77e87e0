"""The retailer's administration: the kiosk suggestions' model (credentials:
routes/credentials.py)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import AdminDep, ServicesDep
from gateway.errors import Conflict, NotFound, PeerUnavailable, error_responses
from gateway.lifecycle import ModelLifecycle, card_of
from gateway.members import MemberUnavailable
from gateway.models import (
    LifecycleOut,
    ModelCard,
    ModelInstalled,
    ModelOut,
    RetrainOut,
    RolledBack,
)
from gateway.services import Services
from gateway.suggestions import KioskSuggestions

router = APIRouter(prefix="/v1/admin", tags=["admin"])

_NOT_CONFIGURED = ("no catalogue is configured, so the gateway serves no model "
                   "(SUGGESTIONS_NOT_CONFIGURED)")


def _kiosk(services: Services) -> KioskSuggestions:
    if services.suggestions is None:
        raise NotFound("this gateway has no catalogue configured, so it serves no model",
                       code="SUGGESTIONS_NOT_CONFIGURED")
    return services.suggestions


@router.get("/model", response_model=ModelOut, summary="The model serving the suggestions",
            responses=error_responses(401, 403, 422,
                                      described={404: f"Nothing to show: {_NOT_CONFIGURED}"}))
def serving_model(_: AdminDep, services: ServicesDep) -> ModelOut:
    current = _kiosk(services).serving()
    return ModelOut.summarise(current.model_id, current.metadata)


@router.post(
    "/model", response_model=ModelInstalled,
    summary="Install the model in the gateway's model directory",
    description="Verifies the artifact in the configured model directory (never a path from "
                "the request) and serves it from the next suggestion on. A refused artifact "
                "leaves the previous model serving. Safe to repeat, so no Idempotency-Key: "
                "a repeat installs what the directory holds then.",
    responses=error_responses(401, 403, 422, described={
        404: f"The model directory holds no artifact (NO_MODEL), or {_NOT_CONFIGURED}",
        409: "The artifact was refused (MODEL_REJECTED; details.reason: corrupt, "
             "format_version or incompatible); the previous model keeps serving"}))
def install_model(_: AdminDep, services: ServicesDep) -> ModelInstalled:
    current, previous = _kiosk(services).install_model(services.settings.model_dir)
    return ModelInstalled.summarise(current.model_id, current.metadata,
                                    previous_model_id=previous)


def _lifecycle(services: Services) -> ModelLifecycle:
    _kiosk(services)
    assert services.lifecycle is not None  # made with the suggestions
    return services.lifecycle


@router.get("/model/card", response_model=ModelCard,
            summary="The serving model's card: accuracy by segment, popularity and exposure, "
                    "coverage, records per member",
            responses=error_responses(401, 403, 422,
                                      described={404: f"Nothing to show: {_NOT_CONFIGURED}"}))
def model_card(_: AdminDep, services: ServicesDep) -> ModelCard:
    current = _kiosk(services).serving()
    return ModelCard(model_id=current.model_id, card=card_of(current.metadata))


@router.get("/model/lifecycle", response_model=LifecycleOut,
            summary="The retrain under way, new records since the last, the last outcome",
            responses=error_responses(401, 403, 422,
                                      described={404: f"Nothing to show: {_NOT_CONFIGURED}"}))
def lifecycle_status(_: AdminDep, services: ServicesDep) -> LifecycleOut:
    status = _lifecycle(services).status()
    s = services.settings
    return LifecycleOut(**status, retrain_interval_s=s.retrain_interval_s,
                        retrain_min_new_records=s.retrain_min_new_records)


@router.post(
    "/model/retrain", response_model=RetrainOut,
    summary="Retrain now; install the new model if it passes the gate",
    description="Reads what this retailer may train on from the ledger, trains, records the "
                "model's provenance and card on the ledger, and installs it only when it is "
                "not worse than the serving model on the recent held-out slice and passes "
                "the bias checks (docs/gateway.md, \"Model life cycle\"). Answers when done "
                "(seconds to a minute); GET /v1/admin/model/lifecycle shows the step.",
    responses=error_responses(401, 403, 422, 503, described={
        404: f"{_NOT_CONFIGURED}",
        409: "MODEL_REFUSED (details.refusals: figure, value, limit, rule; details.model_id: "
             "the refused model, kept in <model_dir>.refused), RETRAIN_IN_PROGRESS, or "
             "NO_TRAINING_DATA; the previous model keeps serving"}))
def retrain(_: AdminDep, services: ServicesDep) -> RetrainOut:
    lifecycle = _lifecycle(services)
    try:
        outcome = lifecycle.retrain(reason="operator")
    except ValueError:
        raise Conflict("there is no positive preference event to train on",
                       code="NO_TRAINING_DATA") from None
    except MemberUnavailable:
        raise PeerUnavailable("a member's gateway did not answer the training read; "
                              "nothing was trained", code="MEMBER_UNAVAILABLE") from None
    return RetrainOut.model_validate(outcome.to_dict())


@router.post(
    "/model/rollback", response_model=RolledBack,
    summary="Serve the previous model again (a second rollback undoes the first)",
    responses=error_responses(401, 403, 422, described={
        404: f"NO_PREVIOUS_MODEL, or {_NOT_CONFIGURED}",
        409: "RETRAIN_IN_PROGRESS, or the previous artifact was refused (MODEL_REJECTED)"}))
def rollback(_: AdminDep, services: ServicesDep) -> RolledBack:
    serving, replaced = _lifecycle(services).rollback()
    return RolledBack(model_id=serving, previous_model_id=replaced)

