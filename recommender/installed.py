"""A verified model installed to serve one retailer: what the service precomputes from an
artifact (her slices the model knows, each store's items, the retailer's own popularity, the
sequence part, the fold-in) and the checks that refuse an artifact not trained for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from recommender.artifacts import LoadedArtifact, model_id_for
from recommender.blend import SequencePart
from recommender.catalogue import Catalogue
from recommender.errors import ModelRejected
from recommender.foldin import FoldIn
from recommender.model import HybridModel
from recommender.popularity import own_popularity
from recommender.slices import STATED_PREFIX, Slice
from recommender.training import USER_MODEL


@dataclass(frozen=True)
class InstalledModel:
    """A verified model and everything precomputed to serve one retailer with it."""

    model: HybridModel
    model_id: str
    metadata: Mapping[str, Any]
    #: customer -> her slices the model knows, with their training row.
    slices: Mapping[str, tuple[tuple[Slice, int], ...]]
    #: stated preferences (without the ``stated:`` prefix) the model knows.
    stated: frozenset[str]
    #: store -> sorted model item indices of what it stocks.
    store_items: Mapping[str, np.ndarray]
    #: per model item: distinct customers who chose it in the retailer's own training slices.
    popularity: np.ndarray
    #: the served blend's sequence part, ``None`` for a hybrid-only artifact.
    sequence: SequencePart | None
    #: builds her representation from her events when the model's slices do not cover them.
    fold_in: FoldIn


def install_model(loaded: LoadedArtifact, retailer: str, catalogue: Catalogue) -> InstalledModel:
    """``loaded`` ready to serve ``retailer``'s stores; raises ModelRejected for an artifact
    of another user model or retailer, or one that knows none of its stores' items."""
    meta = loaded.metadata
    if meta.get("user_model") != USER_MODEL:
        raise ModelRejected(
            f"artifact was trained for user model {meta.get('user_model')!r}, not {USER_MODEL!r}"
        )
    if meta.get("retailer") != retailer:
        raise ModelRejected(
            f"artifact was trained for retailer {meta.get('retailer')!r}, not {retailer!r}"
        )
    index = loaded.index
    slices: dict[str, list[tuple[Slice, int]]] = {}
    stated: set[str] = set()
    for name in index.user_feature_names:
        sl = Slice.parse(name)
        if sl is not None:
            row = index.user_index.get(sl.row)
            if row is None:
                raise ModelRejected(f"artifact has slice feature {name!r} without its row")
            slices.setdefault(sl.customer_id, []).append((sl, row))
        elif name.startswith(STATED_PREFIX):
            stated.add(name[len(STATED_PREFIX) :])
    store_items = {
        store: index.item_indices(catalogue.items_in_store(store), ignore_unknown=True)
        for store in catalogue.stores(retailer)
    }
    if not any(items.size for items in store_items.values()):
        raise ModelRejected(f"artifact knows none of the items {retailer!r}'s stores stock")
    slices_of = {c: tuple(ss) for c, ss in slices.items()}
    return InstalledModel(
        model=loaded.model,
        model_id=model_id_for(loaded.content_sha256),
        metadata=loaded.metadata,
        slices=MappingProxyType(slices_of),
        stated=frozenset(stated),
        store_items=MappingProxyType(store_items),
        popularity=own_popularity(loaded.model.train_interactions, slices_of, retailer),
        sequence=loaded.sequence,
        fold_in=FoldIn.for_model(loaded.model),
    )
