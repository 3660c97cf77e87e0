"""Dataset building: id maps, matrices, feature layout, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.dataset import (
    IDENTITY_PREFIX,
    Interaction,
    Item,
    ModelIndex,
    UserProfile,
    build_dataset,
)

ITEMS = [
    Item("shoe", ("category:shoes", "price:mid")),
    Item("hat", ("category:hats",)),
    Item("bag"),
]


def test_build_indexes_items_in_given_order_and_users_by_profile_then_first_appearance() -> None:
    ds = build_dataset(
        [Interaction("bob", "hat"), Interaction("ann", "shoe"), Interaction("bob", "bag")],
        ITEMS,
        [UserProfile("cy", ("likes:hats",))],
    )
    assert ds.item_ids == ("shoe", "hat", "bag")
    assert dict(ds.item_index) == {"shoe": 0, "hat": 1, "bag": 2}
    assert ds.user_ids == ("cy", "bob", "ann")
    assert dict(ds.user_index) == {"cy": 0, "bob": 1, "ann": 2}
    assert ds.interactions.shape == (3, 3)


def test_build_sums_repeated_weights_but_marks_the_interaction_once() -> None:
    ds = build_dataset(
        [
            Interaction("ann", "shoe", weight=1.0),
            Interaction("ann", "shoe", weight=2.5),
            Interaction("ann", "bag", weight=0.5),
        ],
        ITEMS,
    )
    assert ds.interactions.toarray().tolist() == [[1.0, 0.0, 1.0]]
    assert ds.weights.toarray().tolist() == [[3.5, 0.0, 0.5]]
    assert ds.interactions.dtype == np.float32


def test_build_rejects_an_interaction_with_an_unknown_item_naming_the_id() -> None:
    with pytest.raises(ValueError, match="'scarf'"):
        build_dataset([Interaction("ann", "shoe"), Interaction("ann", "scarf")], ITEMS)


def test_build_rejects_duplicate_item_ids() -> None:
    with pytest.raises(ValueError, match="duplicate item id 'hat'"):
        build_dataset([], [Item("hat"), Item("hat", ("category:hats",))])


def test_build_rejects_duplicate_user_profiles() -> None:
    with pytest.raises(ValueError, match="duplicate user id 'ann'"):
        build_dataset([], ITEMS, [UserProfile("ann"), UserProfile("ann")])


def test_item_features_put_identity_columns_first_then_sorted_declared_features() -> None:
    ds = build_dataset([Interaction("ann", "shoe")], ITEMS)
    assert ds.item_feature_names == (
        "id:shoe",
        "id:hat",
        "id:bag",
        "category:hats",
        "category:shoes",
        "price:mid",
    )
    assert ds.item_features.shape == (3, 6)
    dense = ds.item_features.toarray()
    # shoe: identity + two declared features, each a third of the row
    np.testing.assert_allclose(dense[0], [1 / 3, 0, 0, 0, 1 / 3, 1 / 3], rtol=1e-6)
    # bag has no declared feature: identity alone
    np.testing.assert_allclose(dense[2], [0, 0, 1, 0, 0, 0])
    np.testing.assert_allclose(dense.sum(axis=1), 1.0, rtol=1e-6)


def test_build_without_identity_features_keeps_only_declared_columns() -> None:
    ds = build_dataset(
        [Interaction("ann", "shoe")],
        ITEMS,
        [UserProfile("ann", ("likes:shoes",))],
        item_identity_features=False,
        user_identity_features=False,
    )
    assert ds.item_feature_names == ("category:hats", "category:shoes", "price:mid")
    assert ds.user_feature_names == ("likes:shoes",)
    assert ds.item_features.shape == (3, 3)
    assert ds.item_features[2].nnz == 0  # the bag has nothing to be represented by
    assert ds.user_features.toarray().tolist() == [[1.0]]


def test_user_features_cover_profiles_and_interaction_only_users() -> None:
    ds = build_dataset(
        [Interaction("bob", "hat")], ITEMS, [UserProfile("ann", ("likes:hats", "size:m"))]
    )
    assert ds.user_feature_names == ("id:ann", "id:bob", "likes:hats", "size:m")
    np.testing.assert_allclose(
        ds.user_features.toarray(), [[1 / 3, 0.0, 1 / 3, 1 / 3], [0.0, 1.0, 0.0, 0.0]], rtol=1e-6
    )
    # ann has a row but no interaction
    assert ds.interactions[0].nnz == 0


def test_matrix_for_maps_other_interactions_onto_the_same_index() -> None:
    ds = build_dataset([Interaction("ann", "shoe"), Interaction("bob", "hat")], ITEMS)
    test = ds.matrix_for([Interaction("bob", "bag"), Interaction("ann", "hat", weight=3.0)])
    assert test.shape == (2, 3)
    assert test.toarray().tolist() == [[0, 1, 0], [0, 0, 1]]
    weighted = ds.matrix_for([Interaction("ann", "hat", weight=3.0)], weighted=True)
    assert weighted.toarray().tolist() == [[0, 3, 0], [0, 0, 0]]


def test_matrix_for_raises_on_unknown_ids_unless_told_to_ignore_them() -> None:
    ds = build_dataset([Interaction("ann", "shoe")], ITEMS)
    with pytest.raises(ValueError, match="unknown user id 'zed'"):
        ds.matrix_for([Interaction("zed", "shoe")])
    with pytest.raises(ValueError, match="unknown item id 'scarf'"):
        ds.matrix_for([Interaction("ann", "scarf")])
    kept = ds.matrix_for(
        [Interaction("zed", "shoe"), Interaction("ann", "scarf"), Interaction("ann", "bag")],
        ignore_unknown=True,
    )
    assert kept.toarray().tolist() == [[0, 0, 1]]


def test_retailers_of_lists_every_member_that_recorded_the_interaction() -> None:
    ds = build_dataset(
        [
            Interaction("ann", "shoe", retailer="north"),
            Interaction("ann", "shoe", retailer="south"),
            Interaction("ann", "hat"),
        ],
        ITEMS,
    )
    assert ds.retailers_of(0, 0) == ("north", "south")
    assert ds.retailers_of(0, 1) == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user_id": "", "item_id": "x"}, "user_id"),
        ({"user_id": "u", "item_id": ""}, "item_id"),
        ({"user_id": "u", "item_id": "x", "weight": 0.0}, "positive"),
        ({"user_id": "u", "item_id": "x", "weight": float("nan")}, "finite"),
        ({"user_id": "u", "item_id": "x", "timestamp": float("inf")}, "timestamp"),
    ],
)
def test_interaction_rejects_invalid_fields(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Interaction(**kwargs)


def test_item_rejects_features_using_the_reserved_identity_prefix() -> None:
    with pytest.raises(ValueError, match="reserved prefix"):
        Item("shoe", (f"{IDENTITY_PREFIX}hat",))


def test_item_rejects_repeated_features() -> None:
    with pytest.raises(ValueError, match="repeated"):
        Item("shoe", ("brand:acme", "brand:acme"))


def test_index_user_feature_row_ignores_features_it_does_not_know() -> None:
    index = ModelIndex(("ann",), ("shoe",), ("id:ann", "likes:hats", "size:m"), ("id:shoe",))
    row = index.user_feature_row(("likes:hats", "likes:cars", "size:m"))
    np.testing.assert_allclose(row.toarray(), [[0, 0.5, 0.5]])
    assert index.user_feature_row(("likes:cars",)).nnz == 0


def test_index_item_indices_raises_on_unknown_ids_unless_ignored() -> None:
    index = build_dataset([], ITEMS).index
    assert index.item_indices(["bag", "shoe"]).tolist() == [2, 0]
    with pytest.raises(ValueError, match="'scarf'"):
        index.item_indices(["scarf"])
    assert index.item_indices(["scarf", "hat"], ignore_unknown=True).tolist() == [1]
