"""The retailer's training job: read what it may use from the ledger, train, record provenance.

Only events this retailer may read for ``personalisation`` reach the model (each owner's
chaincode applies her consents on every page it returns); the consents that opened them
are hashed into the model's provenance record, which is written to the ledger with the
model's card (:mod:`recommender.model_card`) and the install gate's figures
(:mod:`recommender.gate`), so anyone can later check which consents a model was trained
under, how it serves each segment and whether it was fit to install.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaincode.preferences import PreferenceEvent
from chaincode.provenance import hash_consent_set
from gateway.ledger import ConsortiumLedger
from gateway.ledger_records import OwnPage
from gateway.sharing import Sharing
from recommender.candidate import Candidate, Prepare, train_candidate
from recommender.catalogue import Catalogue
from recommender.gate import Thresholds

PURPOSE = "personalisation"


def read_own_pages(ledger: ConsortiumLedger, *, page_size: int = 200) -> Iterator[OwnPage]:
    """Every page of this retailer's own events (its collection), in key order."""
    after = ""
    while True:
        page = ledger.read_own_training(after, page_size)
        yield page
        if page.next is None:
            return
        after = page.next


@dataclass(frozen=True)
class TrainingRead:
    """What one training read returned: the events, the ledger height and the consents'
    hash (``chaincode.provenance.hash_consent_set``)."""

    events: list[PreferenceEvent]
    block_height: int
    consent_set_hash: str


def read_training(ledger: ConsortiumLedger, sharing: Sharing, channel: str,
                  catalogue: Catalogue) -> TrainingRead:
    """Everything this retailer may train on now.

    Its own events come from its collection; other members' from each owner's gateway,
    which checks her consents and logs the read (gateway/sharing.py).
    Events of items the catalogue does not hold (discontinued, or never stocked: the ledger
    keeps whatever a member recorded) are left out: the model could never suggest them, and
    the recommender's held-out evaluation scores only catalogue items.

    Raises the Fabric client's errors (peer unreachable, chaincode refusal) and
    MemberUnavailable (another member's gateway did not answer).
    """
    height = ledger.block_height(channel)
    events: list[PreferenceEvent] = []
    consents: set[tuple[str, str, int]] = set()
    for page in sharing.training_pages(PURPOSE):
        events += [event for event in page.events if event.item_id in catalogue]
        consents |= set(page.consents)
    return TrainingRead(events, height, hash_consent_set(consents))


def train_read(ledger: ConsortiumLedger, read: TrainingRead, catalogue: Catalogue,
               output_dir: Path, *, serving_dir: Path | None = None,
               thresholds: Thresholds | None = None, holdout_customers: int = 300,
               prepare: Prepare | None = None) -> Candidate:
    """Train, card and judge a model on ``read`` into ``output_dir``
    (:func:`recommender.candidate.train_candidate`, compared with the artifact in
    ``serving_dir``), and record its provenance with the card on the ledger. Installing is
    the caller's affair (gateway/lifecycle.py).

    Raises ValueError (no positive event) and the Fabric client's errors.
    """
    candidate = train_candidate(
        ledger.msp_id, read.events, catalogue, output_dir=output_dir,
        block_height=read.block_height, consent_set_hash=read.consent_set_hash,
        serving_dir=serving_dir, thresholds=thresholds or Thresholds(),
        max_customers=holdout_customers, prepare=prepare)
    ledger.record_provenance(candidate.provenance)
    return candidate


def train_from_ledger(ledger: ConsortiumLedger, sharing: Sharing, channel: str,
                      catalogue: Catalogue, output_dir: Path) -> dict[str, Any]:
    """Train this retailer's model on what it may read, write the artifact to ``output_dir``
    and its provenance (with its card) to the ledger; return the provenance record.
    ``training.record_count`` counts what was trained on. Nothing is installed.

    Raises the errors of :func:`read_training` and :func:`train_read`.
    """
    read = read_training(ledger, sharing, channel, catalogue)
    return train_read(ledger, read, catalogue, output_dir).provenance
