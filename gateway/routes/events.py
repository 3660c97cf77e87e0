"""Preference events recorded by a store for a present customer."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from chaincode.preferences import parse_event_batch
from gateway.deps import IdempotencyKey, LedgerDep, PrincipalDep, ServicesDep
from gateway.errors import LEDGER_STATUSES, error_responses
from gateway.idempotency import run_idempotent
from gateway.models import CustomerId, EventBatch, Id
from gateway.time_rules import check_event_times

router = APIRouter(prefix="/v1/stores", tags=["events"])


@router.post("/{store_id}/customers/{customer_id}/events", status_code=201,
             summary="Record a batch of preference events (private data)",
             responses=error_responses(*LEDGER_STATUSES, 401, 413, 422))
def record_events(store_id: Annotated[Id, Path()], customer_id: Annotated[CustomerId, Path()],
                  body: EventBatch, request: Request, principal: PrincipalDep,
                  services: ServicesDep, ledger: LedgerDep,
                  idempotency_key: IdempotencyKey = None) -> Response:
    services.scope.require_store(principal, store_id)
    services.scope.require_items(store_id, [e.item_id for e in body.events])
    check_event_times([e.timestamp for e in body.events],
                      max_age=timedelta(days=services.settings.max_event_age_days),
                      skew=timedelta(seconds=services.settings.max_clock_skew_s))

    def write() -> tuple[int, object]:
        # A fresh random salt per event, so the ledger's hashes of private values cannot be
        # brute-forced; drawn inside the idempotent action, so a retry never re-salts.
        events = [{**e.model_dump(), "customer_id": customer_id, "store_id": store_id,
                   "retailer": services.settings.msp_id,
                   "salt": secrets.token_urlsafe(16)} for e in body.events]
        parse_event_batch(json.dumps(events))  # the chaincode's rules, before any call
        # Her id must be open (registered, not erased). Asked by an evaluate: the recording
        # transaction itself reads no public key about her (its read set would name her).
        ledger.customer_status(customer_id)
        return 201, {"recorded": ledger.record_events(events)}

    return run_idempotent(
        services.idempotency, scope=f"principal:{principal.key_id}", key=idempotency_key,
        method="POST", path=request.url.path, payload=body.model_dump(), action=write)
