"""Dependencies shared by the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

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


def _principal(services: ServicesDep,
               authorization: Annotated[str | None, Header()] = None) -> Principal:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:  # the scheme is case-insensitive (RFC 9110)
        raise Unauthenticated("a store credential is required (Authorization: Bearer ...)")
    principal = services.credentials.authenticate(token.strip())
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
