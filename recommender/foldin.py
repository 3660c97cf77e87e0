"""Fold-in: a customer represented from her consented events at request time, no retraining.

LightFM represents a user by the embeddings of her features; a customer the model never saw
(registered after training) has none, and one who bought something since training has a
representation that does not know it. Following LightFM's new-user path, her representation
is built from what the model *did* learn about the items she chose: the weighted mean of
their learnt representations (identity plus declared features: category, brand, price band),
weights by event type (a purchase counts three times a view, :data:`~recommender.slices.
EVENT_WEIGHTS`), rescaled to a fixed multiple of the typical trained user's length.

Why the length matters: a score is ``item . user + item bias``, so a short vector lets the
item biases (popularity) dominate and a long one lets her items dominate. On the MovieLens
temporal split (``benchmarks/foldin.py``) twice the median trained length ranked best in the
served blend; the direction alone decides everything else.

Why a mean and not an optimised vector: fitting her vector with a few WARP steps against
the fixed items ranked better for the hybrid alone but no better in the served blend, at ten
times the cost per request (docs/recommender.md, fold-in), and a least-squares fold-in did
worse than both; the mean costs one small matrix product.

Example::

    >>> fold = FoldIn.for_model(model)                                  # doctest: +SKIP
    >>> vec = fold.user_vector(np.array([3, 17]), np.array([3.0, 1.0]))  # doctest: +SKIP
    >>> model.score_vector(vec)                                         # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from recommender.model import HybridModel
from recommender.slices import EVENT_WEIGHTS, DataCategory, EventRecord, Slice

#: Her vector's length as a multiple of the median trained user's (see the module docstring).
FOLD_IN_SCALE = 2.0


def _check_scale(scale: object) -> float:
    if isinstance(scale, bool) or not isinstance(scale, int | float):
        raise ValueError(f"scale must be a number, got {scale!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and positive, got {scale!r}")
    return float(scale)


@dataclass(frozen=True)
class FoldIn:
    """Builds user representations from item indices and weights.

    ``item_repr``: ``(n_items, no_components)`` item representations of the model;
    ``length``: the length every folded-in vector gets (``scale`` x the median trained
    user's). Raises ``ValueError`` for a non-2-D ``item_repr`` or a non-positive length.
    """

    item_repr: np.ndarray
    length: float

    def __post_init__(self) -> None:
        arr = np.asarray(self.item_repr, dtype=np.float32)
        if arr.ndim != 2:
            raise ValueError(f"item_repr must be 2-D, got shape {arr.shape}")
        object.__setattr__(self, "item_repr", arr)
        object.__setattr__(self, "length", _check_scale(self.length))

    @classmethod
    def for_model(cls, model: HybridModel, scale: float = FOLD_IN_SCALE) -> FoldIn:
        """The fold-in of a fitted ``model``: its item representations and ``scale`` times
        the median length of its training users' representations (1 if they are all zero).
        Raises ``ValueError`` for a non-positive scale, ``RuntimeError`` for an unfitted
        model."""
        users = model.user_representations
        norms = np.linalg.norm(users, axis=1) if users.size else np.zeros(0)
        median = float(np.median(norms)) if norms.size else 0.0
        length = _check_scale(scale) * (median if median > 0 else 1.0)
        return cls(model.item_representations, length)

    @property
    def n_items(self) -> int:
        return int(self.item_repr.shape[0])

    def user_vector(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Her representation, float32 of shape ``(no_components,)``, from the item indices
        she chose (repeats allowed: their weights add up) and a positive weight for each
        (default 1). A zero mean (no usable direction) gives the zero vector, which scores
        items by their biases alone.

        Raises ``ValueError`` when ``items`` is empty, not 1-D integers or out of range, or
        ``weights`` has another length or a non-positive or non-finite value.
        """
        idx = np.asarray(items)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError("items must be a non-empty 1-D integer array")
        if idx.min() < 0 or idx.max() >= self.n_items:
            raise ValueError(f"items hold an index outside [0, {self.n_items})")
        w = np.ones(idx.size) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != idx.shape:
            raise ValueError(f"{w.size} weights for {idx.size} items")
        if not (np.all(np.isfinite(w)) and np.all(w > 0)):
            raise ValueError("weights must be finite and positive")
        mean = (w[:, None] * self.item_repr[idx]).sum(axis=0) / w.sum()
        norm = float(np.linalg.norm(mean))
        if norm == 0.0:
            return np.zeros(self.item_repr.shape[1], dtype=np.float32)
        return (mean * (self.length / norm)).astype(np.float32)


#: Weight of a past item known only from a training slice, by the slice's data category (the
#: event types that fill it weigh so: a purchase, a view, a statement).
_SLICE_WEIGHTS: Mapping[DataCategory, float] = MappingProxyType(
    {
        "purchases": EVENT_WEIGHTS["purchase"],
        "views": EVENT_WEIGHTS["view"],
        "stated_preferences": EVENT_WEIGHTS["stated"],
    }
)


def fold_in_items(
    slices: Iterable[tuple[Slice, int]],
    train: Any,
    events: Iterable[EventRecord],
    item_index: Mapping[str, int],
) -> tuple[np.ndarray, np.ndarray] | None:
    """(item indices, weights) to fold her in from, or ``None`` when the model's usable
    slices of hers already cover every positive event the request may use (then her trained
    representation serves, as it was learnt).

    ``slices``: her usable slices the model knows, with their training rows; ``train``: the
    model's training interactions (CSR); ``events``: her usable events. Events on items the
    model does not know are left out: they have no learnt representation.
    """
    weights: dict[int, float] = {}
    for ev in events:
        idx = item_index.get(ev.item_id)
        weight = ev.positive_weight
        if idx is not None and weight is not None:
            weights[idx] = weights.get(idx, 0.0) + weight
    trained: dict[int, float] = {}
    for sl, row in slices:
        for i in train.indices[train.indptr[row] : train.indptr[row + 1]]:
            trained[int(i)] = trained.get(int(i), 0.0) + _SLICE_WEIGHTS[sl.category]
    if not weights or weights.keys() <= trained.keys():
        return None
    for idx, weight in trained.items():
        weights.setdefault(idx, weight)
    items = np.fromiter(weights, dtype=np.int64, count=len(weights))
    return items, np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
