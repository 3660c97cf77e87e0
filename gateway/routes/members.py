"""Member-to-member requests. Owner side: another retailer's gateway asks for this
retailer's events about a customer; her consents are checked by this retailer's chaincode
now, and the read is logged by this retailer (gateway/members.py, gateway/sharing.py).
Reader side: an owner tells this retailer that it recorded new events for her
(gateway/notices.py), and her suggestion cache entry is dropped.

Not for stores or customers: each request is signed with the reading gateway's Fabric
identity, and answers 401/403 with a ``MEMBER_*`` code otherwise.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.deps import ServicesDep
from gateway.errors import ApiError, Unprocessable, error_responses
from gateway.members import MemberAuthError
from gateway.models import CustomerId, Purpose, RightsRequest

router = APIRouter(prefix="/v1/members", tags=["members"])
_RESPONSES = error_responses(401, 403, 404, 422, described={
    429: "The owner's watch flagged this member's reads and brakes them until the owner's "
         "admin clears it (MEMBER_BRAKED, with Retry-After)"})


class MemberUnauthenticated(ApiError):
    status, code = 401, "MEMBER_UNAUTHENTICATED"


class MemberForbidden(ApiError):
    status, code = 403, "MEMBER_FORBIDDEN"


class SharedEventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: CustomerId
    purpose: Purpose


class TrainingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purpose: Purpose
    after: Annotated[str, Field(max_length=64)] = ""
    limit: Annotated[int, Field(ge=1, le=500)] = 200


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: CustomerId


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: RightsRequest


async def _reader(request: Request, services: ServicesDep) -> tuple[str, bytes]:
    body = await request.body()
    try:
        reader = services.member_auth.verify(request.method, request.url.path,
                                             request.headers, body)
    except MemberAuthError as exc:
        if exc.reason == "MEMBER_FORBIDDEN":
            raise MemberForbidden(str(exc)) from None
        raise MemberUnauthenticated(str(exc), code=exc.reason) from None
    if reader == services.settings.msp_id:
        raise MemberForbidden("a member reads its own data from its own peer")
    return reader, body


Reader = Annotated[tuple[str, bytes], Depends(_reader)]


def _parse(model: type[BaseModel], body: bytes) -> Any:
    try:
        return model.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise Unprocessable("the member request body is not valid",
                            code="MALFORMED_MEMBER_REQUEST") from exc


@router.post("/shared-events", summary="Her events held here that the reader may use now",
             responses=_RESPONSES)
async def shared_events(reader: Reader, services: ServicesDep) -> Any:
    who, body = reader
    ask: SharedEventsIn = _parse(SharedEventsIn, body)
    if services.watch is not None:
        services.watch.admit(who, "kiosk", ask.customer_id)
    return await run_in_threadpool(services.sharing.serve_shared, who, ask.customer_id,
                                   ask.purpose)


@router.post("/training-events", summary="One page of what the reader may train on",
             responses=_RESPONSES)
async def training_events(reader: Reader, services: ServicesDep) -> Any:
    who, body = reader
    ask: TrainingIn = _parse(TrainingIn, body)
    if services.watch is not None:
        services.watch.admit(who, "training")
    return await run_in_threadpool(services.sharing.serve_training, who, ask.purpose,
                                   ask.after, ask.limit)


@router.post("/export", summary="What this retailer holds about her, for her export",
             responses=_RESPONSES)
async def export(reader: Reader, services: ServicesDep) -> Any:
    who, body = reader
    ask: ExportIn = _parse(ExportIn, body)
    if services.watch is not None:
        services.watch.admit(who, "export", ask.request.customer_id)
    return await run_in_threadpool(services.sharing.serve_export, who,
                                   ask.request.model_dump())


@router.post("/notices", summary="An owner recorded new events for her: drop her cached read",
             responses=_RESPONSES)
async def notice(reader: Reader, services: ServicesDep) -> Any:
    # The same answer whether she was cached here or not: the owner learns nothing of her
    # kiosk sessions at this retailer.
    _, body = reader
    told: NoticeIn = _parse(NoticeIn, body)
    kiosk = services.suggestions
    if kiosk is not None and kiosk.cache is not None:
        kiosk.cache.invalidate(told.customer_id)
    if services.lifecycle is not None:  # new data this retailer may train on
        services.lifecycle.note_new_records(1)
    return {"accepted": True}
