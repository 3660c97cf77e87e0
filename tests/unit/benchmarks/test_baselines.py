"""Popularity and implicit-ALS baselines."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks.baselines import ALSModel, PopularityModel
from recommender.metrics import Scorer


def two_block_world(n_users: int = 20, items_per_block: int = 8) -> sp.csr_matrix:
    """Users 0..9 chose items of block A (0..7), users 10..19 block B (8..15), each all but
    one item of her block; there are more users than items so orientation errors show."""
    dense = np.zeros((n_users, 2 * items_per_block), dtype=np.float32)
    for u in range(n_users):
        block = 0 if u < n_users // 2 else items_per_block
        for j in range(items_per_block):
            if j != u % items_per_block:
                dense[u, block + j] = 1.0
    return sp.csr_matrix(dense)


def test_popularity_ranks_items_by_number_of_distinct_users() -> None:
    train = sp.csr_matrix(
        np.array([[5.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
    )
    model = PopularityModel().fit(train)
    scores = model.score_users(np.array([0]))[0]
    # weights are ignored: item 0 was chosen by one user (with weight 5), item 1 by three
    np.testing.assert_array_equal(scores, [1.0, 3.0, 0.0, 2.0])


def test_popularity_gives_every_user_the_same_row() -> None:
    model = PopularityModel().fit(two_block_world())
    scores = model.score_users(np.array([0, 19]))
    assert scores.shape == (2, 16)
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(scores[0], scores[1])


def test_als_scores_the_missing_item_of_a_users_block_above_the_other_block() -> None:
    train = two_block_world()
    model = ALSModel(factors=2, regularization=0.1, iterations=10, seed=3).fit(train)
    scores = model.score_users(np.arange(20))
    assert scores.shape == (20, 16)
    for u in range(20):
        own = (0 if u < 10 else 8) + u % 8
        other_block = slice(8, 16) if u < 10 else slice(0, 8)
        assert scores[u, own] > scores[u, other_block].max(), u


def test_als_is_deterministic_for_a_seed() -> None:
    train = two_block_world()
    first = ALSModel(factors=4, iterations=5, seed=11).fit(train).score_users(np.arange(20))
    second = ALSModel(factors=4, iterations=5, seed=11).fit(train).score_users(np.arange(20))
    np.testing.assert_array_equal(first, second)


def test_baselines_are_scorers() -> None:
    assert isinstance(PopularityModel(), Scorer)
    assert isinstance(ALSModel(), Scorer)


@pytest.mark.parametrize("model", [PopularityModel(), ALSModel(factors=2, iterations=1)])
def test_baselines_refuse_to_score_before_fit(model: Scorer) -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        model.score_users(np.array([0]))


@pytest.mark.parametrize("model", [PopularityModel(), ALSModel(factors=2, iterations=1)])
def test_baselines_reject_a_dense_training_matrix(model: PopularityModel | ALSModel) -> None:
    with pytest.raises(ValueError, match="sparse"):
        model.fit(np.ones((3, 3)))


def test_baselines_reject_out_of_range_users() -> None:
    model = PopularityModel().fit(two_block_world())
    with pytest.raises(ValueError, match="outside"):
        model.score_users(np.array([20]))


@pytest.mark.parametrize(
    "kwargs", [{"factors": 0}, {"iterations": 0}, {"regularization": -1.0}, {"alpha": 0.0}]
)
def test_als_rejects_invalid_hyper_parameters(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ALSModel(**kwargs)
