"""The served model: the LightFM hybrid plus time-local item neighbours, one score.

``score = z(hybrid) + weight * z(sequence)``, where ``z`` standardises a user's scores over the
whole catalogue (mean 0, standard deviation 1) so the two parts are on one scale whatever their
units, and ``weight`` is chosen on validation (:mod:`benchmarks.recommender.evaluation`; 0 is
the hybrid alone). The hybrid keeps what only it has (cold start from features, explanations, a user
vector rebuilt from consented slices); the sequence part (:mod:`recommender.sequence`) adds
what a customer chose last, which the temporal split shows the factorisation misses.

Example::

    >>> sequences = user_sequences(train, dataset.user_index, dataset.item_index)  # doctest: +SKIP
    >>> nb = SequenceNeighbours().fit(sequences, dataset.n_items)                  # doctest: +SKIP
    >>> BlendedModel(hybrid, nb, sequences, weight=1.0).score_users(np.arange(3))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recommender.model import HybridModel
from recommender.sequence import SequenceNeighbours


def standardised(scores: np.ndarray) -> np.ndarray:
    """Each row of a 2-D score array minus its mean, over its standard deviation (float32);
    a constant row becomes zeros."""
    arr = np.asarray(scores, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"scores must be 2-D, got shape {arr.shape}")
    centred = arr - arr.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
    spread = np.sqrt(np.mean(np.square(centred), axis=1, keepdims=True, dtype=np.float64))
    return np.divide(
        centred, spread.astype(np.float32), out=np.zeros_like(centred), where=spread > 0
    )


def _check_weight(weight: object) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise ValueError(f"weight must be a number, got {weight!r}")
    if not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"weight must be finite and >= 0, got {weight!r}")
    return float(weight)


@dataclass(frozen=True)
class SequencePart:
    """The sequence neighbours and their ``weight`` in the blend, as an artifact stores them
    beside the hybrid. Raises ``ValueError`` for a negative or non-finite weight."""

    neighbours: SequenceNeighbours
    weight: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _check_weight(self.weight))

    def blend(self, hybrid: np.ndarray, sequence: np.ndarray) -> np.ndarray:
        """``z(hybrid) + weight * z(sequence)`` of two ``(n_users, n_items)`` score arrays."""
        out = standardised(hybrid)
        if self.weight:
            out += self.weight * standardised(sequence)
        return out


class BlendedModel:
    """A :class:`~recommender.metrics.Scorer` over the users of ``hybrid``.

    ``sequences[u]`` is user ``u``'s time-ordered history of item indices (oldest first), as
    :func:`~recommender.sequence.user_sequences` builds it from the training interactions.
    Raises ``ValueError`` when the parts disagree on the number of users or items, or for a
    negative or non-finite ``weight``.
    """

    def __init__(
        self,
        hybrid: HybridModel,
        neighbours: SequenceNeighbours,
        sequences: Sequence[np.ndarray],
        weight: float,
    ) -> None:
        part = SequencePart(neighbours, weight)
        if len(sequences) != hybrid.n_users:
            raise ValueError(f"{len(sequences)} sequences for {hybrid.n_users} users")
        if neighbours.n_items != hybrid.n_items:
            raise ValueError(
                f"the sequence model has {neighbours.n_items} items, the hybrid {hybrid.n_items}"
            )
        self.hybrid = hybrid
        self.part = part
        self._profiles = neighbours.profiles(sequences)

    def __repr__(self) -> str:
        return f"BlendedModel({self.part.neighbours!r}, weight={self.part.weight:g})"

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        """``(len(user_indices), n_items)`` float32 blended scores (higher is better)."""
        hybrid = self.hybrid.score_users(user_indices)  # validates the indices
        if not self.part.weight:
            return standardised(hybrid)
        users = np.atleast_1d(np.asarray(user_indices))
        return self.part.blend(hybrid, self.part.neighbours.score_profiles(self._profiles[users]))
