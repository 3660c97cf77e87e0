"""Splits, the MovieLens loader, the model comparison and its report (on tiny data)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.recommender.cli import main
from benchmarks.recommender.evaluation import (
    MODELS,
    ALSParams,
    ComparisonResult,
    Grids,
    default_grids,
    run_comparison,
)
from benchmarks.recommender.report import format_table, plot_precision_curves
from benchmarks.recommender.splits import Split, random_split, temporal_split, validation_split
from recommender.config import ModelConfig
from recommender.dataset import Interaction, Item
from recommender.datasets.movielens import load_movielens

CATEGORIES = ("shoes", "hats", "bags", "coats")


def shop_world(n_users: int = 40, per_category: int = 10) -> tuple[list[Interaction], list[Item]]:
    """Each user chooses 6 items of one category over time; deterministic."""
    items = [Item(f"{c}-{j}", (f"category:{c}",)) for c in CATEGORIES for j in range(per_category)]
    rng = random.Random(5)
    interactions = []
    for u in range(n_users):
        category = CATEGORIES[u % len(CATEGORIES)]
        chosen = rng.sample(range(per_category), 6)
        interactions += [
            Interaction(f"u{u}", f"{category}-{j}", timestamp=float(t))
            for t, j in enumerate(chosen)
        ]
    return interactions, items


def pairs(interactions: list[Interaction]) -> set[tuple[str, str]]:
    return {(i.user_id, i.item_id) for i in interactions}


# -- splits -------------------------------------------------------------------------------


def test_random_split_is_deterministic_for_a_seed_and_varies_across_seeds() -> None:
    interactions, _ = shop_world()
    first = random_split(interactions, 0.2, seed=1)
    assert random_split(interactions, 0.2, seed=1) == first
    assert pairs(random_split(interactions, 0.2, seed=2).test) != pairs(first.test)


def test_random_split_does_not_depend_on_input_order() -> None:
    interactions, _ = shop_world()
    shuffled = interactions[:]
    random.Random(0).shuffle(shuffled)
    assert pairs(random_split(shuffled, seed=4).test) == pairs(
        random_split(interactions, seed=4).test
    )


@pytest.mark.parametrize(
    "split", [lambda xs: random_split(xs, 0.2, seed=3), lambda xs: temporal_split(xs, 0.2)]
)
def test_splits_are_disjoint_cover_the_input_and_hold_out_a_fifth_per_user(
    split: Callable[[list[Interaction]], Split],
) -> None:
    interactions, _ = shop_world()
    train, test = split(interactions)
    assert not pairs(train) & pairs(test)
    assert sorted(train + test, key=id) == sorted(interactions, key=id)
    per_user = Counter(i.user_id for i in test)
    assert set(per_user.values()) == {1}  # round(6 * 0.2) = 1 of each user's 6 items


def test_split_keeps_the_only_item_of_a_user_in_train_and_all_copies_of_a_pair_together() -> None:
    interactions = [
        Interaction("solo", "a", timestamp=1.0),
        *(Interaction("many", x, timestamp=float(t)) for t, x in enumerate("abcde")),
        Interaction("many", "b", timestamp=9.0),  # a repeat purchase of b
    ]
    for train, test in (random_split(interactions, 0.4, seed=0), temporal_split(interactions, 0.4)):
        assert ("solo", "a") in pairs(train)
        assert len(pairs(test)) == 2  # round(5 * 0.4)
        held = {i.item_id for i in test}
        assert all(i.item_id not in held for i in train if i.user_id == "many")


def test_temporal_split_holds_out_each_users_latest_items_by_first_time() -> None:
    interactions = [
        Interaction("u", "old", timestamp=1.0),
        Interaction("u", "mid", timestamp=2.0),
        Interaction("u", "new", timestamp=3.0),
        Interaction("u", "old", timestamp=10.0),  # re-bought late: the pair is still old
        Interaction("u", "newest", timestamp=4.0),
        Interaction("u", "recent", timestamp=3.5),
    ]
    _, test = temporal_split(interactions, 0.4)
    assert pairs(test) == {("u", "newest"), ("u", "recent")}


def test_temporal_split_rejects_interactions_without_timestamps() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        temporal_split([Interaction("u", "a", timestamp=1.0), Interaction("u", "b")])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_splits_reject_a_fraction_outside_the_open_unit_interval(fraction: float) -> None:
    interactions, _ = shop_world()
    with pytest.raises(ValueError, match="fraction"):
        random_split(interactions, fraction)


def test_validation_split_carves_only_from_train() -> None:
    interactions, _ = shop_world()
    train, test = temporal_split(interactions)
    fit_part, validation = validation_split(train, 0.2, temporal=True)
    assert pairs(fit_part) | pairs(validation) == pairs(train)
    assert not pairs(validation) & pairs(test)
    assert not pairs(validation) & pairs(fit_part)
    again = validation_split(train, 0.2, seed=9)
    assert again == validation_split(train, 0.2, seed=9)


# -- MovieLens ------------------------------------------------------------------------------


def test_load_movielens_keeps_ratings_of_four_and_up_and_every_movie_with_genres() -> None:
    interactions, items = load_movielens()
    assert len(items) == 9066
    assert len(interactions) == 51568  # ratings >= 4 among the 100,004
    assert len({i.user_id for i in interactions}) == 671
    by_id = {item.item_id: item for item in items}
    assert all(i.item_id in by_id for i in interactions)
    assert all(i.timestamp is not None for i in interactions)
    assert "genre:Animation" in by_id["1"].features  # Toy Story
    assert not any(f.startswith("genre:(") for item in items for f in item.features)


def test_load_movielens_rejects_an_impossible_rating_threshold() -> None:
    with pytest.raises(ValueError, match="min_rating"):
        load_movielens(min_rating=6)


# -- comparison -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comparison() -> ComparisonResult:
    interactions, items = shop_world()
    grids = Grids(
        lightfm=(
            ModelConfig(no_components=8, epochs=1, seed=1),
            ModelConfig(no_components=8, epochs=20, seed=1),
        ),
        als=(ALSParams(factors=2, regularization=0.1, iterations=5, seed=1),),
    )
    return run_comparison(
        interactions, items, grids=grids, seed=3, curve_ks=(1, 2, 3), latency_users=5
    )


def test_comparison_returns_one_row_per_model_and_split(comparison: ComparisonResult) -> None:
    assert [(r.model, r.split) for r in comparison.rows] == [
        (m, s) for s in ("random", "temporal") for m in MODELS
    ]
    for row in comparison.rows:
        assert row.n_test_users == 40
        for value in (row.precision, row.recall, row.ndcg, row.auc, row.coverage):
            assert 0.0 <= value <= 1.0
        assert row.train_seconds >= 0 and row.ms_per_user > 0
    assert set(comparison.precision_curves) == {(r.model, r.split) for r in comparison.rows}
    assert all(list(c) == [1, 2, 3] for c in comparison.precision_curves.values())


def test_comparison_tunes_only_multi_point_grids_and_keeps_the_best(
    comparison: ComparisonResult,
) -> None:
    assert {(t.model, t.split) for t in comparison.tuning} == {
        ("LightFM hybrid", "random"),
        ("LightFM hybrid", "temporal"),
    }
    for split in ("random", "temporal"):
        tried = [t for t in comparison.tuning if t.split == split]
        best = max(tried, key=lambda t: t.validation_precision)
        (row,) = [r for r in comparison.rows if r.split == split and r.model == "LightFM hybrid"]
        assert row.params == best.params


def test_hybrid_beats_popularity_where_tastes_are_planted(comparison: ComparisonResult) -> None:
    # every user likes one category, so knowing the user must beat one global ranking
    by = {(r.model, r.split): r for r in comparison.rows}
    for split in ("random", "temporal"):
        assert by[("LightFM hybrid", split)].precision > by[("Popularity", split)].precision


def test_default_grids_stay_small_and_quick_has_one_point_each() -> None:
    full = default_grids()
    assert len(full.lightfm) == 6 and len(full.als) == 6
    quick = default_grids(quick=True)
    assert len(quick.lightfm) == 1 and len(quick.als) == 1


def test_grids_reject_an_empty_grid() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Grids(lightfm=(), als=(ALSParams(),))


def test_report_prints_one_table_row_per_result_and_writes_the_plot(
    comparison: ComparisonResult, tmp_path: Path
) -> None:
    table = format_table(comparison).splitlines()
    assert "P@10" in table[0] and "ms/user" in table[0]
    assert len(table) == 2 + len(comparison.rows)
    assert len({len(line) for line in table}) == 1  # aligned columns
    out = plot_precision_curves(comparison, tmp_path / "plots" / "p.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 1000


@pytest.mark.slow
def test_bench_quick_run_prints_one_table_and_writes_the_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "precision_at_k.png"
    assert main(["--quick", "--plot", str(plot)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("| ")]
    assert len(rows) == 1 + len(MODELS) * 2  # header + model x split
    assert any("LightFM hybrid" in r and "temporal" in r for r in rows)
    assert plot.stat().st_size > 1000
