"""Tests of how the served blend's weights are chosen: pools, grids and the choice itself."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks.consortium.choice import (
    ALL_WEIGHTS,
    COLD_EXTRA,
    PER_SEGMENT,
    RULES,
    SERVED_GRID,
    SERVED_RULE,
    ChoiceRule,
    Pool,
    best_weights,
    per_user_metrics,
)
from recommender.metrics import evaluate


class _Fixed:
    def __init__(self, scores: np.ndarray) -> None:
        self._scores = scores

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        return self._scores[np.asarray(user_indices)]


def _binary(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    data = np.zeros((len(rows), n_items), dtype=np.float32)
    for j, row in enumerate(rows):
        data[j, row] = 1.0
    return sp.csr_matrix(data)


# -- pools ------------------------------------------------------------------------------------


def test_per_segment_rule_chooses_each_case_and_segment_on_its_own_customers() -> None:
    for case in ("warm", "thin", "cold"):
        for segment in ("yes", "no"):
            assert PER_SEGMENT.pool(case, segment) == Pool(case, segment, False)


def test_thin_customers_take_the_warm_choice_of_every_segment_under_the_served_rule() -> None:
    assert SERVED_RULE.pool("thin", "no") == Pool("warm", "any", False)
    assert SERVED_RULE.pool("thin", "yes") == Pool("warm", "any", False)
    assert SERVED_RULE.pool("cold", "yes") == Pool("cold", "any", False)
    assert ChoiceRule("t", thin_from_warm=True).pool("thin", "no") == Pool("warm", "no", False)


def test_pooled_and_consortium_wide_rules_widen_the_pool() -> None:
    rule = ChoiceRule("wide", pool_segments=True, across_retailers=True)
    assert rule.pool("warm", "yes") == Pool("warm", "any", True)


def test_a_choice_for_both_segments_at_once_is_refused() -> None:
    with pytest.raises(ValueError, match="consenting"):
        SERVED_RULE.pool("warm", "any")


def test_only_the_cold_case_of_a_wide_cold_rule_may_take_the_extra_points() -> None:
    rule = ChoiceRule("w", wide_cold=True)
    assert rule.allowed("cold").all()
    assert rule.allowed("warm").sum() == len(SERVED_GRID)
    assert not PER_SEGMENT.allowed("cold")[len(SERVED_GRID) :].any()
    assert ALL_WEIGHTS[: len(SERVED_GRID)] == SERVED_GRID
    assert (0.0, 0.0, 0.0) not in COLD_EXTRA
    assert len({r.name for r in RULES}) == len(RULES)


# -- per-customer metrics ---------------------------------------------------------------------


def test_per_user_metrics_agree_with_evaluate_and_skip_customers_without_test_items() -> None:
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(5, 30))
    scores[2, :] = 0.0  # all tied: the lower index wins, as in evaluate
    test = _binary([[1, 2, 3], [], [0, 4], [7], [10, 11, 12, 13]], 30)
    exclude = _binary([[5], [1], [1], [], [3, 4]], 30)
    precision, recall = per_user_metrics(scores, test, exclude, 10)
    assert precision.shape == recall.shape == (4,)
    report = evaluate(_Fixed(scores), test, exclude, k=10)
    assert precision.mean() == pytest.approx(report.precision)
    assert recall.mean() == pytest.approx(report.recall)
    # Customer 2's tied scores rank items 0, 2, ..., 10 once item 1 is excluded: two hits.
    assert precision[1] == pytest.approx(0.2)


def test_per_user_metrics_reject_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shapes"):
        per_user_metrics(np.zeros((2, 3)), _binary([[0], [1]], 4), _binary([[], []], 4), 10)


# -- the choice -------------------------------------------------------------------------------


def test_best_weights_maximise_mean_precision_then_recall() -> None:
    precision = np.array([[0.1, 0.2, 0.2], [0.1, 0.1, 0.1]])
    recall = np.array([[0.5, 0.1, 0.3], [0.5, 0.1, 0.1]])
    allowed = np.ones(3, dtype=bool)
    assert best_weights(precision, recall, allowed) == 2


def test_best_weights_keep_the_earlier_point_on_a_tie_and_respect_the_mask() -> None:
    precision = np.array([[0.1, 0.1, 0.3]])
    recall = np.array([[0.2, 0.2, 0.9]])
    assert best_weights(precision, recall, np.array([True, True, False])) == 0
    assert best_weights(precision, recall, np.array([False, True, False])) == 1


def test_best_weights_fall_back_on_the_silo_without_validation_customers() -> None:
    empty = np.zeros((0, 3))
    assert best_weights(empty, empty, np.ones(3, dtype=bool)) == 0


def test_best_weights_reject_bad_arguments() -> None:
    one = np.zeros((1, 3))
    with pytest.raises(ValueError, match="allowed"):
        best_weights(one, one, np.zeros(3, dtype=bool))
    with pytest.raises(ValueError, match="shapes"):
        best_weights(one, np.zeros((1, 2)), np.ones(3, dtype=bool))
