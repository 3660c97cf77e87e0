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
from recommender.reasons import card_words, member_display_name, popularity_notice

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
    kiosk = services.suggestions
    found, notice = kiosk.suggest(store_id, customer_id, n)
    service = kiosk.service
    if notice is None:
        notice = popularity_notice(found.strategy, found.data_sources,
                                   has_model=found.model_id is not None,
                                   shop=member_display_name(service.retailer))
    items = []
    for s in found.items:
        words = card_words(s, serving=service.retailer, strategy=found.strategy,
                           catalogue=service.catalogue, name_of=member_display_name,
                           data_sources=found.data_sources)
        items.append(SuggestionItem(
            item_id=s.item_id, name=s.title or s.item_id, category=s.category, brand=s.brand,
            price_band=s.price_band, score=s.score, why=words.why, source=words.source,
            reasons=[SuggestionReason(kind=r.kind, retailer=r.retailer, detail=r.detail,
                                      weight=r.weight, category=r.data_category)
                     for r in s.reasons]))
    return SuggestionsOut(
        customer_id=found.customer_id, store_id=found.store_id, model_id=found.model_id,
        strategy=found.strategy, data_sources=list(found.data_sources), notice=notice,
        items=items)
