"""A retailer's training job: consented events in, a verified artifact and its provenance out.

The gateway reads, for purpose ``personalisation``, every preference event its organisation may
read (its own, and other members' under an active consent), and calls
:func:`train_retailer_model` with them, its catalogue (with the features of the other members'
items it knows) and the stated preferences it may read. The job

1. cuts the data into slices (:mod:`recommender.slices`) and builds the dataset;
2. if ``evaluation_fraction`` > 0, holds out that share of the serving retailer's own items per
   customer (customers with at least two items there), trains on the rest and measures
   precision@10, recall@10, nDCG@10 and AUC of suggestions built exactly as the service builds
   them (same features, the retailer's catalogue only, her other items excluded), and the
   precision@10 of the retailer's popularity ranking under the same protocol;
3. trains the model on everything, and its sequence part (:mod:`recommender.sequence`: item
   neighbours from the order of every readable customer's events, blended with weight
   ``sequence_weight``, :mod:`recommender.blend`), and saves both with
   :func:`recommender.artifacts.save_model`;
4. returns the provenance record (``chaincode.provenance.ModelProvenance`` as a dict) for the
   gateway to write to the ledger under ``model~<model_id>``.

Example::

    record = train_retailer_model(
        "alder", events, catalogue, stated, output_dir="artifacts/models/next",
        block_height=1234, consent_set_hash=hash_consent_set(consents),
    )
    record["model_id"], record["metrics"]["precision@10"]
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp

from chaincode.fields import format_timestamp
from recommender.artifacts import model_id_for, save_model
from recommender.blend import SequencePart
from recommender.catalogue import Catalogue
from recommender.config import ModelConfig
from recommender.dataset import Dataset, Interaction, Item, UserProfile, build_dataset
from recommender.metrics import evaluate
from recommender.model import HybridModel
from recommender.sequence import SequenceNeighbours, ordered_items
from recommender.slices import (
    PURPOSE,
    EventRecord,
    Slice,
    StatedPreferences,
    check_name,
    context_feature,
    event_record,
    profile_row,
    request_features,
    stated_feature,
)

#: Names the user model an artifact was trained with; serving refuses any other.
USER_MODEL = "prefshare-slices/1"
#: The consortium experiment's setting (``benchmarks.consortium.default_model_config``):
#: slices are represented by features alone, which needs more epochs than identity-featured
#: users; one thread keeps training deterministic for a seed.
DEFAULT_CONFIG = ModelConfig(
    no_components=32, loss="warp", learning_rate=0.1, max_sampled=30, epochs=50, seed=42
)
#: The served blend's weight of the sequence part: what the MovieLens bench chose on validation
#: for every seed and split (docs/recommender.md); window and recency are the defaults of
#: :class:`~recommender.sequence.SequenceNeighbours`, also the bench's most frequent choice.
SEQUENCE_WEIGHT = 0.5
K = 10
_MSP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class TrainingInput:
    """Events (positives only, each read once) and stated preferences, validated."""

    events: tuple[EventRecord, ...]
    stated: tuple[StatedPreferences, ...]
    record_count: int


def read_training_input(
    events: Iterable[object], stated_preferences: Iterable[StatedPreferences] = ()
) -> TrainingInput:
    """Validate the records; ``record_count`` counts every record read (events, including
    negative ones such as dislikes, and stated-preference records).

    Raises ``ValueError`` on a malformed record (see :func:`recommender.slices.event_record`).
    """
    records = [event_record(e) for e in events]
    stated = tuple(stated_preferences)
    for s in stated:
        if not isinstance(s, StatedPreferences):
            raise ValueError(f"stated preferences must be StatedPreferences, got {s!r}")
    positives = tuple(r for r in records if r.positive_weight is not None)
    return TrainingInput(positives, stated, len(records) + len(stated))


def build_training_dataset(
    data: TrainingInput,
    catalogue: Catalogue,
    *,
    leave_out: frozenset[tuple[str, str]] = frozenset(),
    leave_out_retailer: str | None = None,
) -> Dataset:
    """The slice dataset (see :mod:`recommender.slices`) of ``data``.

    Items are the catalogue's, plus any item an event names that the catalogue lacks, with the
    features the event carries (``retailer:<r>`` and, when given, ``category:<item_category>``).
    ``leave_out`` drops every event of the ``(customer_id, item_id)`` pairs it holds at
    ``leave_out_retailer`` (the evaluation's held-out items).

    Raises ``ValueError`` when no positive event remains.
    """
    slice_items: dict[Slice, dict[str, float]] = defaultdict(dict)
    customer_items: dict[str, dict[str, float]] = defaultdict(dict)
    foreign: dict[str, tuple[str, str | None]] = {}
    for ev in data.events:
        weight = ev.positive_weight
        assert weight is not None
        if ev.item_id not in catalogue:
            retailer, category = foreign.get(ev.item_id, (ev.retailer, None))
            foreign[ev.item_id] = (retailer, category or ev.item_category)
        if ev.retailer == leave_out_retailer and (ev.customer_id, ev.item_id) in leave_out:
            continue
        sl = Slice(ev.customer_id, ev.retailer, ev.category)
        for bucket in (slice_items[sl], customer_items[ev.customer_id]):
            bucket[ev.item_id] = max(weight, bucket.get(ev.item_id, 0.0))
    if not slice_items:
        raise ValueError("no positive preference event to train on")

    items = catalogue.items()
    for item_id, (retailer, category) in sorted(foreign.items()):
        features = [f"retailer:{retailer}"]
        if category:
            features.append(f"category:{category}")
        items.append(Item(item_id, tuple(features)))

    profiles: list[UserProfile] = []
    interactions: list[Interaction] = []
    for sl in sorted(slice_items, key=lambda s: s.row):
        profiles.append(UserProfile(sl.row, (context_feature(sl.retailer), sl.feature)))
        interactions.extend(
            Interaction(sl.row, item, w, sl.retailer) for item, w in sorted(slice_items[sl].items())
        )
    stated_by_row: dict[tuple[str, str], dict[str, None]] = defaultdict(dict)
    for st in data.stated:
        stated_by_row[(st.customer_id, st.retailer)].update(dict.fromkeys(st.features))
    for (customer, retailer), prefs in sorted(stated_by_row.items()):
        if not prefs:
            continue
        row = profile_row(customer, retailer)
        profiles.append(UserProfile(row, tuple(stated_feature(p) for p in prefs)))
        # Positives of a profile row: all her items, so the stated preferences learn what
        # customers who state them choose. No identity feature: nothing of hers is kept.
        interactions.extend(
            Interaction(row, item, w) for item, w in sorted(customer_items[customer].items())
        )
    return build_dataset(interactions, items, profiles, user_identity_features=False)


class _FixedScores:
    def __init__(self, scores: np.ndarray) -> None:
        self._scores = scores

    def score_users(self, user_indices: np.ndarray) -> np.ndarray:
        return self._scores[np.asarray(user_indices)]


def customer_sequences(
    events: Iterable[EventRecord], item_index: Mapping[str, int]
) -> dict[str, np.ndarray]:
    """Each customer's distinct items (indices of ``item_index``), oldest first."""
    records: dict[str, list[tuple[str, float | None]]] = defaultdict(list)
    for ev in events:
        records[ev.customer_id].append((ev.item_id, ev.timestamp))
    return {c: ordered_items(rs, item_index) for c, rs in sorted(records.items())}


def fit_sequence_part(
    events: Iterable[EventRecord], dataset: Dataset, weight: float
) -> SequencePart | None:
    """The sequence part learnt from every customer's ``events`` on ``dataset``'s items
    (``None`` at weight 0: the hybrid serves alone)."""
    if not weight:
        return None
    sequences = list(customer_sequences(events, dataset.item_index).values())
    neighbours = SequenceNeighbours().fit(sequences, dataset.n_items)
    return SequencePart(neighbours, weight)


def _slices_by_customer(dataset: Dataset) -> dict[str, list[Slice]]:
    out: dict[str, list[Slice]] = defaultdict(list)
    for name in dataset.user_feature_names:
        sl = Slice.parse(name)
        if sl is not None:
            out[sl.customer_id].append(sl)
    return out


def _holdout(
    data: TrainingInput, retailer: str, fraction: float, seed: int
) -> dict[str, list[str]]:
    """Per customer with at least two distinct items at ``retailer``: the held-out items."""
    own: dict[str, set[str]] = defaultdict(set)
    for ev in data.events:
        if ev.retailer == retailer:
            own[ev.customer_id].add(ev.item_id)
    rng = np.random.default_rng([seed, 7])
    held: dict[str, list[str]] = {}
    for customer in sorted(own):
        items = sorted(own[customer])
        if len(items) < 2:
            continue
        n_out = min(max(1, round(fraction * len(items))), len(items) - 1)
        held[customer] = [items[j] for j in sorted(rng.permutation(len(items))[:n_out])]
    return held


def evaluate_holdout(
    data: TrainingInput,
    catalogue: Catalogue,
    retailer: str,
    config: ModelConfig,
    fraction: float,
    sequence_weight: float = SEQUENCE_WEIGHT,
) -> dict[str, float]:
    """The held-out metrics described in the module docstring (empty when no customer has two
    items at ``retailer``), of the blend the service would serve at ``sequence_weight``."""
    held = _holdout(data, retailer, fraction, config.seed)
    if not held:
        return {}
    pairs = frozenset((c, i) for c, items in held.items() for i in items)
    dataset = build_training_dataset(data, catalogue, leave_out=pairs, leave_out_retailer=retailer)
    model = HybridModel(config).fit(dataset)
    kept = [
        ev
        for ev in data.events
        if ev.retailer != retailer or (ev.customer_id, ev.item_id) not in pairs
    ]
    sequence = fit_sequence_part(kept, dataset, sequence_weight)
    sequences = customer_sequences(kept, dataset.item_index)
    no_items = np.zeros(0, dtype=np.int64)

    cols = np.asarray(
        sorted(
            dataset.item_index[e.item_id]
            for e in catalogue
            if e.retailer == retailer and e.item_id in dataset.item_index
        ),
        dtype=np.int64,
    )
    col_of = {int(c): j for j, c in enumerate(cols)}
    customers = sorted(held)
    slices = _slices_by_customer(dataset)
    stated: dict[str, set[str]] = defaultdict(set)
    for st in data.stated:
        stated[st.customer_id].update(st.features)

    scores = np.empty((len(customers), cols.size), dtype=np.float32)
    known_rows: list[int] = []
    known_cols: list[int] = []
    for r, customer in enumerate(customers):
        features = request_features(retailer, slices.get(customer, ()), stated[customer])
        full = model.score_new_user(features)
        if sequence is not None:
            seq = sequence.neighbours.score_sequence(sequences.get(customer, no_items))
            full = sequence.blend(full[None, :], seq[None, :])[0]
        scores[r] = full[cols]
        for sl in slices.get(customer, ()):
            row = dataset.user_index[sl.row]
            for i in dataset.interactions[row].indices:
                if int(i) in col_of:
                    known_rows.append(r)
                    known_cols.append(col_of[int(i)])
    test_rows = [r for r, c in enumerate(customers) for i in held[c] if i in dataset.item_index]
    test_cols = [
        col_of[dataset.item_index[i]] for c in customers for i in held[c] if i in dataset.item_index
    ]

    def matrix(rows: Sequence[int], cols_: Sequence[int]) -> sp.csr_matrix:
        m = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols_)),
            shape=(len(customers), cols.size),
        )
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    test, train = matrix(test_rows, test_cols), matrix(known_rows, known_cols)
    report = evaluate(_FixedScores(scores), test, train, k=K)
    popularity = np.asarray(_customer_counts(dataset)[cols], dtype=np.float32)
    popular = evaluate(_FixedScores(np.tile(popularity, (len(customers), 1))), test, train, k=K)
    metrics = {
        f"precision@{K}": report.precision,
        f"recall@{K}": report.recall,
        f"ndcg@{K}": report.ndcg,
        "auc": report.auc,
        f"popularity.precision@{K}": popular.precision,
        "evaluated_customers": float(report.n_users),
    }
    return {k: round(float(v), 6) for k, v in metrics.items() if np.isfinite(v)}


def _customer_counts(dataset: Dataset) -> np.ndarray:
    """Per item (float64, ``(n_items,)``): how many distinct customers have it in any slice."""
    customer_of = [Slice.parse(n) for n in dataset.user_feature_names]
    by_customer: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for sl in customer_of:
        if sl is None:
            continue
        c = by_customer.setdefault(sl.customer_id, len(by_customer))
        rows.append(c)
        cols.append(dataset.user_index[sl.row])
    assign = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(max(len(by_customer), 1), dataset.n_users)
    )
    per_customer = (assign @ dataset.interactions).tocsr()
    per_customer.data[:] = 1.0
    return np.asarray(per_customer.sum(axis=0), dtype=np.float64).ravel()


def fit_without(
    data: TrainingInput,
    catalogue: Catalogue,
    retailer: str,
    events: Sequence[EventRecord],
    output_dir: str | os.PathLike[str],
    *,
    config: ModelConfig | None = None,
    sequence_weight: float = SEQUENCE_WEIGHT,
) -> None:
    """Train on ``events`` (``data``'s positives with some left out) and ``data``'s stated
    preferences, and save a servable artifact to ``output_dir``: a model under test that
    never saw what was left out (:mod:`recommender.candidate`).

    Raises ``ValueError`` when no positive event remains.
    """
    kept = TrainingInput(tuple(events), data.stated, len(events))
    dataset = build_training_dataset(kept, catalogue)
    model = HybridModel(config or DEFAULT_CONFIG).fit(dataset)
    sequence = fit_sequence_part(kept.events, dataset, sequence_weight)
    save_model(model, dataset, output_dir,
               metadata={"user_model": USER_MODEL, "retailer": retailer, "evaluation": True},
               sequence=sequence)


def train_retailer_model(
    retailer: str,
    events: Iterable[object],
    catalogue: Catalogue,
    stated_preferences: Iterable[StatedPreferences] = (),
    *,
    output_dir: str | os.PathLike[str],
    block_height: int,
    consent_set_hash: str,
    config: ModelConfig | None = None,
    evaluation_fraction: float = 0.2,
    created_at: datetime | None = None,
    sequence_weight: float = SEQUENCE_WEIGHT,
    extra_metrics: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Train ``retailer``'s model and return its provenance record (a dict that
    ``chaincode.provenance.ModelProvenance.from_dict`` accepts)::

        {"model_id": "lightfm-<24 hex>", "retailer": "alder", "content_hash": "<sha256>",
         "created_at": "2025-01-31T09:30:00.000Z",
         "training": {"block_height": 1234, "record_count": 35120,
                      "purpose": "personalisation", "consent_set_hash": "<sha256>"},
         "metrics": {"precision@10": 0.1, "recall@10": 0.2, "ndcg@10": 0.15, "auc": 0.9,
                     "popularity.precision@10": 0.05, "evaluated_customers": 500.0}}

    ``events`` must be exactly the records ``retailer`` may read for purpose personalisation
    (the gateway's ledger read applies the consents; ``consent_set_hash`` commits to them, see
    ``chaincode.provenance.hash_consent_set``); ``block_height`` is the ledger height of that
    read. The artifact is written to ``output_dir`` (use a fresh directory per model) and its
    manifest metadata repeats the record, without the model id (which is derived from the
    content hash, :func:`recommender.artifacts.model_id_for`). ``evaluation_fraction`` 0 skips
    the evaluation (``metrics`` is then empty). ``created_at`` defaults to now.
    ``sequence_weight`` 0 saves the hybrid alone (no sequence part). ``extra_metrics`` (the
    model card's and the install gate's figures, :mod:`recommender.candidate`) join
    ``metrics``.

    Takes about 2-4 s per fit for the default demo world (two fits with evaluation).

    Raises ``ValueError`` on a malformed argument or record, or when no positive event remains.
    """
    check_name("retailer", retailer)
    if _MSP_ID.fullmatch(retailer) is None:
        raise ValueError(f"retailer must be an MSP id, got {retailer!r}")
    if isinstance(block_height, bool) or not isinstance(block_height, int) or block_height < 0:
        raise ValueError(f"block_height must be a non-negative integer, got {block_height!r}")
    if not isinstance(consent_set_hash, str) or _SHA256_HEX.fullmatch(consent_set_hash) is None:
        raise ValueError("consent_set_hash must be 64 lowercase hex digits (SHA-256)")
    if not 0.0 <= evaluation_fraction < 1.0:
        raise ValueError(f"evaluation_fraction must lie in [0, 1), got {evaluation_fraction}")
    config = config or DEFAULT_CONFIG
    created = created_at or datetime.now(UTC)
    stamp = format_timestamp(created)

    data = read_training_input(events, stated_preferences)
    metrics = (
        evaluate_holdout(data, catalogue, retailer, config, evaluation_fraction, sequence_weight)
        if evaluation_fraction > 0
        else {}
    )
    metrics.update(extra_metrics or {})
    dataset = build_training_dataset(data, catalogue)
    model = HybridModel(config).fit(dataset)
    training = {
        "block_height": block_height,
        "record_count": data.record_count,
        "purpose": PURPOSE,
        "consent_set_hash": consent_set_hash,
    }
    metadata = {
        "user_model": USER_MODEL,
        "retailer": retailer,
        "created_at": stamp,
        "training": training,
        "metrics": metrics,
    }
    sequence = fit_sequence_part(data.events, dataset, sequence_weight)
    content_hash = save_model(model, dataset, output_dir, metadata=metadata, sequence=sequence)
    return {
        "model_id": model_id_for(content_hash),
        "retailer": retailer,
        "content_hash": content_hash,
        "created_at": stamp,
        "training": dict(training),
        "metrics": dict(sorted(metrics.items())),
    }
