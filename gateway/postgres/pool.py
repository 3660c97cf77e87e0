"""One connection pool per process, the schema, and the one error a store raises when the
database cannot be reached."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from gateway.errors import DatabaseUnavailable

#: Every table of the shared state. Created at start under an advisory lock, so workers
#: starting together do not race on the catalogue.
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS store_credentials ("
    " key_id text PRIMARY KEY, store_id text NOT NULL, role text NOT NULL,"
    " secret_sha256 bytea NOT NULL, issued_at timestamptz NOT NULL,"
    " expires_at timestamptz NOT NULL, revoked_at timestamptz, replaced_by text)",
    "CREATE INDEX IF NOT EXISTS store_credentials_store ON store_credentials (store_id)",
    "CREATE TABLE IF NOT EXISTS idempotency ("
    " scope text NOT NULL, key text NOT NULL, fingerprint text NOT NULL,"
    " claimed_at double precision NOT NULL, status integer, body bytea,"
    " PRIMARY KEY (scope, key))",
    "CREATE TABLE IF NOT EXISTS customer_generations ("
    " customer_id text PRIMARY KEY, generation bigint NOT NULL)",
    # Rate-limit windows (gateway/postgres/rate_counters.py); expires_at in epoch seconds.
    "CREATE TABLE IF NOT EXISTS rate_counters ("
    " key text PRIMARY KEY, count bigint NOT NULL, expires_at double precision NOT NULL)",
)
_SCHEMA_LOCK = 0x70726566  # "pref": one advisory lock id for the schema's creation


def open_pool(url: str, *, max_size: int = 8, timeout_s: float = 5.0) -> ConnectionPool:
    """A pool of autocommit connections to ``url``, opened and with the schema in place.

    Raises DatabaseUnavailable when the database does not answer within ``timeout_s``.
    """
    pool = ConnectionPool(url, min_size=1, max_size=max_size, timeout=timeout_s,
                          kwargs={"autocommit": True, "connect_timeout": int(timeout_s)},
                          open=False, name="prefshare-gateway")
    try:
        pool.open(wait=True, timeout=timeout_s)
    except PoolTimeout as exc:
        pool.close()
        raise DatabaseUnavailable("the shared database is not answering") from exc
    try:
        with connection(pool) as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in SCHEMA:
                db.execute(statement)
    except BaseException:
        pool.close()
        raise
    return pool


@contextmanager
def connection(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """A pooled connection; the driver's connection errors become DatabaseUnavailable
    (a query's own errors, e.g. a constraint, stay the driver's: they are bugs)."""
    try:
        with pool.connection() as db:
            yield db
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise DatabaseUnavailable("the shared database is not answering") from exc
