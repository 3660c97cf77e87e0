"""Item-item neighbours learnt from the order in which customers chose items.

Two items are similar when the same customers chose them *close together in time*: each pair
of items ``d`` places apart in a customer's time-ordered history adds ``exp(-d / window)`` to
their co-occurrence, which is then divided by ``sqrt(n_i * n_j)`` (``n_i``: customers who
chose ``i``), a cosine. A customer is scored from her own history, her most recent choice
weighing most: the item ``r`` places before her latest one has weight ``exp(-r / recency)``.

Why: on MovieLens the items a customer chooses next follow the ones she chose last far more
than her whole history suggests (docs/recommender.md, the temporal split); a factorisation such
as LightFM's represents a customer by all her items at once. The similarity is population-level
(learnt from everyone whose data the model may use) and a customer is scored from her history
alone, so what her consent withholds at request time is simply left out of that history.

Example::

    >>> nb = SequenceNeighbours(window=20, recency=10).fit([np.array([0, 1, 2])], n_items=4)
    >>> nb.score_sequence(np.array([0])).argmax()
    1
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from recommender.dataset import Interaction

#: Pair weights below this are dropped: they change no ranking measurably and would multiply
#: the matrix size (exp(-d / window) < 1% beyond d = 4.6 windows).
MIN_WEIGHT = 0.01
#: Past items weighing less than this are left out of a profile: scoring time grows with the
#: items kept (about 20 us each on MovieLens), their share of the score does not.
PROFILE_MIN_WEIGHT = 0.05


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _reach(scale: float, min_weight: float = MIN_WEIGHT) -> int:
    """Largest distance whose weight ``exp(-d / scale)`` is still at least ``min_weight``."""
    return max(1, math.floor(scale * math.log(1.0 / min_weight)))


def user_sequences(
    interactions: Iterable[Interaction],
    user_index: Mapping[str, int],
    item_index: Mapping[str, int],
) -> list[np.ndarray]:
    """Each indexed user's distinct item indices (int64), oldest first, as a list by user index.

    An item's time is the user's first interaction with it; equal times are ordered by item
    index. Interactions of users or items outside the maps are ignored. Raises ``ValueError``
    on an interaction without a timestamp (an order needs one).
    """
    first: dict[tuple[int, int], float] = {}
    for inter in interactions:
        u, i = user_index.get(inter.user_id), item_index.get(inter.item_id)
        if u is None or i is None:
            continue
        if inter.timestamp is None:
            raise ValueError(
                f"interaction of user {inter.user_id!r} with item {inter.item_id!r} has no "
                "timestamp; the sequence model needs one on every interaction"
            )
        key = (u, i)
        first[key] = min(first.get(key, math.inf), inter.timestamp)
    by_user: list[list[tuple[float, int]]] = [[] for _ in range(len(user_index))]
    for (u, i), t in first.items():
        by_user[u].append((t, i))
    return [np.asarray([i for _, i in sorted(pairs)], dtype=np.int64) for pairs in by_user]


def ordered_items(
    records: Iterable[tuple[str, float | None]], item_index: Mapping[str, int]
) -> np.ndarray:
    """Distinct item indices (int64) of one customer's ``(item_id, timestamp)`` records, oldest
    first by each item's first time; records without a timestamp follow, in the order given;
    items outside ``item_index`` are dropped. What training and serving both feed the model."""
    first: dict[int, tuple[int, float, int]] = {}
    for position, (item_id, timestamp) in enumerate(records):
        i = item_index.get(item_id)
        if i is None:
            continue
        key = (0, timestamp, position) if timestamp is not None else (1, 0.0, position)
        if i not in first or key < first[i]:
            first[i] = key
    return np.asarray(sorted(first, key=first.__getitem__), dtype=np.int64)


class SequenceNeighbours:
    """Time-local item-item similarity and recency-weighted scoring (module docstring).

    ``window``: the distance (in places of a history) at which a pair's co-occurrence weight
    falls to 1/e; ``recency``: the same for the weight of a past item when scoring. ``fit``
    returns ``self``; scoring before ``fit`` raises ``RuntimeError``; bad arguments raise
    ``ValueError``.
    """

    def __init__(self, window: float = 20.0, recency: float = 10.0) -> None:
        self.window = _check_positive("window", window)
        self.recency = _check_positive("recency", recency)
        self._similarity: sp.csr_matrix | None = None

    def __repr__(self) -> str:
        return f"SequenceNeighbours(window={self.window:g}, recency={self.recency:g})"

    def fit(self, sequences: Sequence[np.ndarray], n_items: int) -> SequenceNeighbours:
        """Learn the similarity from time-ordered histories of distinct item indices."""
        if n_items < 1:
            raise ValueError(f"n_items must be at least 1, got {n_items}")
        reach = _reach(self.window)
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        chosen = np.zeros(n_items, dtype=np.float64)
        for raw in sequences:
            seq = np.asarray(raw, dtype=np.int64)
            if seq.size and (seq.min() < 0 or seq.max() >= n_items):
                raise ValueError(f"a sequence holds an item index outside [0, {n_items})")
            if np.unique(seq).size != seq.size:
                raise ValueError("a sequence repeats an item; pass distinct items per user")
            chosen[seq] += 1.0
            for d in range(1, min(reach, seq.size - 1) + 1):
                weight = np.full(seq.size - d, math.exp(-d / self.window))
                rows += [seq[:-d], seq[d:]]
                cols += [seq[d:], seq[:-d]]
                vals += [weight, weight]
        if rows:
            co = sp.coo_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                shape=(n_items, n_items),
            ).tocsr()
        else:
            co = sp.csr_matrix((n_items, n_items))
        co.sum_duplicates()
        inv = np.divide(1.0, np.sqrt(chosen), out=np.zeros(n_items), where=chosen > 0)
        similarity = sp.diags(inv) @ co @ sp.diags(inv)
        self._similarity = sp.csr_matrix(similarity, dtype=np.float32)
        return self

    @classmethod
    def restore(
        cls, similarity: sp.csr_matrix, *, window: float, recency: float
    ) -> SequenceNeighbours:
        """A fitted instance from a similarity matrix :attr:`similarity` returned."""
        if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
            raise ValueError(f"similarity must be square, got shape {similarity.shape}")
        out = cls(window, recency)
        out._similarity = sp.csr_matrix(similarity, dtype=np.float32)
        return out

    @property
    def similarity(self) -> sp.csr_matrix:
        """The ``(n_items, n_items)`` float32 CSR similarity (symmetric, zero diagonal)."""
        if self._similarity is None:
            raise RuntimeError("the sequence model is not fitted")
        return self._similarity

    @property
    def n_items(self) -> int:
        return int(self.similarity.shape[0])

    def profiles(self, sequences: Sequence[np.ndarray]) -> sp.csr_matrix:
        """``(len(sequences), n_items)`` recency weights of each history (latest item 1.0)."""
        n_items = self.n_items
        keep = _reach(self.recency, PROFILE_MIN_WEIGHT) + 1
        indptr = [0]
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for raw in sequences:
            recent = np.asarray(raw, dtype=np.int64)[::-1][:keep]
            if recent.size and (recent.min() < 0 or recent.max() >= n_items):
                raise ValueError(f"a sequence holds an item index outside [0, {n_items})")
            cols.append(recent)
            vals.append(np.exp(-np.arange(recent.size) / self.recency))
            indptr.append(indptr[-1] + recent.size)
        data = np.concatenate(vals) if vals else np.zeros(0)
        indices = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        out = sp.csr_matrix(
            (data.astype(np.float32), indices, np.asarray(indptr)),
            shape=(len(indptr) - 1, n_items),
        )
        out.sum_duplicates()
        return out

    def score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        """Scores ``(n_profiles, n_items)`` float32 of recency profiles (:meth:`profiles`)."""
        return np.asarray((profiles @ self.similarity).toarray(), dtype=np.float32)

    def score_sequence(self, sequence: np.ndarray) -> np.ndarray:
        """Scores ``(n_items,)`` float32 of one time-ordered history (oldest first).

        The same numbers as :meth:`score_profiles` of :meth:`profiles`, computed from the
        similarity's CSR arrays directly: a kiosk request scores one customer, and building
        scipy matrices for one row costs more than the arithmetic.
        """
        sim = self.similarity
        recent = np.asarray(sequence, dtype=np.int64)[::-1][
            : _reach(self.recency, PROFILE_MIN_WEIGHT) + 1
        ]
        if recent.size and (recent.min() < 0 or recent.max() >= sim.shape[0]):
            raise ValueError(f"a sequence holds an item index outside [0, {sim.shape[0]})")
        weights = np.exp(-np.arange(recent.size) / self.recency)
        starts, ends = sim.indptr[recent], sim.indptr[recent + 1]
        lengths = ends - starts
        # Positions of every stored entry of the chosen rows, without a Python loop.
        positions = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
            lengths.sum()
        )
        contributions = sim.data[positions] * np.repeat(weights, lengths)
        out = np.bincount(sim.indices[positions], weights=contributions, minlength=sim.shape[1])
        return out.astype(np.float32)
