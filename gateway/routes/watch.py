"""The owner's consortium watch, for its admin: what it sees of each reading member, the
brakes, clearing one, and every member's alerts and clearances as the ledger holds them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool

from gateway.deps import AdminDep, LedgerDep, ServicesDep
from gateway.errors import LEDGER_STATUSES, NotFound, error_responses
from gateway.services import Services
from gateway.watch.service import WatchService

router = APIRouter(prefix="/v1/admin/watch", tags=["watch"])
_MSP = r"^[A-Za-z][A-Za-z0-9]{1,38}MSP$"
_OFF = "The watch is disabled in this gateway's settings (WATCH_DISABLED)"


def _watch(services: Services) -> WatchService:
    if services.watch is None:
        raise NotFound("the watch is disabled on this gateway", code="WATCH_DISABLED")
    return services.watch


@router.get("", summary="Each reading member's score, the brakes, recent alerts, write use",
            responses=error_responses(401, 403, described={404: _OFF}))
def status(_: AdminDep, services: ServicesDep) -> dict[str, Any]:
    body = _watch(services).status()
    budget = services.connection.ledger.budget
    body["ledger_writes"] = (None if budget is None else
                             {"last_hour": budget.used(), "budget_per_hour": budget.per_hour,
                              "refused": budget.refused})
    return body


@router.post("/readers/{msp_id}/clear", summary="Clear a braked member (on the ledger)",
             responses=error_responses(401, 403, 422, *LEDGER_STATUSES, described={
                 404: "The member's reads are not braked here (NOT_BRAKED), or " + _OFF}))
async def clear(msp_id: Annotated[str, Path(pattern=_MSP)], _: AdminDep,
                services: ServicesDep) -> dict[str, Any]:
    watch = _watch(services)
    return await run_in_threadpool(watch.clear, msp_id)


@router.get("/records", summary="Every member's watch alerts and clearances on the ledger",
            responses=error_responses(401, 403, *LEDGER_STATUSES))
async def records(_: AdminDep, ledger: LedgerDep) -> dict[str, Any]:
    found = await run_in_threadpool(ledger.list_watch_events)
    return {"records": [record.to_dict() for record in found]}
