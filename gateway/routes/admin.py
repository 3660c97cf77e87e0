"""The retailer's administration: the kiosk suggestions' model (credentials:
routes/credentials.py)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.deps import AdminDep, ServicesDep
from gateway.errors import NotFound, error_responses
from gateway.models import ModelInstalled, ModelOut
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
