"""Consent statements: grant, narrow, withdraw, each signed by the customer."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi import APIRouter, Request, Response

from chaincode.consent_statement import parse_signed_statement
from gateway.deps import IdempotencyKey, LedgerDep, ServicesDep
from gateway.errors import LEDGER_STATUSES, error_responses
from gateway.idempotency import run_idempotent
from gateway.models import ConsentStatement
from gateway.time_rules import check_consent_lifetime

router = APIRouter(prefix="/v1/consents", tags=["consents"])


@router.post("", status_code=201, summary="Apply a customer-signed consent statement",
             responses=error_responses(*LEDGER_STATUSES, 413, 422))
def submit_statement(body: ConsentStatement, request: Request, services: ServicesDep,
                     ledger: LedgerDep, idempotency_key: IdempotencyKey = None) -> Response:
    payload = body.model_dump(exclude_none=True)
    parse_signed_statement(json.dumps(payload))  # the chaincode's rules, before any call
    settings = services.settings
    check_consent_lifetime(body.given_at, body.expires_at,
                           longest=timedelta(days=settings.max_consent_lifetime_days),
                           skew=timedelta(seconds=settings.max_clock_skew_s))
    return run_idempotent(
        services.idempotency, scope=f"customer:{body.customer_id}", key=idempotency_key,
        method="POST", path=request.url.path, payload=payload,
        action=lambda: (201, ledger.submit_consent(payload).to_dict()))
