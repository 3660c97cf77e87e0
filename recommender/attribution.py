"""A suggestion's reasons: the model's explanation, each part attributed to the member whose
data it rests on (a slice's retailer, the recorder of a stated preference, the source of a past
item), so an answer names only members whose data the request's consent view let it use."""

from __future__ import annotations

from collections.abc import Mapping

from recommender.answers import Reason
from recommender.catalogue import CatalogueEntry
from recommender.model import Explanation
from recommender.slices import STATED_PREFIX, DataCategory, Slice, context_feature


def attribute(
    why: Explanation,
    entry: CatalogueEntry,
    stated_by: Mapping[str, set[str]],
    sources: Mapping[int, tuple[str, DataCategory]],
    *,
    serving: str,
) -> list[Reason]:
    """The model's explanation of ``entry`` for a request served by ``serving``, each part
    attributed to the retailer whose data it is: ``stated_by`` names who recorded each usable
    stated preference, ``sources`` the retailer and data category of each past item."""
    out: list[Reason] = []
    for part in why.user_features:
        name = part.feature
        sl = Slice.parse(name)
        if sl is not None:
            out.append(
                Reason("activity", sl.retailer, sl.category, part.contribution, sl.category)
            )
        elif name.startswith(STATED_PREFIX):
            pref = name[len(STATED_PREFIX) :]
            recorders = sorted(stated_by.get(pref, ()), key=lambda r: (r != serving, r))
            if recorders:  # always true: only usable preferences are features
                out.append(
                    Reason(
                        "stated_preference",
                        recorders[0],
                        pref,
                        part.contribution,
                        "stated_preferences",
                    )
                )
        elif name == context_feature(serving):
            out.append(Reason("context", serving, f"customers of {serving}", part.contribution))
    for part in why.item_features:
        out.append(Reason("item_feature", entry.retailer, part.feature, part.contribution))
    for similar in why.interactions:
        retailer, category = sources[similar.item_index]
        out.append(
            Reason("similar_item", retailer, similar.item_id, similar.similarity, category)
        )
    return out
