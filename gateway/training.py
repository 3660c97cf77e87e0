"""The retailer's training job: read what it may use from the ledger, train, record provenance.

Only events this retailer may read for ``personalisation`` reach the model (each owner's
chaincode applies her consents on every page it returns); the consents that opened them
are hashed into the model's provenance record, which is written to the ledger, so anyone can
later check which consents a model was trained under.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chaincode.preferences import PreferenceEvent
from chaincode.provenance import hash_consent_set
from gateway.ledger import ConsortiumLedger
from gateway.ledger_records import OwnPage
from gateway.sharing import Sharing
from recommender.catalogue import Catalogue
from recommender.training import train_retailer_model

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


def train_from_ledger(ledger: ConsortiumLedger, sharing: Sharing, channel: str,
                      catalogue: Catalogue, output_dir: Path) -> dict[str, Any]:
    """Train this retailer's model on what it may read, write the artifact to ``output_dir``
    and its provenance to the ledger; return the provenance record.

    Its own events come from its collection; other members' from each owner's gateway,
    which checks her consents and logs the read (gateway/sharing.py).
    Events of items the catalogue does not hold (discontinued, or never stocked: the ledger
    keeps whatever a member recorded) are left out: the model could never suggest them, and
    the recommender's held-out evaluation scores only catalogue items. ``record_count``
    counts what was trained on.

    Raises the Fabric client's errors (peer unreachable, chaincode refusal) and
    MemberUnavailable (another member's gateway did not answer).
    """
    height = ledger.block_height(channel)
    events: list[PreferenceEvent] = []
    consents: set[tuple[str, str, int]] = set()
    for page in sharing.training_pages(PURPOSE):
        events += [event for event in page.events if event.item_id in catalogue]
        consents |= set(page.consents)
    provenance = train_retailer_model(
        ledger.msp_id, events, catalogue, output_dir=output_dir, block_height=height,
        consent_set_hash=hash_consent_set(consents))
    ledger.record_provenance(provenance)
    return provenance
