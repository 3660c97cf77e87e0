"""The retailer's administration: store credentials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from gateway.deps import AdminDep, ServicesDep
from gateway.errors import error_responses
from gateway.models import IssuedCredential
from gateway.stores import STORE_ID, Role

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/stores/{store_id}/credentials", status_code=201,
             response_model=IssuedCredential, summary="Issue a credential for a store",
             responses=error_responses(401, 403, 422))
def issue_store_credential(store_id: Annotated[str, Path(pattern=STORE_ID.pattern)],
                           _: AdminDep, services: ServicesDep) -> IssuedCredential:
    credential = services.credentials.issue(store_id, Role.STORE)
    return IssuedCredential(store_id=store_id, role=Role.STORE, credential=credential)
