"""A suggestion's reasons in words a shopper understands: its strongest signal, one source line.

The service (:mod:`recommender.serving`) returns every reason with the retailer whose data it
rests on; a kiosk card shows one sentence and one source line, chosen here:

1. **something she chose** (a ``similar_item`` reason: her purchase, view or rating the model
   finds closest to the suggestion), preferring one of the suggestion's own brand, then of its
   category: "You bought Vesa outerwear at Northwind.";
2. **a preference she stated**: "You told Northwind you like the brand Vesa.";
3. **her data at a member** (a slice of hers the model learnt from, or the answer's sources
   when no single reason speaks): "Picked from your purchases at Northwind.";
4. **popular here**: "Chosen by 12 customers at Southgate." (an item nobody chose yet says
   so instead of being called popular).

The source line follows the sentence: her data and the member it came from when the sentence
rests on her data ("From what you shared from Northwind."; the serving retailer's own records
read "From your purchases at Southgate."), else the serving retailer's sales ("From
Southgate's sales, not from your data."). A member is named only when a reason of the answer
carries its data, i.e. only one whose data her consent let this request use.

Example::

    >>> words = card_words(suggestion, serving="SouthgateMSP", strategy="personalised",
    ...                    catalogue=catalogue, name_of=str.title)       # doctest: +SKIP
    >>> words.why, words.source                                          # doctest: +SKIP
    ('You bought Vesa outerwear at Northwind.', 'From what you shared from Northwind.')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from recommender.answers import Reason, Strategy, Suggestion
from recommender.catalogue import Catalogue

#: What she did, by the data category her past item came from.
_DID = {"purchases": "bought", "views": "looked at", "stated_preferences": "rated"}
_WHAT = {"purchases": "purchases", "views": "views", "stated_preferences": "preferences"}
_PRICE = {"budget": "budget prices", "mid": "mid-range prices", "premium": "premium prices"}


@dataclass(frozen=True, slots=True)
class CardWords:
    """The sentence (``why``), the one source line, and the reason they rest on (None for
    a card that rests on no single reason)."""

    why: str
    source: str
    signal: Reason | None


def feature_words(feature: str, name_of: Callable[[str], str]) -> str:
    """``brand:Vesa`` -> ``the brand Vesa``; ``category:shoes`` -> ``shoes``;
    ``price:mid`` -> ``mid-range prices``; ``retailer:X`` -> ``items from <X's name>``."""
    kind, _, value = feature.partition(":")
    if not value:
        return feature
    if kind == "brand":
        return f"the brand {value}"
    if kind == "category":
        return value
    if kind == "price":
        return _PRICE.get(value, f"{value} prices")
    if kind == "retailer":
        return f"items from {name_of(value)}"
    return value


def _similar(
    reasons: Sequence[Reason], suggestion: Suggestion, catalogue: Catalogue
) -> Reason | None:
    """Her past item closest to the suggestion: same brand first, then same category, then
    the model's similarity order (reasons come strongest first)."""
    similar = [r for r in reasons if r.kind == "similar_item"]
    if not similar:
        return None

    def rank(pair: tuple[int, Reason]) -> tuple[int, int]:
        position, reason = pair
        past = catalogue.get(reason.detail)
        if past is not None and past.brand == suggestion.brand:
            return (0, position)
        if past is not None and past.category == suggestion.category:
            return (1, position)
        return (2, position)

    return min(enumerate(similar), key=rank)[1]


def _her_source(reason: Reason, serving: str, name_of: Callable[[str], str]) -> str:
    what = _WHAT.get(reason.data_category or "", "data")
    if reason.retailer == serving:
        return f"From your {what} at {name_of(serving)}."
    return f"From what you shared from {name_of(reason.retailer)}."


def card_words(
    suggestion: Suggestion,
    *,
    serving: str,
    strategy: Strategy,
    catalogue: Catalogue,
    name_of: Callable[[str], str],
    data_sources: Sequence[str] = (),
) -> CardWords:
    """The words of one card (see the module docstring). ``name_of`` turns a retailer id
    into the name a shopper knows; ``data_sources`` are the answer's (the members whose data
    about her shaped it), named only when no single reason of the card speaks."""
    reasons = suggestion.reasons
    if strategy != "popularity":
        past_reason = _similar(reasons, suggestion, catalogue)
        if past_reason is not None:
            did = _DID.get(past_reason.data_category or "", "chose")
            past = catalogue.get(past_reason.detail)
            thing = f"{past.brand} {past.category}" if past is not None else "something similar"
            return CardWords(
                f"You {did} {thing} at {name_of(past_reason.retailer)}.",
                _her_source(past_reason, serving, name_of),
                past_reason,
            )
        stated = next((r for r in reasons if r.kind == "stated_preference"), None)
        if stated is not None:
            return CardWords(
                f"You told {name_of(stated.retailer)} you like "
                f"{feature_words(stated.detail, name_of)}.",
                _her_source(stated, serving, name_of),
                stated,
            )
        activity = next((r for r in reasons if r.kind == "activity"), None)
        if activity is not None:
            what = _WHAT.get(activity.data_category or "", "data")
            return CardWords(
                f"Picked from your {what} at {name_of(activity.retailer)}.",
                _her_source(activity, serving, name_of),
                activity,
            )
        if data_sources:
            shops = _in_words([name_of(r) for r in data_sources])
            return CardWords(
                f"In line with what you chose at {shops}.",
                f"From what you shared from {shops}."
                if set(data_sources) - {serving}
                else f"From your own records at {name_of(serving)}.",
                None,
            )
    popular = next((r for r in reasons if r.kind == "popularity"), None)
    shop = name_of(serving)
    if popular is not None and popular.weight >= 1:
        n = round(popular.weight)
        why = f"Chosen by {n} customer{'s' if n != 1 else ''} at {shop}."
    elif popular is not None:
        # Honest popularity: an item nobody chose yet is not called popular.
        why = f"In stock at {shop}; nobody has chosen it there yet."
    else:
        why = f"Popular at {shop}."
    return CardWords(why, f"From {shop}'s sales, not from your data.", popular)


def _in_words(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def member_display_name(retailer: str) -> str:
    """A member's name for a shopper from its id: ``NorthwindMSP`` -> ``Northwind``,
    ``alder`` -> ``Alder``."""
    name = retailer[:-3] if retailer.endswith("MSP") and len(retailer) > 3 else retailer
    return name[:1].upper() + name[1:]


def popularity_notice(
    strategy: Strategy, data_sources: Sequence[str], *, has_model: bool, shop: str
) -> str | None:
    """Why an answer of popular items did not use her data, in words for her (None for a
    personalised answer). ``data_sources`` non-empty means her data was readable here but
    gave the model nothing to go on (no model yet, or none of the items she chose is known
    to it); empty means there was nothing of hers this retailer may use."""
    if strategy != "popularity":
        return None
    if not has_model:
        return (f"{shop} has no suggestion model yet, so these are popular items; your shared "
                "data will be used once it has one.")
    if data_sources:
        return (f"{shop}'s suggestions do not know the items you chose yet, so these are "
                "popular items (only what you already bought is left out).")
    return (f"{shop} has no purchases or likes of yours that it may use, so these are popular "
            "items. Share your purchases with it in the consent portal to get your own.")
