"""Store credentials in PostgreSQL: the :class:`gateway.stores.Credentials` life cycle shared
by every worker and replica. Each request reads its credential's row, so a revocation,
expiry or rotation's end through one worker is refused by every worker from the next
request on (no cache to invalidate)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import ConnectionPool

from gateway.postgres.pool import connection
from gateway.stores import (
    CredentialInfo,
    Principal,
    Role,
    key_id_of,
    new_credential,
    secret_matches,
    split_credential,
)


class PostgresCredentialStore:
    """The ``store_credentials`` table (gateway/postgres/pool.py's schema).

    Raises DatabaseUnavailable from every method when the database does not answer.
    """

    DEFAULT_LIFETIME = timedelta(days=90)

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def issue(self, store_id: str, role: Role = Role.STORE, *,
              lifetime: timedelta | None = None) -> str:
        """As :meth:`gateway.stores.CredentialStore.issue` (ValueError for a bad store id
        or lifetime)."""
        with connection(self._pool) as db:
            return self._insert(db, store_id, role,
                                self.DEFAULT_LIFETIME if lifetime is None else lifetime)

    @staticmethod
    def _insert(db: psycopg.Connection, store_id: str, role: Role,
                lifetime: timedelta) -> str:
        row, credential = new_credential(store_id, role, lifetime)
        db.execute("INSERT INTO store_credentials (key_id, store_id, role, secret_sha256,"
                   " issued_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
                   (row.key_id, row.store_id, row.role.value, row.secret_sha256,
                    row.issued_at, row.expires_at))
        return credential

    def revoke(self, key_id: str) -> bool:
        with connection(self._pool) as db:
            cur = db.execute("UPDATE store_credentials SET revoked_at = %s"
                             " WHERE key_id = %s AND revoked_at IS NULL",
                             (datetime.now(UTC), key_id))
            return cur.rowcount == 1

    def get(self, key_id: str) -> CredentialInfo | None:
        found = self.entries(key_id=key_id)
        return found[0] if found else None

    def entries(self, *, store_id: str | None = None, key_id: str | None = None
                ) -> list[CredentialInfo]:
        with connection(self._pool) as db:
            rows = db.execute(
                "SELECT key_id, store_id, role, issued_at, expires_at, revoked_at, replaced_by"
                " FROM store_credentials WHERE (%(s)s::text IS NULL OR store_id = %(s)s)"
                " AND (%(k)s::text IS NULL OR key_id = %(k)s)"
                " ORDER BY issued_at DESC, key_id", {"s": store_id, "k": key_id}).fetchall()
        return [CredentialInfo(k, s, Role(r), i, e, v, by) for k, s, r, i, e, v, by in rows]

    def rotate(self, key_id: str, *, lifetime: timedelta | None = None,
               grace: timedelta = timedelta(0)) -> str | None:
        now = datetime.now(UTC)
        with connection(self._pool) as db, db.transaction():
            row = db.execute("SELECT store_id, role FROM store_credentials WHERE key_id = %s"
                             " AND revoked_at IS NULL AND expires_at > %s FOR UPDATE",
                             (key_id, now)).fetchone()
            if row is None:
                return None
            credential = self._insert(db, row[0], Role(row[1]),
                                      self.DEFAULT_LIFETIME if lifetime is None else lifetime)
            new_key = key_id_of(credential)
            if grace > timedelta(0):
                db.execute("UPDATE store_credentials SET replaced_by = %s,"
                           " expires_at = LEAST(expires_at, %s) WHERE key_id = %s",
                           (new_key, now + grace, key_id))
            else:
                db.execute("UPDATE store_credentials SET replaced_by = %s, revoked_at = %s"
                           " WHERE key_id = %s", (new_key, now, key_id))
        return credential

    def authenticate(self, credential: str) -> Principal | None:
        parts = split_credential(credential)
        if parts is None:
            return None
        key_id, secret = parts
        with connection(self._pool) as db:
            row = db.execute("SELECT store_id, role, secret_sha256 FROM store_credentials"
                             " WHERE key_id = %s AND revoked_at IS NULL AND expires_at > %s",
                             (key_id, datetime.now(UTC))).fetchone()
        if row is None or not secret_matches(row[2], secret):
            return None
        return Principal(key_id, row[0], Role(row[1]))
