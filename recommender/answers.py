"""What a kiosk request gets back: suggestions, each with its reasons and whose data they rest on.

The types are plain frozen values with a deterministic ``to_dict`` (the gateway's JSON shape);
:class:`~recommender.serving.SuggestionService` builds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from recommender.slices import DataCategory

Strategy = Literal["personalised", "cold_start_stated", "popularity"]
ReasonKind = Literal[
    "activity", "stated_preference", "similar_item", "item_feature", "context", "popularity"
]


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for a suggestion and whose data it comes from.

    ``kind`` / ``detail``:
    ``activity``: her ``detail`` (a data category: purchases, views, stated_preferences) at
    ``retailer``; ``stated_preference``: a preference she stated (``category:shoes``), recorded
    by ``retailer``; ``similar_item``: an item ``detail`` she chose at ``retailer`` that the
    model finds similar (``weight`` is the cosine similarity); ``item_feature``: a feature of
    the suggested item (``brand:Kalu``) from ``retailer``'s catalogue; ``context``: what
    ``retailer``'s customers choose; ``popularity``: popular at ``retailer`` (``weight`` is the
    customer count). ``weight`` is otherwise the contribution to the score.
    ``data_category`` is the consent data category of her data the reason rests on, if any.
    """

    kind: ReasonKind
    retailer: str
    detail: str
    weight: float
    data_category: DataCategory | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "retailer": self.retailer,
            "detail": self.detail,
            "weight": round(self.weight, 6),
            "data_category": self.data_category,
        }


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One suggested item, with its catalogue description and reasons: first those about her
    (``activity``, ``stated_preference``, ``context``), then the item's features, then similar
    items she chose; strongest first within each group, at most three of each."""

    item_id: str
    title: str
    category: str
    brand: str
    price_band: str
    score: float
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "title": self.title,
            "category": self.category,
            "brand": self.brand,
            "price_band": self.price_band,
            "score": round(self.score, 6),
            "reasons": [r.to_dict() for r in self.reasons],
        }


@dataclass(frozen=True)
class Suggestions:
    """The answer to one request. ``data_sources``: the retailers whose data about her shaped
    it (features, exclusions or reasons), sorted."""

    store_id: str
    customer_id: str
    model_id: str | None
    strategy: Strategy
    items: tuple[Suggestion, ...]
    data_sources: tuple[str, ...]

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(s.item_id for s in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "customer_id": self.customer_id,
            "model_id": self.model_id,
            "strategy": self.strategy,
            "data_sources": list(self.data_sources),
            "suggestions": [s.to_dict() for s in self.items],
        }
