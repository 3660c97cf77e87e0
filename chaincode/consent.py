"""Customer-signed consent: the statement she signs and the record the ledger keeps.

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

The ledger keeps a :class:`ConsentRecord` per consent under
``consent~<customer_id>~<consent_id>``; every change writes a new version holding the
statement that caused it and its signature, so ``GetHistoryForKey`` is the audit trail
and every version can be re-verified from its own content. Each statement's nonce is
spent under ``nonce~<customer_id>~<nonce>`` (shared with rights requests).

Lifecycle rules (all times are the *transaction* timestamp, ``now``, never the clock):

- ``grant`` creates a record; its consent id must be new, its expiry in the future.
- ``narrow`` replaces the scope with a subset: fewer recipients, purposes or categories,
  or an earlier expiry; anything wider is WIDENING_NOT_ALLOWED (a renewal is a new grant).
  The jurisdiction cannot change; policy version and collection method describe the
  latest statement and follow it.
- ``withdraw`` sets ``withdrawn_at`` to the transaction time; nothing can follow it.
- **Erasure** (a customer-signed ``erase`` rights request, see :mod:`chaincode.policy`)
  withdraws every consent still open: the new version keeps the last consent statement and
  adds the signed request under ``erasure``, so it too verifies on its own.
- A statement's ``given_at`` may lead the transaction time by at most the clock skew
  (NOT_YET_VALID). Grants and narrowings older than ``max_age`` are BACKDATED, as is any
  statement older than the one the record holds. A withdrawal is never refused for its
  age: whoever carried it late must not cost the customer her right.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, cast

from chaincode.canonical import canonical_bytes
from chaincode.errors import (
    ConsentExists,
    ConsentExpired,
    ConsentMismatch,
    ConsentNotFound,
    ConsentWithdrawn,
    CustomerMismatch,
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
    read_int,
    read_str,
    read_str_list,
    truncate_to_millis,
)
from chaincode.keys import CustomerKey, read_customer_id
from chaincode.rights import RightsRequest
from chaincode.signed import (
    NONCE_PATTERN,
    SIGNATURE_TEXT,
    TimeWindow,
    check_nonce_unused,
    check_signed_time,
)
from chaincode.statekeys import CompositeKey

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
MAX_RECORD_BYTES = 16384
MAX_RECIPIENTS = 64

_COMMON_FIELDS = (
    "action",
    "consent_id",
    "customer_id",
    "given_at",
    "nonce",
    "collection_method",
    "policy_version",
    "jurisdiction",
)
_SCOPE_FIELDS = ("recipients", "purposes", "data_categories", "expires_at")


CONSENT_WINDOW = TimeWindow()


def consent_key(customer_id: str, consent_id: str) -> CompositeKey:
    """``consent~<customer_id>~<consent_id>`` (public state)."""
    return CompositeKey("consent", (customer_id, consent_id))


def customer_consents_prefix(customer_id: str) -> CompositeKey:
    """Partial key for all consents of one customer."""
    return CompositeKey("consent", (customer_id,))


def nonce_key(customer_id: str, nonce: str) -> CompositeKey:
    """``nonce~<customer_id>~<nonce>``: written once a customer-signed message is applied."""
    return CompositeKey("nonce", (customer_id, nonce))


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
            required=_COMMON_FIELDS + (_SCOPE_FIELDS if scoped else ()),
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


# --- record ------------------------------------------------------------------------------

Status = Literal["active", "expired", "withdrawn"]


@dataclass(frozen=True)
class ConsentRecord:
    """The public-state consent record (ISO/IEC TS 27560-style fields).

    ``given_at`` is the grant's signed time; ``updated_at`` the transaction time of the
    latest change; ``statement``/``signature`` the latest statement applied, so any
    version read from history verifies on its own. ``erasure`` is the customer-signed
    erase request that withdrew the consent, when an erasure did (serialised only then,
    so records without it keep their bytes).
    """

    consent_id: str
    customer_id: str
    public_key: str
    scope: ConsentScope
    given_at: datetime
    withdrawn_at: datetime | None
    collection_method: str
    policy_version: str
    jurisdiction: str
    version: int
    updated_at: datetime
    statement: ConsentStatement
    signature: str
    erasure: RightsRequest | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.scope.recipients

    @property
    def purposes(self) -> tuple[str, ...]:
        return self.scope.purposes

    @property
    def data_categories(self) -> tuple[str, ...]:
        return self.scope.data_categories

    @property
    def expires_at(self) -> datetime:
        return self.scope.expires_at

    @property
    def key(self) -> CompositeKey:
        return consent_key(self.customer_id, self.consent_id)

    def status(self, now: datetime) -> Status:
        if self.withdrawn_at is not None:
            return "withdrawn"
        if now >= self.scope.expires_at:
            return "expired"
        return "active"

    def check_active(self, now: datetime) -> None:
        """Raise ConsentWithdrawn or ConsentExpired unless the consent is in force."""
        status = self.status(now)
        if status == "withdrawn":
            raise ConsentWithdrawn("consent was withdrawn", details={"consent_id": self.consent_id})
        if status == "expired":
            raise ConsentExpired("consent has expired", details={"consent_id": self.consent_id})

    def verify(self) -> None:
        """Re-verify the stored statement (and erase request, if any) against the stored
        key (for auditors)."""
        key = CustomerKey.from_b64url(self.public_key)
        SignedStatement(self.statement, self.signature).verify(key)
        if self.erasure is not None:
            key.require_customer(self.erasure.customer_id, field="erasure.customer_id")
            key.verify(self.erasure.signed_bytes(), self.erasure.signature, field="erasure")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "consent_id": self.consent_id,
            "customer_id": self.customer_id,
            "public_key": self.public_key,
            **self.scope.to_dict(),
            "given_at": format_timestamp(self.given_at),
            "withdrawn_at": (
                None if self.withdrawn_at is None else format_timestamp(self.withdrawn_at)
            ),
            "collection_method": self.collection_method,
            "policy_version": self.policy_version,
            "jurisdiction": self.jurisdiction,
            "version": self.version,
            "updated_at": format_timestamp(self.updated_at),
            "statement": self.statement.to_dict(),
            "signature": self.signature,
        }
        if self.erasure is not None:
            out["erasure"] = self.erasure.to_dict()
        return out

    def to_json_bytes(self) -> bytes:
        """Deterministic serialisation (RFC 8785), identical on every endorsing peer."""
        return canonical_bytes(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str) -> ConsentRecord:
        """Parse a stored record strictly (a corrupt record is refused, not guessed at)."""
        obj = expect_object(load_json(data, max_bytes=MAX_RECORD_BYTES))
        check_fields(
            obj,
            required=(
                "consent_id",
                "customer_id",
                "public_key",
                *_SCOPE_FIELDS,
                "given_at",
                "withdrawn_at",
                "collection_method",
                "policy_version",
                "jurisdiction",
                "version",
                "updated_at",
                "statement",
                "signature",
            ),
            optional=("erasure",),
        )
        statement = ConsentStatement.from_dict(obj["statement"], "statement")
        key = CustomerKey.from_b64url(obj["public_key"])
        customer_id = read_customer_id(obj["customer_id"])
        key.require_customer(customer_id)
        if statement.customer_id != customer_id:
            raise CustomerMismatch("statement names another customer", field="statement")
        withdrawn = obj["withdrawn_at"]
        erasure = _read_erasure(obj.get("erasure"), customer_id)
        if erasure is not None and withdrawn is None:
            raise InvalidValue("an erased consent must be withdrawn", field="withdrawn_at")
        return cls(
            consent_id=read_str(obj["consent_id"], "consent_id", pattern=ID_PATTERN),
            customer_id=customer_id,
            public_key=key.b64url,
            scope=ConsentScope.from_dict(obj),
            given_at=parse_timestamp(obj["given_at"], "given_at"),
            withdrawn_at=None if withdrawn is None else parse_timestamp(withdrawn, "withdrawn_at"),
            collection_method=read_enum(
                obj["collection_method"], "collection_method", COLLECTION_METHODS
            ),
            policy_version=read_str(
                obj["policy_version"], "policy_version", pattern=POLICY_VERSION_PATTERN
            ),
            jurisdiction=read_str(
                obj["jurisdiction"], "jurisdiction", pattern=JURISDICTION_PATTERN
            ),
            version=read_int(obj["version"], "version", minimum=1),
            updated_at=parse_timestamp(obj["updated_at"], "updated_at"),
            statement=statement,
            signature=read_str(obj["signature"], "signature"),
            erasure=erasure,
        )


def _read_erasure(value: Any, customer_id: str) -> RightsRequest | None:
    if value is None:
        return None
    request = RightsRequest.from_json(canonical_bytes(expect_object(value, "erasure")))
    if request.action != "erase":
        raise InvalidValue("erasure must hold an erase request", field="erasure.action")
    if request.customer_id != customer_id:
        raise CustomerMismatch("erase request names another customer", field="erasure")
    return request


# --- checks ------------------------------------------------------------------------------


# --- transitions -------------------------------------------------------------------------


def apply_statement(
    current: ConsentRecord | None,
    signed: SignedStatement,
    key: CustomerKey,
    *,
    now: datetime,
    used_nonces: Container[str],
    window: TimeWindow = CONSENT_WINDOW,
) -> ConsentRecord:
    """Verify ``signed`` and return the record to write under its consent key.

    ``current`` is the record stored under ``consent_key(customer_id, consent_id)`` of the
    statement (None if absent); ``key`` the customer's registered key; ``now`` the
    transaction timestamp. After writing the result the contract must also write
    ``nonce_key(customer_id, nonce)``.

    Checks, in order: signature (CustomerMismatch, MalformedSignature, BadSignature),
    nonce (ReplayedNonce), signed time (NotYetValid, Backdated), then the transition
    rules (ConsentExists, ConsentNotFound, ConsentWithdrawn, ConsentExpired,
    ConsentMismatch, WideningNotAllowed).
    """
    statement = signed.statement
    signed.verify(key)
    check_nonce_unused(statement.nonce, used_nonces)
    if current is not None and (
        current.customer_id != statement.customer_id or current.consent_id != statement.consent_id
    ):
        raise ConsentMismatch("record is not the one the statement names", field="consent_id")
    if statement.action == "grant":
        if current is not None:
            raise ConsentExists("consent id is already in use", field="consent_id")
        check_signed_time(statement.given_at, now, window, field="given_at")
        return grant_record(signed, key, now=now)
    if current is None:
        raise ConsentNotFound("no consent with this id", field="consent_id")
    if statement.action == "narrow":
        check_signed_time(
            statement.given_at,
            now,
            window,
            field="given_at",
            not_before=current.statement.given_at,
        )
        return narrow_record(current, signed, now=now)
    check_signed_time(statement.given_at, now, window, field="given_at", enforce_max_age=False)
    return withdraw_record(current, signed, now=now)


def grant_record(signed: SignedStatement, key: CustomerKey, *, now: datetime) -> ConsentRecord:
    """The first version of a consent. Assumes ``signed`` was verified."""
    statement = signed.statement
    if statement.action != "grant" or statement.scope is None:
        raise InvalidValue("statement is not a grant", field="action")
    if statement.scope.expires_at <= now:
        raise ConsentExpired("grant is already expired", field="expires_at")
    return ConsentRecord(
        consent_id=statement.consent_id,
        customer_id=statement.customer_id,
        public_key=key.b64url,
        scope=statement.scope,
        given_at=statement.given_at,
        withdrawn_at=None,
        collection_method=statement.collection_method,
        policy_version=statement.policy_version,
        jurisdiction=statement.jurisdiction,
        version=1,
        updated_at=truncate_to_millis(now),
        statement=statement,
        signature=signed.signature,
    )


def narrow_record(
    current: ConsentRecord, signed: SignedStatement, *, now: datetime
) -> ConsentRecord:
    """``current`` with the narrower scope of ``signed``. Assumes it was verified."""
    statement = signed.statement
    if statement.action != "narrow" or statement.scope is None:
        raise InvalidValue("statement is not a narrowing", field="action")
    current.check_active(now)
    if statement.jurisdiction != current.jurisdiction:
        raise ConsentMismatch("jurisdiction of a consent cannot change", field="jurisdiction")
    statement.scope.check_narrows(current.scope)
    return replace(
        current,
        scope=statement.scope,
        collection_method=statement.collection_method,
        policy_version=statement.policy_version,
        version=current.version + 1,
        updated_at=truncate_to_millis(now),
        statement=statement,
        signature=signed.signature,
    )


def withdraw_record(
    current: ConsentRecord, signed: SignedStatement, *, now: datetime
) -> ConsentRecord:
    """``current`` withdrawn at the transaction time. Assumes ``signed`` was verified.

    An expired consent can still be withdrawn (the record then says so explicitly).
    """
    statement = signed.statement
    if statement.action != "withdraw":
        raise InvalidValue("statement is not a withdrawal", field="action")
    if current.withdrawn_at is not None:
        raise ConsentWithdrawn("consent was already withdrawn", field="consent_id")
    stamp = truncate_to_millis(now)
    return replace(
        current,
        withdrawn_at=stamp,
        version=current.version + 1,
        updated_at=stamp,
        statement=statement,
        signature=signed.signature,
    )


def erase_record(
    current: ConsentRecord, request: RightsRequest, *, now: datetime
) -> ConsentRecord | None:
    """``current`` withdrawn by an erase request, or None if it was already withdrawn.

    Assumes ``request`` was verified (:meth:`chaincode.rights.RightsRequest.verify`).
    Raises InvalidValue (not an erase request) or CustomerMismatch (another customer).
    An expired consent is withdrawn too, so the record says so explicitly.
    """
    if request.action != "erase":
        raise InvalidValue("request is not an erase request", field="action")
    if request.customer_id != current.customer_id:
        raise CustomerMismatch("erase request names another customer", field="customer_id")
    if current.withdrawn_at is not None:
        return None
    stamp = truncate_to_millis(now)
    return replace(
        current,
        withdrawn_at=stamp,
        version=current.version + 1,
        updated_at=stamp,
        erasure=request,
    )
