"""The canonical byte forms a customer's client must reproduce exactly.

A customer signs a statement in her browser (WebCrypto) or phone wallet, and the
chaincode verifies that signature over bytes it rebuilds from the parsed statement. Both
sides must therefore derive the *same bytes* from the same JSON value, whatever key order
or whitespace the client happened to send. We use the JSON Canonicalization Scheme,
RFC 8785 (JCS), through the ``rfc8785`` package, because:

- it is a published standard with independent implementations in JavaScript
  (``canonicalize`` on npm, ~40 lines over ``JSON.stringify``), so a browser client can
  reproduce it without our code;
- it is JSON itself: the signed bytes are a readable document an auditor can inspect;
- its rules are total for the values we sign (strings, integers, lists, objects): keys
  sorted by UTF-16 code units, no whitespace, strings as UTF-8 with the minimal escapes
  that ``JSON.stringify`` produces.

We do not Unicode-normalise strings (JCS does not either): a client signs exactly the
code points it sends. Signed documents hold no floats, so the one delicate part of JCS
(ECMAScript number formatting) never decides a signature.

Binary values (keys, signatures, salts) travel as unpadded base64url (RFC 4648 §5), the
encoding WebCrypto users reach for with JWK; decoding is strict, so every byte string has
exactly one accepted text form.
"""

from __future__ import annotations

import base64
import binascii
import re

import rfc8785

from chaincode.errors import InvalidValue, WrongType

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def canonical_bytes(value: object) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of a JSON value (dict, list, str, int, bool, None).

    >>> canonical_bytes({"b": [1, "é"], "a": None})
    b'{"a":null,"b":[1,"\\xc3\\xa9"]}'

    Raises InvalidValue for values JCS cannot represent (integers beyond 2**53 - 1,
    NaN/Infinity, lone surrogates, non-string keys, non-JSON types).
    """
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except (rfc8785.CanonicalizationError, UnicodeError, RecursionError) as exc:
        raise InvalidValue(f"value has no canonical JSON form: {type(exc).__name__}") from exc


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, e.g. ``b64url_encode(b"\\xfb\\xff") == "-_8"``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object, *, field: str) -> bytes:
    """Decode strict unpadded base64url.

    Refuses padding, the standard alphabet's ``+`` and ``/``, whitespace, impossible
    lengths and non-zero trailing bits, so that ``b64url_encode(b64url_decode(t)) == t``.
    Raises WrongType (not a string) or InvalidValue, naming ``field``.
    """
    if not isinstance(text, str):
        raise WrongType("expected a base64url string", field=field)
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise InvalidValue("not unpadded base64url", field=field)
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidValue("not unpadded base64url", field=field) from exc
    if b64url_encode(data) != text:
        raise InvalidValue("non-canonical base64url (trailing bits set)", field=field)
    return data
