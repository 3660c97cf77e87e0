"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from network.certs import signature_s


def _self_signed_ca(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hand-placed-ca")])
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


@pytest.fixture(scope="session")
def ca_pem_with_s() -> Callable[[bool], bytes]:
    """A self-signed ECDSA CA certificate (PEM) whose signature has high S (``True``) or low
    S (``False``). ECDSA signing is randomised and half its signatures have S > n/2, so this
    signs until it gets the wanted kind (a few tries)."""

    def make(high: bool) -> bytes:
        key = ec.generate_private_key(ec.SECP256R1())
        for _ in range(200):
            cert = _self_signed_ca(key)
            s, n = signature_s(cert, cert) or (0, 1)
            if (s > n // 2) == high:
                return cert.public_bytes(serialization.Encoding.PEM)
        raise AssertionError("no signature of the wanted kind in 200 tries")

    return make
