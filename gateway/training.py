"""The retailer's training job: read what it may use from the ledger, train, record provenance.

Only events the chaincode lets this retailer read for ``personalisation`` reach the model
(the chaincode applies her consents on every page it returns); the consents that opened them
are hashed into the model's provenance record, which is written to the ledger, so anyone can
later check which consents a model was trained under.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chaincode.provenance import hash_consent_set
from gateway.ledger import ConsortiumLedger
from recommender.catalogue import Catalogue
from recommender.training import train_retailer_model

PURPOSE = "personalisation"


def read_training_pages(ledger: ConsortiumLedger, *, page_size: int = 200
                        ) -> Iterator[dict[str, Any]]:
    """Every page of ``ReadTrainingEvents`` for personalisation, in customer order."""
    after = ""
    while True:
        page = ledger.read_training_events(PURPOSE, after, page_size)
        yield page
        if page["next"] is None:
            return
        after = page["next"]


def train_from_ledger(ledger: ConsortiumLedger, channel: str, catalogue: Catalogue,
                      output_dir: Path, *, page_size: int = 200) -> dict[str, Any]:
    """Train this retailer's model on what it may read, write the artifact to ``output_dir``
    and its provenance to the ledger; return the provenance record.

    Events of items the catalogue does not hold (discontinued, or never stocked: the ledger
    keeps whatever a member recorded) are left out: the model could never suggest them, and
    the recommender's held-out evaluation scores only catalogue items (it failed with a
    KeyError on such an event recorded by this retailer). ``record_count`` counts what was
    trained on.

    Raises the Fabric client's errors (peer unreachable, chaincode refusal).
    """
    height = ledger.block_height(channel)
    events: list[dict[str, Any]] = []
    consents: set[tuple[str, str, int]] = set()
    for page in read_training_pages(ledger, page_size=page_size):
        events += [event for event in page["events"] if event["item_id"] in catalogue]
        consents |= {(c, k, int(v)) for c, k, v in page["consents"]}
    provenance = train_retailer_model(
        ledger.msp_id, events, catalogue, output_dir=output_dir, block_height=height,
        consent_set_hash=hash_consent_set(consents))
    ledger.record_provenance(provenance)
    return provenance
