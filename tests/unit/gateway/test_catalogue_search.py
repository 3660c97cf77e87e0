"""The kiosk's store check and item search over a small catalogue."""

from __future__ import annotations

import pytest

from gateway.catalogue_search import search_store, store_items
from recommender.catalogue import Catalogue, CatalogueEntry
from recommender.errors import UnknownStore

CATALOGUE = Catalogue([
    CatalogueEntry("e-1", "EastMSP", "shoes", "Kalu", "mid", ("s1",), "Trail running shoe"),
    CatalogueEntry("e-2", "EastMSP", "knitwear", "Fjell", "premium", ("s1",), "Merino jumper"),
    CatalogueEntry("e-3", "EastMSP", "shoes", "Oro", "budget", ("s2",), "Canvas shoe"),
    CatalogueEntry("n-1", "NorthMSP", "shoes", "Kalu", "mid", ("n1",), "Trail shoe"),
])


def test_search_matches_every_word_in_name_brand_category_or_code_case_insensitively():
    assert [e.item_id for e in search_store(CATALOGUE, "EastMSP", "s1", "SHOE kalu")] == ["e-1"]
    assert [e.item_id for e in search_store(CATALOGUE, "EastMSP", "s1", "knitwear")] == ["e-2"]
    assert search_store(CATALOGUE, "EastMSP", "s1", "sandal") == []


def test_search_finds_only_items_the_store_stocks_and_an_exact_code_first():
    assert [e.item_id for e in search_store(CATALOGUE, "EastMSP", "s1", "shoe")] == ["e-1"]
    assert [e.item_id for e in search_store(CATALOGUE, "EastMSP", "s1", "e-2")] == ["e-2"]


def test_a_store_of_another_retailer_or_none_is_unknown():
    with pytest.raises(UnknownStore):
        store_items(CATALOGUE, "EastMSP", "n1")
    with pytest.raises(UnknownStore):
        search_store(CATALOGUE, "EastMSP", "nowhere", "shoe")
    assert store_items(CATALOGUE, "EastMSP", "s1") == ("e-1", "e-2")


def test_search_limit_out_of_range_is_refused():
    with pytest.raises(ValueError, match="limit"):
        search_store(CATALOGUE, "EastMSP", "s1", "shoe", limit=0)
