import base64
import hashlib
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from chaincode.canonical import b64url_decode, b64url_encode
from chaincode.errors import (
    BadSignature,
    CustomerMismatch,
    MalformedKey,
    MalformedSignature,
    UnsupportedKey,
)
from chaincode.keys import (
    P256_ORDER,
    CustomerKey,
    CustomerRecord,
    customer_id_for,
    customer_key,
    export_public_key,
    sign_document,
)


def _spki(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _raw(sig_text: str) -> tuple[int, int]:
    raw = b64url_decode(sig_text, field="s")
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


def _text(r: int, s: int) -> str:
    return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def test_webcrypto_spki_is_accepted_and_round_trips():
    private = ec.derive_private_key(7, ec.SECP256R1())
    text = export_public_key(private)
    key = CustomerKey.from_b64url(text)
    assert len(key.spki_der) == 91
    assert key.b64url == text


def test_customer_id_is_c_prefix_and_full_sha256_of_spki():
    der = _spki(ec.derive_private_key(7, ec.SECP256R1()).public_key())
    expected = "c_" + base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert customer_id_for(der) == expected
    assert len(expected) == 45
    assert CustomerKey.from_der(der).customer_id == expected


def test_distinct_keys_give_distinct_customer_ids(alice, mallory):
    assert alice.id != mallory.id


@pytest.mark.parametrize(
    "public_key",
    [
        ec.generate_private_key(ec.SECP384R1()).public_key(),
        ec.generate_private_key(ec.SECP256K1()).public_key(),
        ed25519.Ed25519PrivateKey.generate().public_key(),
        rsa.generate_private_key(65537, 1024).public_key(),
    ],
    ids=["p384", "secp256k1", "ed25519", "rsa"],
)
def test_keys_other_than_p256_are_refused_as_unsupported(public_key):
    with pytest.raises(UnsupportedKey) as info:
        CustomerKey.from_b64url(b64url_encode(_spki(public_key)))
    assert info.value.code == "UNSUPPORTED_KEY"
    assert info.value.field == "public_key"


def test_compressed_point_encoding_is_refused_as_non_canonical():
    public = ec.derive_private_key(7, ec.SECP256R1()).public_key()
    uncompressed = _spki(public)
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    algorithm = uncompressed[2:23]  # SEQUENCE { ecPublicKey, prime256v1 }
    bit_string = b"\x03" + bytes([len(point) + 1]) + b"\x00" + point
    body = algorithm + bit_string
    compressed = b"\x30" + bytes([len(body)]) + body
    with pytest.raises(MalformedKey, match="uncompressed"):
        CustomerKey.from_der(compressed)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64!",
        export_public_key(ec.derive_private_key(7, ec.SECP256R1())) + "==",
        b64url_encode(b"\x30\x03\x02\x01\x00"),
        b64url_encode(_spki(ec.derive_private_key(7, ec.SECP256R1()).public_key()) + b"\x00"),
        "A" * 2000,
        42,
        None,
    ],
    ids=["empty", "alphabet", "padding", "not-spki", "trailing-byte", "too-long", "int", "none"],
)
def test_malformed_key_text_is_refused(text):
    with pytest.raises(MalformedKey):
        CustomerKey.from_b64url(text)


def test_signature_from_webcrypto_style_signer_verifies(alice):
    alice.key.verify_document({"a": 1}, alice.sign({"a": 1}))


def test_high_s_twin_of_a_valid_signature_also_verifies(alice):
    r, s = _raw(alice.sign({"a": 1}))
    alice.key.verify_document({"a": 1}, _text(r, P256_ORDER - s))


def test_signature_over_tampered_document_is_refused(alice):
    with pytest.raises(BadSignature):
        alice.key.verify_document({"a": 2}, alice.sign({"a": 1}))


def test_signature_by_another_key_is_refused(alice, mallory):
    with pytest.raises(BadSignature):
        alice.key.verify_document({"a": 1}, mallory.sign({"a": 1}))


def test_der_encoded_signature_is_refused_as_malformed(alice):
    der = alice.private_key.sign(b'{"a":1}', ec.ECDSA(hashes.SHA256()))
    decode_dss_signature(der)  # it is a real DER signature
    with pytest.raises(MalformedSignature, match="P1363"):
        alice.key.verify(b'{"a":1}', b64url_encode(der))


@pytest.mark.parametrize("r_s", [(0, 1), (1, 0), (P256_ORDER, 1), (1, P256_ORDER)])
def test_signature_with_r_or_s_out_of_range_is_refused(alice, r_s):
    with pytest.raises(BadSignature):
        alice.key.verify(b"x", _text(*r_s))


@pytest.mark.parametrize("sig", ["", "abc=", 12, None, b64url_encode(b"\x01" * 63)])
def test_signature_of_wrong_shape_is_refused_as_malformed(alice, sig):
    with pytest.raises(MalformedSignature):
        alice.key.verify(b"x", sig)


def test_sign_document_signs_canonical_bytes_whatever_the_key_order(alice):
    signature = sign_document(alice.private_key, {"b": 1, "a": 2})
    alice.key.verify(b'{"a":2,"b":1}', signature)


def test_require_customer_refuses_another_customers_id(alice, mallory):
    alice.key.require_customer(alice.id)
    with pytest.raises(CustomerMismatch):
        alice.key.require_customer(mallory.id)


def test_customer_record_round_trips_and_keys_by_id(alice, now):
    record = CustomerRecord.register(alice.key.b64url, now=now + timedelta(microseconds=1500))
    assert record.customer_id == alice.id
    assert CustomerRecord.from_json(record.to_json_bytes()) == record
    assert customer_key(alice.id).render() == f"\x00customer\x00{alice.id}\x00"
    assert record.key == alice.key


def test_customer_record_with_id_of_another_key_is_refused(alice, mallory, now):
    doc = CustomerRecord.register(alice.key.b64url, now=now).to_dict()
    doc["customer_id"] = mallory.id
    with pytest.raises(CustomerMismatch):
        CustomerRecord.from_json(str(doc).replace("'", '"'))
