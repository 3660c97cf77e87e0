"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.errors import Forbidden, Unauthenticated
from gateway.ledger import ConsortiumLedger
from gateway.services import Services
from gateway.stores import Principal, Role


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


def _ledger(services: ServicesDep) -> ConsortiumLedger:
    return services.connection.ledger


LedgerDep = Annotated[ConsortiumLedger, Depends(_ledger)]


#: The bearer scheme of store and admin credentials, declared so the OpenAPI schema (and
#: /docs' "Authorize") knows it; its refusals are this module's own (the error shape).
BEARER = HTTPBearer(auto_error=False, scheme_name="StoreCredential",
                    description="A store or admin credential: psk_<key id>.<secret>")


def _principal(services: ServicesDep,
               bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
               ) -> Principal:
    # HTTPBearer compares the scheme case-insensitively (RFC 9110) and gives None without one.
    token = bearer.credentials.strip() if bearer is not None else ""
    if not token:
        raise Unauthenticated("a store credential is required (Authorization: Bearer ...)")
    principal = services.credentials.authenticate(token)
    if principal is None:
        raise Unauthenticated("the store credential is not valid")
    return principal


PrincipalDep = Annotated[Principal, Depends(_principal)]


def _admin(principal: PrincipalDep) -> Principal:
    if principal.role is not Role.ADMIN:
        raise Forbidden("only the retailer's admin may do this")
    return principal


AdminDep = Annotated[Principal, Depends(_admin)]


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
