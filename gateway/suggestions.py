"""Kiosk suggestions: the recommender's serving, fed at request time from the ledger.

Her consent and the events this retailer may read are fetched for every request, so a
withdrawal takes effect on the next one (the recommender applies the consent view without
retraining; docs/recommender.md). When the ledger cannot be asked, the kiosk still answers,
with popular items that use none of her data, and says so: an unconfirmable consent is
treated as no consent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaincode.errors import UnknownCustomer
from gateway.fabric.errors import GatewayError
from gateway.ledger import ConsortiumLedger
from recommender.catalogue import Catalogue
from recommender.serving import Suggestions, SuggestionService
from recommender.slices import ConsentView, CustomerHistory

PURPOSE = "personalisation"
# Shown to the customer at the kiosk, so they speak to her.
NOTICE_LEDGER_UNAVAILABLE = (
    "Your consent could not be checked just now, so these suggestions use none of your data.")
NOTICE_UNKNOWN_CUSTOMER = "This customer id is not registered yet; these are popular items."


def consent_view(customer_id: str, consents: list[dict[str, Any]], serving_msp: str,
                 members: tuple[str, ...]) -> ConsentView:
    """Which other members' data about her this retailer may use now for personalisation.

    A consent that is active, covers personalisation and names this retailer (or ``*``)
    lets the retailer use her data of the granted categories held by every other member.
    """
    grants: dict[str, set[str]] = {}
    for consent in consents:
        if consent.get("status") != "active" or PURPOSE not in consent.get("purposes", ()):
            continue
        recipients = consent.get("recipients", ())
        if "*" not in recipients and serving_msp not in recipients:
            continue
        for member in members:
            if member != serving_msp:
                grants.setdefault(member, set()).update(consent.get("data_categories", ()))
    return ConsentView(customer_id, {m: frozenset(c) for m, c in grants.items()})


@dataclass(frozen=True)
class KioskSuggestions:
    service: SuggestionService
    ledger: ConsortiumLedger
    members: tuple[str, ...]

    def suggest(self, store_id: str, customer_id: str, n: int) -> tuple[Suggestions, str | None]:
        """Suggestions and a notice for the kiosk (None when her data was usable as usual).

        Raises the recommender's InvalidRequest / UnknownStore, and GatewayError for a
        ledger failure other than an unreachable peer or an unknown customer.
        """
        notice: str | None = None
        view, history = ConsentView(customer_id), CustomerHistory(customer_id)
        try:
            consents = self.ledger.list_consents(customer_id)
            readable = self.ledger.read_preferences(customer_id, PURPOSE, wait_for_log=False)
        except GatewayError as exc:
            if isinstance(exc.chaincode_error(), UnknownCustomer):
                notice = NOTICE_UNKNOWN_CUSTOMER
            elif exc.chaincode_error() is None:
                notice = NOTICE_LEDGER_UNAVAILABLE
            else:
                raise
        else:
            view = consent_view(customer_id, consents, self.ledger.msp_id, self.members)
            history = CustomerHistory.from_records(customer_id, readable.get("events", ()))
        return self.service.suggest(store_id, customer_id, n, consent=view,
                                    history=history), notice


def open_suggestions(catalogue_path: Path, model_path: Path | None, msp_id: str,
                     ledger: ConsortiumLedger, members: tuple[str, ...]) -> KioskSuggestions:
    """The serving side of one gateway: its catalogue and, when trained, its model.

    Raises ValueError (a bad catalogue file) or the recommender's ModelRejected.
    """
    catalogue = Catalogue.from_json(catalogue_path.read_text(encoding="utf-8"))
    service = SuggestionService(msp_id, catalogue, artifact=model_path)
    return KioskSuggestions(service, ledger, members)
