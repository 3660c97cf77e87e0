"""Tests of the served blend: standardisation, the hybrid alone at weight 0, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.blend import BlendedModel, standardised
from recommender.config import ModelConfig
from recommender.dataset import Interaction, Item, build_dataset
from recommender.model import HybridModel
from recommender.sequence import SequenceNeighbours, user_sequences


@pytest.fixture(scope="module")
def parts() -> tuple[HybridModel, SequenceNeighbours, list[np.ndarray]]:
    rng = np.random.default_rng(4)
    items = [Item(f"i{j}", (f"genre:{j % 3}",)) for j in range(30)]
    interactions = [
        Interaction(f"u{u}", f"i{j}", timestamp=float(t))
        for u in range(20)
        for t, j in enumerate(rng.choice(30, size=8, replace=False))
    ]
    ds = build_dataset(interactions, items)
    hybrid = HybridModel(ModelConfig(no_components=4, epochs=3, seed=1)).fit(ds)
    seqs = user_sequences(interactions, ds.user_index, ds.item_index)
    return hybrid, SequenceNeighbours(window=3, recency=2).fit(seqs, ds.n_items), seqs


def test_standardised_rows_have_mean_zero_and_unit_spread_and_constant_rows_become_zero() -> None:
    out = standardised(np.array([[1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0]]))
    assert out[0].mean() == pytest.approx(0, abs=1e-6) and out[0].std() == pytest.approx(1)
    assert not out[1].any()


def test_weight_zero_ranks_as_the_hybrid_alone(
    parts: tuple[HybridModel, SequenceNeighbours, list[np.ndarray]],
) -> None:
    hybrid, nb, seqs = parts
    users = np.arange(hybrid.n_users)
    alone = np.argsort(-hybrid.score_users(users), axis=1, kind="stable")
    blended = BlendedModel(hybrid, nb, seqs, weight=0.0).score_users(users)
    assert np.array_equal(np.argsort(-blended, axis=1, kind="stable"), alone)


def test_a_positive_weight_adds_the_standardised_sequence_score(
    parts: tuple[HybridModel, SequenceNeighbours, list[np.ndarray]],
) -> None:
    hybrid, nb, seqs = parts
    users = np.array([0, 3])
    got = BlendedModel(hybrid, nb, seqs, weight=2.0).score_users(users)
    seq = nb.score_profiles(nb.profiles([seqs[0], seqs[3]]))
    want = standardised(hybrid.score_users(users)) + 2.0 * standardised(seq)
    assert np.allclose(got, want, atol=1e-5)


def test_mismatched_parts_and_bad_weights_are_refused(
    parts: tuple[HybridModel, SequenceNeighbours, list[np.ndarray]],
) -> None:
    hybrid, nb, seqs = parts
    with pytest.raises(ValueError, match="sequences"):
        BlendedModel(hybrid, nb, seqs[:-1], weight=1.0)
    with pytest.raises(ValueError, match="items"):
        BlendedModel(hybrid, SequenceNeighbours().fit(seqs, 31), seqs, weight=1.0)
    for weight in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="weight"):
            BlendedModel(hybrid, nb, seqs, weight=weight)
