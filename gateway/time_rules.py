"""Plausible times in request bodies, checked by the gateway before the ledger is asked.

The chaincode bounds a signed time against the transaction's (NOT_YET_VALID, BACKDATED) but
not how far ahead a consent may run, and an event's time not at all: the year 9999 went
through. Here an event happened between ``max_event_age_days`` ago and ``max_clock_skew_s``
from now, and a consent runs at most ``max_consent_lifetime_days`` from when she gave it
(docs/gateway.md, "Input"). Refusals are 422 ``IMPLAUSIBLE_TIME`` or
``CONSENT_TOO_LONG`` naming the field, never its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from chaincode.fields import parse_timestamp
from gateway.errors import Unprocessable


class ImplausibleTime(Unprocessable):
    code = "IMPLAUSIBLE_TIME"


class ConsentTooLong(Unprocessable):
    code = "CONSENT_TOO_LONG"


def check_event_times(timestamps: Sequence[str], *, max_age: timedelta, skew: timedelta,
                      now: datetime | None = None) -> None:
    """Raises ImplausibleTime for the first event outside ``[now - max_age, now + skew]``
    (``details.field``: ``events[i].timestamp``)."""
    now = now or datetime.now(UTC)
    for index, text in enumerate(timestamps):
        field = f"events[{index}].timestamp"
        when = parse_timestamp(text, field)
        if not now - max_age <= when <= now + skew:
            raise ImplausibleTime("an event's time is in the future or too long ago",
                                  details={"field": field})


def check_consent_lifetime(given_at: str, expires_at: str | None, *, longest: timedelta,
                           skew: timedelta, now: datetime | None = None) -> None:
    """Raises ConsentTooLong when a consent would run longer than ``longest`` from when she
    gave it, or from now (a ``given_at`` ahead of the clock is the chaincode's to refuse)."""
    if expires_at is None:
        return
    now = now or datetime.now(UTC)
    given = parse_timestamp(given_at, "given_at")
    expires = parse_timestamp(expires_at, "expires_at")
    if expires - given > longest or expires > now + skew + longest:
        raise ConsentTooLong("the consent runs longer than the consortium allows",
                             details={"field": "expires_at",
                                      "max_days": longest.days})
