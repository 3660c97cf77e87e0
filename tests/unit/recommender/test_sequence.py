"""Tests of the time-local item neighbours: histories, similarity and recency-weighted scores."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.dataset import Interaction
from recommender.sequence import SequenceNeighbours, ordered_items, user_sequences


def test_user_sequences_order_each_users_items_by_first_time_then_index() -> None:
    interactions = [
        Interaction("u", "b", timestamp=5.0),
        Interaction("u", "a", timestamp=9.0),
        Interaction("u", "a", timestamp=1.0),  # her first time with a counts
        Interaction("u", "c", timestamp=5.0),
        Interaction("v", "c", timestamp=2.0),
        Interaction("stranger", "a", timestamp=0.0),
    ]
    users, items = {"u": 0, "v": 1}, {"a": 0, "b": 1, "c": 2}
    seqs = user_sequences(interactions, users, items)
    assert [s.tolist() for s in seqs] == [[0, 1, 2], [2]]


def test_user_sequences_refuse_an_interaction_without_a_timestamp() -> None:
    with pytest.raises(ValueError, match="no timestamp"):
        user_sequences([Interaction("u", "a")], {"u": 0}, {"a": 0})


def test_items_chosen_close_together_are_more_similar_than_far_apart() -> None:
    nb = SequenceNeighbours(window=2, recency=5).fit([np.arange(6)] * 3, n_items=6)
    sim = nb.similarity.toarray()
    assert np.allclose(sim, sim.T) and np.allclose(np.diag(sim), 0)
    assert sim[0, 1] > sim[0, 2] > sim[0, 3] > 0


def test_the_latest_choice_weighs_most_in_a_score() -> None:
    # 0 and 1 always follow each other, as do 2 and 3
    nb = SequenceNeighbours(window=1, recency=1).fit(
        [np.array([0, 1]), np.array([2, 3])] * 5, n_items=4
    )
    assert nb.score_sequence(np.array([0, 2])).argmax() == 3  # 2 is the latest
    assert nb.score_sequence(np.array([2, 0])).argmax() == 1


def test_an_empty_history_scores_zero_and_a_restored_model_scores_the_same() -> None:
    nb = SequenceNeighbours().fit([np.array([0, 1, 2]), np.array([1, 2])], n_items=3)
    assert not nb.score_sequence(np.zeros(0, dtype=np.int64)).any()
    again = SequenceNeighbours.restore(nb.similarity, window=nb.window, recency=nb.recency)
    seq = np.array([2, 0])
    assert np.array_equal(again.score_sequence(seq), nb.score_sequence(seq))


@pytest.mark.parametrize(
    ("sequences", "n_items", "message"),
    [
        ([np.array([0, 5])], 3, "outside"),
        ([np.array([1, 1])], 3, "repeats"),
        ([], 0, "at least 1"),
    ],
)
def test_fit_refuses_bad_histories(sequences: list[np.ndarray], n_items: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SequenceNeighbours().fit(sequences, n_items)


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"recency": -1.0}, {"window": float("inf")}])
def test_bad_scales_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SequenceNeighbours(**kwargs)


def test_scoring_before_fit_raises_and_restore_refuses_a_non_square_matrix() -> None:
    with pytest.raises(RuntimeError):
        SequenceNeighbours().score_sequence(np.array([0]))
    with pytest.raises(ValueError, match="square"):
        SequenceNeighbours.restore(sp.csr_matrix((2, 3)), window=1, recency=1)


def test_scoring_one_history_gives_the_batch_scores() -> None:
    rng = np.random.default_rng(2)
    sequences = [rng.choice(40, size=int(rng.integers(2, 25)), replace=False) for _ in range(30)]
    nb = SequenceNeighbours(window=4, recency=3).fit(sequences, n_items=40)
    batch = nb.score_profiles(nb.profiles(sequences[:5]))
    for row, seq in enumerate(sequences[:5]):
        assert np.allclose(nb.score_sequence(seq), batch[row], atol=1e-5)


def test_ordered_items_put_timed_records_first_by_first_time_then_untimed_in_order() -> None:
    index = {"a": 0, "b": 1, "c": 2, "d": 3}
    records = [("c", None), ("b", 7.0), ("a", 9.0), ("b", 3.0), ("x", 1.0), ("d", None)]
    assert ordered_items(records, index).tolist() == [1, 0, 2, 3]
