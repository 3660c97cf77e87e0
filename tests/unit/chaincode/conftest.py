"""Customers who sign like a WebCrypto client, and a fixed transaction time."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from chaincode.consent import SignedStatement, parse_signed_statement
from chaincode.fields import format_timestamp
from chaincode.keys import CustomerKey, export_public_key, sign_document

#: The transaction timestamp every test runs "at".
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

_nonces = itertools.count()


@dataclass
class Customer:
    private_key: ec.EllipticCurvePrivateKey
    key: CustomerKey = field(init=False)

    def __post_init__(self) -> None:
        self.key = CustomerKey.from_b64url(export_public_key(self.private_key))

    @property
    def id(self) -> str:
        return self.key.customer_id

    def statement(self, action: str = "grant", **overrides: Any) -> dict[str, Any]:
        """A valid statement document (before signing), fields overridable."""
        doc: dict[str, Any] = {
            "action": action,
            "consent_id": "k-0001",
            "customer_id": self.id,
            "given_at": format_timestamp(NOW - timedelta(minutes=1)),
            "nonce": f"nonce-{next(_nonces):010d}-abcdef",
            "collection_method": "kiosk",
            "policy_version": "2025-01",
            "jurisdiction": "DE",
        }
        if action != "withdraw":
            doc.update(
                recipients=["Org2MSP", "Org3MSP"],
                purposes=["personalisation", "analytics"],
                data_categories=["purchases", "views", "stated_preferences"],
                expires_at=format_timestamp(NOW + timedelta(days=365)),
            )
        doc.update(overrides)
        return {k: v for k, v in doc.items() if v is not None}

    def sign(self, doc: dict[str, Any]) -> str:
        return sign_document(self.private_key, doc)

    def wire(self, doc: dict[str, Any]) -> str:
        """The signed JSON text a client sends."""
        return json.dumps({**doc, "signature": self.sign(doc)})

    def signed(self, action: str = "grant", **overrides: Any) -> SignedStatement:
        return parse_signed_statement(self.wire(self.statement(action, **overrides)))


def new_customer() -> Customer:
    return Customer(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def alice() -> Customer:
    return new_customer()


@pytest.fixture(scope="session")
def mallory() -> Customer:
    return new_customer()


@pytest.fixture(scope="session")
def now() -> datetime:
    return NOW
