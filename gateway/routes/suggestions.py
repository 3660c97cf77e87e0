"""Kiosk suggestions for a present customer, consent-checked at request time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from gateway.deps import PrincipalDep, ServicesDep
from gateway.errors import ApiError, error_responses
from gateway.models import (
    CustomerId,
    ErrorBody,
    Id,
    SuggestionItem,
    SuggestionReason,
    SuggestionsOut,
)

router = APIRouter(prefix="/v1/stores", tags=["suggestions"])


class NotConfigured(ApiError):
    status, code = 503, "SUGGESTIONS_NOT_CONFIGURED"


@router.get("/{store_id}/customers/{customer_id}/suggestions", response_model=SuggestionsOut,
            summary="Top-N items of this store for her, each with its reasons",
            responses={**error_responses(401, 403, 404, 409, 422),
                       503: {"model": ErrorBody,
                             "description": "No catalogue is configured "
                                            "(SUGGESTIONS_NOT_CONFIGURED)"}})
def suggestions(store_id: Annotated[Id, Path()], customer_id: Annotated[CustomerId, Path()],
                principal: PrincipalDep, services: ServicesDep,
                n: Annotated[int, Query(ge=1, le=50)] = 10) -> SuggestionsOut:
    services.scope.require_store(principal, store_id)
    if services.suggestions is None:
        raise NotConfigured("this gateway has no catalogue configured")
    found, notice = services.suggestions.suggest(store_id, customer_id, n)
    return SuggestionsOut(
        customer_id=found.customer_id, store_id=found.store_id, model_id=found.model_id,
        strategy=found.strategy, data_sources=list(found.data_sources), notice=notice,
        items=[SuggestionItem(
            item_id=s.item_id, name=s.title or s.item_id, category=s.category, brand=s.brand,
            price_band=s.price_band, score=s.score,
            reasons=[SuggestionReason(kind=r.kind, retailer=r.retailer, detail=r.detail,
                                      weight=r.weight, category=r.data_category)
                     for r in s.reasons])
            for s in found.items])
