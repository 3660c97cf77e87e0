"""The consent record the ledger keeps, and how a customer-signed statement changes it.

The statement she signs is :mod:`chaincode.consent_statement`.

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

from collections.abc import Container
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from chaincode.canonical import canonical_bytes
from chaincode.consent_statement import (
    COLLECTION_METHODS,
    JURISDICTION_PATTERN,
    POLICY_VERSION_PATTERN,
    SCOPE_FIELDS,
    ConsentScope,
    ConsentStatement,
    SignedStatement,
)
from chaincode.errors import (
    ConsentExists,
    ConsentExpired,
    ConsentMismatch,
    ConsentNotFound,
    ConsentWithdrawn,
    CustomerMismatch,
    InvalidValue,
)
from chaincode.fields import (
    ID_PATTERN,
    check_fields,
    expect_object,
    format_timestamp,
    load_json,
    parse_timestamp,
    read_enum,
    read_int,
    read_str,
    truncate_to_millis,
)
from chaincode.keys import CustomerKey, read_customer_id
from chaincode.rights import RightsRequest
from chaincode.signed import (
    TimeWindow,
    check_nonce_unused,
    check_signed_time,
)
from chaincode.statekeys import CompositeKey

MAX_RECORD_BYTES = 16384
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
                *SCOPE_FIELDS,
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
