"""Ranking metrics against small cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.metrics import (
    Scorer,
    auc_score,
    catalogue_coverage_at_k,
    evaluate,
    ndcg_at_k,
    precision_at_k,
    precision_at_ks,
    recall_at_k,
)


class FixedScorer:
    """Returns rows of a fixed score matrix."""

    def __init__(self, scores: list[list[float]]) -> None:
        self.scores = np.asarray(scores, dtype=np.float32)

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        return self.scores[user_indices]


def matrix(rows: list[list[int]], n_items: int = 5) -> sp.csr_matrix:
    dense = np.zeros((len(rows), n_items), dtype=np.float32)
    for r, cols in enumerate(rows):
        dense[r, cols] = 1.0
    return sp.csr_matrix(dense)


# Three users, five items. User 2 has no test item and must be skipped everywhere.
SCORER = FixedScorer(
    [
        [0.9, 0.8, 0.7, 0.6, 0.5],
        [0.1, 0.5, 0.4, 0.3, 0.2],
        [0.5, 0.4, 0.3, 0.2, 0.1],
    ]
)
TEST = matrix([[1, 3], [0], []])
TRAIN = matrix([[0], [1], [4]])

# By hand, k = 2, with train items removed from the ranking:
#   user 0 ranks 1, 2, 3, 4 -> top-2 {1, 2}: one hit at rank 1 of 2 relevant
#       precision 1/2, recall 1/2, DCG 1, IDCG 1 + 1/log2(3), AUC: pairs (1>2, 1>4, 3<2, 3>4) 3/4
#   user 1 ranks 2, 3, 4, 0 -> top-2 {2, 3}: no hit of 1 relevant
#       precision 0, recall 0, nDCG 0, AUC: item 0 (0.1) below 2, 3, 4 -> 0/3
IDCG_TWO = 1 + 1 / math.log2(3)


def test_scorer_protocol_accepts_any_object_with_score_users() -> None:
    assert isinstance(SCORER, Scorer)
    assert not isinstance(object(), Scorer)


def test_precision_at_k_matches_hand_computation() -> None:
    assert precision_at_k(SCORER, TEST, TRAIN, k=2) == pytest.approx((1 / 2 + 0) / 2)


def test_recall_at_k_matches_hand_computation() -> None:
    assert recall_at_k(SCORER, TEST, TRAIN, k=2) == pytest.approx((1 / 2 + 0) / 2)


def test_ndcg_at_k_matches_hand_computation() -> None:
    assert ndcg_at_k(SCORER, TEST, TRAIN, k=2) == pytest.approx((1 / IDCG_TWO + 0) / 2)


def test_auc_matches_hand_computation() -> None:
    assert auc_score(SCORER, TEST, TRAIN) == pytest.approx((3 / 4 + 0) / 2)


def test_coverage_counts_items_in_any_evaluated_top_k() -> None:
    # top-2 of user 0 {1, 2} and of user 1 {2, 3}: 3 of 5 items; user 2 is not evaluated.
    assert catalogue_coverage_at_k(SCORER, TEST, TRAIN, k=2) == pytest.approx(3 / 5)


def test_metrics_without_train_rank_the_whole_catalogue() -> None:
    # user 0 top-2 {0, 1}: hit at rank 2; user 1 top-2 {1, 2}: none.
    assert precision_at_k(SCORER, TEST, k=2) == pytest.approx((1 / 2 + 0) / 2)
    assert ndcg_at_k(SCORER, TEST, k=2) == pytest.approx((1 / math.log2(3) / IDCG_TWO) / 2)
    # user 0: positives 1 (0.8), 3 (0.6) vs negatives 0 (0.9), 2 (0.7), 4 (0.5):
    #   1 beats 2 and 4, 3 beats 4 -> 3/6; user 1: item 0 is the lowest -> 0/4.
    assert auc_score(SCORER, TEST) == pytest.approx((3 / 6 + 0) / 2)


def test_recall_divides_by_the_number_of_relevant_items_when_k_exceeds_it() -> None:
    # k = 4, user 0 top-4 {1, 2, 3, 4} holds both relevant items; user 1 top-4 {2, 3, 4, 0}
    # holds its one. precision: (2/4 + 1/4) / 2; recall: (1 + 1) / 2.
    assert precision_at_k(SCORER, TEST, TRAIN, k=4) == pytest.approx(0.375)
    assert recall_at_k(SCORER, TEST, TRAIN, k=4) == pytest.approx(1.0)
    # nDCG user 0: hits at ranks 1 and 3 -> (1 + 1/2) / IDCG_TWO; user 1: hit at rank 4 -> 1/log2(5)
    assert ndcg_at_k(SCORER, TEST, TRAIN, k=4) == pytest.approx(
        ((1 + 0.5) / IDCG_TWO + 1 / math.log2(5)) / 2
    )


def test_ties_are_broken_by_the_lower_item_index() -> None:
    flat = FixedScorer([[0.0] * 5])
    assert precision_at_k(flat, matrix([[1]]), k=2) == pytest.approx(1 / 2)  # top-2 is {0, 1}
    assert precision_at_k(flat, matrix([[2]]), k=2) == 0.0
    # every pair is a tie: AUC one half
    assert auc_score(flat, matrix([[2]])) == pytest.approx(0.5)


def test_precision_at_ks_agrees_with_precision_at_k() -> None:
    curve = precision_at_ks(SCORER, TEST, TRAIN, ks=range(1, 5))
    assert list(curve) == [1, 2, 3, 4]
    for k, value in curve.items():
        assert value == pytest.approx(precision_at_k(SCORER, TEST, TRAIN, k=k))
    assert curve[1] == pytest.approx((1 + 0) / 2)


def test_evaluate_reports_the_same_values_as_the_single_functions() -> None:
    report = evaluate(SCORER, TEST, TRAIN, k=2)
    assert report.n_users == 2
    assert report.precision == pytest.approx(precision_at_k(SCORER, TEST, TRAIN, k=2))
    assert report.recall == pytest.approx(recall_at_k(SCORER, TEST, TRAIN, k=2))
    assert report.ndcg == pytest.approx(ndcg_at_k(SCORER, TEST, TRAIN, k=2))
    assert report.auc == pytest.approx(auc_score(SCORER, TEST, TRAIN, k=2))
    assert report.coverage == pytest.approx(catalogue_coverage_at_k(SCORER, TEST, TRAIN, k=2))


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_metrics_reject_k_below_one_or_not_an_integer(k: object) -> None:
    with pytest.raises(ValueError, match="k must be"):
        precision_at_k(SCORER, TEST, TRAIN, k=k)  # type: ignore[arg-type]


def test_metrics_reject_train_of_another_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        recall_at_k(SCORER, TEST, matrix([[0], [1]]), k=2)


def test_metrics_reject_test_items_that_are_also_train_items() -> None:
    with pytest.raises(ValueError, match="share"):
        ndcg_at_k(SCORER, TEST, matrix([[1], [], []]), k=2)


def test_metrics_reject_a_test_set_without_any_user() -> None:
    with pytest.raises(ValueError, match="nothing to evaluate"):
        auc_score(SCORER, matrix([[], [], []]))


def test_metrics_reject_a_scorer_returning_the_wrong_number_of_items() -> None:
    with pytest.raises(ValueError, match="scorer returned shape"):
        precision_at_k(SCORER, matrix([[1], [0], []], n_items=4), k=2)


def test_metrics_reject_dense_matrices() -> None:
    with pytest.raises(ValueError, match="sparse"):
        precision_at_k(SCORER, TEST.toarray(), k=2)
