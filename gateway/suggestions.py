"""Kiosk suggestions: the recommender's serving, fed at request time from the ledger.

Her consent and the events this retailer may read are fetched from the ledger at the start of
her kiosk session and kept for its rest (:mod:`gateway.suggestion_cache`: dropped at once when
this gateway writes about her, on every consent event from the other gateways, and after a
TTL), so a withdrawal takes effect on the next request (the recommender applies the consent
view without retraining; docs/recommender.md). When the ledger cannot be asked, the kiosk
still answers, with popular items that use none of her data, and says so: an unconfirmable
consent is treated as no consent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaincode.errors import CustomerErased, UnknownCustomer
from chaincode.policy import opened_categories
from gateway.errors import NoModel
from gateway.fabric.errors import GatewayError
from gateway.ledger import ConsortiumLedger
from gateway.ledger_records import ListedConsent, MalformedLedgerAnswer
from gateway.sharing import Sharing
from gateway.suggestion_cache import CustomerCache, CustomerRead
from gateway.training import read_own_pages
from recommender.artifacts import MANIFEST_FILE
from recommender.catalogue import Catalogue
from recommender.errors import ModelRejected
from recommender.popularity import popularity_from_events
from recommender.serving import Suggestions, SuggestionService
from recommender.slices import ConsentView, CustomerHistory

log = logging.getLogger(__name__)

PURPOSE = "personalisation"
# Shown to the customer at the kiosk, so they speak to her.
NOTICE_LEDGER_UNAVAILABLE = (
    "Your consent could not be checked just now, so these suggestions use none of your data.")
NOTICE_MEMBER_UNAVAILABLE = (
    "Some of the shops you share with could not be reached just now; these suggestions use "
    "what could be read.")
NOTICE_UNKNOWN_CUSTOMER = "This customer id is not known here; these are popular items."
#: The same words as for an id never registered: the kiosk's screen is read by anyone nearby,
#: and whether she erased her data is hers to tell.
NOTICE_ERASED_CUSTOMER = "This customer id is not known here; these are popular items."


def consent_view(customer_id: str, consents: Iterable[ListedConsent], serving_msp: str,
                 members: tuple[str, ...], now: datetime) -> ConsentView:
    """Which other members' data about her this retailer may use at ``now`` for
    personalisation: the categories her consents open to it (chaincode.policy's rule), of
    every other member's data."""
    opened = opened_categories((c.record for c in consents), serving_msp, PURPOSE, now)
    if not opened:
        return ConsentView(customer_id)
    return ConsentView(customer_id, {m: opened for m in members if m != serving_msp})


@dataclass(frozen=True)
class CurrentModel:
    """The model serving now: its id (None before the first) and its artifact's metadata."""

    model_id: str | None
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class KioskSuggestions:
    service: SuggestionService
    ledger: ConsortiumLedger
    sharing: Sharing
    members: tuple[str, ...]
    #: Her ledger reads for the rest of her kiosk session (None: read on every request).
    cache: CustomerCache | None = None
    #: Serialises installs, and lets a reader see one model's id and metadata together.
    #: Suggestion requests never take it: the service swaps its model in one assignment.
    _installing: threading.Lock = field(default_factory=threading.Lock, init=False,
                                        repr=False, compare=False)

    def serving(self) -> CurrentModel:
        """The model serving now (waits for an install under way to finish)."""
        with self._installing:
            return CurrentModel(self.service.model_id, self.service.model_metadata)

    def install_model(self, model_dir: Path) -> tuple[CurrentModel, str | None]:
        """Verify the artifact in ``model_dir`` and serve it; return it and the previous id.

        Installing the artifact already serving is allowed and changes nothing. Raises
        NoModel when ``model_dir`` holds no manifest, and the recommender's ModelRejected
        (a corrupt artifact, another format, retailer or user model), after which the
        previous model keeps serving.
        """
        with self._installing:
            if not (model_dir / MANIFEST_FILE).is_file():
                raise NoModel("the gateway's model directory holds no model artifact")
            previous = self.service.model_id
            try:
                self.service.swap_model(model_dir)
            except ModelRejected as exc:
                log.warning("model artifact refused; the previous model keeps serving",
                            extra={"model_id": previous,
                                   "cause": type(exc.__cause__ or exc).__name__})
                raise
            current = CurrentModel(self.service.model_id, self.service.model_metadata)
            log.info("model installed", extra={"model_id": current.model_id,
                                               "previous_model_id": previous})
            return current, previous

    def suggest(self, store_id: str, customer_id: str, n: int) -> tuple[Suggestions, str | None]:
        """Suggestions and a notice for the kiosk (None when her data was usable as usual).

        Raises the recommender's InvalidRequest / UnknownStore, and GatewayError for a
        ledger failure other than an unreachable peer or an unknown customer.
        """
        notice: str | None = None
        view, history = ConsentView(customer_id), CustomerHistory(customer_id)
        read = self.cache.get(customer_id) if self.cache is not None else None
        if read is None:
            generation = self.cache.begin(customer_id) if self.cache is not None else None
            try:
                consents = self.ledger.list_consents(customer_id)
                found = self.sharing.customer_events(customer_id, PURPOSE, consents)
                read = CustomerRead(consents, found.events)
                if found.unanswered:
                    notice = NOTICE_MEMBER_UNAVAILABLE
            except MalformedLedgerAnswer:
                notice = NOTICE_LEDGER_UNAVAILABLE
            except GatewayError as exc:
                if isinstance(exc.chaincode_error(), CustomerErased):
                    notice = NOTICE_ERASED_CUSTOMER
                elif isinstance(exc.chaincode_error(), UnknownCustomer):
                    notice = NOTICE_UNKNOWN_CUSTOMER
                elif exc.chaincode_error() is None:
                    notice = NOTICE_LEDGER_UNAVAILABLE
                else:
                    raise
            else:
                if self.cache is not None and generation is not None:
                    self.cache.put(customer_id, read, generation)
        if read is not None:
            view = consent_view(customer_id, read.consents, self.ledger.msp_id, self.members,
                                datetime.now(UTC))
            history = CustomerHistory.from_records(customer_id, read.events)
        return self.service.suggest(store_id, customer_id, n, consent=view,
                                    history=history), notice


def own_popularity(ledger: ConsortiumLedger) -> dict[str, float]:
    """Item id -> distinct customers with a positive event this retailer recorded itself, read
    from the ledger: what popular items are ranked by before the first model. Other members'
    events, though readable, do not count (recommender.popularity).

    Raises GatewayError when the ledger cannot be read.
    """
    events = [event for page in read_own_pages(ledger) for event in page.events]
    return popularity_from_events(events, ledger.msp_id)


def open_suggestions(catalogue_path: Path, model_dir: Path, msp_id: str,
                     ledger: ConsortiumLedger, sharing: Sharing, members: tuple[str, ...],
                     cache: CustomerCache | None = None) -> KioskSuggestions:
    """The serving side of one gateway: its catalogue and, when ``model_dir`` holds an
    artifact, that model (else popular items until one is installed, ranked by the counts
    of this retailer's own events on the ledger; if the ledger cannot be read at start, every
    item says it has not been chosen yet rather than pretend to be popular).

    Raises ValueError (a bad catalogue file) or the recommender's ModelRejected.
    """
    catalogue = Catalogue.from_json(catalogue_path.read_text(encoding="utf-8"))
    has_model = (model_dir / MANIFEST_FILE).is_file()
    counts: dict[str, float] = {}
    if not has_model:
        try:
            counts = own_popularity(ledger)
        except (GatewayError, MalformedLedgerAnswer) as exc:
            log.warning("popular items not counted: the ledger could not be read at start",
                        extra={"cause": type(exc).__name__})
    service = SuggestionService(msp_id, catalogue, popularity=counts)
    kiosk = KioskSuggestions(service, ledger, sharing, members, cache)
    if has_model:
        kiosk.install_model(model_dir)
    return kiosk
