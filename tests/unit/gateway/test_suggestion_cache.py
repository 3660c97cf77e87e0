"""The suggestion cache's rules: TTL, size bound, suspension, and fills that raced with an
invalidation; the ledger's write and batch observers (pure functions)."""

from __future__ import annotations

import pytest

from gateway.ledger_records import MalformedLedgerAnswer
from gateway.suggestion_cache import CustomerCache, CustomerRead

READ = CustomerRead((), ())


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def live_cache(ttl: float = 30.0, **kwargs: object) -> tuple[CustomerCache, Clock]:
    clock = Clock()
    cache = CustomerCache(ttl, clock=clock, **kwargs)  # type: ignore[arg-type]
    cache.resume()
    return cache, clock


def test_a_fill_is_served_until_its_ttl_and_counted():
    cache, clock = live_cache(ttl=30.0, ttl_jitter=0.0)
    assert cache.get("c1") is None
    assert cache.put("c1", READ, cache.begin("c1"))
    clock.now += 29.9
    assert cache.get("c1") is READ
    clock.now += 0.1
    assert cache.get("c1") is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_a_suspended_cache_serves_and_keeps_nothing():
    cache = CustomerCache(30.0)
    assert not cache.put("c1", READ, cache.begin("c1"))  # starts suspended
    cache.resume()
    assert cache.put("c1", READ, cache.begin("c1"))
    cache.suspend()
    assert cache.get("c1") is None
    cache.resume()
    assert cache.get("c1") is None  # emptied: events may have been missed meanwhile


def test_invalidating_her_drops_only_her_entry():
    cache, _ = live_cache()
    cache.put("c1", READ, cache.begin("c1"))
    cache.put("c2", READ, cache.begin("c2"))
    cache.invalidate("c1")
    assert cache.get("c1") is None and cache.get("c2") is READ


def test_a_fill_that_raced_with_an_invalidation_is_not_kept():
    cache, _ = live_cache()
    generation = cache.begin("c1")  # a read from the ledger starts ...
    cache.invalidate("c1")  # ... her withdrawal commits meanwhile ...
    assert not cache.put("c1", READ, generation)  # ... so the read may predate it
    assert cache.get("c1") is None
    generation = cache.begin("c2")
    cache.clear()  # a consent event from another gateway: whose is unknown
    assert not cache.put("c2", READ, generation)


def test_the_oldest_fill_goes_first_when_full():
    cache, _ = live_cache(max_entries=2)
    for customer in ("c1", "c2", "c3"):
        cache.put(customer, READ, cache.begin(customer))
    assert len(cache) == 2
    assert cache.get("c1") is None and cache.get("c3") is READ


@pytest.mark.parametrize("ttl, size", [(0, 10), (-1, 10), (5, 0)])
def test_a_non_positive_ttl_or_size_is_refused(ttl, size):
    with pytest.raises(ValueError):
        CustomerCache(ttl, size)


class _Contract:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def submit(self, *args: object, **kwargs: object) -> bytes:
        if self.fail:
            raise RuntimeError("the commit was not confirmed")
        return b"{}"


@pytest.mark.parametrize("fail", [False, True])
def test_the_ledger_tells_observers_whom_a_write_was_about_even_when_it_failed(fail):
    from gateway.ledger import ConsortiumLedger

    ledger = ConsortiumLedger(_Contract(fail), _Contract(fail), "NorthwindMSP",  # type: ignore[arg-type]
                              ("NorthwindMSP", "SouthgateMSP"))
    seen: list[str] = []
    batches: list[list[dict[str, str]]] = []
    ledger.on_customer_write(seen.append)
    ledger.on_events_recorded(batches.append)
    writes = [lambda: ledger.submit_consent({"customer_id": "c1"}),
              lambda: ledger.record_events([{"customer_id": "c2"}, {"customer_id": "c2"},
                                            {"customer_id": "c3"}]),
              lambda: ledger.erase_customer({"customer_id": "c4"})]
    for write in writes:
        # Not failing, the double's empty answers are no records: the write went through,
        # its answer cannot be read, and the observers are told all the same.
        with pytest.raises(RuntimeError if fail else MalformedLedgerAnswer):
            write()
    assert seen == ["c1", "c2", "c3", "c4"]
    assert [[e["customer_id"] for e in batch] for batch in batches] == [["c2", "c2", "c3"]]


# -- invalidation per customer ----------------------------------------------------------------


def test_a_read_under_way_for_her_is_not_stored_after_she_was_invalidated():
    cache, _ = live_cache()
    generation = cache.begin("c1")
    cache.invalidate("c1")  # e.g. an owner's notice: she bought something there
    assert not cache.put("c1", READ, generation)
    assert cache.get("c1") is None
    assert cache.put("c1", READ, cache.begin("c1"))  # the next read is kept


def test_a_read_under_way_for_someone_else_is_stored_after_she_was_invalidated():
    cache, _ = live_cache()
    generation = cache.begin("c2")
    cache.invalidate("c1")
    assert cache.put("c2", READ, generation)


def test_a_read_never_finished_is_forgotten_after_the_ttl():
    cache, clock = live_cache(ttl=30.0)
    cache.begin("c1")  # e.g. the ledger failed: no put follows
    cache.invalidate("c1")
    clock.now += 31
    cache.begin("c2")  # forgets the stale one
    assert cache.put("c1", READ, cache.begin("c1"))


class CountingGenerations:
    """Stands in for the shared PostgreSQL generations (a dict all 'workers' see)."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}

    def current(self, customer_id: str) -> int:
        return self.rows.get(customer_id, 0)

    def bump(self, customer_id: str) -> None:
        self.rows[customer_id] = self.rows.get(customer_id, 0) + 1


def test_a_write_through_another_worker_drops_only_her_entry_here():
    shared = CountingGenerations()
    here, there = CustomerCache(30, shared=shared), CustomerCache(30, shared=shared)
    for cache in (here, there):
        cache.resume()
    assert here.put("c1", READ, here.begin("c1")) and here.put("c2", READ, here.begin("c2"))
    there.invalidate("c1")
    assert here.get("c1") is None and here.get("c2") is READ


def test_fills_made_together_expire_spread_over_the_jitter_and_never_after_the_ttl():
    cache, clock = live_cache(ttl=40.0, ttl_jitter=0.25)
    customers = [f"c{i}" for i in range(200)]
    for customer in customers:
        assert cache.put(customer, READ, cache.begin(customer))
    filled = clock.now
    clock.now = filled + 30.0 - 0.01  # before (1 - 0.25) * 40: every one is still served
    assert all(cache.get(c) is READ for c in customers)
    expired_at = {}
    for step in range(1, 11):  # one second at a time; the last check at the TTL itself
        # (a lifetime may be the whole TTL: checking 0.01 s before it left one entry of
        # 200 unexpired about one run in six)
        clock.now = filled + 30.0 + step - (0.01 if step < 10 else 0.0)
        for c in customers:
            if c not in expired_at and cache.get(c) is None:
                expired_at[c] = step
    assert set(expired_at) == set(customers)  # all gone by the TTL
    per_second = [list(expired_at.values()).count(s) for s in range(1, 11)]
    assert max(per_second) <= 40, per_second  # spread: about 20 a second, not 200 at once


def test_a_jitter_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError):
        CustomerCache(30.0, ttl_jitter=1.0)
