"""What the customer signs to grant, narrow or withdraw a consent, parsed strictly.

A :class:`ConsentStatement` travels as one JSON object: the statement's fields plus
``"signature"``, the customer's ECDSA P-256 signature (see :mod:`chaincode.keys`) over the
RFC 8785 canonical bytes of the statement's fields *without* ``signature``::

    {"action": "grant", "consent_id": "k-2025-0001", "customer_id": "c_...",
     "recipients": ["Org2MSP"], "purposes": ["personalisation"],
     "data_categories": ["purchases", "views"],
     "given_at": "2025-01-31T09:30:00.000Z", "expires_at": "2026-01-31T09:30:00.000Z",
     "nonce": "q8Zb1mB0rT3vVx6yW2aN4g", "collection_method": "kiosk",
     "policy_version": "2025-01", "jurisdiction": "DE", "signature": "..."}

``withdraw`` statements carry no ``recipients``, ``purposes``, ``data_categories`` or
``expires_at``. Recipients are MSP ids, or ``["*"]`` for every member of the consortium.

The record the ledger keeps, and the rules by which a statement changes it, are in
:mod:`chaincode.consent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from chaincode.canonical import canonical_bytes
from chaincode.errors import (
    ExpiryBeforeGiven,
    InvalidValue,
    MissingField,
    WideningNotAllowed,
)
from chaincode.fields import (
    ID_PATTERN,
    MSP_ID_PATTERN,
    check_fields,
    expect_object,
    format_timestamp,
    join,
    load_json,
    parse_timestamp,
    read_enum,
    read_str,
    read_str_list,
)
from chaincode.keys import CustomerKey, read_customer_id
from chaincode.signed import NONCE_PATTERN, SIGNATURE_TEXT

Action = Literal["grant", "narrow", "withdraw"]
ACTIONS: tuple[Action, ...] = ("grant", "narrow", "withdraw")
PURPOSES = ("personalisation", "analytics")
DATA_CATEGORIES = ("purchases", "views", "stated_preferences")
COLLECTION_METHODS = ("kiosk", "app", "web")
ALL_MEMBERS = "*"

#: A nonce is 16..64 base64url characters: at least 96 bits from getRandomValues.
#: ISO 3166-1 alpha-2, optionally with a subdivision (``DE``, ``US-CA``), or ``EU``.
JURISDICTION_PATTERN = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")
POLICY_VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
RECIPIENT_PATTERN = re.compile(rf"\*|{MSP_ID_PATTERN.pattern}")


MAX_STATEMENT_BYTES = 4096
MAX_RECIPIENTS = 64

COMMON_FIELDS = (
    "action",
    "consent_id",
    "customer_id",
    "given_at",
    "nonce",
    "collection_method",
    "policy_version",
    "jurisdiction",
)
SCOPE_FIELDS = ("recipients", "purposes", "data_categories", "expires_at")


# --- scope -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentScope:
    """What a consent covers: who, what for, which data, until when."""

    recipients: tuple[str, ...]
    purposes: tuple[str, ...]
    data_categories: tuple[str, ...]
    expires_at: datetime

    @classmethod
    def from_dict(cls, obj: dict[str, Any], path: str = "") -> ConsentScope:
        recipients = read_str_list(
            obj["recipients"],
            join(path, "recipients"),
            max_items=MAX_RECIPIENTS,
            pattern=RECIPIENT_PATTERN,
        )
        if ALL_MEMBERS in recipients and len(recipients) > 1:
            raise InvalidValue(
                '"*" stands for every member and must be alone', field=join(path, "recipients")
            )
        return cls(
            recipients=recipients,
            purposes=read_str_list(
                obj["purposes"], join(path, "purposes"), max_items=8, allowed=PURPOSES
            ),
            data_categories=read_str_list(
                obj["data_categories"],
                join(path, "data_categories"),
                max_items=8,
                allowed=DATA_CATEGORIES,
            ),
            expires_at=parse_timestamp(obj["expires_at"], join(path, "expires_at")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipients": list(self.recipients),
            "purposes": list(self.purposes),
            "data_categories": list(self.data_categories),
            "expires_at": format_timestamp(self.expires_at),
        }

    def names_recipient(self, msp_id: str) -> bool:
        return ALL_MEMBERS in self.recipients or msp_id in self.recipients

    def check_narrows(self, wider: ConsentScope) -> None:
        """Raise WideningNotAllowed unless ``self`` is within ``wider``."""
        if ALL_MEMBERS not in wider.recipients:
            for index, recipient in enumerate(self.recipients):
                if recipient not in wider.recipients:
                    raise WideningNotAllowed(
                        "narrowing cannot add a recipient", field=join("recipients", index)
                    )
        for name, mine, theirs in (
            ("purposes", self.purposes, wider.purposes),
            ("data_categories", self.data_categories, wider.data_categories),
        ):
            for index, item in enumerate(mine):
                if item not in theirs:
                    raise WideningNotAllowed(
                        f"narrowing cannot add to {name}", field=join(name, index)
                    )
        if self.expires_at > wider.expires_at:
            raise WideningNotAllowed("narrowing cannot extend the expiry", field="expires_at")


# --- statement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentStatement:
    """What the customer signs. ``scope`` is None exactly for ``withdraw``."""

    action: Action
    consent_id: str
    customer_id: str
    given_at: datetime
    nonce: str
    collection_method: str
    policy_version: str
    jurisdiction: str
    scope: ConsentScope | None

    @classmethod
    def from_dict(cls, value: Any, path: str = "") -> ConsentStatement:
        """Strictly parse a statement object (without ``signature``).

        Raises WrongType, UnknownField, MissingField, InvalidValue, EmptyList,
        DuplicateValue or ExpiryBeforeGiven, each naming the field.
        """
        obj = expect_object(value, path)
        if "action" not in obj:
            raise MissingField("required field is absent", field=join(path, "action"))
        action = cast(Action, read_enum(obj["action"], join(path, "action"), ACTIONS))
        scoped = action != "withdraw"
        check_fields(
            obj,
            required=COMMON_FIELDS + (SCOPE_FIELDS if scoped else ()),
            path=path,
            context=f"for action {action}",
        )
        given_at = parse_timestamp(obj["given_at"], join(path, "given_at"))
        scope = ConsentScope.from_dict(obj, path) if scoped else None
        if scope is not None and scope.expires_at <= given_at:
            raise ExpiryBeforeGiven(
                "expires_at must be after given_at", field=join(path, "expires_at")
            )
        return cls(
            action=action,
            consent_id=read_str(obj["consent_id"], join(path, "consent_id"), pattern=ID_PATTERN),
            customer_id=read_customer_id(obj["customer_id"], join(path, "customer_id")),
            given_at=given_at,
            nonce=read_str(
                obj["nonce"],
                join(path, "nonce"),
                pattern=NONCE_PATTERN,
                rule="nonce must be 16..64 base64url characters",
            ),
            collection_method=read_enum(
                obj["collection_method"], join(path, "collection_method"), COLLECTION_METHODS
            ),
            policy_version=read_str(
                obj["policy_version"], join(path, "policy_version"), pattern=POLICY_VERSION_PATTERN
            ),
            jurisdiction=read_str(
                obj["jurisdiction"],
                join(path, "jurisdiction"),
                pattern=JURISDICTION_PATTERN,
                rule="jurisdiction must be an ISO 3166 code such as DE or US-CA",
            ),
            scope=scope,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object the customer signed (key order irrelevant: JCS sorts)."""
        out: dict[str, Any] = {
            "action": self.action,
            "consent_id": self.consent_id,
            "customer_id": self.customer_id,
            "given_at": format_timestamp(self.given_at),
            "nonce": self.nonce,
            "collection_method": self.collection_method,
            "policy_version": self.policy_version,
            "jurisdiction": self.jurisdiction,
        }
        if self.scope is not None:
            out.update(self.scope.to_dict())
        return out

    def signed_bytes(self) -> bytes:
        """The exact bytes the signature covers (RFC 8785 of :meth:`to_dict`)."""
        return canonical_bytes(self.to_dict())


@dataclass(frozen=True)
class SignedStatement:
    statement: ConsentStatement
    signature: str

    def verify(self, key: CustomerKey) -> None:
        """Raise CustomerMismatch (key is another customer's), MalformedSignature or
        BadSignature."""
        key.require_customer(self.statement.customer_id)
        key.verify(self.statement.signed_bytes(), self.signature)

    def to_dict(self) -> dict[str, Any]:
        return {**self.statement.to_dict(), "signature": self.signature}


def parse_signed_statement(data: bytes | str) -> SignedStatement:
    """Parse the wire form (statement fields plus ``signature``) of at most 4 KiB.

    Only the shape of the signature is checked here; verification needs the key
    (:meth:`SignedStatement.verify`).
    """
    obj = expect_object(load_json(data, max_bytes=MAX_STATEMENT_BYTES))
    if "signature" not in obj:
        raise MissingField("required field is absent", field="signature")
    signature = read_str(obj["signature"], "signature", pattern=SIGNATURE_TEXT)
    body = {name: value for name, value in obj.items() if name != "signature"}
    return SignedStatement(ConsentStatement.from_dict(body), signature)
