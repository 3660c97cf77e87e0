"""The consortium experiment's protocol: which interactions are held out, who consents, and
what history a model serving a retailer may use.

A seeded ``cold_share`` of the customers who shop at two or more retailers is made *new* at one
of them (chosen at random): all her interactions there are held out (the **cold** case). Of
every other (customer, retailer) pair with at least two interactions a ``test_fraction`` (at
least one, and at least one kept for training) is held out (the **warm** case); the warm pairs
left with at most :data:`THIN_MAX` training interactions at the retailer form the **thin** case
as well.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from recommender.dataset import Interaction

Case = Literal["warm", "thin", "cold"]
CASES: tuple[Case, ...] = ("warm", "thin", "cold")
#: Customers a row covers: ``any``, the consenting (``yes``) or the non-consenting (``no``).
Segment = Literal["any", "yes", "no"]
SEGMENTS: tuple[Segment, ...] = ("any", "yes", "no")
#: A warm customer whose training history at the retailer has at most this many interactions
#: also counts in the ``thin`` case.
THIN_MAX = 3


@dataclass(frozen=True)
class ConsortiumSplit:
    """Training interactions and the two held-out sets (see :func:`split_consortium`).

    ``cold_pairs`` are the (customer, retailer) pairs made new: none of their interactions is in
    ``train``.
    """

    train: tuple[Interaction, ...]
    warm_test: tuple[Interaction, ...]
    cold_test: tuple[Interaction, ...]
    cold_pairs: frozenset[tuple[str, str]]


def split_consortium(
    interactions: Sequence[Interaction],
    *,
    seed: int,
    test_fraction: float = 0.2,
    cold_share: float = 0.3,
) -> ConsortiumSplit:
    """Seeded split into train, warm test and cold test (the protocol in the module docstring).

    Every interaction lands in exactly one of the three sets. A pair with ``n`` interactions
    that is not cold holds out ``min(max(1, round(test_fraction * n)), n - 1)`` of them (none
    when ``test_fraction`` is 0).

    Raises:
        ValueError: if a fraction is outside [0, 1) / [0, 1] or an interaction has no retailer.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1), got {test_fraction}")
    if not 0.0 <= cold_share <= 1.0:
        raise ValueError(f"cold_share must lie in [0, 1], got {cold_share}")
    by_pair: dict[tuple[str, str], list[Interaction]] = defaultdict(list)
    for inter in interactions:
        if inter.retailer is None:
            raise ValueError(f"interaction of {inter.user_id!r} names no retailer")
        by_pair[(inter.user_id, inter.retailer)].append(inter)
    shops: dict[str, list[str]] = defaultdict(list)
    for customer, retailer in sorted(by_pair):
        shops[customer].append(retailer)

    rng = np.random.default_rng([seed, 1])
    cold_pairs: set[tuple[str, str]] = set()
    for customer in sorted(shops):
        if len(shops[customer]) >= 2 and rng.random() < cold_share:
            cold_pairs.add((customer, shops[customer][int(rng.integers(len(shops[customer])))]))

    train: list[Interaction] = []
    warm: list[Interaction] = []
    cold: list[Interaction] = []
    for pair in sorted(by_pair):
        # Sorted so that the split does not depend on the order of the input.
        group = sorted(by_pair[pair], key=lambda i: (i.item_id, i.timestamp or 0.0, i.weight))
        if pair in cold_pairs:
            cold.extend(group)
            continue
        n_out = min(max(1, round(test_fraction * len(group))), len(group) - 1)
        n_out = n_out if test_fraction > 0 else 0
        held = set(rng.permutation(len(group))[:n_out].tolist())
        for j, inter in enumerate(group):
            (warm if j in held else train).append(inter)
    return ConsortiumSplit(tuple(train), tuple(warm), tuple(cold), frozenset(cold_pairs))


def choose_consenting(customers: Iterable[str], share: float, *, seed: int) -> frozenset[str]:
    """Exactly ``round(share * n)`` of the distinct customers, chosen by a seeded permutation.

    Raises ``ValueError`` if ``share`` is outside [0, 1].
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"consent share must lie in [0, 1], got {share}")
    ordered = sorted(set(customers))
    rng = np.random.default_rng([seed, 2])
    chosen = rng.permutation(len(ordered))[: round(share * len(ordered))]
    return frozenset(ordered[j] for j in chosen)


def visible_history(
    train: Iterable[Interaction], retailer: str, consenting: frozenset[str] | None
) -> dict[str, set[str]]:
    """Items each customer interacted with in ``train`` that the model serving ``retailer``
    may use: all of a consenting customer's, only ``retailer``'s for the others.

    ``consenting`` ``None`` means everyone consented.
    """
    out: dict[str, set[str]] = defaultdict(set)
    for inter in train:
        if inter.retailer == retailer or consenting is None or inter.user_id in consenting:
            out[inter.user_id].add(inter.item_id)
    return out
