"""The consortium experiment's results: metrics per (retailer, case) and condition, pooled
over retailers and seeds, and the lift of a condition over the silo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

from benchmarks.consortium.protocol import Case, Segment
from recommender.config import ModelConfig

Metric = Literal["precision", "recall", "ndcg"]
#: Ranking depth of every metric.
K = 10


@dataclass(frozen=True)
class Score:
    """Mean metrics at ``K`` over ``n_users`` evaluated (customer, retailer) pairs."""

    n_users: int
    precision: float
    recall: float
    ndcg: float

    def get(self, metric: Metric) -> float:
        return float(getattr(self, metric))


@dataclass(frozen=True)
class CaseResult:
    """All conditions for one retailer (or ``"all"``), one case and one consent segment."""

    retailer: str
    case: Case
    n_users: int
    scores: Mapping[str, Score]
    segment: Segment = "any"

    def lift(self, condition: str, metric: Metric = "precision") -> float:
        """``condition / silo - 1`` for ``metric``; ``nan`` when the silo scores 0."""
        silo = self.scores["silo"].get(metric)
        value = self.scores[condition].get(metric)
        return value / silo - 1.0 if silo > 0 else float("nan")


@dataclass(frozen=True)
class ExperimentResult:
    """Outcome of :func:`run_experiment`; ``rows`` hold each retailer then ``"all"`` per case."""

    world_name: str
    seed: int
    consent_share: float
    quick: bool
    n_customers: int
    n_items: int
    n_interactions: int
    n_cold_pairs: int
    model_config: ModelConfig
    rows: tuple[CaseResult, ...]
    seconds: float
    #: (retailer, case, segment) -> the served blend's ``(a, b, c)`` chosen on validation for
    #: the consenting (``yes``) and non-consenting (``no``) customers (the same for both when
    #: the served rule pools them).
    served_weights: Mapping[tuple[str, Case, Segment], tuple[float, float, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def row(self, case: Case, retailer: str = "all", segment: Segment = "any") -> CaseResult:
        """The row of one case for one retailer (default: all retailers pooled) and consent
        segment (default: every customer).

        Raises ``KeyError`` if there is no such row (e.g. no customer to evaluate).
        """
        for row in self.rows:
            if (row.case, row.retailer, row.segment) == (case, retailer, segment):
                return row
        raise KeyError((case, retailer, segment))


def pooled(
    rows: Sequence[CaseResult], case: Case, retailer: str = "all", segment: Segment = "any"
) -> CaseResult:
    """The user-weighted mean of each condition's metrics over ``rows``."""
    total = sum(r.n_users for r in rows)
    scores = {}
    for condition in rows[0].scores:
        parts = [(r.n_users, r.scores[condition]) for r in rows]
        scores[condition] = Score(
            total,
            sum(n * s.precision for n, s in parts) / total,
            sum(n * s.recall for n, s in parts) / total,
            sum(n * s.ndcg for n, s in parts) / total,
        )
    return CaseResult(retailer, case, total, scores, segment)


def pool_runs(results: Sequence[ExperimentResult]) -> tuple[CaseResult, ...]:
    """Rows of several runs of one world (e.g. one per seed) merged: each (case, retailer) row
    holds the user-weighted mean of each metric over the runs, in the order of the first run.

    Raises ``ValueError`` on no results or results of different worlds.
    """
    if not results:
        raise ValueError("no results to pool")
    if len({r.world_name for r in results}) != 1:
        raise ValueError("results of different worlds cannot be pooled")
    keys = [(row.case, row.retailer, row.segment) for row in results[0].rows]
    out = []
    for case, retailer, segment in keys:
        rows = [
            row
            for r in results
            for row in r.rows
            if (row.case, row.retailer, row.segment) == (case, retailer, segment)
        ]
        out.append(pooled(rows, case, retailer, segment))
    return tuple(out)


def lift_sd(
    results: Sequence[ExperimentResult],
    case: Case,
    condition: str,
    *,
    retailer: str = "all",
    segment: Segment = "any",
    metric: Metric = "precision",
) -> float:
    """Sample standard deviation of one lift over runs (``nan`` for fewer than two runs)."""
    lifts = [r.row(case, retailer, segment).lift(condition, metric) for r in results]
    return float(np.std(lifts, ddof=1)) if len(lifts) > 1 else float("nan")
