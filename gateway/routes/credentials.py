"""The retailer's admin manages its stores' credentials: issue (with a lifetime), list,
revoke, rotate. Every request checks its credential in the database, so each change is
effective from the next request on (docs/gateway.md, "Store credentials")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from gateway.deps import AdminDep, ServicesDep
from gateway.errors import NotFound, Unprocessable, error_responses
from gateway.models import CredentialList, CredentialOut, IssuedCredential
from gateway.services import Services
from gateway.stores import STORE_ID, CredentialInfo, Role, key_id_of

router = APIRouter(prefix="/v1/admin", tags=["admin"])

KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
LifetimeDays = Annotated[int | None, Query(ge=1, le=3650, description=(
    "days until it stops working (default credential_lifetime_days, at most "
    "credential_max_lifetime_days)"))]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _out(info: CredentialInfo) -> CredentialOut:
    return CredentialOut(
        key_id=info.key_id, store_id=info.store_id, role=info.role.value,
        status=info.status(datetime.now(UTC)),  # type: ignore[arg-type]
        issued_at=_iso(info.issued_at), expires_at=_iso(info.expires_at),
        revoked_at=_iso(info.revoked_at) if info.revoked_at else None,
        replaced_by=info.replaced_by)


def _lifetime(services: Services, days: int | None) -> timedelta:
    settings = services.settings
    if days is not None and days > settings.credential_max_lifetime_days:
        raise Unprocessable("the lifetime is over the gateway's longest",
                            code="LIFETIME_TOO_LONG", details={"field": "lifetime_days"})
    return timedelta(days=days or settings.credential_lifetime_days)


def _issued(services: Services, credential: str, replaces: str | None = None
            ) -> IssuedCredential:
    info = services.credentials.get(key_id_of(credential))
    assert info is not None  # just written
    return IssuedCredential(store_id=info.store_id, role=info.role.value,
                            credential=credential, key_id=info.key_id,
                            expires_at=_iso(info.expires_at), replaces=replaces)


@router.post("/stores/{store_id}/credentials", status_code=201,
             response_model=IssuedCredential, summary="Issue a credential for a store",
             responses=error_responses(401, 403, 422, described={
                 404: "The retailer's catalogue has no such store (UNKNOWN_STORE)"}))
def issue_store_credential(store_id: Annotated[str, Path(pattern=STORE_ID.pattern)],
                           _: AdminDep, services: ServicesDep,
                           lifetime_days: LifetimeDays = None) -> IssuedCredential:
    services.scope.require_issuable(store_id)
    credential = services.credentials.issue(store_id, Role.STORE,
                                            lifetime=_lifetime(services, lifetime_days))
    return _issued(services, credential)


@router.get("/credentials", response_model=CredentialList,
            summary="The retailer's credentials, newest first (never their secrets)",
            responses=error_responses(401, 403, 422))
def list_credentials(_: AdminDep, services: ServicesDep,
                     store_id: Annotated[str | None, Query(pattern=STORE_ID.pattern)] = None
                     ) -> CredentialList:
    return CredentialList(items=[_out(i) for i in services.credentials.entries(
        store_id=store_id)])


@router.delete("/credentials/{key_id}", response_model=CredentialOut,
               summary="Revoke a credential: refused from the next request on",
               responses=error_responses(401, 403, 422, described={
                   404: "No credential of this key id that is not revoked already"}))
def revoke_credential(key_id: KeyId, _: AdminDep, services: ServicesDep) -> CredentialOut:
    if not services.credentials.revoke(key_id):
        raise NotFound("no credential of this key id that is not revoked already")
    info = services.credentials.get(key_id)
    assert info is not None
    return _out(info)


@router.post("/credentials/{key_id}/rotation", status_code=201,
             response_model=IssuedCredential,
             summary="Issue a successor of an active credential; the old one ends after "
                     "credential_rotation_grace_s",
             responses=error_responses(401, 403, 422, described={
                 404: "No active credential of this key id"}))
def rotate_credential(key_id: KeyId, _: AdminDep, services: ServicesDep,
                      lifetime_days: LifetimeDays = None) -> IssuedCredential:
    credential = services.credentials.rotate(
        key_id, lifetime=_lifetime(services, lifetime_days),
        grace=timedelta(seconds=services.settings.credential_rotation_grace_s))
    if credential is None:
        raise NotFound("no active credential of this key id")
    return _issued(services, credential, replaces=key_id)
