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

Rights requests (export, erase) are signed by the customer like consent statements and
spend a nonce from the same ``nonce~<customer_id>~<nonce>`` space, so no signed message
can be replayed as another.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from chaincode.canonical import canonical_bytes
from chaincode.consent import (
    DATA_CATEGORIES,
    NONCE_PATTERN,
    PURPOSES,
    ConsentRecord,
    TimeWindow,
    check_nonce_unused,
    check_signed_time,
)
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
    check_fields,
    expect_object,
    format_timestamp,
    load_json,
    parse_timestamp,
    read_enum,
    read_str,
)
from chaincode.keys import CustomerKey, read_customer_id
from chaincode.preferences import PreferenceEvent

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


@dataclass(frozen=True)
class WithheldSummary:
    """What a read left out, as counts only (no ids, no content)."""

    total: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    by_retailer: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_reason": dict(sorted(self.by_reason.items())),
            "by_retailer": dict(sorted(self.by_retailer.items())),
        }


@dataclass(frozen=True)
class FilteredEvents:
    readable: tuple[PreferenceEvent, ...]
    withheld: WithheldSummary


def filter_events(
    caller_msp: str,
    purpose: str,
    events: Iterable[PreferenceEvent],
    consents: Iterable[ConsentRecord],
    now: datetime,
) -> FilteredEvents:
    """Keep the events ``caller_msp`` may read for ``purpose``; count the rest by reason
    code and by the retailer that holds them. Order of readable events is kept."""
    consent_list = list(consents)
    readable: list[PreferenceEvent] = []
    reasons: Counter[str] = Counter()
    retailers: Counter[str] = Counter()
    cache: dict[tuple[str, str, str], Decision] = {}
    for event in events:
        memo = (event.customer_id, event.retailer, event.category)
        decision = cache.get(memo)
        if decision is None:
            decision = decide_read(
                caller_msp,
                event.customer_id,
                event.retailer,
                purpose,
                event.category,
                consent_list,
                now,
            )
            cache[memo] = decision
        if decision.reason is None:
            readable.append(event)
        else:
            reasons[decision.reason.code] += 1
            retailers[event.retailer] += 1
    withheld = WithheldSummary(sum(reasons.values()), dict(reasons), dict(retailers))
    return FilteredEvents(tuple(readable), withheld)


# --- rights requests ---------------------------------------------------------------------

RightsAction = Literal["export", "erase"]
RIGHTS_ACTIONS: tuple[RightsAction, ...] = ("export", "erase")
#: A rights request must reach the ledger within an hour of being signed.
RIGHTS_WINDOW = TimeWindow(clock_skew=timedelta(minutes=5), max_age=timedelta(hours=1))
MAX_RIGHTS_REQUEST_BYTES = 1024
_SIGNATURE_TEXT = re.compile(r"[A-Za-z0-9_-]{1,128}")
_FIELDS = ("action", "customer_id", "requested_at", "nonce")


@dataclass(frozen=True)
class RightsRequest:
    """A customer's signed request to export or erase everything about her.

    Wire form: ``{"action": "erase", "customer_id": "c_...", "requested_at": "...Z",
    "nonce": "...", "signature": "..."}``; the signature covers the RFC 8785 bytes of
    the object without ``signature``.
    """

    action: RightsAction
    customer_id: str
    requested_at: datetime
    nonce: str
    signature: str

    @classmethod
    def from_json(cls, data: bytes | str) -> RightsRequest:
        obj = expect_object(load_json(data, max_bytes=MAX_RIGHTS_REQUEST_BYTES))
        check_fields(obj, required=(*_FIELDS, "signature"))
        return cls(
            action=cast(RightsAction, read_enum(obj["action"], "action", RIGHTS_ACTIONS)),
            customer_id=read_customer_id(obj["customer_id"]),
            requested_at=parse_timestamp(obj["requested_at"], "requested_at"),
            nonce=read_str(
                obj["nonce"],
                "nonce",
                pattern=NONCE_PATTERN,
                rule="nonce must be 16..64 base64url characters",
            ),
            signature=read_str(obj["signature"], "signature", pattern=_SIGNATURE_TEXT),
        )

    def unsigned_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "customer_id": self.customer_id,
            "requested_at": format_timestamp(self.requested_at),
            "nonce": self.nonce,
        }

    def signed_bytes(self) -> bytes:
        return canonical_bytes(self.unsigned_dict())

    def to_dict(self) -> dict[str, Any]:
        return {**self.unsigned_dict(), "signature": self.signature}

    def verify(
        self,
        key: CustomerKey,
        *,
        now: datetime,
        used_nonces: Container[str],
        window: TimeWindow = RIGHTS_WINDOW,
    ) -> None:
        """Accept the request or raise CustomerMismatch, MalformedSignature,
        BadSignature, ReplayedNonce, NotYetValid or Backdated.

        After acting on it the contract writes ``nonce_key(customer_id, nonce)``.
        """
        key.require_customer(self.customer_id)
        key.verify(self.signed_bytes(), self.signature)
        check_nonce_unused(self.nonce, used_nonces)
        check_signed_time(self.requested_at, now, window, field="requested_at")
