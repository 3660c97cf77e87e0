"""The store's catalogue for its kiosk: the setup check and item search (store credential)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from gateway.catalogue_search import MAX_RESULTS, search_store, store_items
from gateway.deps import PrincipalDep, ServicesDep
from gateway.errors import ApiError, error_responses
from gateway.models import CatalogueItemOut, CatalogueItemsOut, ErrorBody, Id, StoreOut
from recommender.catalogue import Catalogue

router = APIRouter(prefix="/v1/stores", tags=["catalogue"])
_RESPONSES = {**error_responses(401, 403, 404, 422),
              503: {"model": ErrorBody,
                    "description": "No catalogue is configured (CATALOGUE_NOT_CONFIGURED)"}}


class NoCatalogue(ApiError):
    status, code = 503, "CATALOGUE_NOT_CONFIGURED"


def _catalogue(services: ServicesDep) -> Catalogue:
    if services.suggestions is None:
        raise NoCatalogue("this gateway has no catalogue configured")
    return services.suggestions.service.catalogue


@router.get("/{store_id}", response_model=StoreOut,
            summary="This store, if the retailer's catalogue knows it (UNKNOWN_STORE if not)",
            responses=_RESPONSES)
def store(store_id: Annotated[Id, Path()], principal: PrincipalDep,
          services: ServicesDep) -> StoreOut:
    services.scope.require_store(principal, store_id)
    msp_id = services.settings.msp_id
    return StoreOut(store_id=store_id, retailer=msp_id,
                    items=len(store_items(_catalogue(services), msp_id, store_id)))


@router.get("/{store_id}/items", response_model=CatalogueItemsOut,
            summary="Items of this store found by name, brand, category or item code",
            responses=_RESPONSES)
def items(store_id: Annotated[Id, Path()], principal: PrincipalDep, services: ServicesDep,
          q: Annotated[str, Query(min_length=1, max_length=100)],
          limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 20) -> CatalogueItemsOut:
    services.scope.require_store(principal, store_id)
    found = search_store(_catalogue(services), services.settings.msp_id, store_id, q, limit)
    return CatalogueItemsOut(store_id=store_id, query=q, items=[
        CatalogueItemOut(item_id=e.item_id, name=e.title or e.item_id, category=e.category,
                         brand=e.brand, price_band=e.price_band) for e in found])
