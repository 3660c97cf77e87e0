"""Per-customer generations of the suggestion cache in PostgreSQL: how a withdrawal through
one worker reaches every other worker's cache before its next answer.

A write about her (a consent statement, an erasure, an event batch, an owner's notice)
increments her generation here before the writing worker answers; every worker keeps the
generation it read with each cached entry and compares it with this row on each hit, so
the very next answer anywhere reads the ledger again. LISTEN/NOTIFY would save that read
per hit but cannot give the same bound: a notification is delivered to the other workers
asynchronously, after the writer has answered.
"""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from gateway.postgres.pool import connection


class PostgresGenerations:
    """The ``customer_generations`` table (:class:`gateway.suggestion_cache.SharedGenerations`).

    Raises DatabaseUnavailable when the database does not answer.
    """

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def current(self, customer_id: str) -> int:
        """Her generation (0 before any write about her)."""
        with connection(self._pool) as db:
            row = db.execute("SELECT generation FROM customer_generations"
                             " WHERE customer_id = %s", (customer_id,)).fetchone()
        return 0 if row is None else int(row[0])

    def bump(self, customer_id: str) -> None:
        """A write about her: every worker's cached read of her is stale from now on."""
        with connection(self._pool) as db:
            db.execute("INSERT INTO customer_generations AS g VALUES (%s, 1)"
                       " ON CONFLICT (customer_id) DO UPDATE"
                       " SET generation = g.generation + 1", (customer_id,))
