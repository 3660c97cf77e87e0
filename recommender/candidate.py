"""A candidate model: trained, carded, judged against the model serving.

:func:`train_candidate` is what a retrain does with the records a retailer may read:

1. holds out the recent slice (:func:`recommender.model_card.recent_holdout`) and trains a
   model under test without it (:func:`recommender.training.fit_without`);
2. measures the card on that slice (:func:`recommender.model_card.card_figures`);
3. measures the serving model (the artifact in ``serving_dir``, if any) on the part of the
   slice newer than it, and the model under test on the same part, and judges
   (:func:`recommender.gate.judge`);
4. trains the model on everything (:func:`recommender.training.train_retailer_model`), its
   metrics joined by the card (``card.*``) and the gate's figures (``gate.*``), and returns
   its provenance record with the decision. Installing is the caller's affair.

Three fits in all (the held-out evaluation of :func:`train_retailer_model` is the third).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from recommender.artifacts import MANIFEST_FILE
from recommender.catalogue import Catalogue
from recommender.config import ModelConfig
from recommender.errors import ModelRejected
from recommender.gate import Decision, Thresholds, judge
from recommender.model_card import (
    card_figures,
    recent_holdout,
    score_holdout,
    without_holdout,
)
from recommender.serving import SuggestionService
from recommender.slices import EventRecord, event_record
from recommender.training import fit_without, read_training_input, train_retailer_model

log = logging.getLogger(__name__)

#: Held-out customers at most (the most recent ones): bounds the card's cost.
MAX_HOLDOUT_CUSTOMERS = 300
CARD_PREFIX = "card."
#: A change applied to the records a model is fitted on, never to the held-out slice nor to
#: the histories it is measured with (tests make a model worse on purpose with one).
Prepare = Callable[[Sequence[EventRecord]], list[EventRecord]]


@dataclass(frozen=True)
class Candidate:
    #: The provenance record (``chaincode.provenance.ModelProvenance`` as a dict).
    provenance: dict[str, Any]
    card: dict[str, float]
    decision: Decision


def _created(metadata: Any) -> float | None:
    stamp = metadata.get("created_at") if hasattr(metadata, "get") else None
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def serving_model(retailer: str, catalogue: Catalogue, serving_dir: Path | None
                  ) -> SuggestionService | None:
    """The model in ``serving_dir`` as a service of its own, or None (no artifact there, or
    one that does not load: nothing to be compared with)."""
    if serving_dir is None or not (serving_dir / MANIFEST_FILE).is_file():
        return None
    try:
        return SuggestionService(retailer, catalogue, artifact=serving_dir)
    except ModelRejected as exc:
        log.warning("the serving model does not load; the candidate is not compared with it",
                    extra={"cause": type(exc.__cause__ or exc).__name__})
        return None


def train_candidate(
    retailer: str,
    events: Iterable[object],
    catalogue: Catalogue,
    *,
    output_dir: str | os.PathLike[str],
    block_height: int,
    consent_set_hash: str,
    serving_dir: Path | None,
    thresholds: Thresholds,
    max_customers: int = MAX_HOLDOUT_CUSTOMERS,
    config: ModelConfig | None = None,
    created_at: datetime | None = None,
    prepare: Prepare | None = None,
) -> Candidate:
    """Train, card and judge ``retailer``'s next model (module docstring).

    ``events`` as for :func:`recommender.training.train_retailer_model`; ``prepare`` (see
    :data:`Prepare`) changes what both fits learn from. Raises
    ``ValueError`` on a malformed record or when no positive event remains.
    """
    raw = [event_record(e) for e in events]

    def fitted(records: Sequence[EventRecord]) -> list[EventRecord]:
        return list(records) if prepare is None else prepare(records)

    data = read_training_input(raw)
    records = Counter(e.retailer for e in raw)
    held = recent_holdout(data.events, retailer, catalogue, max_customers=max_customers)
    scored = []
    with tempfile.TemporaryDirectory(prefix="prefshare-eval-") as tmp:
        kept = fitted(without_holdout(data.events, held, retailer))
        if held and kept:
            fit_without(data, catalogue, retailer, kept, Path(tmp) / "model", config=config)
            under_test = SuggestionService(retailer, catalogue, artifact=Path(tmp) / "model")
            scored = score_holdout(under_test, held, data.events)
    card = card_figures(scored, catalogue, retailer, data.events, dict(records))
    current = serving_model(retailer, catalogue, serving_dir)
    compared: list[tuple[bool, bool]] | None = None
    if current is not None:
        since = _created(current.model_metadata)
        newer = [s for s in scored if since is None or s.held.timestamp > since]
        theirs = score_holdout(current, [s.held for s in newer], data.events)
        compared = [(mine.hit, other.hit) for mine, other in zip(newer, theirs, strict=True)]
    decision = judge(card, compared=compared, thresholds=thresholds)
    extra = {CARD_PREFIX + name: value for name, value in card.items()}
    extra.update(decision.figures)
    provenance = train_retailer_model(
        retailer, fitted(raw), catalogue, output_dir=output_dir, block_height=block_height,
        consent_set_hash=consent_set_hash, config=config, created_at=created_at,
        extra_metrics=extra)
    return Candidate(provenance, card, decision)
