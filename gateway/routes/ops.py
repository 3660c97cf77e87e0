"""Operations: liveness, readiness (the peer connection) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.deps import ServicesDep
from gateway.models import Health, MemberPortal, RetailerOut

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness and the peer connection",
            responses={503: {"model": Health}})
async def health(services: ServicesDep) -> JSONResponse:
    # Async, and probed on a thread of its own: never waits behind the routes' thread pool.
    reachable = await services.health.reachable() if services.health is not None \
        else services.connection.peer_reachable()
    body = Health(status="ok" if reachable else "degraded",
                  peer="reachable" if reachable else "unreachable")
    return JSONResponse(body.model_dump(), status_code=200 if reachable else 503)


@router.get("/v1/retailer", response_model=RetailerOut,
            summary="The retailer this gateway serves")
def retailer(services: ServicesDep) -> RetailerOut:
    # Every member's gateway serves its portal at /portal/ on its own origin.
    members = [MemberPortal(msp_id=m.msp_id, portal_url=f"{m.url}/portal/")
               for m in services.settings.members]
    return RetailerOut(msp_id=services.settings.msp_id, name=services.settings.retailer,
                       members=members)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"description": "Prometheus text exposition format",
                             "content": {CONTENT_TYPE_LATEST.split(";")[0]: {
                                 "schema": {"type": "string"}}}}})
def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
