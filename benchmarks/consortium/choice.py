"""How the served blend's weights are chosen on validation: on which customers, from which grid.

A retailer knows at request time whether a customer is new to it, thin or warm, and whether she
consents, so the served blend may use different weights per (case, consent segment). Each such
choice is made on a **pool** of validation customers: by default those of the same case and
segment at the same retailer. Small pools make noisy choices (about 25 thin customers per
retailer and segment on MovieLens), so a :class:`ChoiceRule` may widen them: choose the thin
case's weights on the warm customers (thin customers are warm ones with little history), pool
both consent segments, or pool the consortium's retailers.

The choice itself (:func:`best_weights`) maximises mean validation precision@K over the pool,
then recall, and keeps the earlier grid point on a tie, so the silo's ``(0, 0, 0)`` (first)
wins wherever sharing does not help.

Example::

    rule = ChoiceRule("thin-from-warm", thin_from_warm=True)
    rule.pool("thin", "no")          # Pool(case='warm', segment='no', across_retailers=False)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from benchmarks.consortium.protocol import Case, Segment

Weights = tuple[float, float, float]

#: The ``(a, b, c)`` weights of ``z(silo) + a * z(shared at the consent) + b * z(sequence) +
#: c * z(fold-in)`` every choice may take; listed so that a tie keeps the earlier, more
#: silo-like point; ``a = 100`` is in effect the shared model alone, which suits customers new
#: at the retailer (the silo knows nothing).
SERVED_GRID: tuple[Weights, ...] = tuple(
    (a, b, c)
    for a in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 100.0)
    for b in (0.0, 0.5, 1.0, 2.0, 4.0)
    for c in (0.0, 0.5, 1.0, 2.0, 4.0)
)
#: Extra points for customers new at the retailer, whose silo part is only its popularity:
#: mixtures of the three sharing parts with that popularity in effect dropped (x 100), so the
#: fold-in or the sequence part can lead, which :data:`SERVED_GRID` (``b, c <= 4``) cannot.
COLD_EXTRA: tuple[Weights, ...] = tuple(
    (100.0 * a, 100.0 * b, 100.0 * c)
    for a in (0.0, 0.5, 1.0, 2.0)
    for b in (0.0, 0.5, 1.0, 2.0)
    for c in (0.0, 0.5, 1.0, 2.0)
    if (a, b, c) != (0.0, 0.0, 0.0)
)
#: Every point any rule may choose (indices into it are what :func:`best_weights` returns).
ALL_WEIGHTS: tuple[Weights, ...] = SERVED_GRID + COLD_EXTRA


@dataclass(frozen=True)
class Pool:
    """The validation customers one choice is made on: of ``case``, of ``segment`` (``any``
    pools consenting and not), at the serving retailer or at every retailer."""

    case: Case
    segment: Segment
    across_retailers: bool = False


@dataclass(frozen=True)
class ChoiceRule:
    """Which pool and grid each (case, consent segment) of a retailer chooses its weights on.

    ``thin_from_warm``: thin customers take the warm case's choice (a superset, six to nine
    times the customers). ``pool_segments``: one choice for consenting and non-consenting
    customers together. ``across_retailers``: one choice per case and segment for the whole
    consortium. ``wide_cold``: customers new at the retailer may also take :data:`COLD_EXTRA`.
    """

    name: str
    thin_from_warm: bool = False
    pool_segments: bool = False
    across_retailers: bool = False
    wide_cold: bool = False

    def pool(self, case: Case, segment: Segment) -> Pool:
        """The validation pool of the choice for ``case`` and ``segment`` (``yes`` / ``no``).

        Raises ``ValueError`` for segment ``any`` (choices are made per consent segment).
        """
        if segment == "any":
            raise ValueError("a choice is made for the consenting or the non-consenting")
        return Pool(
            "warm" if case == "thin" and self.thin_from_warm else case,
            "any" if self.pool_segments else segment,
            self.across_retailers,
        )

    def allowed(self, case: Case) -> np.ndarray:
        """Boolean mask over :data:`ALL_WEIGHTS` of the points ``case`` may choose."""
        mask = np.zeros(len(ALL_WEIGHTS), dtype=bool)
        mask[: len(SERVED_GRID)] = True
        if case == "cold" and self.wide_cold:
            mask[len(SERVED_GRID) :] = True
        return mask


#: The rule of 2026-12-06 morning: every (retailer, case, segment) on its own customers.
PER_SEGMENT = ChoiceRule("per-segment")
#: The rule the served condition uses: per retailer and case on every validation customer of
#: the case, the thin case taking the warm case's weights. Of :data:`RULES` it was the only
#: one that kept every segment above the silo on all three worlds while losing nothing for
#: customers new to a retailer (docs/recommender.md, 2026-12-06).
SERVED_RULE = ChoiceRule("thin-from-warm-pooled", thin_from_warm=True, pool_segments=True)
#: The rules :func:`~benchmarks.consortium.run_experiment` can score side by side.
RULES: tuple[ChoiceRule, ...] = (
    PER_SEGMENT,
    ChoiceRule("thin-from-warm", thin_from_warm=True),
    SERVED_RULE,
    ChoiceRule(
        "thin-from-warm-pooled-wide-cold", thin_from_warm=True, pool_segments=True, wide_cold=True
    ),
    ChoiceRule("across-retailers", across_retailers=True),
    ChoiceRule("thin-from-warm-across", thin_from_warm=True, across_retailers=True),
    ChoiceRule(
        "thin-from-warm-pooled-across",
        thin_from_warm=True,
        pool_segments=True,
        across_retailers=True,
    ),
    ChoiceRule("thin-from-warm-wide-cold", thin_from_warm=True, wide_cold=True),
    ChoiceRule(
        "thin-from-warm-across-wide-cold",
        thin_from_warm=True,
        across_retailers=True,
        wide_cold=True,
    ),
)


def per_user_metrics(
    scores: np.ndarray, test: sp.csr_matrix, exclude: sp.csr_matrix, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Precision@k and recall@k of each row that has a test item, as
    :func:`recommender.metrics.evaluate` counts them (excluded items never ranked, ties by the
    lower item index); rows without a test item are left out.

    ``scores``: ``(n_rows, n_items)``; ``test`` and ``exclude``: binary ``(n_rows, n_items)``.
    Returns two float64 arrays of length ``n_evaluated``. Raises ``ValueError`` on mismatched
    shapes.
    """
    if scores.shape != test.shape or scores.shape != exclude.shape:
        raise ValueError(f"shapes differ: {scores.shape}, {test.shape}, {exclude.shape}")
    rows = np.flatnonzero(np.diff(test.indptr) > 0)
    ranked = np.array(scores[rows], dtype=np.float64)
    sub = exclude[rows].tocoo()
    ranked[sub.row, sub.col] = -np.inf
    depth = min(k, ranked.shape[1])
    top = np.argsort(-ranked, axis=1, kind="stable")[:, :depth]
    valid = np.take_along_axis(ranked, top, axis=1) > -np.inf
    relevant = test[rows]
    hits = (np.asarray(relevant[np.arange(rows.size)[:, None], top].todense()) > 0) & valid
    n_hits = hits.sum(axis=1).astype(np.float64)
    return n_hits / k, n_hits / np.diff(relevant.indptr)


def best_weights(precision: np.ndarray, recall: np.ndarray, allowed: np.ndarray) -> int:
    """Index of the grid column with the best mean precision over the rows, then recall, the
    earlier column on a tie; 0 (the silo) when there are no rows.

    ``precision`` and ``recall``: ``(n_customers, n_points)``; ``allowed``: boolean
    ``(n_points,)``. Raises ``ValueError`` on mismatched shapes or nothing allowed.
    """
    if precision.shape != recall.shape or precision.shape[1:] != allowed.shape:
        raise ValueError(f"shapes differ: {precision.shape}, {recall.shape}, {allowed.shape}")
    if not allowed.any():
        raise ValueError("no grid point is allowed")
    if precision.shape[0] == 0:
        return 0
    p, r = precision.mean(axis=0), recall.mean(axis=0)
    candidates = np.flatnonzero(allowed)
    # Exact float comparison is what makes the earlier point win a tie: means of the same
    # per-customer values are bit-identical.
    return int(min(candidates, key=lambda j: (-p[j], -r[j], j)))
