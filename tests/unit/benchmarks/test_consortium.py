"""Tests of the consortium experiment: retailer split, protocol, consent, and the lift itself."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest

from benchmarks.consortium import (
    PER_SEGMENT,
    SERVED_GRID,
    SERVED_RULE,
    CaseResult,
    ExperimentResult,
    Score,
    assign_retailers,
    choose_consenting,
    default_model_config,
    pool_runs,
    run_experiment,
    split_consortium,
    visible_history,
)
from benchmarks.consortium.cli import format_rules, format_table
from benchmarks.consortium.conditions import served_scores
from recommender.blend import standardised
from recommender.dataset import Interaction, Item
from recommender.datasets.demo_world import WorldConfig

RETAILERS = ("alder", "birch", "cedar")


def _single_shop(
    n_users: int = 120, n_items: int = 90, seed: int = 3
) -> tuple[list[Interaction], list[Item]]:
    rng = random.Random(seed)
    items = [Item(f"m{j}", (f"genre:{j % 5}",)) for j in range(n_items)]
    interactions = [
        Interaction(f"u{u}", f"m{j}")
        for u in range(n_users)
        for j in sorted(rng.sample(range(n_items), rng.randint(5, 30)))
    ]
    return interactions, items


def _with_retailers(n_users: int = 150) -> list[Interaction]:
    interactions, items = _single_shop(n_users)
    return list(assign_retailers(interactions, items, retailers=RETAILERS, seed=5).kept)


# -- the retailer split rule ------------------------------------------------------------------


def test_assign_retailers_gives_the_same_split_for_any_input_order() -> None:
    interactions, items = _single_shop()
    first = assign_retailers(interactions, items, seed=9)
    shuffled = list(interactions)
    random.Random(1).shuffle(shuffled)
    again = assign_retailers(shuffled, list(reversed(items)), seed=9)
    assert dict(again.item_retailer) == dict(first.item_retailer)
    assert dict(again.customer_retailers) == dict(first.customer_retailers)
    assert set(again.kept) == set(first.kept) and set(again.dropped) == set(first.dropped)
    other = assign_retailers(interactions, items, seed=10)
    assert dict(other.item_retailer) != dict(first.item_retailer)


def test_assign_retailers_places_every_interaction_exactly_once() -> None:
    interactions, items = _single_shop()
    split = assign_retailers(interactions, items, seed=9)
    placed = [(i.user_id, i.item_id) for i in (*split.kept, *split.dropped)]
    assert Counter(placed) == Counter((i.user_id, i.item_id) for i in interactions)
    assert split.kept and split.dropped


def test_assign_retailers_keeps_only_interactions_at_retailers_the_user_shops_at() -> None:
    interactions, items = _single_shop()
    split = assign_retailers(interactions, items, seed=9)
    for inter in split.kept:
        assert inter.retailer == split.item_retailer[inter.item_id]
        assert inter.retailer in split.customer_retailers[inter.user_id]
    for inter in split.dropped:
        assert split.item_retailer[inter.item_id] not in split.customer_retailers[inter.user_id]
    counts = Counter(len(shops) for shops in split.customer_retailers.values())
    assert set(counts) == {1, 2, 3}
    assert set(Counter(split.item_retailer.values())) == set(RETAILERS)


def test_assign_retailers_on_movielens_gives_each_retailer_about_a_third_of_the_movies() -> None:
    from recommender.datasets.movielens import load_movielens

    interactions, items = load_movielens()
    split = assign_retailers(interactions, items, seed=1)
    per_retailer = Counter(split.item_retailer.values())
    assert all(abs(n / len(items) - 1 / 3) < 0.03 for n in per_retailer.values())
    assert len(split.kept) + len(split.dropped) == len(interactions)
    shares = Counter(len(s) for s in split.customer_retailers.values())
    assert abs(shares[1] / len(split.customer_retailers) - 0.30) < 0.07


def test_assign_retailers_with_overlap_sells_a_share_of_items_at_two_retailers() -> None:
    interactions, items = _single_shop()
    split = assign_retailers(interactions, items, seed=9, overlap=0.5)
    counts = Counter(len(sellers) for sellers in split.item_sellers.values())
    assert set(counts) <= {1, 2} and counts[2] > 0 and counts[1] > 0
    for item, sellers in split.item_sellers.items():
        assert sellers[0] == split.item_retailer[item] and len(set(sellers)) == len(sellers)
    for inter in split.kept:
        assert inter.retailer in split.item_sellers[inter.item_id]
        assert inter.retailer in split.customer_retailers[inter.user_id]
    for inter in split.dropped:
        shops = split.customer_retailers[inter.user_id]
        assert not set(split.item_sellers[inter.item_id]) & set(shops)
    assert len(split.kept) + len(split.dropped) == len(interactions)


def test_assign_retailers_without_overlap_keeps_catalogues_disjoint() -> None:
    interactions, items = _single_shop()
    split = assign_retailers(interactions, items, seed=9)
    assert all(len(sellers) == 1 for sellers in split.item_sellers.values())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"retailers": ("solo",)},
        {"retailers": ("a", "a")},
        {"shop_counts": (0.5, 0.4)},
        {"shop_counts": (0.2, 0.2, 0.2, 0.4)},
        {"overlap": 1.5},
    ],
)
def test_assign_retailers_rejects_an_impossible_rule(kwargs: dict[str, object]) -> None:
    interactions, items = _single_shop(n_users=5)
    with pytest.raises(ValueError):
        assign_retailers(interactions, items, seed=1, **kwargs)  # type: ignore[arg-type]


# -- the evaluation protocol ------------------------------------------------------------------


def test_split_consortium_puts_every_interaction_in_one_set_deterministically() -> None:
    interactions = _with_retailers()
    split = split_consortium(interactions, seed=4)
    parts = (*split.train, *split.warm_test, *split.cold_test)
    assert Counter(parts) == Counter(interactions)
    assert split_consortium(list(reversed(interactions)), seed=4) == split
    assert split_consortium(interactions, seed=5) != split


def test_split_consortium_holds_out_whole_cold_pairs_and_keeps_history_of_warm_ones() -> None:
    interactions = _with_retailers()
    split = split_consortium(interactions, seed=4, cold_share=0.5)
    assert split.cold_pairs
    trained = {(i.user_id, i.retailer) for i in split.train}
    assert not trained & split.cold_pairs
    assert {(i.user_id, i.retailer) for i in split.cold_test} == split.cold_pairs
    assert all((i.user_id, i.retailer) in trained for i in split.warm_test)
    # A customer made new at one retailer is still known at another.
    assert all(any(u == c for u, _ in trained) for c, _ in split.cold_pairs)


def test_choose_consenting_picks_exactly_the_share_and_repeats_for_a_seed() -> None:
    customers = [f"c{k}" for k in range(101)]
    chosen = choose_consenting(customers, 0.6, seed=3)
    assert len(chosen) == round(0.6 * 101)
    assert chosen == choose_consenting(list(reversed(customers)), 0.6, seed=3)
    assert chosen != choose_consenting(customers, 0.6, seed=4)
    with pytest.raises(ValueError):
        choose_consenting(customers, 1.2, seed=3)


def test_visible_history_hides_other_retailers_data_of_a_customer_who_did_not_consent() -> None:
    train = [
        Interaction("ann", "a1", retailer="alder"),
        Interaction("ann", "b1", retailer="birch"),
        Interaction("bob", "a2", retailer="alder"),
        Interaction("bob", "b2", retailer="birch"),
    ]
    seen = visible_history(train, "alder", frozenset({"ann"}))
    assert seen == {"ann": {"a1", "b1"}, "bob": {"a2"}}
    assert visible_history(train, "birch", None) == {"ann": {"a1", "b1"}, "bob": {"a2", "b2"}}


# -- the experiment -------------------------------------------------------------------------

# Tastes clearly span retailers: most customers shop at several, little noise.
SPANNING = WorldConfig(
    seed=21,
    customers=500,
    items_per_retailer=120,
    multi_retailer_share=0.9,
    noise=0.05,
    mean_visits_per_customer=30,
)


@pytest.fixture(scope="module")
def result() -> ExperimentResult:
    return run_experiment(
        "demo",
        seed=21,
        quick=True,
        world_config=SPANNING,
        cold_share=0.4,
        extra_rules=(PER_SEGMENT,),
    )


def test_shared_model_beats_silos_for_customers_new_at_a_retailer(
    result: ExperimentResult,
) -> None:
    cold = result.row("cold")
    assert cold.n_users >= 100
    assert cold.lift("shared") > 0.10
    assert cold.lift("shared", "recall") > 0.10
    assert cold.scores["shared_consent"].precision > cold.scores["silo"].precision


def test_shared_model_without_retailer_context_gains_less_for_new_customers(
    result: ExperimentResult,
) -> None:
    cold = result.row("cold")
    assert cold.scores["shared_no_context"].precision < cold.scores["shared"].precision


def test_every_condition_is_scored_on_the_same_customers(result: ExperimentResult) -> None:
    assert {row.case for row in result.rows} == {"warm", "thin", "cold"}
    for row in result.rows:
        assert {s.n_users for s in row.scores.values()} == {row.n_users}
    for case in ("warm", "cold"):
        per_retailer = [result.row(case, r).n_users for r in SPANNING.retailer_ids]
        assert sum(per_retailer) == result.row(case).n_users


def test_served_weights_are_chosen_on_validation_for_every_retailer_and_case(
    result: ExperimentResult,
) -> None:
    evaluated = {(row.retailer, row.case) for row in result.rows if row.retailer != "all"}
    assert set(result.served_weights) == {
        (retailer, case, segment) for retailer, case in evaluated for segment in ("yes", "no")
    }
    assert set(result.served_weights.values()) <= set(SERVED_GRID)


def test_thin_customers_are_served_with_the_warm_choice_for_both_segments(
    result: ExperimentResult,
) -> None:
    for retailer in SPANNING.retailer_ids:
        warm = result.served_weights[(retailer, "warm", "yes")]
        assert result.served_weights[(retailer, "warm", "no")] == warm
        for segment in ("yes", "no"):
            thin = result.served_weights.get((retailer, "thin", segment))
            assert thin in (None, warm)


def test_an_extra_rule_is_scored_beside_the_served_one_on_the_same_customers(
    result: ExperimentResult,
) -> None:
    for row in result.rows:
        assert "served:per-segment" in row.scores
        assert row.scores["served:per-segment"].n_users == row.n_users
    # Served (pooled segments) and per-segment choose the cold case's weights for the
    # non-consenting alike: every part is her popularity, so any weights rank as the silo.
    cold = result.row("cold", segment="no")
    assert cold.scores["served:per-segment"] == cold.scores["served"]


def test_consenting_and_non_consenting_rows_split_every_case(result: ExperimentResult) -> None:
    for case in ("warm", "thin", "cold"):
        both = result.row(case)
        yes, no = result.row(case, segment="yes"), result.row(case, segment="no")
        assert yes.n_users + no.n_users == both.n_users
        for condition in ("silo", "served"):
            mixed = (
                yes.n_users * yes.scores[condition].precision
                + no.n_users * no.scores[condition].precision
            ) / both.n_users
            assert mixed == pytest.approx(both.scores[condition].precision)


def test_non_consenting_new_customers_get_the_same_from_every_shared_model(
    result: ExperimentResult,
) -> None:
    # Nothing of theirs is visible to the partly-consented model: it falls back on popularity.
    no = result.row("cold", segment="no")
    assert no.scores["shared_consent"].precision == pytest.approx(no.scores["silo"].precision)


def test_served_blend_gains_for_new_customers_and_keeps_known_ones_level(
    result: ExperimentResult,
) -> None:
    assert result.row("cold").lift("served") > 0.10
    assert result.row("warm").lift("served") > -0.02


def test_served_blend_at_zero_weights_ranks_exactly_as_the_silo() -> None:
    rng = np.random.default_rng(0)
    parts = (
        standardised(rng.normal(size=(4, 9))),
        rng.normal(size=(4, 9)),
        rng.normal(size=(4, 9)),
        rng.normal(size=(4, 9)),
    )
    silo_order = np.argsort(-parts[0], axis=1, kind="stable")
    served = served_scores(parts, (0.0, 0.0, 0.0))
    assert np.array_equal(np.argsort(-served, axis=1, kind="stable"), silo_order)
    assert SERVED_GRID[0] == (0.0, 0.0, 0.0)  # a tie on validation keeps the silo


def test_run_experiment_repeats_exactly_for_a_seed(result: ExperimentResult) -> None:
    again = run_experiment(
        "demo",
        seed=21,
        quick=True,
        world_config=SPANNING,
        cold_share=0.4,
        extra_rules=(PER_SEGMENT,),
    )
    assert again.rows == result.rows
    assert again.served_weights == result.served_weights


def test_run_experiment_rejects_an_unknown_world() -> None:
    with pytest.raises(ValueError, match="unknown world"):
        run_experiment("netflix", seed=1)
    with pytest.raises(ValueError):
        default_model_config("netflix", seed=1)


# -- results and the table --------------------------------------------------------------------


def _row(case: str, n: int, silo: float, shared: float) -> CaseResult:
    scores = {
        "silo": Score(n, silo, silo, silo),
        "shared": Score(n, shared, shared, shared),
        "shared_consent": Score(n, shared, shared, shared),
        "shared_no_context": Score(n, silo, silo, silo),
        "served": Score(n, shared, shared, shared),
    }
    return CaseResult("all", case, n, scores)  # type: ignore[arg-type]


def _result(seed: int, rows: tuple[CaseResult, ...]) -> ExperimentResult:
    return ExperimentResult(
        world_name="demo",
        seed=seed,
        consent_share=0.6,
        quick=True,
        n_customers=10,
        n_items=10,
        n_interactions=10,
        n_cold_pairs=1,
        model_config=default_model_config("demo", seed=seed),
        rows=rows,
        seconds=0.0,
    )


def test_lift_is_the_condition_over_the_silo_minus_one() -> None:
    row = _row("cold", 10, 0.2, 0.25)
    assert row.lift("shared") == pytest.approx(0.25)
    assert row.lift("shared_no_context") == pytest.approx(0.0)
    assert math.isnan(_row("cold", 10, 0.0, 0.1).lift("shared"))


def test_pool_runs_weights_each_run_by_its_evaluated_customers() -> None:
    runs = [_result(1, (_row("cold", 10, 0.1, 0.2),)), _result(2, (_row("cold", 30, 0.2, 0.2),))]
    (pooled,) = pool_runs(runs)
    assert pooled.n_users == 40
    assert pooled.scores["silo"].precision == pytest.approx((10 * 0.1 + 30 * 0.2) / 40)
    assert pooled.lift("shared") == pytest.approx(0.2 / 0.175 - 1)


def test_format_table_prints_one_line_per_row_with_the_lift() -> None:
    runs = {"demo": [_result(1, (_row("warm", 50, 0.1, 0.11), _row("cold", 10, 0.2, 0.3)))]}
    lines = format_table(runs).splitlines()
    assert len(lines) == 4
    assert "+10.0%" in lines[2] and "+50.0%" in lines[3]
    with pytest.raises(ValueError):
        format_table({})


def test_format_rules_prints_each_rule_lift_beside_the_served_one() -> None:
    row = _row("cold", 10, 0.2, 0.3)
    scores = dict(row.scores) | {"served:per-segment": Score(10, 0.25, 0.25, 0.25)}
    pooled_row = CaseResult("all", "cold", 10, scores)
    other = CaseResult("all", "cold", 10, dict(scores) | {"served": Score(10, 0.18, 0.2, 0.2)})
    runs = {"demo": [_result(1, (pooled_row,)), _result(2, (other,))]}
    lines = format_rules(runs).splitlines()
    assert len(lines) == 3
    assert "per-segment" in lines[0] and SERVED_RULE.name in lines[0]
    assert "+25.0%" in lines[2]
    assert lines[2].endswith("+50.0% -10.0%")  # the served lift of each run
    with pytest.raises(ValueError):
        format_rules({})
