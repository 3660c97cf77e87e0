"""Node health for the retailer's admin: each peer's and orderer's latest features, whether
it is flagged and why, and the recent node alerts (gateway/watch/node_service.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.deps import AdminDep, ServicesDep
from gateway.errors import NotFound, error_responses

router = APIRouter(prefix="/v1/admin/watch/nodes", tags=["watch"])
_OFF = "No node endpoints are set in this gateway's settings (NODE_WATCH_DISABLED)"


@router.get("", summary="Each peer's and orderer's health, and recent node alerts",
            responses=error_responses(401, 403, described={404: _OFF}))
def nodes(_: AdminDep, services: ServicesDep) -> dict[str, Any]:
    if services.nodes is None:
        raise NotFound("the node watch has no endpoints on this gateway",
                       code="NODE_WATCH_DISABLED")
    return services.nodes.status()
