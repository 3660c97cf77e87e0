"""Hashes and signers, split as the official clients split them.

A :data:`Hash` turns a message into the digest that is signed; a :data:`Signer`
turns that digest into a signature. The gateway client hashes every message it
signs (proposal bytes, the transaction envelope's payload, the deliver seek request)
with its hash (default :func:`sha256`) and hands the
digest to the signer, as fabric-gateway's ``pkg/hash`` and ``identity.Sign`` do.
The result for an ECDSA key is a signature over ``SHA-256(message)``, which is
what the peer checks.

Peers refuse ECDSA signatures whose ``s`` lies in the upper half of the curve
order (Fabric's ``IsLowS`` check), and ``cryptography`` does not normalise, so
:func:`ecdsa_signer` replaces ``s`` by ``n - s`` when ``s > n/2``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

#: message → digest
Hash = Callable[[bytes], bytes]

#: digest → signature (for ECDSA: DER ``SEQUENCE {r, s}`` with low ``s``)
Signer = Callable[[bytes], bytes]


def sha256(message: bytes) -> bytes:
    return hashlib.sha256(message).digest()


def sha384(message: bytes) -> bytes:
    return hashlib.sha384(message).digest()


def sha3_256(message: bytes) -> bytes:
    return hashlib.sha3_256(message).digest()


def sha3_384(message: bytes) -> bytes:
    return hashlib.sha3_384(message).digest()


def none(message: bytes) -> bytes:
    """No hashing: for signers that hash themselves (e.g. Ed25519)."""
    return message


#: Order ``n`` of the base point of each curve the Fabric Gateway accepts.
CURVE_ORDERS: dict[str, int] = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}

# cryptography's Prehashed only uses the algorithm to check the digest length.
_PREHASHED_BY_LENGTH: dict[int, hashes.HashAlgorithm] = {
    32: hashes.SHA256(),
    48: hashes.SHA384(),
}


def curve_order(curve: ec.EllipticCurve) -> int:
    """``n`` for a supported curve; ValueError otherwise."""
    try:
        return CURVE_ORDERS[curve.name]
    except KeyError:
        raise ValueError(f"unsupported curve {curve.name}; use P-256 or P-384") from None


def to_low_s(signature: bytes, order: int) -> bytes:
    """Re-encode a DER ECDSA signature with ``s`` replaced by ``n - s`` if ``s > n/2``.

    Both forms verify under the same key; Fabric accepts only the low one.
    """
    r, s = utils.decode_dss_signature(signature)
    if s > order // 2:
        s = order - s
    return utils.encode_dss_signature(r, s)


def is_low_s(signature: bytes, order: int) -> bool:
    _, s = utils.decode_dss_signature(signature)
    return s <= order // 2


def ecdsa_signer(private_key: ec.EllipticCurvePrivateKey) -> Signer:
    """A signer for a P-256 or P-384 key that signs a precomputed digest.

    The digest must be 32 or 48 bytes (SHA-256/SHA3-256 or SHA-384/SHA3-384 of the
    message); the signature is DER with low ``s``.

    Raises ValueError for another curve (at creation) or digest length (at signing).
    """
    order = curve_order(private_key.curve)

    def sign(digest: bytes) -> bytes:
        algorithm = _PREHASHED_BY_LENGTH.get(len(digest))
        if algorithm is None:
            raise ValueError(f"ECDSA signer needs a 32 or 48 byte digest, got {len(digest)}")
        raw = private_key.sign(digest, ec.ECDSA(utils.Prehashed(algorithm)))
        return to_low_s(raw, order)

    return sign
