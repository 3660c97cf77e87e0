"""The PostgreSQL stores (gateway/postgres/) against a real PostgreSQL server: the same
contract as the SQLite ones, and what two processes sharing the database see of each
other's writes (two pools stand in for two workers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest
from limits import parse
from limits.aio.strategies import FixedWindowRateLimiter
from psycopg_pool import ConnectionPool

from gateway.errors import Conflict, DatabaseUnavailable, Unprocessable
from gateway.postgres.credentials import PostgresCredentialStore
from gateway.postgres.generations import PostgresGenerations
from gateway.postgres.idempotency import PostgresIdempotencyStore
from gateway.postgres.pool import open_pool
from gateway.postgres.rate_counters import PostgresRateCounters
from gateway.stores import Role, key_id_of
from gateway.suggestion_cache import CustomerCache, CustomerRead
from network.postgres import free_port

pytestmark = pytest.mark.integration

READ = CustomerRead([], {"events": []})


@pytest.fixture
def pools(postgres_url: str) -> Iterator[tuple[ConnectionPool, ConnectionPool]]:
    """Two workers' pools on one fresh database."""
    name = f"t{free_port()}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with ThreadPoolExecutor(2) as start:  # two workers creating the schema at once
        first, second = start.map(lambda _: open_pool(url, max_size=4), range(2))
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def _url(pool: ConnectionPool) -> str:
    return str(pool.conninfo)


def test_a_credential_revoked_by_one_worker_is_refused_by_the_other(pools):
    a, b = PostgresCredentialStore(pools[0]), PostgresCredentialStore(pools[1])
    credential = a.issue("s01")
    principal = b.authenticate(credential)
    assert principal is not None and (principal.store_id, principal.role) == ("s01", Role.STORE)
    assert b.authenticate(credential[:-1] + ("A" if credential[-1] != "A" else "B")) is None
    assert a.revoke(key_id_of(credential)) and not a.revoke(key_id_of(credential))
    assert b.authenticate(credential) is None
    assert b.get(key_id_of(credential)).revoked_at is not None


def test_rotation_listing_expiry_and_bad_input(pools):
    store = PostgresCredentialStore(pools[0])
    old = store.issue("s02", lifetime=timedelta(days=3))
    new = store.rotate(key_id_of(old), grace=timedelta(0))
    assert new is not None and store.authenticate(old) is None
    assert store.authenticate(new) is not None
    assert store.rotate(key_id_of(old)) is None
    listed = store.entries(store_id="s02")
    assert [c.key_id for c in listed] == [key_id_of(new), key_id_of(old)]
    assert listed[1].replaced_by == key_id_of(new)
    short = store.issue("s02", Role.ADMIN, lifetime=timedelta(microseconds=1))
    assert store.authenticate(short) is None
    with pytest.raises(ValueError):
        store.issue("not a store id")
    with pytest.raises(ValueError):
        store.issue("s02", lifetime=timedelta(0))


def test_an_idempotency_key_is_shared_by_workers(pools):
    a, b = PostgresIdempotencyStore(pools[0]), PostgresIdempotencyStore(pools[1])
    assert a.claim("p:k", "key-00000001", "f1") is None
    with pytest.raises(Conflict):
        b.claim("p:k", "key-00000001", "f1")  # still running at the other worker
    a.finish("p:k", "key-00000001", 201, b'{"ok":true}')
    replayed = b.claim("p:k", "key-00000001", "f1")
    assert replayed is not None and (replayed.status, replayed.body) == (201, b'{"ok":true}')
    with pytest.raises(Unprocessable):
        b.claim("p:k", "key-00000001", "f2")
    assert a.claim("p:k", "key-00000002", "f1") is None
    a.finish("p:k", "key-00000002", 503, b"")  # a 5xx releases the key
    assert b.claim("p:k", "key-00000002", "f1") is None


def test_concurrent_claims_of_one_key_admit_one(pools):
    store = PostgresIdempotencyStore(pools[0])

    def claim(_: int) -> str:
        try:
            return "claimed" if store.claim("p:c", "key-concurrent", "f") is None else "replay"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(claim, range(8)))
    assert outcomes.count("claimed") == 1 and outcomes.count("conflict") == 7


def test_a_write_through_one_worker_drops_her_cached_read_in_the_other(pools):
    writer = CustomerCache(30, shared=PostgresGenerations(pools[0]))
    reader = CustomerCache(30, shared=PostgresGenerations(pools[1]))
    for cache in (writer, reader):
        cache.resume()
    assert reader.put("c1", READ, reader.begin("c1"))
    assert reader.put("c2", READ, reader.begin("c2"))
    assert reader.get("c1") is READ
    ticket = reader.begin("c1")  # a read of hers under way in the other worker ...
    writer.invalidate("c1")  # ... her withdrawal through this one
    assert reader.get("c1") is None and reader.get("c2") is READ
    assert reader.put("c1", READ, ticket)  # kept, but under her old generation:
    assert reader.get("c1") is None  # never served
    assert reader.put("c1", READ, reader.begin("c1"))
    assert reader.get("c1") is READ


def test_a_database_that_does_not_answer_is_a_typed_error():
    with pytest.raises(DatabaseUnavailable):
        open_pool(f"postgresql://nobody@127.0.0.1:{free_port()}/none", timeout_s=1)


def test_rate_counters_are_one_budget_for_two_workers(pools):
    """Two workers' counters hitting one limit at once admit exactly its amount between them,
    and a new window starts when the old one ends."""
    ten_a_second = parse("10/2 seconds")

    async def run() -> tuple[list[bool], list[bool], float]:
        a, b = PostgresRateCounters(_url(pools[0])), PostgresRateCounters(_url(pools[1]))
        limit_a, limit_b = FixedWindowRateLimiter(a), FixedWindowRateLimiter(b)
        try:
            first = await asyncio.gather(*(
                (limit_a if i % 2 else limit_b).hit(ten_a_second, "credential", "k1")
                for i in range(30)))
            reset = (await limit_b.get_window_stats(ten_a_second, "credential", "k1")
                     ).reset_time
            await asyncio.sleep(max(0.0, reset - time.time()) + 0.1)
            later = [await limit_a.hit(ten_a_second, "credential", "k1") for _ in range(3)]
            return first, later, reset
        finally:
            await a.aclose()
            await b.aclose()

    started = time.time()
    first, later, reset = asyncio.run(run())
    assert first.count(True) == 10 and first.count(False) == 20
    assert started < reset <= started + 2.5
    assert later == [True, True, True]


def test_rate_counters_on_a_database_that_does_not_answer_are_a_typed_error():
    counters = PostgresRateCounters(f"postgresql://nobody@127.0.0.1:{free_port()}/none",
                                    timeout_s=1)
    with pytest.raises(DatabaseUnavailable):
        asyncio.run(FixedWindowRateLimiter(counters).hit(parse("1/second"), "x"))
