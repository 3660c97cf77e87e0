"""Every refusal the chaincode can give, one exception type per refusal.

Each error carries a stable machine-readable ``code`` (the contract's clients branch
on it, so a code is never renamed), a ``kind`` that says which family of HTTP status
the gateway maps it to, a human-readable message and, for input errors, the offending
``field`` as a path (``"recipients[2]"``, ``"[17].value"``).

Messages and details name fields and rules, never values: a refused value may be
personal data, and the error text travels back through the peer into logs.

=========================  ===============  ==============================================
code                       kind             meaning
=========================  ===============  ==============================================
MALFORMED_JSON             invalid          not UTF-8 JSON, duplicate keys, NaN/Infinity
PAYLOAD_TOO_LARGE          invalid          document longer than its byte limit
UNKNOWN_FIELD              invalid          field not defined (for this action)
MISSING_FIELD              invalid          required field absent
WRONG_TYPE                 invalid          field has the wrong JSON type
INVALID_VALUE              invalid          field has the right type but a refused value
EMPTY_LIST                 invalid          list that must name at least one item is empty
DUPLICATE_VALUE            invalid          list names the same item twice
EXPIRY_BEFORE_GIVEN        invalid          expires_at is not after given_at
BATCH_TOO_LARGE            invalid          batch holds more events than allowed
DUPLICATE_EVENT_ID         invalid          batch holds the same event key twice
NOT_YET_VALID              invalid          signed time is ahead of the transaction time
BACKDATED                  invalid          signed time too old, or older than the record
CONSENT_MISMATCH           invalid          statement changes a field that cannot change
MALFORMED_KEY              invalid          public key not a canonical SPKI DER encoding
UNSUPPORTED_KEY            invalid          public key not ECDSA on curve P-256
MALFORMED_SIGNATURE        invalid          signature not 64 bytes of base64url (r||s)
MALFORMED_IDENTITY         invalid          creator identity or certificate undecodable
MALFORMED_PROPOSAL         invalid          signed proposal undecodable
MISSING_TRANSIENT_KEY      invalid          transient map lacks a required entry
BAD_SIGNATURE              unauthenticated  signature does not verify under the key
CUSTOMER_MISMATCH          unauthenticated  key or record belongs to another customer
MISSING_ATTRIBUTE          forbidden        caller certificate lacks a required attribute
GATEWAY_MISMATCH           forbidden        her signed request names another member's gateway
RETAILER_MISMATCH          forbidden        caller writes events in another retailer's name
NOT_A_RECIPIENT            forbidden        consent does not name the calling organisation
PURPOSE_NOT_GRANTED        forbidden        consent does not cover the purpose
CATEGORY_NOT_GRANTED       forbidden        consent does not cover the data category
CONSENT_EXPIRED            forbidden        consent expired at or before the transaction
CONSENT_WITHDRAWN          forbidden        consent was withdrawn
WIDENING_NOT_ALLOWED       forbidden        narrowing adds recipients/purposes/categories
                                            or extends the expiry
UNKNOWN_CUSTOMER           not_found        no key registered for the customer id
CUSTOMER_ERASED            not_found        the customer erased her data; her id is closed
                                            until she grants a consent again
CONSENT_NOT_FOUND          not_found        no consent record (for this customer)
MODEL_NOT_FOUND            not_found        no provenance record for the model id
CUSTOMER_EXISTS            conflict         customer key already registered
CONSENT_EXISTS             conflict         grant reuses an existing consent id
EVENT_EXISTS               conflict         preference event key already written
MODEL_EXISTS               conflict         provenance record already written
WATCH_RECORD_EXISTS        conflict         watch record already written
REPLAYED_NONCE             conflict         customer nonce already used
=========================  ===============  ==============================================

The table is also available as data from :func:`error_table`; a unit test keeps the two
in step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

Kind = Literal["invalid", "unauthenticated", "forbidden", "not_found", "conflict"]

_REGISTRY: dict[str, type[ChaincodeError]] = {}


class ChaincodeError(Exception):
    """Base of every refusal. Subclasses set ``code`` and ``kind``.

    ``to_json()`` is the text the contract returns as its error message; the gateway
    turns it back into the same type with :func:`error_from_json`.
    """

    code: ClassVar[str] = ""
    kind: ClassVar[Kind] = "invalid"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.code:
            raise TypeError(f"{cls.__name__} must define a code")
        if cls.code in _REGISTRY:
            raise TypeError(f"duplicate error code {cls.code}")
        _REGISTRY[cls.code] = cls

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "kind": self.kind, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.details:
            out["details"] = self.details
        return out

    def to_json(self) -> str:
        """Deterministic JSON, e.g. ``{"code":"UNKNOWN_FIELD","field":"colour",...}``."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.code}: {self.message}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, field={self.field!r})"


# --- input -----------------------------------------------------------------------------


class MalformedJson(ChaincodeError):
    """not UTF-8 JSON, duplicate keys, NaN/Infinity"""

    code = "MALFORMED_JSON"


class PayloadTooLarge(ChaincodeError):
    """document longer than its byte limit"""

    code = "PAYLOAD_TOO_LARGE"


class UnknownField(ChaincodeError):
    """field not defined (for this action)"""

    code = "UNKNOWN_FIELD"


class MissingField(ChaincodeError):
    """required field absent"""

    code = "MISSING_FIELD"


class WrongType(ChaincodeError):
    """field has the wrong JSON type"""

    code = "WRONG_TYPE"


class InvalidValue(ChaincodeError):
    """field has the right type but a refused value"""

    code = "INVALID_VALUE"


class EmptyList(ChaincodeError):
    """list that must name at least one item is empty"""

    code = "EMPTY_LIST"


class DuplicateValue(ChaincodeError):
    """list names the same item twice"""

    code = "DUPLICATE_VALUE"


class ExpiryBeforeGiven(ChaincodeError):
    """expires_at is not after given_at"""

    code = "EXPIRY_BEFORE_GIVEN"


class BatchTooLarge(ChaincodeError):
    """batch holds more events than allowed"""

    code = "BATCH_TOO_LARGE"


class DuplicateEventId(ChaincodeError):
    """batch holds the same event key twice"""

    code = "DUPLICATE_EVENT_ID"


class NotYetValid(ChaincodeError):
    """signed time is ahead of the transaction time"""

    code = "NOT_YET_VALID"


class Backdated(ChaincodeError):
    """signed time too old, or older than the record"""

    code = "BACKDATED"


class ConsentMismatch(ChaincodeError):
    """statement changes a field that cannot change"""

    code = "CONSENT_MISMATCH"


class MalformedKey(ChaincodeError):
    """public key not a canonical SPKI DER encoding"""

    code = "MALFORMED_KEY"


class UnsupportedKey(ChaincodeError):
    """public key not ECDSA on curve P-256"""

    code = "UNSUPPORTED_KEY"


class MalformedSignature(ChaincodeError):
    """signature not 64 bytes of base64url (r||s)"""

    code = "MALFORMED_SIGNATURE"


class MalformedIdentity(ChaincodeError):
    """creator identity or certificate undecodable"""

    code = "MALFORMED_IDENTITY"


class MalformedProposal(ChaincodeError):
    """signed proposal undecodable"""

    code = "MALFORMED_PROPOSAL"


class MissingTransientKey(ChaincodeError):
    """transient map lacks a required entry"""

    code = "MISSING_TRANSIENT_KEY"


# --- authentication ----------------------------------------------------------------------


class BadSignature(ChaincodeError):
    """signature does not verify under the key"""

    code = "BAD_SIGNATURE"
    kind = "unauthenticated"


class CustomerMismatch(ChaincodeError):
    """key or record belongs to another customer"""

    code = "CUSTOMER_MISMATCH"
    kind = "unauthenticated"


# --- authorisation -----------------------------------------------------------------------


class MissingAttribute(ChaincodeError):
    """caller certificate lacks a required attribute"""

    code = "MISSING_ATTRIBUTE"
    kind = "forbidden"


class RetailerMismatch(ChaincodeError):
    """caller writes events in another retailer's name"""

    code = "RETAILER_MISMATCH"
    kind = "forbidden"


class GatewayMismatch(ChaincodeError):
    """her signed request names another member's gateway"""

    code = "GATEWAY_MISMATCH"
    kind = "forbidden"


class NotARecipient(ChaincodeError):
    """consent does not name the calling organisation"""

    code = "NOT_A_RECIPIENT"
    kind = "forbidden"


class PurposeNotGranted(ChaincodeError):
    """consent does not cover the purpose"""

    code = "PURPOSE_NOT_GRANTED"
    kind = "forbidden"


class CategoryNotGranted(ChaincodeError):
    """consent does not cover the data category"""

    code = "CATEGORY_NOT_GRANTED"
    kind = "forbidden"


class ConsentExpired(ChaincodeError):
    """consent expired at or before the transaction"""

    code = "CONSENT_EXPIRED"
    kind = "forbidden"


class ConsentWithdrawn(ChaincodeError):
    """consent was withdrawn"""

    code = "CONSENT_WITHDRAWN"
    kind = "forbidden"


class WideningNotAllowed(ChaincodeError):
    """narrowing adds recipients/purposes/categories or extends the expiry"""

    code = "WIDENING_NOT_ALLOWED"
    kind = "forbidden"


# --- state -------------------------------------------------------------------------------


class UnknownCustomer(ChaincodeError):
    """no key registered for the customer id"""

    code = "UNKNOWN_CUSTOMER"
    kind = "not_found"


class CustomerErased(UnknownCustomer):
    """the customer erased her data; her id is closed until she grants a consent again"""

    code = "CUSTOMER_ERASED"
    kind = "not_found"


class ConsentNotFound(ChaincodeError):
    """no consent record (for this customer)"""

    code = "CONSENT_NOT_FOUND"
    kind = "not_found"


class ModelNotFound(ChaincodeError):
    """no provenance record for the model id"""

    code = "MODEL_NOT_FOUND"
    kind = "not_found"


class CustomerExists(ChaincodeError):
    """customer key already registered"""

    code = "CUSTOMER_EXISTS"
    kind = "conflict"


class ConsentExists(ChaincodeError):
    """grant reuses an existing consent id"""

    code = "CONSENT_EXISTS"
    kind = "conflict"


class EventExists(ChaincodeError):
    """preference event key already written"""

    code = "EVENT_EXISTS"
    kind = "conflict"


class ModelExists(ChaincodeError):
    """provenance record already written"""

    code = "MODEL_EXISTS"
    kind = "conflict"


class WatchRecordExists(ChaincodeError):
    """watch record already written"""

    code = "WATCH_RECORD_EXISTS"
    kind = "conflict"


class ReplayedNonce(ChaincodeError):
    """customer nonce already used"""

    code = "REPLAYED_NONCE"
    kind = "conflict"


# --- lookup ------------------------------------------------------------------------------


def error_table() -> list[tuple[str, Kind, str]]:
    """Every error as ``(code, kind, meaning)``, in definition order (for docs)."""
    return [(cls.code, cls.kind, (cls.__doc__ or "").strip()) for cls in _REGISTRY.values()]


def error_class(code: str) -> type[ChaincodeError] | None:
    """The error type for a code, or None for a code this version does not know."""
    return _REGISTRY.get(code)


def error_from_json(text: str) -> ChaincodeError | None:
    """Rebuild an error from :meth:`ChaincodeError.to_json` output.

    Returns None when ``text`` is not such a document (e.g. a peer's own message), so
    the caller can keep the raw text.
    """
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    code = doc.get("code")
    cls = _REGISTRY.get(code) if isinstance(code, str) else None
    message = doc.get("message")
    field = doc.get("field")
    details = doc.get("details", {})
    if (
        cls is None
        or not isinstance(message, str)
        or not (field is None or isinstance(field, str))
        or not isinstance(details, dict)
    ):
        return None
    return cls(message, field=field, details=details)
