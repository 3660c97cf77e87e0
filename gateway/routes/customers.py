"""Customers: key registration, consent views, consent-checked reads, export and erasure."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from chaincode.rights import RightsRequest as ChaincodeRightsRequest
from gateway.deps import IdempotencyKey, LedgerDep, PrincipalDep, ServicesDep
from gateway.errors import LEDGER_STATUSES, Unprocessable, error_responses
from gateway.idempotency import run_idempotent
from gateway.ledger_records import event_dicts
from gateway.models import CustomerId, Id, Page, Purpose, RegisterCustomer, RightsRequest
from gateway.pagination import Cursor, Limit, paginate

router = APIRouter(prefix="/v1/customers", tags=["customers"])
CustomerPath = Annotated[CustomerId, Path()]


#: A store's read of the ledger: authenticated, then the ledger's answers.
_STORE_READ = error_responses(*LEDGER_STATUSES, 401, 422)
#: A body the customer signed, checked by the ledger.
_SIGNED = error_responses(*LEDGER_STATUSES, 413, 422)


@router.post("", status_code=201, summary="Register a customer's public key",
             responses=_SIGNED)
def register_customer(body: RegisterCustomer, request: Request, services: ServicesDep,
                      ledger: LedgerDep, idempotency_key: IdempotencyKey = None) -> Response:
    return run_idempotent(
        services.idempotency, scope=f"key:{body.public_key}", key=idempotency_key,
        method="POST", path=request.url.path, payload=body.model_dump(),
        action=lambda: (201, ledger.register_customer(body.public_key).to_dict()))


@router.get("/{customer_id}/consents", response_model=Page,
            summary="A customer's consents, each with its status now", responses=_STORE_READ)
def list_consents(customer_id: CustomerPath, _: PrincipalDep, ledger: LedgerDep,
                  limit: Limit = 50, cursor: Cursor = None) -> Page:
    return paginate([c.to_dict() for c in ledger.list_consents(customer_id)], limit, cursor)


@router.get("/{customer_id}/consents/{consent_id}/history", response_model=Page,
            summary="Every version of one consent, oldest first", responses=_STORE_READ)
def consent_history(customer_id: CustomerPath, consent_id: Annotated[Id, Path()],
                    _: PrincipalDep, ledger: LedgerDep, limit: Limit = 50,
                    cursor: Cursor = None) -> Page:
    return paginate([v.to_dict() for v in ledger.consent_history(customer_id, consent_id)],
                    limit, cursor)


@router.get("/{customer_id}/preferences",
            summary="The customer's preference events this retailer may read for a purpose",
            responses=_STORE_READ)
def read_preferences(customer_id: CustomerPath, _: PrincipalDep, ledger: LedgerDep,
                     services: ServicesDep,
                     purpose: Annotated[Purpose, Query()] = "personalisation") -> object:
    consents = ledger.list_consents(customer_id)
    found = services.sharing.customer_events(customer_id, purpose, consents)
    return {"customer_id": customer_id, "purpose": purpose, "events": event_dicts(found.events),
            "unanswered": found.unanswered}


def _rights_request(customer_id: str, body: RightsRequest, action: str) -> dict[str, object]:
    if body.customer_id != customer_id:
        raise Unprocessable("the signed request is for another customer",
                            code="CUSTOMER_MISMATCH", details={"field": "customer_id"})
    if body.action != action:
        raise Unprocessable(f"this endpoint takes a signed '{action}' request",
                            code="WRONG_ACTION", details={"field": "action"})
    payload = body.model_dump()
    ChaincodeRightsRequest.from_json(json.dumps(payload))  # the chaincode's rules, early
    return payload


@router.post("/{customer_id}/export", summary="Everything held about the customer (signed)",
             responses=_SIGNED)
def export_customer(customer_id: CustomerPath, body: RightsRequest,
                    services: ServicesDep) -> Response:
    payload = _rights_request(customer_id, body, "export")
    document = services.sharing.export(payload)
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2), media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="prefshare-export.json"',
                 "Cache-Control": "no-store"})


@router.post("/{customer_id}/erasure", summary="Erase the customer's data (signed)",
             responses=_SIGNED)
def erase_customer(customer_id: CustomerPath, body: RightsRequest, request: Request,
                   services: ServicesDep, ledger: LedgerDep,
                   idempotency_key: IdempotencyKey = None) -> Response:
    payload = _rights_request(customer_id, body, "erase")
    return run_idempotent(
        services.idempotency, scope=f"customer:{customer_id}", key=idempotency_key,
        method="POST", path=request.url.path, payload=payload,
        action=lambda: (200, _erase(services, ledger, payload)))


def _erase(services: ServicesDep, ledger: LedgerDep, payload: dict[str, object]) -> object:
    done = ledger.erase_customer(payload)
    services.erasures.wake()  # this retailer's own part at once; the others' on their own
    return done.to_dict()
