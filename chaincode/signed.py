"""Primitives every customer-signed message shares: nonces, the signed-time window and its
checks. Consent statements (:mod:`chaincode.consent`) and rights requests
(:mod:`chaincode.rights`) both build on them, so neither imports the other's module for them.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime, timedelta

from chaincode.errors import Backdated, NotYetValid, ReplayedNonce

NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: base64url signature text, as the customer's browser sends it.
SIGNATURE_TEXT = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True)
class TimeWindow:
    """How far a signed time may lead (``clock_skew``) or trail (``max_age``) ``now``."""

    clock_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(hours=24)



def check_nonce_unused(nonce: str, used_nonces: Container[str]) -> None:
    """Raise ReplayedNonce if ``nonce`` is in ``used_nonces``.

    ``used_nonces`` is any container: the contract passes what it found under
    :func:`nonce_key` (``{nonce}`` if the key exists, else ``()``).
    """
    if nonce in used_nonces:
        raise ReplayedNonce("nonce was already used", field="nonce")


def check_signed_time(
    signed_at: datetime,
    now: datetime,
    window: TimeWindow,
    *,
    field: str,
    enforce_max_age: bool = True,
    not_before: datetime | None = None,
) -> None:
    """Place a signed time against the transaction time ``now``.

    Raises NotYetValid when ``signed_at > now + clock_skew``; Backdated when
    ``signed_at < now - max_age`` (if enforced) or ``signed_at < not_before``.
    """
    if signed_at > now + window.clock_skew:
        raise NotYetValid("signed time is ahead of the transaction time", field=field)
    if enforce_max_age and signed_at < now - window.max_age:
        raise Backdated("signed time is older than the accepted age", field=field)
    if not_before is not None and signed_at < not_before:
        raise Backdated("statement is older than the record's latest statement", field=field)
