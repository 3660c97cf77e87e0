"""The low-S check on the network's certificates.

Fabric 2.1.1's MSP rewrites every ECDSA certificate signature to low S before it builds a
chain; built with a modern Go, a CA certificate whose self-signature has a high S then
fails as "certificate signed by unknown authority" (the orderer panics, the peer will not
start; ../shared/fabric-2.1/NOTES.md). Fabric CA signs with low S, so this only guards
against hand-placed material, and it is checked before any node starts so the failure is
one line naming the file instead of a panic in a node's log.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from network.errors import HighSSignature

#: Group orders of the curves Fabric's MSP accepts (SEC 2 / FIPS 186-4).
_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973", 16),
    "secp521r1": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E9"
        "1386409", 16),
}


def signature_s(cert: x509.Certificate, issuer: x509.Certificate) -> tuple[int, int] | None:
    """``(s, n)`` of ``cert``'s ECDSA signature by ``issuer``'s key (None: not ECDSA)."""
    key = issuer.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return None
    order = _ORDERS.get(key.curve.name)
    if order is None:
        return None
    _, s = decode_dss_signature(cert.signature)
    return s, order


def check_low_s(path: Path) -> None:
    """Raise :class:`HighSSignature` when the self-signed CA certificate at ``path`` has a
    high-S signature (S > n/2). Certificates that are not ECDSA are not Fabric's concern."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    found = signature_s(cert, cert)
    if found is not None and found[0] > found[1] // 2:
        raise HighSSignature(
            f"{path}: CA certificate signature has high S, which Fabric 2.1.1's MSP refuses "
            "(re-issue it with Fabric CA, which signs with low S)")


def check_ca_certificates(folders: Iterable[Path]) -> int:
    """Check every ``cacerts``/``tlscacerts`` PEM file under each MSP folder; returns how
    many were checked.

    Raises:
        HighSSignature: the first high-S CA certificate, named by path.
    """
    count = 0
    for msp in folders:
        for sub in ("cacerts", "tlscacerts"):
            for pem in sorted((msp / sub).glob("*.pem")):
                check_low_s(pem)
                count += 1
    return count
