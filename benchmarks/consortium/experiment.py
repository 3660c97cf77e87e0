"""The consortium experiment: train every condition on one world and score it per retailer.

For each retailer of a world it measures precision@10, recall@10 and nDCG@10 on held-out
interactions at that retailer's catalogue, per case (:mod:`.protocol`), under each condition
(:mod:`.conditions`), for every customer and for the consenting and non-consenting apart. The
served condition's blend weights are chosen on a validation split carved from training by the
same protocol (another seed), by the rule :data:`~.choice.SERVED_RULE` (per retailer and case;
a retailer knows at request time whether a customer is new to it or thin); ``extra_rules``
scores other rules of :mod:`.choice` beside it as conditions ``served:<rule name>`` on the same
models. The test set is scored once per rule.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from benchmarks.consortium.choice import (
    ALL_WEIGHTS,
    SERVED_RULE,
    ChoiceRule,
    Weights,
    best_weights,
    per_user_metrics,
)
from benchmarks.consortium.conditions import (
    RetailerModels,
    Served,
    context_id,
    default_model_config,
    fit_plain,
    fit_retailer_models,
    fit_shared,
    served_scores,
)
from benchmarks.consortium.protocol import (
    CASES,
    SEGMENTS,
    THIN_MAX,
    Case,
    ConsortiumSplit,
    Segment,
    choose_consenting,
    split_consortium,
    visible_history,
)
from benchmarks.consortium.results import CaseResult, ExperimentResult, K, Score, pooled
from benchmarks.consortium.worlds import load_world
from recommender.config import ModelConfig
from recommender.dataset import Interaction
from recommender.datasets.demo_world import WorldConfig
from recommender.metrics import evaluate

#: Offset of the validation split's seed from the test split's (any fixed other seed).
VALIDATION_SEED_OFFSET = 1000


@dataclass(frozen=True)
class _Evaluated:
    """One retailer's test customers of one case: held-out items, each condition's scores and
    exclusions, and the served blend's standardised parts."""

    customers: list[str]
    test: sp.csr_matrix
    ranked: Mapping[str, tuple[np.ndarray, sp.csr_matrix]]
    parts: tuple[np.ndarray, ...]


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


def _in_segment(
    customers: Sequence[str], consenting: frozenset[str], segment: Segment
) -> np.ndarray:
    """Row indices of ``customers`` in ``segment``."""
    keep = [
        j
        for j, c in enumerate(customers)
        if segment == "any" or (c in consenting) == (segment == "yes")
    ]
    return np.asarray(keep, dtype=np.int64)


def _cases(split: ConsortiumSplit) -> dict[Case, tuple[Interaction, ...]]:
    """The held-out interactions of each case (thin: warm pairs with little training data)."""
    known_at: dict[tuple[str, str], int] = defaultdict(int)
    for inter in split.train:
        known_at[(inter.user_id, str(inter.retailer))] += 1
    thin = tuple(i for i in split.warm_test if known_at[(i.user_id, str(i.retailer))] <= THIN_MAX)
    return {"warm": split.warm_test, "thin": thin, "cold": split.cold_test}


def _at(
    test: Iterable[Interaction], retailer: str, col_index: Mapping[str, int]
) -> tuple[list[str], sp.csr_matrix]:
    """The customers evaluated at ``retailer`` and their held-out items there."""
    at_r = [i for i in test if i.retailer == retailer]
    customers = sorted({i.user_id for i in at_r})
    return customers, _matrix(customers, col_index, ((i.user_id, i.item_id) for i in at_r))


@dataclass(frozen=True)
class _Validation:
    """Per-customer validation precision and recall of every weight point for one retailer and
    case: ``(n_customers, len(ALL_WEIGHTS))`` each (points the case never takes are 0), and
    which of those customers consent."""

    consenting: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    def rows(self, segment: Segment) -> np.ndarray:
        """Row mask of the customers in ``segment``."""
        if segment == "any":
            return np.ones(self.consenting.size, dtype=bool)
        return self.consenting == (segment == "yes")


def _validation(
    models: RetailerModels,
    validation: Iterable[Interaction],
    col_index: Mapping[str, int],
    history: Mapping[str, set[str]],
    consenting: frozenset[str],
    n_points: int,
) -> _Validation:
    """Every weight point among the first ``n_points`` of :data:`ALL_WEIGHTS`, scored on the
    validation customers of one retailer and case."""
    width = len(ALL_WEIGHTS)
    customers, held_out = _at(validation, models.retailer, col_index)
    evaluated = [c for j, c in enumerate(customers) if held_out.indptr[j + 1] > held_out.indptr[j]]
    precision, recall = np.zeros((len(evaluated), width)), np.zeros((len(evaluated), width))
    if evaluated:
        parts = models.part_scores(customers)
        exclude = _history_matrix(customers, col_index, history)
        for j, weights in enumerate(ALL_WEIGHTS[:n_points]):
            scores = served_scores(parts, weights)
            precision[:, j], recall[:, j] = per_user_metrics(scores, held_out, exclude, K)
    in_consent = np.asarray([c in consenting for c in evaluated], dtype=bool)
    return _Validation(in_consent, precision, recall)


def _chosen(
    rule: ChoiceRule,
    retailer: str,
    case: Case,
    segment: Segment,
    validations: Mapping[tuple[str, Case], _Validation],
) -> Weights:
    """The weights ``rule`` chooses for ``retailer``'s customers of ``case`` and ``segment``."""
    pool = rule.pool(case, segment)
    tables = [
        v
        for (r, c), v in sorted(validations.items())
        if c == pool.case and (pool.across_retailers or r == retailer)
    ]
    allowed = rule.allowed(case)
    if not tables:
        return ALL_WEIGHTS[0]
    precision = np.concatenate([v.precision[v.rows(pool.segment)] for v in tables])
    recall = np.concatenate([v.recall[v.rows(pool.segment)] for v in tables])
    return ALL_WEIGHTS[best_weights(precision, recall, allowed)]


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
    extra_rules: Sequence[ChoiceRule] = (),
) -> ExperimentResult:
    """Train every condition on one world and evaluate it per retailer (module docstring).

    ``seed`` fixes the world (demo), the retailer split (MovieLens), the train/test split, the
    consenting customers and the models' initialisation; the validation split uses
    ``seed + VALIDATION_SEED_OFFSET``. ``world_config`` and ``model_config`` override the
    defaults (:func:`~.worlds.load_world`, :func:`~.conditions.default_model_config`).
    ``extra_rules``: choice rules scored beside the served one (module docstring).

    Takes about 45 s for MovieLens and 30 s for the demo world on one core: fourteen LightFM
    fits per world (shared, no-context, and per retailer a silo and a partly-consented shared
    model, on train and again on its fitting part for validation).

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
    validation = split_consortium(
        split.train,
        seed=seed + VALIDATION_SEED_OFFSET,
        test_fraction=test_fraction,
        cold_share=cold_share,
    )
    customers = sorted({i.user_id for i in data.interactions})
    consenting = choose_consenting(customers, consent_share, seed=seed)
    items = list(data.items)

    # Contexts every shared model must be able to score: the cold pairs.
    shared, shared_ds = fit_shared(split.train, items, split.cold_pairs, config)
    plain, plain_ds = fit_plain(split.train, items, config)
    test_cases, validation_cases = _cases(split), _cases(validation)

    rules = (SERVED_RULE, *(r for r in extra_rules if r != SERVED_RULE))
    n_points = {
        case: max(int(np.flatnonzero(r.allowed(case)).max()) + 1 for r in rules) for case in CASES
    }
    validations: dict[tuple[str, Case], _Validation] = {}
    # (retailer, case) -> evaluated customers, test matrix, every condition's scores and
    # exclusions, and the served blend's standardised parts.
    evaluated: dict[tuple[str, Case], _Evaluated] = {}
    for retailer in data.retailers:
        catalogue = data.catalogue(retailer)
        col_index = {it.item_id: j for j, it in enumerate(catalogue)}

        def models_on(part: ConsortiumSplit, retailer: str = retailer) -> RetailerModels:
            return fit_retailer_models(
                part.train,
                items,
                data.catalogue(retailer),
                retailer,
                consenting=consenting,
                cold_pairs=part.cold_pairs,
                config=config,
            )

        models, tuned_on = models_on(split), models_on(validation)
        popularity = models.silo.fallback
        as_context = {
            "silo": (models.silo, False),
            "shared": (Served.of(shared, shared_ds, catalogue, popularity), True),
            "shared_consent": (models.partial, True),
            "shared_no_context": (Served.of(plain, plain_ds, catalogue, popularity), False),
        }
        history = {
            "silo": visible_history(split.train, retailer, frozenset()),
            "shared": visible_history(split.train, retailer, None),
            "shared_consent": visible_history(split.train, retailer, consenting),
            "shared_no_context": visible_history(split.train, retailer, None),
        }
        validation_history = visible_history(validation.train, retailer, consenting)
        for case in CASES:
            validations[(retailer, case)] = _validation(
                tuned_on,
                validation_cases[case],
                col_index,
                validation_history,
                consenting,
                n_points[case],
            )
            eval_customers, test_m = _at(test_cases[case], retailer, col_index)
            if not eval_customers:
                continue
            contexts = [context_id(c, retailer) for c in eval_customers]
            ranked: dict[str, tuple[np.ndarray, sp.csr_matrix]] = {}
            for condition, (server, by_context) in as_context.items():
                ids = contexts if by_context else eval_customers
                exclude = _history_matrix(eval_customers, col_index, history[condition])
                ranked[condition] = (server.scores(ids), exclude)
            evaluated[(retailer, case)] = _Evaluated(
                eval_customers, test_m, ranked, models.part_scores(eval_customers)
            )

    # The served blend: each rule's weights chosen on validation for each consent segment (a
    # rule may pool both); the test set is scored once per rule.
    per_case: dict[tuple[Case, Segment], list[CaseResult]] = {
        (case, segment): [] for case in CASES for segment in SEGMENTS
    }
    choices: dict[tuple[str, Case, Segment], Weights] = {}
    for (retailer, case), ev in evaluated.items():
        ranked = dict(ev.ranked)
        exclude = ranked["shared_consent"][1]
        for rule in rules:
            served = np.zeros(ranked["silo"][0].shape)
            for segment in ("yes", "no"):
                rows_in = _in_segment(ev.customers, consenting, segment)
                weights = _chosen(rule, retailer, case, segment, validations)
                if rule == SERVED_RULE:
                    choices[(retailer, case, segment)] = weights
                served[rows_in] = served_scores(tuple(p[rows_in] for p in ev.parts), weights)
            name = "served" if rule == SERVED_RULE else f"served:{rule.name}"
            ranked[name] = (served, exclude)
        for segment in SEGMENTS:
            rows_in = _in_segment(ev.customers, consenting, segment)
            if rows_in.size == 0:
                continue
            scores = {
                condition: _score(m[rows_in], ev.test[rows_in], ex[rows_in])
                for condition, (m, ex) in ranked.items()
            }
            per_case[(case, segment)].append(
                CaseResult(retailer, case, int(rows_in.size), scores, segment)
            )
    rows: list[CaseResult] = []
    for case in CASES:
        rows.extend(per_case[(case, "any")])
        for segment in SEGMENTS:
            if per_case[(case, segment)]:
                rows.append(pooled(per_case[(case, segment)], case, "all", segment))
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
        served_weights=choices,
    )
