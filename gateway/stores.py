"""Store credentials: issued by the retailer's gateway, kept hashed, checked on every request.

A credential reads ``psk_<key id>.<secret>``: the key id finds the row, the secret is
compared with the stored SHA-256 of it in constant time. The secret is 256 random bits, so a
fast hash suffices (a slow password hash protects guessable secrets; these are not). The
plain credential is shown once, when issued, and never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from gateway.secret_files import make_private

STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")
_CREDENTIAL = re.compile(r"^psk_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")


class Role(StrEnum):
    STORE = "store"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a store of this retailer, or the retailer's admin."""

    key_id: str
    store_id: str
    role: Role


@dataclass(frozen=True)
class CredentialInfo:
    """What is known of an issued credential (never its secret): for lists and the log."""

    key_id: str
    store_id: str
    role: Role
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    #: The key id of the credential that replaced it by rotation, if any.
    replaced_by: str | None

    def status(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"


def key_id_of(credential: str) -> str:
    """The key id of a ``psk_<key id>.<secret>`` credential.

    Raises ValueError when ``credential`` is not of that form.
    """
    m = _CREDENTIAL.fullmatch(credential)
    if m is None:
        raise ValueError("not a store credential")
    return m.group(1)


@dataclass(frozen=True)
class NewCredential:
    """A credential about to be stored: its row's values (never its secret)."""

    key_id: str
    store_id: str
    role: Role
    secret_sha256: bytes
    issued_at: datetime
    expires_at: datetime


def new_credential(store_id: str, role: Role, lifetime: timedelta
                   ) -> tuple[NewCredential, str]:
    """A fresh key id and secret for ``store_id``: the row to store and the credential text
    (``psk_<key id>.<secret>``), shared by both stores.

    Raises ValueError when ``store_id`` is not 1-40 letters, digits or dashes, or the
    lifetime is not positive.
    """
    if not STORE_ID.fullmatch(store_id):
        raise ValueError("store id must be 1-40 letters, digits or dashes")
    if lifetime <= timedelta(0):
        raise ValueError("a credential's lifetime must be positive")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = NewCredential(key_id, store_id, Role(role), hashlib.sha256(secret.encode()).digest(),
                        now, now + lifetime)
    return row, f"psk_{key_id}.{secret}"


def split_credential(credential: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed credential, else None."""
    m = _CREDENTIAL.fullmatch(credential)
    return None if m is None else (m.group(1), m.group(2))


def secret_matches(digest: bytes, secret: str) -> bool:
    """Whether ``secret`` hashes to the stored ``digest`` (in constant time)."""
    return hmac.compare_digest(bytes(digest), hashlib.sha256(secret.encode()).digest())


class Credentials(Protocol):
    """The credential life cycle, whichever database holds it: :class:`CredentialStore`
    (embedded SQLite, one process) or
    :class:`gateway.postgres.credentials.PostgresCredentialStore` (shared by workers and
    replicas). Every request calls :meth:`authenticate`, so a revocation is effective on the
    next request wherever the store is shared."""

    DEFAULT_LIFETIME: timedelta

    def issue(self, store_id: str, role: Role = Role.STORE, *,
              lifetime: timedelta | None = None) -> str: ...

    def revoke(self, key_id: str) -> bool: ...

    def get(self, key_id: str) -> CredentialInfo | None: ...

    def entries(self, *, store_id: str | None = None, key_id: str | None = None
                ) -> list[CredentialInfo]: ...

    def rotate(self, key_id: str, *, lifetime: timedelta | None = None,
               grace: timedelta = timedelta(0)) -> str | None: ...

    def authenticate(self, credential: str) -> Principal | None: ...


def _iso(moment: datetime) -> str:
    # One fixed format, so the table's times compare as text in SQL.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


class CredentialStore:
    """The credential table in the gateway's SQLite database (one connection per call): the
    embedded default, for one gateway process (:class:`Credentials`).

    Life cycle: :meth:`issue` (with a lifetime), :meth:`entries`, :meth:`revoke`,
    :meth:`rotate`. Every request checks its credential here, so a revocation, an expiry or
    a rotation's end is effective from the next request on, in every process that shares
    the database.
    """

    #: Lifetime of a credential issued without one, and of those issued before expiry
    #: existed (given one when the table is upgraded).
    DEFAULT_LIFETIME = timedelta(days=90)

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        make_private(path)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS store_credentials ("
                " key_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, role TEXT NOT NULL,"
                " secret_sha256 BLOB NOT NULL, issued_at TEXT NOT NULL, revoked_at TEXT)"
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(store_credentials)")}
            if "expires_at" not in columns:
                db.execute("ALTER TABLE store_credentials ADD COLUMN expires_at TEXT")
                db.execute("ALTER TABLE store_credentials ADD COLUMN replaced_by TEXT")
            db.execute("UPDATE store_credentials SET expires_at = ? WHERE expires_at IS NULL",
                       (_iso(datetime.now(UTC) + self.DEFAULT_LIFETIME),))

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=10, isolation_level=None)

    def issue(self, store_id: str, role: Role = Role.STORE, *,
              lifetime: timedelta | None = None) -> str:
        """Create a credential for ``store_id`` valid for ``lifetime`` (default
        :attr:`DEFAULT_LIFETIME`) and return it (the only time it is visible).

        Raises:
            ValueError: ``store_id`` is not 1-40 letters, digits or dashes, or the lifetime
                is not positive.
        """
        with self._connect() as db:
            return self._insert(db, store_id, role,
                                self.DEFAULT_LIFETIME if lifetime is None else lifetime)

    def _insert(self, db: sqlite3.Connection, store_id: str, role: Role,
                lifetime: timedelta) -> str:
        row, credential = new_credential(store_id, role, lifetime)
        db.execute(
            "INSERT INTO store_credentials (key_id, store_id, role, secret_sha256, issued_at,"
            " revoked_at, expires_at, replaced_by) VALUES (?, ?, ?, ?, ?, NULL, ?, NULL)",
            (row.key_id, row.store_id, row.role.value, row.secret_sha256,
             _iso(row.issued_at), _iso(row.expires_at)),
        )
        return credential

    def revoke(self, key_id: str) -> bool:
        """Revoke a credential; False when there is no such credential or it was revoked."""
        with self._connect() as db:
            cur = db.execute(
                "UPDATE store_credentials SET revoked_at = ?"
                " WHERE key_id = ? AND revoked_at IS NULL",
                (_iso(datetime.now(UTC)), key_id),
            )
        return cur.rowcount == 1

    def get(self, key_id: str) -> CredentialInfo | None:
        found = self.entries(key_id=key_id)
        return found[0] if found else None

    def entries(self, *, store_id: str | None = None, key_id: str | None = None
             ) -> list[CredentialInfo]:
        """Every credential (of one store, or one key id), newest first."""
        query = ("SELECT key_id, store_id, role, issued_at, expires_at, revoked_at, replaced_by"
                 " FROM store_credentials WHERE (? IS NULL OR store_id = ?)"
                 " AND (? IS NULL OR key_id = ?) ORDER BY issued_at DESC, key_id")
        with self._connect() as db:
            rows = db.execute(query, (store_id, store_id, key_id, key_id)).fetchall()
        return [CredentialInfo(k, s, Role(r), _parse(i) or datetime.now(UTC),
                               _parse(e) or datetime.now(UTC), _parse(v), by)
                for k, s, r, i, e, v, by in rows]

    def rotate(self, key_id: str, *, lifetime: timedelta | None = None,
               grace: timedelta = timedelta(0)) -> str | None:
        """Issue a successor of an active credential (same store and role) and end the old
        one after ``grace`` (at once for zero; never later than its own expiry), so a
        kiosk can switch without a gap. Returns the new credential; None when ``key_id``
        is not an active credential."""
        now = datetime.now(UTC)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT store_id, role FROM store_credentials WHERE key_id = ?"
                    " AND revoked_at IS NULL AND expires_at > ?", (key_id, _iso(now)),
                ).fetchone()
                if row is None:
                    db.execute("ROLLBACK")
                    return None
                credential = self._insert(db, row[0], Role(row[1]),
                                          self.DEFAULT_LIFETIME if lifetime is None else lifetime)
                new_key = key_id_of(credential)
                if grace > timedelta(0):
                    db.execute("UPDATE store_credentials SET replaced_by = ?,"
                               " expires_at = MIN(expires_at, ?) WHERE key_id = ?",
                               (new_key, _iso(now + grace), key_id))
                else:
                    db.execute("UPDATE store_credentials SET replaced_by = ?, revoked_at = ?"
                               " WHERE key_id = ?", (new_key, _iso(now), key_id))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return credential

    def authenticate(self, credential: str) -> Principal | None:
        """The principal of a valid credential, unrevoked and unexpired; None otherwise."""
        parts = split_credential(credential)
        if parts is None:
            return None
        key_id, secret = parts
        with self._connect() as db:
            row = db.execute(
                "SELECT store_id, role, secret_sha256 FROM store_credentials"
                " WHERE key_id = ? AND revoked_at IS NULL AND expires_at > ?",
                (key_id, _iso(datetime.now(UTC))),
            ).fetchone()
        if row is None:
            return None
        store_id, role, digest = row
        if not secret_matches(digest, secret):
            return None
        return Principal(key_id, store_id, Role(role))
