"""Test credentials and signature checks for the client's pure message-building tests.

Nothing here plays a peer or an orderer: what the client does with real nodes is tested
against a real Fabric 2.1.1 network in tests/integration/test_fabric_client.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chaincode.consent import ConsentRecord
from chaincode.consent_statement import ConsentScope, ConsentStatement
from gateway.fabric.identity import Identity
from gateway.fabric.signing import ecdsa_signer
from gateway.ledger_records import ListedConsent

FABRIC_CA_ATTRS_OID = x509.ObjectIdentifier("1.2.3.4.5.6.7.8.1")
ATTRS = {"hf.EnrollmentID": "gw1", "role": "gateway", "store_id": "b-01"}


def make_certificate(
    key: ec.EllipticCurvePrivateKey, attrs: dict[str, str] | None = None
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gw1")])
    start = datetime(2025, 1, 1, tzinfo=UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
    )
    if attrs is not None:
        value = json.dumps({"attrs": attrs}).encode()
        builder = builder.add_extension(
            x509.UnrecognizedExtension(FABRIC_CA_ATTRS_OID, value), critical=False
        )
    return builder.sign(key, hashes.SHA256())


@dataclass(frozen=True)
class Credentials:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    identity: Identity

    def signer(self) -> Any:
        return ecdsa_signer(self.key)

    def verifies(self, signature: bytes, message: bytes) -> bool:
        return verifies(self.identity.certificate, signature, message)


def new_credentials(msp_id: str = "Org1MSP", curve: ec.EllipticCurve | None = None) -> Credentials:
    key = ec.generate_private_key(curve or ec.SECP256R1())
    certificate = make_certificate(key, ATTRS)
    return Credentials(key, certificate, Identity.from_certificate(msp_id, certificate))


@pytest.fixture(scope="session")
def org1() -> Credentials:
    return new_credentials("Org1MSP")


@pytest.fixture(scope="session")
def make_credentials() -> Any:
    """``make_credentials(msp_id="Org1MSP", curve=None) -> Credentials``."""
    return new_credentials


def verifies(certificate_pem: bytes, signature: bytes, message: bytes) -> bool:
    """Does ``signature`` verify over SHA-256(``message``) with the certificate's key?"""
    public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    try:
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except Exception:
        return False
    return True


# -- consent records as the ledger returns them ------------------------------------------------

#: The time the consent tests decide at.
CONSENT_NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CONSENT_CUSTOMER = "c_" + "A" * 43


def listed_consent(recipients: list[str], categories: list[str], *, status: str = "active",
                   purposes: tuple[str, ...] = ("personalisation",),
                   consent_id: str = "k-1", now: datetime = CONSENT_NOW) -> ListedConsent:
    """One of her consents as ``ConsortiumLedger.list_consents`` returns it, whose record is
    ``status`` at ``now`` (signature and key are placeholders: nothing here verifies them)."""
    given = now - timedelta(days=1)
    expires = now + (timedelta(days=-1 if status == "expired" else 30))
    scope = ConsentScope(tuple(recipients), purposes, tuple(categories), expires)
    statement = ConsentStatement("grant", consent_id, CONSENT_CUSTOMER, given, "n" * 22, "kiosk",
                                 "2025-01", "DE", scope)
    withdrawn = now - timedelta(hours=1) if status == "withdrawn" else None
    record = ConsentRecord(consent_id, CONSENT_CUSTOMER, "key", scope, given, withdrawn, "kiosk",
                           "2025-01", "DE", 1, given, statement, "signature")
    assert record.status(now) == status
    return ListedConsent(record, record.status(now))
