"""The models of the consortium experiment's conditions, as seen by one serving retailer.

``silo``
    A :class:`~recommender.model.HybridModel` on the retailer's own customers' interactions
    with its own items; a customer new there gets its popularity ranking.
``shared`` / ``shared_consent``
    One model over (customer, retailer) contexts ``"<customer>@<retailer>"`` whose only
    features are ``customer:<id>`` and ``retailer:<r>``; items carry ``retailer:<r>``. Trained
    on everyone's data, or on the consenting customers' data at every retailer plus the serving
    retailer's own data about the others.
``shared_no_context``
    The shared data with plain customer identities (ablation).
``served``
    What the consortium serves at the given consent: per retailer, case and consent, the blend
    ``z(silo) + a * z(shared_consent) + b * z(sequence) + c * z(fold-in)`` whose ``(a, b, c)``
    scored best on a validation split carved from training (:mod:`.choice` says on which
    customers and from which grid; ``z``: per-customer
    standardisation over the retailer's catalogue; ``sequence``:
    :class:`~recommender.sequence.SequenceNeighbours` over the history the model may use;
    ``fold-in``: the shared model at that consent scoring her as the kiosk does a customer it
    has no slice for, :class:`~recommender.foldin.FoldIn` from that same history).
    ``(0, 0, 0)`` is the silo, so the choice can fall back on it wherever sharing does not
    help on validation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.baselines import PopularityModel
from benchmarks.consortium.choice import Weights
from benchmarks.consortium.worlds import WORLDS
from recommender.blend import standardised
from recommender.config import ModelConfig
from recommender.dataset import Dataset, Interaction, Item, UserProfile, build_dataset
from recommender.foldin import FoldIn
from recommender.model import HybridModel
from recommender.sequence import SequenceNeighbours, user_sequences

_CONTEXT_SEP = "@"


def context_id(customer: str, retailer: str) -> str:
    """The shared model's user id for ``customer`` shopping at ``retailer``."""
    return f"{customer}{_CONTEXT_SEP}{retailer}"


def _context_profiles(pairs: Iterable[tuple[str, str]]) -> list[UserProfile]:
    return [
        UserProfile(context_id(c, r), (f"customer:{c}", f"retailer:{r}")) for c, r in sorted(pairs)
    ]


def fit_shared(
    train: Sequence[Interaction],
    items: Sequence[Item],
    extra_pairs: Iterable[tuple[str, str]],
    config: ModelConfig,
) -> tuple[HybridModel, Dataset]:
    """A shared model over (customer, retailer) contexts; ``extra_pairs`` are contexts without
    training data (customers new at a retailer) that still need a row to be scored."""
    pairs = {(i.user_id, str(i.retailer)) for i in train} | set(extra_pairs)
    contextual = [
        Interaction(context_id(i.user_id, str(i.retailer)), i.item_id, i.weight, i.retailer)
        for i in train
    ]
    dataset = build_dataset(
        contextual, items, _context_profiles(pairs), user_identity_features=False
    )
    return HybridModel(config).fit(dataset), dataset


def fit_plain(
    train: Sequence[Interaction], items: Sequence[Item], config: ModelConfig
) -> tuple[HybridModel, Dataset]:
    """A model whose users are plain customers (identity features)."""
    dataset = build_dataset(train, items)
    return HybridModel(config).fit(dataset), dataset


def default_model_config(world_name: str, *, seed: int, quick: bool = False) -> ModelConfig:
    """The one LightFM configuration every condition of a world uses, so the comparison is
    about data, not tuning (``world_name`` is accepted for per-world settings; both worlds use
    the same today). One thread keeps training deterministic for a seed.

    Chosen on seed 1 over components {32, 64}, learning rate {0.05, 0.1}, ``max_sampled``
    {10, 30, 50} and epochs {25, 50, 100}: contexts represented by features alone need more
    epochs than identity-featured silos; 50 epochs at rate 0.1 brought the shared model level
    with the silos for warm customers without overfitting the silos.
    """
    if world_name not in WORLDS:
        raise ValueError(f"unknown world {world_name!r}; choose one of {WORLDS}")
    return ModelConfig(
        no_components=32,
        loss="warp",
        learning_rate=0.1,
        max_sampled=30,
        epochs=20 if quick else 50,
        seed=seed,
        num_threads=1,
    )


@dataclass(frozen=True)
class Served:
    """A fitted model as seen by one retailer: its rows are looked up by user id and only the
    retailer's catalogue columns ``cols`` are ranked; rows it cannot serve get ``fallback``
    (the retailer's popularity)."""

    model: HybridModel
    dataset: Dataset
    cols: np.ndarray
    fallback: np.ndarray

    @classmethod
    def of(
        cls, model: HybridModel, ds: Dataset, catalogue: Sequence[Item], fallback: np.ndarray
    ) -> Served:
        cols = np.asarray([ds.item_index[it.item_id] for it in catalogue], dtype=np.int64)
        return cls(model, ds, cols, fallback)

    def scores(self, user_ids: Sequence[str]) -> np.ndarray:
        """``(len(user_ids), len(cols))`` float64 scores."""
        out = np.tile(self.fallback.astype(np.float64), (len(user_ids), 1))
        found = [(j, self.dataset.user_index.get(u)) for j, u in enumerate(user_ids)]
        known = [(j, u) for j, u in found if u is not None]
        if known:
            rows, users = zip(*known, strict=True)
            scored = self.model.score_users(np.asarray(users, dtype=np.int64))
            out[np.asarray(rows)] = scored[:, self.cols]
        return out


@dataclass(frozen=True)
class RetailerModels:
    """Every model that can serve one retailer, fitted on one training set.

    ``silo`` scores plain customers, ``partial`` (the shared model at the given consent) scores
    contexts; ``sequences`` are each customer's visible history (item indices of ``items``,
    oldest first), scored by ``neighbours`` on the catalogue columns ``cols`` and folded into
    ``partial`` by ``fold`` (``partial_items`` maps an index of ``items`` to ``partial``'s).
    """

    retailer: str
    silo: Served
    partial: Served
    neighbours: SequenceNeighbours
    sequences: Mapping[str, np.ndarray]
    cols: np.ndarray
    fold: FoldIn
    partial_items: np.ndarray

    def folded_in(self, customers: Sequence[str]) -> np.ndarray:
        """``(len(customers), len(cols))`` scores of the partial model for each customer
        folded in from her visible history; her popularity row when she has none."""
        out = np.tile(self.partial.fallback.astype(np.float64), (len(customers), 1))
        model, cols = self.partial.model, self.partial.cols
        for j, customer in enumerate(customers):
            history = self.sequences.get(customer)
            if history is not None and history.size:
                vector = self.fold.user_vector(self.partial_items[history])
                out[j] = model.score_vector(vector)[cols]
        return out

    def part_scores(self, customers: Sequence[str]) -> tuple[np.ndarray, ...]:
        """Standardised ``(silo, partial, sequence, fold-in)`` scores, each
        ``(len(customers), len(cols))``."""
        contexts = [context_id(c, self.retailer) for c in customers]
        empty = np.zeros(0, dtype=np.int64)
        profiles = self.neighbours.profiles([self.sequences.get(c, empty) for c in customers])
        sequence = self.neighbours.score_profiles(profiles)[:, self.cols]
        return (
            standardised(self.silo.scores(customers)),
            standardised(self.partial.scores(contexts)),
            standardised(sequence),
            standardised(self.folded_in(customers)),
        )


def served_scores(parts: tuple[np.ndarray, ...], weights: Weights) -> np.ndarray:
    """The served blend of :meth:`RetailerModels.part_scores` at ``(a, b, c)``."""
    silo, partial, sequence, folded = parts
    a, b, c = weights
    return silo + a * partial + b * sequence + c * folded


def fit_retailer_models(
    train: Sequence[Interaction],
    items: Sequence[Item],
    catalogue: Sequence[Item],
    retailer: str,
    *,
    consenting: frozenset[str],
    cold_pairs: Iterable[tuple[str, str]],
    config: ModelConfig,
) -> RetailerModels:
    """Fit the silo, the partly-consented shared model and the sequence part for ``retailer``:
    the shared parts see the consenting customers' data everywhere and everyone's here."""
    silo, silo_ds = fit_plain([i for i in train if i.retailer == retailer], catalogue, config)
    popularity = PopularityModel().fit(silo_ds.interactions).score_users(np.asarray([0]))[0]
    visible = [i for i in train if i.retailer == retailer or i.user_id in consenting]
    visible_cold = {(c, r) for c, r in cold_pairs if c in consenting}
    partial, partial_ds = fit_shared(visible, items, visible_cold, config)
    item_index = {it.item_id: j for j, it in enumerate(items)}
    customers = sorted({i.user_id for i in visible})
    user_index = {c: j for j, c in enumerate(customers)}
    histories = user_sequences(visible, user_index, item_index)
    # The default window and recency: the MovieLens bench's most frequent choice.
    neighbours = SequenceNeighbours().fit(histories, len(items))
    return RetailerModels(
        retailer=retailer,
        silo=Served.of(silo, silo_ds, catalogue, popularity),
        partial=Served.of(partial, partial_ds, catalogue, popularity),
        neighbours=neighbours,
        sequences=dict(zip(customers, histories, strict=True)),
        cols=np.asarray([item_index[it.item_id] for it in catalogue], dtype=np.int64),
        fold=FoldIn.for_model(partial),
        partial_items=np.asarray([partial_ds.item_index[it.item_id] for it in items]),
    )
