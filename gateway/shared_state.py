"""The stores worker processes and replicas of one gateway share, opened from the settings:
PostgreSQL when ``database_url`` is set (gateway/postgres/), else the embedded SQLite file in
the data folder (one process)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.idempotency import Idempotency, IdempotencyStore
from gateway.postgres.credentials import PostgresCredentialStore
from gateway.postgres.generations import PostgresGenerations
from gateway.postgres.idempotency import PostgresIdempotencyStore
from gateway.postgres.pool import open_pool
from gateway.postgres.rate_counters import PostgresRateCounters
from gateway.settings import GatewaySettings
from gateway.stores import Credentials, CredentialStore
from gateway.suggestion_cache import SharedGenerations


def sqlite_path(settings: GatewaySettings) -> Path:
    """The gateway's own SQLite file (in PostgreSQL mode it still holds what each replica
    keeps for itself: the access-log queue, the watch)."""
    return settings.data_dir / "gateway.sqlite3"


@dataclass(frozen=True)
class SharedState:
    credentials: Credentials
    idempotency: Idempotency
    #: Per-customer cache generations across workers (None on SQLite: one process).
    generations: SharedGenerations | None
    #: The PostgreSQL pool to close (None on SQLite).
    pool: Any = None
    #: Rate-limit counters every worker shares (None on SQLite: each process counts).
    rate_counters: PostgresRateCounters | None = None

    @property
    def shared(self) -> bool:
        return self.pool is not None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def open_shared_state(settings: GatewaySettings) -> SharedState:
    """The stores for ``settings``.

    Raises DatabaseUnavailable when a configured PostgreSQL does not answer.
    """
    if settings.database_url is None:
        database = sqlite_path(settings)
        return SharedState(CredentialStore(database), IdempotencyStore(database), None)
    pool = open_pool(settings.database_url.get_secret_value(),
                     max_size=settings.database_pool_size)
    url = settings.database_url.get_secret_value()
    return SharedState(PostgresCredentialStore(pool), PostgresIdempotencyStore(pool),
                       PostgresGenerations(pool), pool, PostgresRateCounters(url))
