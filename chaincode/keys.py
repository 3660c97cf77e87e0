"""Customer public keys, the customer id derived from them, and signature checks.

Scheme (chosen so that a browser with nothing but WebCrypto can take part):

- **Key**: ECDSA on P-256. The client sends the output of
  ``crypto.subtle.exportKey("spki", publicKey)`` (a 91-byte DER SubjectPublicKeyInfo,
  named curve, uncompressed point) as unpadded base64url. Only that exact encoding is
  accepted; other curves, RSA/Ed25519 keys, compressed points and explicit curve
  parameters are refused.
- **Customer id**: ``"c_" + base64url(SHA-256(SPKI DER))``, the full 43-character digest
  (256 bits, nothing truncated: the id doubles as a commitment to the key, and a
  composite-key part of 45 ASCII characters costs nothing). It holds no name, e-mail or
  phone number, and anyone holding the key can recompute it.
- **Signature**: ``crypto.subtle.sign({name: "ECDSA", hash: "SHA-256"}, ...)`` over the
  RFC 8785 canonical bytes of the document. WebCrypto returns IEEE P1363 ``r || s``
  (64 bytes), not DER; we check ``0 < r, s < n`` and convert to DER for ``cryptography``.
  Both ``s`` and ``n - s`` verify (WebCrypto does not normalise to low S); replay is
  stopped by nonces, not by signature uniqueness.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from chaincode.canonical import b64url_decode, b64url_encode, canonical_bytes
from chaincode.errors import (
    BadSignature,
    CustomerMismatch,
    InvalidValue,
    MalformedKey,
    MalformedSignature,
    UnsupportedKey,
    WrongType,
)
from chaincode.fields import (
    check_fields,
    expect_object,
    format_timestamp,
    load_json,
    parse_timestamp,
    read_str,
    truncate_to_millis,
)
from chaincode.statekeys import CompositeKey

CUSTOMER_ID_PATTERN = re.compile(r"c_[A-Za-z0-9_-]{43}")
#: Order of the P-256 group.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SIGNATURE_BYTES = 64
_MAX_KEY_TEXT = 1400  # a P-256 SPKI is 122 characters; leave room to name other algorithms
_MAX_RECORD_BYTES = 1024


def customer_id_for(spki_der: bytes) -> str:
    """The pseudonymous customer id of a key: ``"c_" + base64url(sha256(spki_der))``."""
    return "c_" + b64url_encode(hashlib.sha256(spki_der).digest())


def read_customer_id(value: Any, field: str = "customer_id") -> str:
    return read_str(
        value, field, pattern=CUSTOMER_ID_PATTERN, rule="customer id must be c_ + 43 base64url"
    )


@dataclass(frozen=True)
class CustomerKey:
    """A customer's verified P-256 public key.

    Build it with :meth:`from_b64url`; the constructor does not validate.
    """

    spki_der: bytes
    public_key: ec.EllipticCurvePublicKey

    @classmethod
    def from_b64url(cls, text: object, *, field: str = "public_key") -> CustomerKey:
        """Parse the base64url SPKI DER that WebCrypto exports.

        Raises MalformedKey (not base64url, not DER SPKI, not the canonical uncompressed
        named-curve encoding) or UnsupportedKey (not an EC key on P-256).
        """
        if isinstance(text, str) and len(text) > _MAX_KEY_TEXT:
            raise MalformedKey("key text is too long for a P-256 SPKI", field=field)
        try:
            der = b64url_decode(text, field=field)
        except (InvalidValue, WrongType) as exc:
            raise MalformedKey(exc.message, field=field) from exc
        return cls.from_der(der, field=field)

    @classmethod
    def from_der(cls, der: bytes, *, field: str = "public_key") -> CustomerKey:
        try:
            key = serialization.load_der_public_key(der)
        except UnsupportedAlgorithm as exc:
            raise UnsupportedKey("key algorithm or curve is not supported", field=field) from exc
        except (ValueError, TypeError) as exc:
            raise MalformedKey("not a DER SubjectPublicKeyInfo", field=field) from exc
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise UnsupportedKey("key must be ECDSA P-256", field=field)
        if not isinstance(key.curve, ec.SECP256R1):
            raise UnsupportedKey("key must be on curve P-256 (secp256r1)", field=field)
        canonical = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if canonical != der:
            raise MalformedKey(
                "key must be the SPKI encoding WebCrypto exports "
                "(named curve, uncompressed point, no trailing bytes)",
                field=field,
            )
        return cls(spki_der=der, public_key=key)

    @property
    def b64url(self) -> str:
        return b64url_encode(self.spki_der)

    @property
    def customer_id(self) -> str:
        return customer_id_for(self.spki_der)

    def require_customer(self, customer_id: str, *, field: str = "customer_id") -> None:
        """Raise CustomerMismatch unless this key is the one ``customer_id`` names."""
        if self.customer_id != customer_id:
            raise CustomerMismatch("customer id does not belong to this key", field=field)

    def verify(self, message: bytes, signature: object, *, field: str = "signature") -> None:
        """Verify a P1363 ``r || s`` ECDSA-SHA256 signature (base64url) over ``message``.

        Raises MalformedSignature (not 64 bytes of base64url) or BadSignature.
        """
        try:
            raw = b64url_decode(signature, field=field)
        except (InvalidValue, WrongType) as exc:
            raise MalformedSignature(exc.message, field=field) from exc
        if len(raw) != SIGNATURE_BYTES:
            raise MalformedSignature(
                f"signature must be {SIGNATURE_BYTES} bytes (IEEE P1363 r||s)", field=field
            )
        r = int.from_bytes(raw[:32], "big")
        s = int.from_bytes(raw[32:], "big")
        if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
            raise BadSignature("signature does not verify", field=field)
        try:
            self.public_key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise BadSignature("signature does not verify", field=field) from exc

    def verify_document(
        self, document: Any, signature: object, *, field: str = "signature"
    ) -> None:
        """Verify a signature over the RFC 8785 canonical bytes of ``document``."""
        self.verify(canonical_bytes(document), signature, field=field)


# --- the customer's side ------------------------------------------------------------------


def export_public_key(private_key: ec.EllipticCurvePrivateKey) -> str:
    """What ``exportKey("spki", ...)`` plus base64url gives in a browser."""
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b64url_encode(der)


def sign_document(private_key: ec.EllipticCurvePrivateKey, document: Any) -> str:
    """Sign as a WebCrypto client does: ECDSA P-256/SHA-256 over the RFC 8785 bytes of
    ``document``, as base64url of the 64-byte ``r || s``.

    For the demo seeder and tests, which play the customer's client.
    """
    der = private_key.sign(canonical_bytes(document), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


# --- customer record ---------------------------------------------------------------------


def customer_key(customer_id: str) -> CompositeKey:
    """Public-state key of a registered customer: ``customer~<customer_id>``."""
    return CompositeKey("customer", (customer_id,))


@dataclass(frozen=True)
class CustomerRecord:
    """A registered customer: the id and the key it derives from.

    Registration needs no signature: an id is bound to its key by derivation, and whoever
    registers a key they do not hold can sign nothing with it.
    """

    customer_id: str
    public_key: str
    registered_at: datetime
    #: Set by her erasure: members may then neither read nor record anything of hers until
    #: she grants a consent again (which clears it). Her key stays, so the consent history
    #: and her signed export of what remains still verify.
    erased_at: datetime | None = None

    @classmethod
    def register(cls, public_key: object, *, now: datetime) -> CustomerRecord:
        key = CustomerKey.from_b64url(public_key)
        return cls(key.customer_id, key.b64url, truncate_to_millis(now))

    @property
    def key(self) -> CustomerKey:
        return CustomerKey.from_b64url(self.public_key)

    def erased(self, now: datetime) -> CustomerRecord:
        return replace(self, erased_at=truncate_to_millis(now))

    def reopened(self) -> CustomerRecord:
        return replace(self, erased_at=None)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "customer_id": self.customer_id,
            "public_key": self.public_key,
            "registered_at": format_timestamp(self.registered_at),
        }
        if self.erased_at is not None:
            out["erased_at"] = format_timestamp(self.erased_at)
        return out

    def to_json_bytes(self) -> bytes:
        return canonical_bytes(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str) -> CustomerRecord:
        obj = expect_object(load_json(data, max_bytes=_MAX_RECORD_BYTES))
        check_fields(obj, required=("customer_id", "public_key", "registered_at"),
                     optional=("erased_at",))
        customer_id = read_customer_id(obj["customer_id"])
        key = CustomerKey.from_b64url(obj["public_key"])
        key.require_customer(customer_id)
        erased = obj.get("erased_at")
        return cls(customer_id, key.b64url, parse_timestamp(obj["registered_at"], "registered_at"),
                   None if erased is None else parse_timestamp(erased, "erased_at"))
