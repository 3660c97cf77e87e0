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
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

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


class CredentialStore:
    """The credential table in the gateway's SQLite database (one connection per call)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS store_credentials ("
                " key_id TEXT PRIMARY KEY, store_id TEXT NOT NULL, role TEXT NOT NULL,"
                " secret_sha256 BLOB NOT NULL, issued_at TEXT NOT NULL, revoked_at TEXT)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=10, isolation_level=None)

    def issue(self, store_id: str, role: Role = Role.STORE) -> str:
        """Create a credential for ``store_id`` and return it (the only time it is visible).

        Raises:
            ValueError: ``store_id`` is not 1-40 lower-case letters, digits or dashes.
        """
        if not STORE_ID.fullmatch(store_id):
            raise ValueError("store id must be 1-40 letters, digits or dashes")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        with self._connect() as db:
            db.execute(
                "INSERT INTO store_credentials VALUES (?, ?, ?, ?, ?, NULL)",
                (key_id, store_id, Role(role).value, hashlib.sha256(secret.encode()).digest(),
                 datetime.now(UTC).isoformat()),
            )
        return f"psk_{key_id}.{secret}"

    def revoke(self, key_id: str) -> bool:
        with self._connect() as db:
            cur = db.execute(
                "UPDATE store_credentials SET revoked_at = ?"
                " WHERE key_id = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(), key_id),
            )
        return cur.rowcount == 1

    def authenticate(self, credential: str) -> Principal | None:
        """The principal of a valid, unrevoked credential; None otherwise."""
        m = _CREDENTIAL.fullmatch(credential)
        if m is None:
            return None
        key_id, secret = m.groups()
        with self._connect() as db:
            row = db.execute(
                "SELECT store_id, role, secret_sha256 FROM store_credentials"
                " WHERE key_id = ? AND revoked_at IS NULL", (key_id,),
            ).fetchone()
        if row is None:
            return None
        store_id, role, digest = row
        if not hmac.compare_digest(digest, hashlib.sha256(secret.encode()).digest()):
            return None
        return Principal(key_id, store_id, Role(role))
