import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.fabric.signing import (
    CURVE_ORDERS,
    curve_order,
    ecdsa_signer,
    is_low_s,
    none,
    sha3_256,
    sha3_384,
    sha256,
    sha384,
    to_low_s,
)

P256_N = CURVE_ORDERS["secp256r1"]


@settings(max_examples=150, deadline=None)
@given(message=st.binary(max_size=512))
def test_signature_over_sha256_digest_verifies_with_certificate_and_is_low_s(org1, message):
    signature = org1.signer()(sha256(message))

    assert org1.verifies(signature, message)
    _, s = utils.decode_dss_signature(signature)
    assert s <= P256_N // 2


@settings(max_examples=30, deadline=None)
@given(message=st.binary(max_size=256))
def test_p384_signature_over_sha384_digest_verifies_and_is_low_s(make_credentials, message):
    creds = make_credentials(curve=ec.SECP384R1())
    signature = creds.signer()(sha384(message))

    creds.key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA384()))
    assert is_low_s(signature, CURVE_ORDERS["secp384r1"])


def _high_s_signature(key, message):
    """Sign with cryptography until it returns a high-S signature (about half do)."""
    for _ in range(200):
        raw = key.sign(message, ec.ECDSA(hashes.SHA256()))
        if not is_low_s(raw, P256_N):
            return raw
    raise AssertionError("no high-S signature in 200 tries")


def test_high_s_signature_is_normalised_to_n_minus_s_and_still_verifies(org1):
    message = b"normalise me"
    raw = _high_s_signature(org1.key, message)

    low = to_low_s(raw, P256_N)

    r_raw, s_raw = utils.decode_dss_signature(raw)
    r_low, s_low = utils.decode_dss_signature(low)
    assert (r_low, s_low) == (r_raw, P256_N - s_raw)
    # Verifying (r, n - s) proves the curve order constant is the right one.
    org1.key.public_key().verify(low, message, ec.ECDSA(hashes.SHA256()))


def test_low_s_signature_is_left_unchanged(org1):
    raw = _high_s_signature(org1.key, b"m")
    low = to_low_s(raw, P256_N)

    assert to_low_s(low, P256_N) == low


def test_signer_rejects_digest_of_unsupported_length(org1):
    with pytest.raises(ValueError, match="32 or 48 byte digest"):
        org1.signer()(b"not a digest")


def test_signer_creation_rejects_curve_fabric_does_not_accept():
    key = ec.generate_private_key(ec.SECP256K1())

    with pytest.raises(ValueError, match="unsupported curve"):
        ecdsa_signer(key)
    with pytest.raises(ValueError):
        curve_order(ec.SECP521R1())


def test_signature_does_not_verify_for_another_message(org1):
    signature = org1.signer()(sha256(b"one"))

    with pytest.raises(InvalidSignature):
        org1.key.public_key().verify(signature, b"two", ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(
    ("hash_function", "reference"),
    [
        (sha256, hashlib.sha256),
        (sha384, hashlib.sha384),
        (sha3_256, hashlib.sha3_256),
        (sha3_384, hashlib.sha3_384),
    ],
)
def test_hash_functions_match_hashlib(hash_function, reference):
    assert hash_function(b"abc") == reference(b"abc").digest()


def test_none_hash_returns_message_unchanged():
    assert none(b"abc") == b"abc"
