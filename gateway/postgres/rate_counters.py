"""Rate-limit counters shared by every worker and replica of one gateway, in PostgreSQL.

The `limits` library counts (gateway/limits.py drives its fixed-window strategy); it ships
no PostgreSQL storage, so this is one: a row per limit key with its count and the end of its
window, incremented by a single upsert (atomic under concurrent workers, one round trip a
check). Times come from the database's clock, so replicas whose clocks drift still share
the same windows. Expired rows are swept now and then by whichever worker passes by.

The request path is asynchronous, so the counters use their own small asynchronous pool,
opened in the worker's event loop at the first request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from limits.aio.storage import Storage
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gateway.errors import DatabaseUnavailable

_NOW = "extract(epoch FROM clock_timestamp())"
_INCR = (
    "INSERT INTO rate_counters AS r (key, count, expires_at)"
    f" VALUES (%(key)s, %(amount)s, {_NOW} + %(expiry)s)"
    " ON CONFLICT (key) DO UPDATE SET"
    f" count = CASE WHEN r.expires_at <= {_NOW} THEN excluded.count"
    "  ELSE r.count + excluded.count END,"
    f" expires_at = CASE WHEN r.expires_at <= {_NOW} THEN excluded.expires_at"
    "  ELSE r.expires_at END"
    " RETURNING count")
#: One sweep of expired rows every this many increments of a worker.
SWEEP_EVERY = 2000


class PostgresRateCounters(Storage):
    """A `limits` asynchronous storage over the ``rate_counters`` table (created with the
    rest of the schema in gateway/postgres/pool.py).

    Raises DatabaseUnavailable when the database does not answer within ``timeout_s``.
    """

    STORAGE_SCHEME = ["prefshare+postgresql"]  # noqa: RUF012 (the base declares it so)

    def __init__(self, url: str, *, max_size: int = 4, timeout_s: float = 5.0) -> None:
        super().__init__()
        self._url, self._max_size, self._timeout_s = url, max_size, timeout_s
        self._pool: AsyncConnectionPool | None = None
        self._opening = asyncio.Lock()
        self._increments = 0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (DatabaseUnavailable, psycopg.Error)

    async def _open(self) -> AsyncConnectionPool:
        async with self._opening:
            if self._pool is None:
                pool = AsyncConnectionPool(
                    self._url, min_size=1, max_size=self._max_size, timeout=self._timeout_s,
                    kwargs={"autocommit": True, "connect_timeout": int(self._timeout_s)},
                    open=False, name="prefshare-rate-counters")
                try:
                    await pool.open(wait=True, timeout=self._timeout_s)
                except PoolTimeout as exc:
                    await pool.close()
                    raise DatabaseUnavailable("the shared database is not answering") from exc
                self._pool = pool
            return self._pool

    async def _one(self, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        pool = self._pool or await self._open()
        try:
            async with pool.connection() as db:
                cursor = await db.execute(sql, params)
                return await cursor.fetchone() if cursor.description else None
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise DatabaseUnavailable("the shared database is not answering") from exc

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        row = await self._one(_INCR, {"key": key, "amount": amount, "expiry": expiry})
        self._increments += 1
        if self._increments % SWEEP_EVERY == 0:
            await self._one(f"DELETE FROM rate_counters WHERE expires_at < {_NOW}", {})
        assert row is not None
        return int(row[0])

    async def get(self, key: str) -> int:
        row = await self._one("SELECT count FROM rate_counters"
                              f" WHERE key = %(key)s AND expires_at > {_NOW}", {"key": key})
        return 0 if row is None else int(row[0])

    async def get_expiry(self, key: str) -> float:
        """The end of the key's window (seconds since the epoch, the database's clock)."""
        row = await self._one(f"SELECT greatest(expires_at, {_NOW}) FROM rate_counters"
                              " WHERE key = %(key)s", {"key": key})
        if row is None:
            row = await self._one(f"SELECT {_NOW}", {})
        assert row is not None
        return float(row[0])

    async def check(self) -> bool:
        try:
            await self._one("SELECT 1", {})
        except DatabaseUnavailable:
            return False
        return True

    async def reset(self) -> int | None:
        row = await self._one("WITH gone AS (DELETE FROM rate_counters RETURNING 1)"
                              " SELECT count(*) FROM gone", {})
        return None if row is None else int(row[0])

    async def clear(self, key: str) -> None:
        await self._one("DELETE FROM rate_counters WHERE key = %(key)s", {"key": key})

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
