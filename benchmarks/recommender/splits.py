"""Per-user train/test splits of interaction lists, and carving a validation set for tuning.

All splits work on distinct (user, item) pairs: every interaction of a pair lands on the same
side, so a held-out item is never also a training item for that user. A user with ``n >= 2``
pairs gets ``round(n * fraction)`` of them held out, at least one and at most ``n - 1``; a user
with a single pair keeps it in training. Output order follows the input order.

Example::

    >>> train, test = random_split(interactions, test_fraction=0.2, seed=7)   # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from recommender.dataset import Interaction

Pair = tuple[str, str]


class Split(NamedTuple):
    """Interactions used for fitting and those held out (test or validation)."""

    train: list[Interaction]
    test: list[Interaction]


def _check_fraction(fraction: float) -> None:
    if not (isinstance(fraction, int | float) and 0 < fraction < 1):
        raise ValueError(f"the held-out fraction must be in (0, 1), got {fraction!r}")


def _n_held_out(n_pairs: int, fraction: float) -> int:
    if n_pairs < 2:
        return 0
    return min(max(round(n_pairs * fraction), 1), n_pairs - 1)


def _pairs_by_user(interactions: Sequence[Interaction]) -> dict[str, list[str]]:
    """User id -> her distinct item ids, sorted (so the split ignores input order)."""
    items: dict[str, set[str]] = {}
    for inter in interactions:
        items.setdefault(inter.user_id, set()).add(inter.item_id)
    return {user: sorted(items[user]) for user in sorted(items)}


def _apply(interactions: Sequence[Interaction], held_out: set[Pair]) -> Split:
    train: list[Interaction] = []
    test: list[Interaction] = []
    for inter in interactions:
        (test if (inter.user_id, inter.item_id) in held_out else train).append(inter)
    return Split(train, test)


def random_split(
    interactions: Iterable[Interaction], test_fraction: float = 0.2, seed: int = 42
) -> Split:
    """Hold out a random ``test_fraction`` of each user's items.

    Deterministic for a given ``seed`` and set of interactions, whatever their order.
    Raises ``ValueError`` unless ``0 < test_fraction < 1``.
    """
    _check_fraction(test_fraction)
    data = list(interactions)
    rng = np.random.default_rng(seed)
    held_out: set[Pair] = set()
    for user, items in _pairs_by_user(data).items():
        n = _n_held_out(len(items), test_fraction)
        if n:
            chosen = rng.choice(len(items), size=n, replace=False)
            held_out.update((user, items[i]) for i in chosen)
    return _apply(data, held_out)


def temporal_split(interactions: Iterable[Interaction], test_fraction: float = 0.2) -> Split:
    """Hold out each user's most recent ``test_fraction`` of items.

    A pair's time is its earliest interaction's timestamp (when the user first chose the item);
    equal times are ordered by item id. Raises ``ValueError`` if an interaction has no
    timestamp or the fraction is outside ``(0, 1)``.
    """
    _check_fraction(test_fraction)
    data = list(interactions)
    first_seen: dict[Pair, float] = {}
    for inter in data:
        if inter.timestamp is None:
            raise ValueError(
                f"interaction of user {inter.user_id!r} with item {inter.item_id!r} has no "
                "timestamp; a temporal split needs one on every interaction"
            )
        pair = (inter.user_id, inter.item_id)
        first_seen[pair] = min(first_seen.get(pair, math.inf), inter.timestamp)
    held_out: set[Pair] = set()
    for user, items in _pairs_by_user(data).items():
        n = _n_held_out(len(items), test_fraction)
        if n:
            by_time = sorted(items, key=lambda item: (first_seen[(user, item)], item))
            held_out.update((user, item) for item in by_time[-n:])
    return _apply(data, held_out)


def validation_split(
    train: Iterable[Interaction],
    validation_fraction: float = 0.2,
    *,
    seed: int = 42,
    temporal: bool = False,
) -> Split:
    """Carve a validation set out of training data for tuning, the same way the test set was
    carved (``temporal`` for a temporal split, else random with ``seed``).

    Returns ``Split(train=<fitting part>, test=<validation part>)``; the test set is never
    touched, so tuning cannot leak it.
    """
    if temporal:
        return temporal_split(train, validation_fraction)
    return random_split(train, validation_fraction, seed=seed)
