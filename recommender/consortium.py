"""The consortium experiment: does sharing consented data beat per-retailer silos?

For each retailer of a world it measures precision@10, recall@10 and nDCG@10 on held-out
interactions **at that retailer's catalogue**, under these conditions:

``silo``
    Each retailer trains a :class:`~recommender.model.HybridModel` on its own customers'
    interactions with its own items. A customer new at the retailer gets its popularity ranking
    (the only thing a silo can offer without her history).
``shared``
    One model trained on every retailer's training data (everyone consented).
``shared_consent``
    Only a seeded ``consent_share`` of customers consent. The model serving retailer ``r`` is
    trained on the consenting customers' data at every retailer plus ``r``'s own data about the
    others (a retailer may always use its own records), so there is one such model per retailer.
    A non-consenting customer new at ``r`` gets ``r``'s popularity ranking, as in the silo.
``shared_no_context``
    Ablation of ``shared``: users are plain customers (identity features), the model is not told
    which retailer it serves except through the candidate items.

Two facts from the design (DESIGN.md §8) shape the shared models:

* **The serving retailer is context.** A shared model's users are (customer, retailer)
  contexts ``"<customer>@<retailer>"`` whose only features are ``customer:<id>`` (shared by all
  her contexts) and ``retailer:<r>``; items carry ``retailer:<r>`` besides their content features.
  A customer new at ``r`` is the untrained context (customer, r), represented by what her
  customer feature learnt at the other retailers plus what ``r``'s context feature learnt.
* **Exclude the whole visible history.** At evaluation, the items excluded from a customer's
  ranking are her training interactions at every retailer whose data the model may use, not only
  at the serving retailer (:func:`visible_history`). Because retailers' catalogues are disjoint
  and only the serving retailer's items are ranked, only that retailer's part can coincide with a
  candidate here; the rule matters once catalogues share items (the same product at two members).

Evaluation protocol (:func:`split_consortium`): a seeded ``cold_share`` of the customers who shop
at two or more retailers is made *new* at one of them (chosen at random): all her interactions
there are held out (the **cold** case). Of every other (customer, retailer) pair with at least
two interactions a ``test_fraction`` (at least one, and at least one kept for training) is held
out (the **warm** case); the warm pairs left with at most :data:`THIN_MAX` training interactions
at the retailer form the **thin** case as well. Each case is evaluated per retailer on the same
customers for every condition; the ``all`` row is the mean over every evaluated (customer,
retailer) pair. Lift is ``condition / silo - 1``.

Worlds (:func:`load_world`):

``demo``
    :func:`recommender.demo_world.generate_world` with the given seed (tastes span retailers).
``movielens``
    MovieLens ratings of 4 or more, split into three retailers by :func:`assign_retailers`: each
    movie belongs to one retailer by a seeded hash of its id; each user shops at 1, 2 or 3
    retailers (30/35/35 %), which ones by a seeded hash; her ratings at retailers she does not
    shop at are dropped.

Example::

    result = run_experiment("demo", seed=1, quick=True)
    result.row("cold").lift("shared")              # precision lift for customers new at a member
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import scipy.sparse as sp

from recommender.baselines import PopularityModel
from recommender.config import ModelConfig
from recommender.dataset import Dataset, Interaction, Item, UserProfile, build_dataset
from recommender.demo_world import WorldConfig, generate_world, to_interactions, to_items
from recommender.metrics import evaluate
from recommender.model import HybridModel

Case = Literal["warm", "thin", "cold"]
Metric = Literal["precision", "recall", "ndcg"]

WORLDS: tuple[str, ...] = ("movielens", "demo")
CASES: tuple[Case, ...] = ("warm", "thin", "cold")
#: A warm customer whose training history at the retailer has at most this many interactions
#: also counts in the ``thin`` case.
THIN_MAX = 3
CONDITIONS: tuple[str, ...] = ("silo", "shared", "shared_consent", "shared_no_context")
#: Retailers MovieLens is split into (the demo world's default retailer ids).
MOVIELENS_RETAILERS: tuple[str, ...] = ("alder", "birch", "cedar")
#: Share of MovieLens users shopping at 1, 2 and 3 retailers.
MOVIELENS_SHOP_COUNTS: tuple[float, ...] = (0.30, 0.35, 0.35)
K = 10
_CONTEXT_SEP = "@"


# -- worlds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsortiumData:
    """A world ready for the experiment.

    ``items`` carry a ``retailer:<r>`` feature besides their content features;
    ``interactions`` are unique per (user, item) and each names its retailer, the retailer of its
    item.
    """

    name: str
    retailers: tuple[str, ...]
    items: tuple[Item, ...]
    item_retailer: Mapping[str, str]
    interactions: tuple[Interaction, ...]

    def catalogue(self, retailer: str) -> tuple[Item, ...]:
        """The items of one retailer, in the order of ``items``."""
        return tuple(it for it in self.items if self.item_retailer[it.item_id] == retailer)


@dataclass(frozen=True)
class RetailerAssignment:
    """The outcome of :func:`assign_retailers`.

    ``kept`` are the interactions at a retailer the user shops at (with ``retailer`` set),
    ``dropped`` the others; together they are the input, each interaction exactly once.
    """

    item_retailer: Mapping[str, str]
    customer_retailers: Mapping[str, tuple[str, ...]]
    kept: tuple[Interaction, ...]
    dropped: tuple[Interaction, ...]


def _unit(seed: int, kind: str, key: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, kind, key), independent of input order."""
    digest = hashlib.sha256(f"{seed}:{kind}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_retailers(
    interactions: Iterable[Interaction],
    items: Iterable[Item],
    *,
    retailers: Sequence[str] = MOVIELENS_RETAILERS,
    seed: int,
    shop_counts: Sequence[float] = MOVIELENS_SHOP_COUNTS,
) -> RetailerAssignment:
    """Split a single-shop data set into retailers by a seeded, order-independent rule.

    * item ``i`` belongs to ``retailers[floor(u(seed, "item", i) * n)]``;
    * user ``c`` shops at ``k`` retailers, ``k`` drawn from ``shop_counts`` (probabilities of
      1, 2, ... retailers) with ``u(seed, "count", c)``; they are the ``k`` retailers with the
      smallest ``u(seed, "shop:<r>", c)``;
    * an interaction is kept (with its item's retailer) when the user shops there.

    ``u`` is a SHA-256 based uniform number, so the rule does not depend on the input order.

    Raises:
        ValueError: on fewer than two retailers, duplicate retailers, ``shop_counts`` that are
            not probabilities for 1..len(retailers) retailers, or an interaction naming an item
            absent from ``items``.
    """
    names = tuple(retailers)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError("need at least two distinct retailers")
    probs = np.asarray(shop_counts, dtype=np.float64)
    if probs.size == 0 or probs.size > len(names) or (probs < 0).any():
        raise ValueError("shop_counts must hold 1..len(retailers) non-negative probabilities")
    if not np.isclose(probs.sum(), 1.0):
        raise ValueError(f"shop_counts must sum to 1, got {probs.sum()}")
    cumulative = np.cumsum(probs)
    item_retailer = {
        it.item_id: names[int(_unit(seed, "item", it.item_id) * len(names))] for it in items
    }
    customer_retailers: dict[str, tuple[str, ...]] = {}
    kept: list[Interaction] = []
    dropped: list[Interaction] = []
    for inter in interactions:
        retailer = item_retailer.get(inter.item_id)
        if retailer is None:
            raise ValueError(f"interaction names unknown item id {inter.item_id!r}")
        shops = customer_retailers.get(inter.user_id)
        if shops is None:
            k = int(np.searchsorted(cumulative, _unit(seed, "count", inter.user_id), "right")) + 1
            k = min(k, probs.size)
            order = sorted(names, key=lambda r: _unit(seed, f"shop:{r}", inter.user_id))
            shops = tuple(sorted(order[:k], key=names.index))
            customer_retailers[inter.user_id] = shops
        if retailer in shops:
            kept.append(replace(inter, retailer=retailer))
        else:
            dropped.append(inter)
    return RetailerAssignment(item_retailer, customer_retailers, tuple(kept), tuple(dropped))


def _unique(interactions: Iterable[Interaction]) -> tuple[Interaction, ...]:
    """One interaction per (user, item): the first, with the largest weight seen."""
    out: dict[tuple[str, str], Interaction] = {}
    for inter in interactions:
        key = (inter.user_id, inter.item_id)
        seen = out.get(key)
        if seen is None:
            out[key] = inter
        elif inter.weight > seen.weight:
            out[key] = replace(seen, weight=inter.weight)
    return tuple(out.values())


def _with_retailer_feature(items: Iterable[Item], item_retailer: Mapping[str, str]) -> list[Item]:
    out = []
    for it in items:
        feature = f"retailer:{item_retailer[it.item_id]}"
        features = it.features if feature in it.features else (feature, *it.features)
        out.append(Item(it.item_id, features))
    return out


def load_world(
    world_name: str,
    *,
    seed: int,
    quick: bool = False,
    world_config: WorldConfig | None = None,
) -> ConsortiumData:
    """The named world (see the module docstring) as :class:`ConsortiumData`.

    ``quick`` gives a small demo world (400 customers, 120 items per retailer) or, for
    MovieLens, its users with the smallest seeded hash (a third of them). ``world_config``
    replaces the demo world's config (its seed included); only for ``"demo"``.

    Raises:
        ValueError: for an unknown world name or a ``world_config`` given for MovieLens.
    """
    if world_name == "demo":
        if world_config is None:
            world_config = WorldConfig(seed=seed)
            if quick:
                world_config = replace(world_config, customers=400, items_per_retailer=120)
        world = generate_world(world_config)
        item_retailer = {it.item_id: it.retailer for it in world.items}
        return ConsortiumData(
            name="demo",
            retailers=world_config.retailer_ids,
            items=tuple(to_items(world)),
            item_retailer=item_retailer,
            interactions=_unique(to_interactions(world)),
        )
    if world_name == "movielens":
        if world_config is not None:
            raise ValueError("world_config applies to the demo world only")
        from recommender.movielens import load_movielens

        interactions, items = load_movielens(min_rating=4.0)
        if quick:
            interactions = [i for i in interactions if _unit(seed, "quick", i.user_id) < 1 / 3]
        assignment = assign_retailers(interactions, items, seed=seed)
        return ConsortiumData(
            name="movielens",
            retailers=MOVIELENS_RETAILERS,
            items=tuple(_with_retailer_feature(items, assignment.item_retailer)),
            item_retailer=assignment.item_retailer,
            interactions=_unique(assignment.kept),
        )
    raise ValueError(f"unknown world {world_name!r}; choose one of {WORLDS}")


# -- protocol --------------------------------------------------------------------------------


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


# -- models ----------------------------------------------------------------------------------


def context_id(customer: str, retailer: str) -> str:
    """The shared model's user id for ``customer`` shopping at ``retailer``."""
    return f"{customer}{_CONTEXT_SEP}{retailer}"


def _context_profiles(pairs: Iterable[tuple[str, str]]) -> list[UserProfile]:
    return [
        UserProfile(context_id(c, r), (f"customer:{c}", f"retailer:{r}")) for c, r in sorted(pairs)
    ]


def _fit_shared(
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


def _fit_plain(
    train: Sequence[Interaction], items: Sequence[Item], config: ModelConfig
) -> tuple[HybridModel, Dataset]:
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


# -- evaluation ------------------------------------------------------------------------------


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
    """All conditions for one retailer (or ``"all"``) and one case."""

    retailer: str
    case: Case
    n_users: int
    scores: Mapping[str, Score]

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

    def row(self, case: Case, retailer: str = "all") -> CaseResult:
        """The row of one case for one retailer (default: all retailers pooled).

        Raises ``KeyError`` if there is no such row (e.g. no customer to evaluate).
        """
        for row in self.rows:
            if row.case == case and row.retailer == retailer:
                return row
        raise KeyError((case, retailer))


class _FixedScores:
    """A :class:`~recommender.metrics.Scorer` over precomputed score rows."""

    def __init__(self, scores: np.ndarray) -> None:
        self._scores = scores

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        return self._scores[np.asarray(user_indices)]


def _matrix(
    rows: Sequence[str], col_index: Mapping[str, int], entries: Iterable[tuple[str, str]]
) -> sp.csr_matrix:
    """Binary ``(len(rows), len(col_index))`` matrix of (customer, item) entries; entries whose
    item is not a column (another retailer's) are left out."""
    row_index = {c: j for j, c in enumerate(rows)}
    r_list: list[int] = []
    c_list: list[int] = []
    for customer, item in entries:
        j, k = row_index.get(customer), col_index.get(item)
        if j is not None and k is not None:
            r_list.append(j)
            c_list.append(k)
    data = np.ones(len(r_list), dtype=np.float32)
    out = sp.csr_matrix((data, (r_list, c_list)), shape=(len(rows), len(col_index)))
    out.sum_duplicates()
    out.data[:] = 1.0
    return out


def _history_matrix(
    rows: Sequence[str], col_index: Mapping[str, int], history: Mapping[str, set[str]]
) -> sp.csr_matrix:
    return _matrix(rows, col_index, ((c, item) for c in rows for item in history.get(c, ())))


def _score(scores: np.ndarray, test: sp.csr_matrix, exclude: sp.csr_matrix) -> Score:
    report = evaluate(_FixedScores(scores), test, exclude, k=K)
    return Score(report.n_users, report.precision, report.recall, report.ndcg)


def _pooled(rows: Sequence[CaseResult], case: Case, retailer: str = "all") -> CaseResult:
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
    return CaseResult(retailer, case, total, scores)


@dataclass(frozen=True)
class _Served:
    """A fitted model as seen by one retailer: its rows are looked up by ``user_of`` and only
    the retailer's catalogue columns ``cols`` are ranked; rows it cannot serve get
    ``fallback`` (the retailer's popularity)."""

    model: HybridModel
    dataset: Dataset
    cols: np.ndarray
    fallback: np.ndarray

    @classmethod
    def of(
        cls, model: HybridModel, ds: Dataset, catalogue: Sequence[Item], fallback: np.ndarray
    ) -> _Served:
        cols = np.asarray([ds.item_index[it.item_id] for it in catalogue], dtype=np.int64)
        return cls(model, ds, cols, fallback)

    def scores(self, user_ids: Sequence[str]) -> np.ndarray:
        out = np.tile(self.fallback.astype(np.float64), (len(user_ids), 1))
        found = [(j, self.dataset.user_index.get(u)) for j, u in enumerate(user_ids)]
        known = [(j, u) for j, u in found if u is not None]
        if known:
            rows, users = zip(*known, strict=True)
            scored = self.model.score_users(np.asarray(users, dtype=np.int64))
            out[np.asarray(rows)] = scored[:, self.cols]
        return out


def run_experiment(
    world_name: str,
    *,
    seed: int,
    consent_share: float = 0.6,
    quick: bool = False,
    world_config: WorldConfig | None = None,
    model_config: ModelConfig | None = None,
    cold_share: float = 0.3,
    test_fraction: float = 0.2,
) -> ExperimentResult:
    """Train every condition on one world and evaluate it per retailer (module docstring).

    ``seed`` fixes the world (demo), the retailer split (MovieLens), the train/test split, the
    consenting customers and the models' initialisation. ``world_config`` and ``model_config``
    override the defaults (:func:`load_world`, :func:`default_model_config`).

    Takes about 22 s for MovieLens and 14 s for the demo world on one core (``quick``: 6 s
    and 3 s): eight LightFM fits per world (shared, no-context, and per retailer a silo and a
    partly-consented shared model).

    Raises:
        ValueError: for an unknown world, a share outside [0, 1], or a world in which no
            customer can be evaluated.
    """
    started = time.perf_counter()
    data = load_world(world_name, seed=seed, quick=quick, world_config=world_config)
    config = model_config or default_model_config(world_name, seed=seed, quick=quick)
    split = split_consortium(
        data.interactions, seed=seed, test_fraction=test_fraction, cold_share=cold_share
    )
    customers = sorted({i.user_id for i in data.interactions})
    consenting = choose_consenting(customers, consent_share, seed=seed)
    items = list(data.items)

    # Contexts every shared model must be able to score: the cold pairs.
    shared, shared_ds = _fit_shared(split.train, items, split.cold_pairs, config)
    plain, plain_ds = _fit_plain(split.train, items, config)

    per_case: dict[Case, list[CaseResult]] = {case: [] for case in CASES}
    known_at: dict[tuple[str, str], int] = defaultdict(int)
    for inter in split.train:
        known_at[(inter.user_id, str(inter.retailer))] += 1
    thin_test = tuple(
        i for i in split.warm_test if known_at[(i.user_id, str(i.retailer))] <= THIN_MAX
    )
    for retailer in data.retailers:
        catalogue = data.catalogue(retailer)
        col_index = {it.item_id: j for j, it in enumerate(catalogue)}

        silo, silo_ds = _fit_plain(
            [i for i in split.train if i.retailer == retailer], catalogue, config
        )
        popularity = PopularityModel().fit(silo_ds.interactions).score_users(np.asarray([0]))[0]
        # The model serving this retailer when only some customers consent: theirs everywhere,
        # everyone's here.
        visible = [i for i in split.train if i.retailer == retailer or i.user_id in consenting]
        visible_cold = {(c, r) for c, r in split.cold_pairs if c in consenting}
        partial, partial_ds = _fit_shared(visible, items, visible_cold, config)

        as_context = {
            "silo": (_Served.of(silo, silo_ds, catalogue, popularity), False),
            "shared": (_Served.of(shared, shared_ds, catalogue, popularity), True),
            "shared_consent": (_Served.of(partial, partial_ds, catalogue, popularity), True),
            "shared_no_context": (_Served.of(plain, plain_ds, catalogue, popularity), False),
        }
        history = {
            "silo": visible_history(split.train, retailer, frozenset()),
            "shared": visible_history(split.train, retailer, None),
            "shared_consent": visible_history(split.train, retailer, consenting),
            "shared_no_context": visible_history(split.train, retailer, None),
        }
        cases: tuple[tuple[Case, tuple[Interaction, ...]], ...] = (
            ("warm", split.warm_test),
            ("thin", thin_test),
            ("cold", split.cold_test),
        )
        for case, test in cases:
            at_r = [i for i in test if i.retailer == retailer]
            eval_customers = sorted({i.user_id for i in at_r})
            if not eval_customers:
                continue
            test_m = _matrix(eval_customers, col_index, ((i.user_id, i.item_id) for i in at_r))
            contexts = [context_id(c, retailer) for c in eval_customers]
            scores = {}
            for condition, (server, by_context) in as_context.items():
                ids = contexts if by_context else eval_customers
                exclude = _history_matrix(eval_customers, col_index, history[condition])
                scores[condition] = _score(server.scores(ids), test_m, exclude)
            per_case[case].append(CaseResult(retailer, case, len(eval_customers), scores))
    rows: list[CaseResult] = []
    for case in CASES:
        rows.extend(per_case[case])
        if per_case[case]:
            rows.append(_pooled(per_case[case], case))
    if not rows:
        raise ValueError("no customer could be evaluated in this world")
    return ExperimentResult(
        world_name=data.name,
        seed=seed,
        consent_share=consent_share,
        quick=quick,
        n_customers=len(customers),
        n_items=len(items),
        n_interactions=len(data.interactions),
        n_cold_pairs=len(split.cold_pairs),
        model_config=config,
        rows=tuple(rows),
        seconds=time.perf_counter() - started,
    )


def pool_runs(results: Sequence[ExperimentResult]) -> tuple[CaseResult, ...]:
    """Rows of several runs of one world (e.g. one per seed) merged: each (case, retailer) row
    holds the user-weighted mean of each metric over the runs, in the order of the first run.

    Raises ``ValueError`` on no results or results of different worlds.
    """
    if not results:
        raise ValueError("no results to pool")
    if len({r.world_name for r in results}) != 1:
        raise ValueError("results of different worlds cannot be pooled")
    keys = [(row.case, row.retailer) for row in results[0].rows]
    pooled = []
    for case, retailer in keys:
        rows = [
            row for r in results for row in r.rows if (row.case, row.retailer) == (case, retailer)
        ]
        pooled.append(_pooled(rows, case, retailer))
    return tuple(pooled)


def lift_sd(
    results: Sequence[ExperimentResult],
    case: Case,
    condition: str,
    *,
    retailer: str = "all",
    metric: Metric = "precision",
) -> float:
    """Sample standard deviation of one lift over runs (``nan`` for fewer than two runs)."""
    lifts = [r.row(case, retailer).lift(condition, metric) for r in results]
    return float(np.std(lifts, ddof=1)) if len(lifts) > 1 else float("nan")
