"""The offline comparison: the served model and the HybridModel against popularity and
implicit-ALS baselines.

For each split (random per user, temporal per user):

1. split the interactions into train and test;
2. carve a validation set out of train the same way, fit every grid candidate on the rest and
   keep the one with the best precision@k on validation (the test set is never seen here); the
   served model (:data:`SERVED`, :mod:`recommender.blend`) takes the hybrid's chosen candidate
   and tunes its sequence part's window, recency and weight the same way;
3. refit the chosen candidate on all of train (timed) and measure precision, recall and
   nDCG at k, AUC, catalogue coverage at k, precision at k = 1..20 and the median latency to
   score and rank one user.

Example::

    >>> interactions, items = load_movielens()                        # doctest: +SKIP
    >>> result = run_comparison(interactions, items, grids=default_grids())   # doctest: +SKIP
    >>> [(r.model, r.split, round(r.precision, 3)) for r in result.rows]      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from benchmarks.baselines import ALSModel, PopularityModel
from benchmarks.recommender.splits import Split, random_split, temporal_split, validation_split
from recommender.blend import BlendedModel
from recommender.config import ModelConfig
from recommender.dataset import Dataset, Interaction, Item, build_dataset
from recommender.metrics import Scorer, evaluate, precision_at_k, precision_at_ks
from recommender.model import HybridModel, rank_items
from recommender.sequence import SequenceNeighbours, user_sequences

logger = logging.getLogger(__name__)

SPLITS = ("random", "temporal")
#: The served model first: the hybrid blended with time-local neighbours (:mod:`.blend`).
SERVED = "LightFM+sequence"
MODELS = (SERVED, "LightFM hybrid", "Popularity", "ALS")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One point of a tuning grid: a label and how to fit it on a dataset."""

    label: str
    fit: Callable[[Dataset], Scorer]


@dataclass(frozen=True, slots=True)
class ALSParams:
    """One point of the ALS grid (see :class:`~benchmarks.baselines.ALSModel`)."""

    factors: int = 64
    regularization: float = 0.01
    iterations: int = 15
    alpha: float = 1.0
    seed: int = 42

    @property
    def label(self) -> str:
        return f"factors={self.factors} reg={self.regularization:g} alpha={self.alpha:g}"

    def fit(self, dataset: Dataset) -> ALSModel:
        return ALSModel(
            self.factors, self.regularization, self.iterations, self.alpha, self.seed
        ).fit(dataset.interactions)


@dataclass(frozen=True, slots=True)
class BlendParams:
    """One point of the served model's grid (:class:`~recommender.blend.BlendedModel` over
    :class:`~recommender.sequence.SequenceNeighbours`); ``weight`` 0 is the hybrid alone."""

    window: float = 20.0
    recency: float = 10.0
    weight: float = 1.0

    @property
    def label(self) -> str:
        return f"window={self.window:g} recency={self.recency:g} weight={self.weight:g}"


@dataclass(frozen=True)
class Grids:
    """Tuning grids per model name (each non-empty; a single point means no tuning). The
    served model takes the hybrid's chosen configuration and tunes only ``blend``."""

    lightfm: tuple[ModelConfig, ...]
    als: tuple[ALSParams, ...]
    blend: tuple[BlendParams, ...] = (BlendParams(),)

    def __post_init__(self) -> None:
        if not self.lightfm or not self.als or not self.blend:
            raise ValueError("every grid needs at least one point")

    def candidates(self) -> dict[str, tuple[Candidate, ...]]:
        """The baselines' candidates (the served model is tuned on top of the hybrid's)."""

        def lightfm(config: ModelConfig) -> Candidate:
            return Candidate(
                f"components={config.no_components} epochs={config.epochs}",
                lambda ds: HybridModel(config).fit(ds),
            )

        return {
            MODELS[1]: tuple(lightfm(c) for c in self.lightfm),
            MODELS[2]: (Candidate("-", lambda ds: PopularityModel().fit(ds.interactions)),),
            MODELS[3]: tuple(Candidate(p.label, p.fit) for p in self.als),
        }


def default_grids(*, quick: bool = False, seed: int = 42) -> Grids:
    """The bench grids: LightFM components {32, 64} x epochs {20, 40, 80}; ALS factors
    {16, 32, 64} x regularization {0.01, 0.1}; the blend's window {10, 20, 50} x recency
    {5, 10} x weight {0, 0.5, 0.7, 1, 1.3} (30 points, cheap: the hybrid is fitted once).
    ``quick`` keeps one small point of each (a smoke run, not a comparison)."""
    if quick:
        return Grids(
            lightfm=(ModelConfig(no_components=16, epochs=5, seed=seed),),
            als=(ALSParams(factors=16, iterations=5, seed=seed),),
        )
    return Grids(
        lightfm=tuple(
            ModelConfig(no_components=n, epochs=e, seed=seed)
            for n in (32, 64)
            for e in (20, 40, 80)
        ),
        als=tuple(
            ALSParams(factors=f, regularization=r, seed=seed)
            for f in (16, 32, 64)
            for r in (0.01, 0.1)
        ),
        blend=tuple(
            BlendParams(window=w, recency=r, weight=x)
            for w in (10.0, 20.0, 50.0)
            for r in (5.0, 10.0)
            for x in (0.0, 0.5, 0.7, 1.0, 1.3)
        ),
    )


@dataclass(frozen=True, slots=True)
class TuningRow:
    """Validation precision@k of one grid point."""

    model: str
    split: str
    params: str
    validation_precision: float


@dataclass(frozen=True, slots=True)
class ResultRow:
    """Test metrics of the tuned model on one split (means over evaluated users)."""

    model: str
    split: str
    params: str
    k: int
    n_test_users: int
    precision: float
    recall: float
    ndcg: float
    auc: float
    coverage: float
    train_seconds: float
    ms_per_user: float


@dataclass(frozen=True)
class ComparisonResult:
    rows: tuple[ResultRow, ...]
    tuning: tuple[TuningRow, ...]
    #: (model, split) -> {k: precision@k on test}
    precision_curves: Mapping[tuple[str, str], Mapping[int, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )


def scoring_latency_ms(model: Scorer, dataset: Dataset, users: np.ndarray, *, k: int = 10) -> float:
    """Median wall time (ms) to score every item for one user and rank her top ``k``,
    excluding her training items, over ``users``.

    BLAS is held to one thread while timing, as in a serving worker that handles one request
    per core: for a single user's scores (one small matrix product) a multi-threaded OpenBLAS
    only adds thread wake-ups, which on a loaded two-core machine cost milliseconds.
    """
    if users.size == 0:
        raise ValueError("no users to time")
    train = dataset.interactions
    timings = []
    with threadpool_limits(1, "blas"):
        for user in users:
            start = time.perf_counter()
            scores = model.score_users(np.asarray([user]))[0]
            known = train.indices[train.indptr[user] : train.indptr[user + 1]]
            rank_items(scores, k, exclude=known)
            timings.append(time.perf_counter() - start)
    return float(np.median(timings) * 1000.0)


def _split(name: str, interactions: Sequence[Interaction], fraction: float, seed: int) -> Split:
    if name == "random":
        return random_split(interactions, fraction, seed=seed)
    if name == "temporal":
        return temporal_split(interactions, fraction)
    raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")


@dataclass(frozen=True)
class _Validation:
    """Train minus a validation slice carved the way the test set was, for tuning."""

    fit_part: list[Interaction]
    dataset: Dataset
    held_out: sp.csr_matrix


def _validation(
    split_name: str, train: Sequence[Interaction], items: Sequence[Item], fraction: float, seed: int
) -> _Validation:
    fit_part, validation = validation_split(
        train, fraction, seed=seed + 1, temporal=split_name == "temporal"
    )
    dataset = build_dataset(fit_part, items)
    return _Validation(fit_part, dataset, dataset.matrix_for(validation))


def _best(rows: Sequence[TuningRow]) -> int:
    """Index of the best validation precision (the earlier point on a tie)."""
    return max(range(len(rows)), key=lambda i: (rows[i].validation_precision, -i))


def _tune(
    model_name: str,
    split_name: str,
    candidates: Sequence[Candidate],
    validation: _Validation,
    *,
    k: int,
) -> tuple[Candidate, list[TuningRow], Scorer | None]:
    """The best candidate, every point's validation row and the best one's fit on the fitting
    part (``None`` when a single candidate made tuning unnecessary)."""
    if len(candidates) == 1:
        return candidates[0], [], None
    rows = []
    fitted = []
    for cand in candidates:
        scorer = cand.fit(validation.dataset)
        value = precision_at_k(scorer, validation.held_out, validation.dataset.interactions, k)
        logger.info(
            "tune %s/%s %s: validation P@%d=%.4f", model_name, split_name, cand.label, k, value
        )
        rows.append(TuningRow(model_name, split_name, cand.label, value))
        fitted.append(scorer)
    best = _best(rows)
    return candidates[best], rows, fitted[best]


def _blended(
    hybrid: HybridModel, train: Sequence[Interaction], dataset: Dataset, params: BlendParams
) -> BlendedModel:
    sequences = user_sequences(train, dataset.user_index, dataset.item_index)
    neighbours = SequenceNeighbours(params.window, params.recency).fit(sequences, dataset.n_items)
    return BlendedModel(hybrid, neighbours, sequences, params.weight)


def _tune_blend(
    split_name: str,
    grid: Sequence[BlendParams],
    hybrid: HybridModel,
    validation: _Validation,
    *,
    k: int,
) -> tuple[BlendParams, list[TuningRow]]:
    """The blend point with the best validation precision, ``hybrid`` being the chosen hybrid
    fitted on the fitting part (so only the cheap sequence part is refitted per point)."""
    if len(grid) == 1:
        return grid[0], []
    ds = validation.dataset
    sequences = user_sequences(validation.fit_part, ds.user_index, ds.item_index)
    neighbours: dict[tuple[float, float], SequenceNeighbours] = {}
    rows = []
    for params in grid:
        key = (params.window, params.recency)
        if key not in neighbours:
            neighbours[key] = SequenceNeighbours(*key).fit(sequences, ds.n_items)
        model = BlendedModel(hybrid, neighbours[key], sequences, params.weight)
        value = precision_at_k(model, validation.held_out, ds.interactions, k)
        logger.info(
            "tune %s/%s %s: validation P@%d=%.4f", SERVED, split_name, params.label, k, value
        )
        rows.append(TuningRow(SERVED, split_name, params.label, value))
    return grid[_best(rows)], rows


def run_comparison(
    interactions: Sequence[Interaction],
    items: Sequence[Item],
    *,
    grids: Grids,
    splits: Sequence[str] = SPLITS,
    test_fraction: float = 0.2,
    seed: int = 42,
    k: int = 10,
    curve_ks: Sequence[int] = tuple(range(1, 21)),
    latency_users: int = 200,
) -> ComparisonResult:
    """Tune, fit and measure every model on every split; rows ordered split-major, models in
    the order of :data:`MODELS`. Interactions need timestamps (the temporal split and the
    served model's sequences use them).

    ``seed`` drives the random split (validation uses ``seed + 1``); grids carry the models'
    own seeds. Raises ``ValueError`` on an unknown split name or bad metric arguments.
    """
    candidates = grids.candidates()
    rows: list[ResultRow] = []
    tuning: list[TuningRow] = []
    curves: dict[tuple[str, str], Mapping[int, float]] = {}
    for split_name in splits:
        train, test = _split(split_name, interactions, test_fraction, seed)
        dataset = build_dataset(train, items)
        test_matrix = dataset.matrix_for(test)
        test_users = np.flatnonzero(np.diff(test_matrix.indptr) > 0)
        timed_users = np.random.default_rng(seed).permutation(test_users)[:latency_users]
        validation = _validation(split_name, train, items, test_fraction, seed)
        fitted: dict[str, tuple[str, Scorer, float]] = {}
        hybrid_on_fit_part: Scorer | None = None
        for model_name, cands in candidates.items():
            chosen, tuned, best_fit = _tune(model_name, split_name, cands, validation, k=k)
            tuning.extend(tuned)
            start = time.perf_counter()
            model = chosen.fit(dataset)
            fitted[model_name] = (chosen.label, model, time.perf_counter() - start)
            if model_name == MODELS[1]:
                hybrid_on_fit_part = best_fit or chosen.fit(validation.dataset)
        hybrid_label, hybrid, hybrid_seconds = fitted[MODELS[1]]
        assert isinstance(hybrid, HybridModel) and isinstance(hybrid_on_fit_part, HybridModel)
        params, tuned = _tune_blend(split_name, grids.blend, hybrid_on_fit_part, validation, k=k)
        tuning.extend(tuned)
        start = time.perf_counter()
        served = _blended(hybrid, train, dataset, params)
        served_seconds = hybrid_seconds + time.perf_counter() - start
        fitted = {SERVED: (f"{hybrid_label} {params.label}", served, served_seconds), **fitted}
        for model_name, (label, model, train_seconds) in fitted.items():
            report = evaluate(model, test_matrix, dataset.interactions, k)
            curves[(model_name, split_name)] = MappingProxyType(
                precision_at_ks(model, test_matrix, dataset.interactions, curve_ks)
            )
            row = ResultRow(
                model=model_name,
                split=split_name,
                params=label,
                k=k,
                n_test_users=report.n_users,
                precision=report.precision,
                recall=report.recall,
                ndcg=report.ndcg,
                auc=report.auc,
                coverage=report.coverage,
                train_seconds=train_seconds,
                ms_per_user=scoring_latency_ms(model, dataset, timed_users, k=k),
            )
            logger.info("%s", row)
            rows.append(row)
    return ComparisonResult(tuple(rows), tuple(tuning), MappingProxyType(curves))
