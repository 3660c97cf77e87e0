"""Who may read what: the chaincode's access decision, and customer-signed rights requests.

A retailer always reads the events it recorded itself. Another member reads a customer's
events only under one of her consents that, at the transaction time, is not withdrawn,
not expired, names the caller (or ``*``), and covers both the purpose of the read and
the data category of the event (see :data:`chaincode.preferences.CATEGORY_OF_EVENT_TYPE`).

When no consent allows a read, the refusal explains the consent that came *closest*:
consents are checked for recipient, then purpose, then category, then status
(withdrawn, expired), and the reason reported is the one from the consent that passed
most checks. So a consent that names the caller for this purpose and category but was
withdrawn yields CONSENT_WITHDRAWN, while a withdrawn consent for someone else yields
NOT_A_RECIPIENT.

The same rule answers the gateway's questions about what her consents open
(:func:`opened_categories`: what a kiosk may blend, whom to tell of her new events): they are
asked of the records the chaincode returns, so the rule is stated here once.

Rights requests (export, erase) are signed by the customer like consent statements and
spend a nonce from the same ``nonce~<customer_id>~<nonce>`` space, so no signed message
can be replayed as another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from chaincode.consent import ConsentRecord
from chaincode.consent_statement import DATA_CATEGORIES, PURPOSES
from chaincode.errors import (
    CategoryNotGranted,
    ChaincodeError,
    ConsentExpired,
    ConsentNotFound,
    ConsentWithdrawn,
    NotARecipient,
    PurposeNotGranted,
)
from chaincode.fields import (
    read_enum,
)

Basis = Literal["owner", "consent"]

#: Rank of each refusal: higher means the consent got further through the checks.
_REFUSAL_RANK: dict[type[ChaincodeError], int] = {
    NotARecipient: 0,
    PurposeNotGranted: 1,
    CategoryNotGranted: 2,
    ConsentExpired: 3,
    ConsentWithdrawn: 4,
}


@dataclass(frozen=True)
class Decision:
    """Outcome of :func:`decide_read`.

    Allowed: ``basis`` says why (``owner`` or ``consent``, then ``consent_id`` names it).
    Refused: ``reason`` is the typed error to raise or count.
    """

    basis: Basis | None = None
    consent_id: str | None = None
    reason: ChaincodeError | None = None

    @property
    def allowed(self) -> bool:
        return self.reason is None

    def raise_if_refused(self) -> None:
        if self.reason is not None:
            raise self.reason


def _refusal(
    consent: ConsentRecord, caller_msp: str, purpose: str, category: str, now: datetime
) -> ChaincodeError | None:
    details = {"consent_id": consent.consent_id}
    if not consent.scope.names_recipient(caller_msp):
        return NotARecipient("consent does not name the calling organisation", details=details)
    if purpose not in consent.purposes:
        return PurposeNotGranted("consent does not cover this purpose", details=details)
    if category not in consent.data_categories:
        return CategoryNotGranted("consent does not cover this data category", details=details)
    try:
        consent.check_active(now)
    except (ConsentWithdrawn, ConsentExpired) as exc:
        return exc
    return None


def opened_categories(
    consents: Iterable[ConsentRecord], reader: str, purpose: str, now: datetime
) -> frozenset[str]:
    """The data categories of a customer's data held by another member that one of her
    ``consents`` opens to ``reader`` for ``purpose`` at ``now``: exactly the categories
    for which :func:`decide_read` allows ``reader`` a read whose owner is not ``reader``.

    Raises InvalidValue for an unknown purpose.
    """
    read_enum(purpose, "purpose", PURPOSES)
    held = list(consents)
    return frozenset(
        category for category in DATA_CATEGORIES
        if any(_refusal(c, reader, purpose, category, now) is None for c in held))


def decide_read(
    caller_msp: str,
    customer_id: str,
    owner_retailer: str,
    purpose: str,
    category: str,
    consents: Iterable[ConsentRecord],
    now: datetime,
) -> Decision:
    """May ``caller_msp`` read ``customer_id``'s ``category`` data held by
    ``owner_retailer``, for ``purpose``, at transaction time ``now``?

    ``consents`` may hold any records; only those of ``customer_id`` count. Raises
    InvalidValue for an unknown purpose or category; every refusal is returned as a
    Decision whose ``reason`` is ConsentNotFound, NotARecipient, PurposeNotGranted,
    CategoryNotGranted, ConsentExpired or ConsentWithdrawn.
    """
    read_enum(purpose, "purpose", PURPOSES)
    read_enum(category, "category", DATA_CATEGORIES)
    if caller_msp == owner_retailer:
        return Decision(basis="owner")
    best: ChaincodeError | None = None
    for consent in sorted(consents, key=lambda c: c.consent_id):
        if consent.customer_id != customer_id:
            continue
        reason = _refusal(consent, caller_msp, purpose, category, now)
        if reason is None:
            return Decision(basis="consent", consent_id=consent.consent_id)
        if best is None or _REFUSAL_RANK[type(reason)] > _REFUSAL_RANK[type(best)]:
            best = reason
    if best is None:
        best = ConsentNotFound("customer has no consent on record")
    return Decision(reason=best)
