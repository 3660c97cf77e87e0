"""ModelConfig validation and HybridModel behaviour on a tiny planted world."""

from __future__ import annotations

import numpy as np
import pytest
from lightfm import LightFM

from recommender.config import ModelConfig
from recommender.dataset import Dataset, Interaction, Item, UserProfile, build_dataset
from recommender.model import HybridModel, rank_items

CATEGORIES = ("shoes", "hats", "bags", "coats")
TINY = ModelConfig(no_components=8, epochs=30, seed=7)


def planted_world(n_users: int = 24, per_category: int = 6, seen: int = 4) -> Dataset:
    """User u only ever chooses items of category ``CATEGORIES[u % 4]`` and states so."""
    items = [Item(f"{c}-{j}", (f"category:{c}",)) for c in CATEGORIES for j in range(per_category)]
    users = []
    interactions = []
    for u in range(n_users):
        category = CATEGORIES[u % len(CATEGORIES)]
        users.append(UserProfile(f"u{u}", (f"likes:{category}",)))
        first = (u // len(CATEGORIES)) % (per_category - seen + 1)
        interactions += [
            Interaction(f"u{u}", f"{category}-{j}") for j in range(first, first + seen)
        ]
    return build_dataset(interactions, items, users)


@pytest.fixture(scope="module")
def world() -> Dataset:
    return planted_world()


@pytest.fixture(scope="module")
def fitted(world: Dataset) -> HybridModel:
    return HybridModel(TINY).fit(world)


def category_of(dataset: Dataset, item_index: int) -> str:
    return dataset.item_ids[item_index].split("-")[0]


# -- config -------------------------------------------------------------------------------


def test_config_defaults_match_the_documented_hyper_parameters() -> None:
    assert ModelConfig().model_dump() == {
        "no_components": 32,
        "loss": "warp",
        "learning_rate": 0.05,
        "item_alpha": 1e-6,
        "user_alpha": 1e-6,
        "max_sampled": 10,
        "epochs": 30,
        "seed": 42,
        "num_threads": 1,
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"no_components": 0},
        {"loss": "hinge"},
        {"learning_rate": 0.0},
        {"item_alpha": -1e-6},
        {"user_alpha": float("nan")},
        {"max_sampled": 0},
        {"epochs": 0},
        {"seed": -1},
        {"num_threads": 0},
        {"unknown_option": 1},
    ],
)
def test_config_rejects_invalid_values_with_value_error(bad: dict) -> None:
    with pytest.raises(ValueError):
        ModelConfig(**bad)


def test_config_is_immutable() -> None:
    config = ModelConfig()
    with pytest.raises(ValueError):
        config.epochs = 3


# -- fitting and ranking ------------------------------------------------------------------


def test_fit_ranks_an_unseen_item_of_the_planted_category_first_for_every_user(
    world: Dataset, fitted: HybridModel
) -> None:
    for u, user_id in enumerate(world.user_ids):
        (top, _), *_ = fitted.recommend(u, 1, exclude=fitted.known_items(u))
        assert category_of(world, top) == CATEGORIES[int(user_id[1:]) % 4], user_id


def test_fit_is_deterministic_for_a_seed(world: Dataset, fitted: HybridModel) -> None:
    again = HybridModel(TINY).fit(world)
    users = np.arange(world.n_users)
    np.testing.assert_array_equal(again.score_users(users), fitted.score_users(users))


def test_fit_with_another_seed_gives_other_scores(world: Dataset, fitted: HybridModel) -> None:
    other = HybridModel(TINY.model_copy(update={"seed": 8})).fit(world)
    users = np.arange(world.n_users)
    assert not np.array_equal(other.score_users(users), fitted.score_users(users))


def test_fit_returns_self_and_shows_a_progress_bar_only_when_asked(
    world: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    model = HybridModel(ModelConfig(no_components=4, epochs=2))
    assert model.fit(world) is model
    assert "LightFM" not in capsys.readouterr().err
    model.fit(world, progress=True)
    captured = capsys.readouterr()
    assert "LightFM" in captured.err
    assert captured.out == ""


def test_fit_uses_interaction_weights_as_sample_weights() -> None:
    items = [Item("a"), Item("b"), Item("c")]
    light = [Interaction(f"u{u}", "a") for u in range(6)] + [
        Interaction(f"u{u}", "b") for u in range(6)
    ]
    heavy = [Interaction(f"u{u}", "a") for u in range(6)] + [
        Interaction(f"u{u}", "b", weight=20.0) for u in range(6)
    ]
    config = ModelConfig(no_components=4, epochs=5, seed=3)
    plain = HybridModel(config).fit(build_dataset(light, items))
    weighted = HybridModel(config).fit(build_dataset(heavy, items))
    assert not np.allclose(plain.score_users(np.arange(6)), weighted.score_users(np.arange(6)))


def test_fit_rejects_a_dataset_without_interactions() -> None:
    with pytest.raises(ValueError, match="without interactions"):
        HybridModel(TINY).fit(build_dataset([], [Item("a")], [UserProfile("u")]))


def test_score_users_returns_float32_rows_of_every_item(
    world: Dataset, fitted: HybridModel
) -> None:
    scores = fitted.score_users(np.array([0, 5, 5]))
    assert scores.shape == (3, world.n_items)
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(scores[1], scores[2])


def test_score_users_equals_lightfm_predict(world: Dataset, fitted: HybridModel) -> None:
    lfm = LightFM(no_components=TINY.no_components)
    for name, value in fitted.lightfm_state().items():
        setattr(lfm, name, value)
    user = 3
    expected = lfm.predict(
        user,
        np.arange(world.n_items, dtype=np.int32),
        item_features=world.item_features,
        user_features=world.user_features,
    )
    np.testing.assert_allclose(fitted.score_users(np.array([user]))[0], expected, rtol=1e-5)


def test_score_users_rejects_out_of_range_indices(fitted: HybridModel) -> None:
    with pytest.raises(ValueError, match="outside"):
        fitted.score_users(np.array([fitted.n_users]))


def test_recommend_keeps_to_allowed_items_and_drops_excluded(
    world: Dataset, fitted: HybridModel
) -> None:
    allowed = np.array([0, 1, 2, 6, 7])
    recs = fitted.recommend(0, 10, allowed_items=allowed, exclude=np.array([1, 7]))
    assert sorted(i for i, _ in recs) == [0, 2, 6]
    scores = [s for _, s in recs]
    assert scores == sorted(scores, reverse=True)


def test_rank_items_breaks_ties_by_lower_index() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.9, 0.1], dtype=np.float32)
    assert [i for i, _ in rank_items(scores, 4)] == [1, 3, 0, 2]


@pytest.mark.parametrize(
    ("n", "kwargs"),
    [(0, {}), (1, {"exclude": np.array([5])}), (1, {"allowed_items": np.array([0.5])})],
)
def test_rank_items_rejects_bad_arguments(n: int, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        rank_items(np.zeros(3), n, **kwargs)


def test_score_new_user_ranks_the_stated_category_first(
    world: Dataset, fitted: HybridModel
) -> None:
    for category in CATEGORIES:
        scores = fitted.score_new_user((f"likes:{category}",))
        assert scores.shape == (world.n_items,)
        top = np.argsort(-scores, kind="stable")[:6]
        assert {category_of(world, int(i)) for i in top} == {category}


def test_score_new_user_with_only_unknown_features_falls_back_to_item_biases(
    fitted: HybridModel,
) -> None:
    scores = fitted.score_new_user(("likes:cars",))
    np.testing.assert_allclose(scores, fitted.score_new_user(()))


def test_explain_names_the_planted_category_and_a_similar_past_item(
    world: Dataset, fitted: HybridModel
) -> None:
    user = 0  # likes shoes
    (item, score), *_ = fitted.recommend(user, 1, exclude=fitted.known_items(user))
    why = fitted.explain(user, item, top=2)
    assert why.score == pytest.approx(score)
    assert why.item_features[0].feature == "category:shoes"
    assert why.item_features[0].contribution > 0
    assert why.user_features[0].feature == "likes:shoes"
    assert 1 <= len(why.interactions) <= 2
    for reason in why.interactions:
        assert reason.item_index in fitted.known_items(user)
        assert reason.item_id.startswith("shoes-")
    assert all(not r.feature.startswith("id:") for r in why.item_features + why.user_features)


def test_explain_new_user_matches_explain_for_a_user_described_by_features_alone() -> None:
    # Without identity features a trained user is exactly her features, so both must agree.
    items = [Item(f"{c}-{j}", (f"category:{c}",)) for c in CATEGORIES for j in range(4)]
    users = [UserProfile(f"u{u}", (f"likes:{CATEGORIES[u % 4]}",)) for u in range(8)]
    interactions = [Interaction(f"u{u}", f"{CATEGORIES[u % 4]}-{u % 3}") for u in range(8)]
    ds = build_dataset(interactions, items, users, user_identity_features=False)
    model = HybridModel(TINY).fit(ds)
    user, item = 1, ds.item_index["hats-3"]
    expected = model.explain(user, item, top=2)
    got = model.explain_new_user(("likes:hats",), item, past_items=model.known_items(user), top=2)
    assert got.user_index == -1
    assert got.score == pytest.approx(expected.score, rel=1e-5)
    assert [r.feature for r in got.item_features] == [r.feature for r in expected.item_features]
    assert [r.feature for r in got.user_features] == [r.feature for r in expected.user_features]
    assert got.interactions == expected.interactions
    assert model.explain_new_user(("likes:hats",), item).interactions == ()
    with pytest.raises(ValueError):
        model.explain_new_user(("likes:hats",), item, past_items=np.array([99]))


def test_methods_raise_before_fit() -> None:
    model = HybridModel(TINY)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.score_users(np.array([0]))
    with pytest.raises(RuntimeError, match="not fitted"):
        model.score_new_user(("likes:hats",))
