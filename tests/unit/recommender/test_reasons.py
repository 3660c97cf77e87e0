"""A card's strongest signal in words, its one source line, and the page's notice."""

from __future__ import annotations

import pytest

from recommender.answers import Reason, Strategy, Suggestion
from recommender.catalogue import Catalogue, CatalogueEntry
from recommender.reasons import CardWords, card_words, member_display_name, popularity_notice

SERVING = "SouthgateMSP"
CATALOGUE = Catalogue([
    CatalogueEntry("nw-1", "NorthwindMSP", "outerwear", "Vesa", "mid", ("nw-a",)),
    CatalogueEntry("nw-2", "NorthwindMSP", "shoes", "Kalu", "mid", ("nw-a",)),
    CatalogueEntry("sg-1", SERVING, "outerwear", "Vesa", "premium", ("sg-a",)),
    CatalogueEntry("sg-2", SERVING, "outerwear", "Lumo", "budget", ("sg-a",)),
])


def _suggestion(item: str, *reasons: Reason) -> Suggestion:
    e = CATALOGUE.entry(item)
    return Suggestion(e.item_id, "", e.category, e.brand, e.price_band, 1.0, reasons)


def _words(suggestion: Suggestion, strategy: Strategy = "personalised",
           data_sources: tuple[str, ...] = ()) -> CardWords:
    return card_words(suggestion, serving=SERVING, strategy=strategy,
                      catalogue=CATALOGUE, name_of=member_display_name,
                      data_sources=data_sources)


def test_her_purchase_of_the_same_brand_is_named_with_where_she_bought_it() -> None:
    words = _words(_suggestion(
        "sg-1",
        Reason("context", SERVING, "customers of SouthgateMSP", 0.9),
        Reason("item_feature", SERVING, "retailer:SouthgateMSP", 0.8),
        Reason("similar_item", "NorthwindMSP", "nw-2", 0.9, "purchases"),
        Reason("similar_item", "NorthwindMSP", "nw-1", 0.4, "purchases"),
    ))
    assert words.why == "You bought Vesa outerwear at Northwind."
    assert words.source == "From what you shared from Northwind."
    assert words.signal is not None and words.signal.detail == "nw-1"


def test_without_a_brand_match_the_same_category_then_the_most_similar_is_named() -> None:
    same_category = _words(_suggestion(
        "sg-2",
        Reason("similar_item", "NorthwindMSP", "nw-2", 0.9, "purchases"),
        Reason("similar_item", "NorthwindMSP", "nw-1", 0.3, "views"),
    ))
    assert same_category.why == "You looked at Vesa outerwear at Northwind."
    closest = _words(_suggestion(
        "sg-2", Reason("similar_item", "NorthwindMSP", "nw-2", 0.9, "purchases")))
    assert closest.why == "You bought Kalu shoes at Northwind."


def test_her_own_records_at_the_serving_retailer_say_so() -> None:
    words = _words(_suggestion(
        "sg-2", Reason("similar_item", SERVING, "sg-1", 0.9, "purchases")))
    assert words.why == "You bought Vesa outerwear at Southgate."
    assert words.source == "From your purchases at Southgate."


def test_a_stated_preference_and_a_slice_are_worded_with_their_member() -> None:
    stated = _words(_suggestion(
        "sg-1", Reason("stated_preference", "NorthwindMSP", "brand:Vesa", 0.5,
                       "stated_preferences")), "cold_start_stated")
    assert stated.why == "You told Northwind you like the brand Vesa."
    assert stated.source == "From what you shared from Northwind."
    activity = _words(_suggestion(
        "sg-1", Reason("activity", "NorthwindMSP", "purchases", 0.5, "purchases")))
    assert activity.why == "Picked from your purchases at Northwind."


def test_a_popular_item_never_claims_her_data_nor_another_member() -> None:
    words = _words(_suggestion(
        "sg-1", Reason("popularity", SERVING, "chosen by 12 customers at SouthgateMSP", 12.0)),
        "popularity", data_sources=("NorthwindMSP",))
    assert words.why == "Chosen by 12 customers at Southgate."
    assert words.source == "From Southgate's sales, not from your data."
    assert "Northwind" not in words.why + words.source
    unchosen = _words(_suggestion(
        "sg-2", Reason("popularity", SERVING, "not yet chosen at SouthgateMSP", 0.0)),
        "popularity")
    assert "nobody has chosen it" in unchosen.why


def test_a_personalised_card_without_a_reason_of_hers_names_the_answers_sources() -> None:
    words = _words(_suggestion("sg-1", Reason("item_feature", SERVING, "brand:Vesa", 0.3)),
                   data_sources=("NorthwindMSP",))
    assert words.why == "In line with what you chose at Northwind."
    assert words.source == "From what you shared from Northwind."


@pytest.mark.parametrize(("strategy", "sources", "has_model", "expected"), [
    ("personalised", ("NorthwindMSP",), True, None),
    ("popularity", (), False, "has no suggestion model yet"),
    ("popularity", ("NorthwindMSP",), True, "do not know the items you chose yet"),
    ("popularity", (), True, "no purchases or likes of yours that it may use"),
])
def test_the_notice_says_why_her_shared_data_was_not_used(
    strategy: Strategy, sources: tuple[str, ...], has_model: bool, expected: str | None
) -> None:
    notice = popularity_notice(strategy, sources, has_model=has_model, shop="Southgate")
    assert (notice is None) if expected is None else (expected in (notice or ""))


def test_member_names_read_as_a_shopper_knows_them() -> None:
    assert member_display_name("NorthwindMSP") == "Northwind"
    assert member_display_name("alder") == "Alder"
    assert member_display_name("MSP") == "MSP"
