"""The demo customer's wallet: a P-256 key that signs her statements as the consent portal does.

:class:`DemoCustomer` signs grants, narrowings, withdrawals and rights requests over their
canonical form (:func:`chaincode.keys.sign_document`), exactly as the browser's WebCrypto key
does. The demo seeds its world with it, and the tests and benchmarks play customers with it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from chaincode.canonical import b64url_encode
from chaincode.fields import format_timestamp
from chaincode.keys import CustomerKey, export_public_key, sign_document

_consent_ids = itertools.count()


@dataclass(frozen=True)
class DemoCustomer:
    """A customer's key pair and the statements she signs."""

    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def new(cls) -> DemoCustomer:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key(self) -> str:
        return export_public_key(self.private_key)

    @property
    def customer_id(self) -> str:
        return CustomerKey.from_b64url(self.public_key).customer_id

    def grant(self, recipients: Sequence[str], *, consent_id: str | None = None,
              purposes: Sequence[str] = ("personalisation",),
              categories: Sequence[str] = ("purchases", "views"),
              days: int = 365, expires_in: timedelta | None = None,
              given_ago: timedelta = timedelta(seconds=5)) -> dict[str, Any]:
        """A signed grant statement, given ``given_ago`` before now (the chaincode accepts a
        few minutes of skew and refuses a grant older than 24 hours as backdated), expiring
        after ``expires_in`` (default ``days``)."""
        now = datetime.now(UTC)
        return self.sign({
            **self._common("grant", consent_id or f"k-{os.getpid()}-{next(_consent_ids):08d}",
                           now - given_ago),
            "recipients": list(recipients),
            "purposes": list(purposes),
            "data_categories": list(categories),
            "expires_at": format_timestamp(now + (expires_in or timedelta(days=days))),
        })

    def narrow(self, consent_id: str, recipients: Sequence[str], purposes: Sequence[str],
               categories: Sequence[str], expires_at: str) -> dict[str, Any]:
        """A signed narrowing of ``consent_id`` to the complete new scope given."""
        return self.sign({
            **self._common("narrow", consent_id, datetime.now(UTC) - timedelta(seconds=2)),
            "recipients": list(recipients), "purposes": list(purposes),
            "data_categories": list(categories), "expires_at": expires_at,
        })

    def withdraw(self, consent_id: str) -> dict[str, Any]:
        """A signed withdrawal of ``consent_id``."""
        return self.sign(self._common("withdraw", consent_id,
                                      datetime.now(UTC) - timedelta(seconds=1)))

    def rights_request(self, action: str, gateway: str) -> dict[str, Any]:
        """Her signed ``export`` or ``erase`` request, made now, to be served by the gateway
        of member ``gateway`` (an MSP id)."""
        return self.sign({
            "action": action, "customer_id": self.customer_id,
            "requested_at": format_timestamp(datetime.now(UTC) - timedelta(seconds=1)),
            "nonce": b64url_encode(os.urandom(18)), "gateway": gateway,
        })

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        """``document`` (without ``signature``) and her signature over its canonical form."""
        return {**document, "signature": sign_document(self.private_key, document)}

    def _common(self, action: str, consent_id: str, given_at: datetime) -> dict[str, Any]:
        return {
            "action": action,
            "consent_id": consent_id,
            "customer_id": self.customer_id,
            "given_at": format_timestamp(given_at),
            "nonce": b64url_encode(os.urandom(18)),
            "collection_method": "kiosk",
            "policy_version": "2025-01",
            "jurisdiction": "DE",
        }
