"""Idempotency keys in PostgreSQL, shared by workers and replicas: a retry that reaches
another worker still gets the first answer (gateway/idempotency.py has the rules)."""

from __future__ import annotations

import time

from psycopg_pool import ConnectionPool

from gateway.idempotency import CLAIM_TIMEOUT_S, StoredAnswer, check_key, replay
from gateway.postgres.pool import connection


class PostgresIdempotencyStore:
    """The ``idempotency`` table. Claims left by a dead worker end after
    ``CLAIM_TIMEOUT_S`` (never released at a start: another worker's may be running).

    Raises DatabaseUnavailable from every method when the database does not answer.
    """

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def claim(self, scope: str, key: str | None, fingerprint: str) -> StoredAnswer | None:
        """As :meth:`gateway.idempotency.IdempotencyStore.claim`; one statement claims a new
        key or takes over an abandoned claim, atomically across workers."""
        key = check_key(key)
        now = time.time()
        with connection(self._pool) as db:
            claimed = db.execute(
                "INSERT INTO idempotency AS i (scope, key, fingerprint, claimed_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (scope, key) DO UPDATE"
                " SET fingerprint = EXCLUDED.fingerprint, claimed_at = EXCLUDED.claimed_at"
                " WHERE i.status IS NULL AND i.claimed_at < %s RETURNING 1",
                (scope, key, fingerprint, now, now - CLAIM_TIMEOUT_S)).fetchone()
            if claimed is not None:
                return None
            row = db.execute("SELECT fingerprint, status, body FROM idempotency"
                             " WHERE scope = %s AND key = %s", (scope, key)).fetchone()
        if row is None:  # finished with a 5xx and released meanwhile: claim again
            return self.claim(scope, key, fingerprint)
        return replay(fingerprint, row[0], row[1], row[2])

    def finish(self, scope: str, key: str, status: int, body: bytes) -> None:
        with connection(self._pool) as db:
            if status >= 500:
                db.execute("DELETE FROM idempotency WHERE scope = %s AND key = %s",
                           (scope, key))
            else:
                db.execute("UPDATE idempotency SET status = %s, body = %s"
                           " WHERE scope = %s AND key = %s", (status, body, scope, key))
