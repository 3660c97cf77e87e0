"""The suggestion cache's rules: TTL, size bound, suspension, and fills that raced with an
invalidation; the ledger's write observers; the benchmark's table (pure functions)."""

from __future__ import annotations

import hashlib

import pytest

from chaincode.preferences import event_index_key
from gateway.fabric import CommittedWrite
from gateway.kiosk_bench import TABLE_HEADER, RunResult, table
from gateway.suggestion_cache import (
    CustomerCache,
    CustomerRead,
    apply_write,
    customer_key_hashes,
)

READ = CustomerRead([{"consent_id": "k1", "status": "active"}], {"events": []})


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
    cache, clock = live_cache(ttl=30.0)
    assert cache.get("c1") is None
    assert cache.put("c1", READ, cache.begin())
    clock.now += 29.9
    assert cache.get("c1") is READ
    clock.now += 0.1
    assert cache.get("c1") is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_a_suspended_cache_serves_and_keeps_nothing():
    cache = CustomerCache(30.0)
    assert not cache.put("c1", READ, cache.begin())  # starts suspended
    cache.resume()
    assert cache.put("c1", READ, cache.begin())
    cache.suspend()
    assert cache.get("c1") is None
    cache.resume()
    assert cache.get("c1") is None  # emptied: events may have been missed meanwhile


def test_invalidating_her_drops_only_her_entry():
    cache, _ = live_cache()
    cache.put("c1", READ, cache.begin())
    cache.put("c2", READ, cache.begin())
    cache.invalidate("c1")
    assert cache.get("c1") is None and cache.get("c2") is READ


def test_a_fill_that_raced_with_an_invalidation_is_not_kept():
    cache, _ = live_cache()
    generation = cache.begin()  # a read from the ledger starts ...
    cache.invalidate("c1")  # ... her withdrawal commits meanwhile ...
    assert not cache.put("c1", READ, generation)  # ... so the read may predate it
    assert cache.get("c1") is None
    generation = cache.begin()
    cache.clear()  # a consent event from another gateway: whose is unknown
    assert not cache.put("c2", READ, generation)


def test_the_oldest_fill_goes_first_when_full():
    cache, _ = live_cache(max_entries=2)
    for customer in ("c1", "c2", "c3"):
        cache.put(customer, READ, cache.begin())
    assert len(cache) == 2
    assert cache.get("c1") is None and cache.get("c3") is READ


@pytest.mark.parametrize("ttl, size", [(0, 10), (-1, 10), (5, 0)])
def test_a_non_positive_ttl_or_size_is_refused(ttl, size):
    with pytest.raises(ValueError):
        CustomerCache(ttl, size)


def _result(endpoint: str, achieved: float) -> RunResult:
    return RunResult(endpoint, 100, 2, 200, 200, 0, achieved, 1.5, 9.25, 0.3, 0.2, None)


def test_the_table_has_a_row_per_run_and_the_ratio_of_the_best_rates():
    lines = table([_result("bare endpoint", 100), _result("kiosk suggestions", 60),
                   _result("bare endpoint", 200), _result("kiosk suggestions", 90)])
    assert lines[0] == TABLE_HEADER
    assert lines[2] == "| bare endpoint | 100 | 100 | 1.5 | 9.2 | 0 | 0.30 | 0.20 | - |"
    assert lines[-1].endswith("90 / 200 = 0.45")


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
    ledger.on_customer_write(seen.append)
    writes = [lambda: ledger.submit_consent({"customer_id": "c1"}),
              lambda: ledger.record_events([{"customer_id": "c2"}, {"customer_id": "c2"},
                                            {"customer_id": "c3"}]),
              lambda: ledger.erase_customer({"customer_id": "c4"})]
    for write in writes:
        if fail:
            with pytest.raises(RuntimeError):
                write()
        else:
            write()
    assert seen == ["c1", "c2", "c3", "c4"]


# -- invalidation per customer ----------------------------------------------------------------


def _hashes(customer_id: str) -> tuple[bytes, ...]:
    return (f"index-of-{customer_id}".encode(),)


def _write(event_name: str = "", payload: bytes = b"", private: tuple[bytes, ...] = ()
           ) -> CommittedWrite:
    return CommittedWrite(1, "t1", "prefshare", event_name, payload, frozenset(),
                          frozenset(private))


def test_a_write_of_her_watched_key_drops_her_entry_only():
    cache = CustomerCache(30.0, key_hashes=_hashes)
    cache.resume()
    for customer in ("c1", "c2"):
        assert cache.put(customer, READ, cache.begin())
    assert apply_write(cache, _write(private=(b"index-of-c1", b"unrelated"))) == ("c1",)
    assert cache.get("c1") is None
    assert cache.get("c2") is READ


def test_a_consent_event_drops_the_customer_its_payload_names_only():
    cache = CustomerCache(30.0, key_hashes=_hashes)
    cache.resume()
    for customer in ("c1", "c2"):
        cache.put(customer, READ, cache.begin())
    assert apply_write(cache, _write("ConsentWithdrawn", b'{"customer_id": "c2"}')) == ("c2",)
    assert cache.get("c1") is READ and cache.get("c2") is None


def test_a_consent_event_naming_nobody_empties_the_cache():
    cache = CustomerCache(30.0, key_hashes=_hashes)
    cache.resume()
    cache.put("c1", READ, cache.begin())
    assert apply_write(cache, _write("ConsentGranted", b"not json")) is None
    assert cache.get("c1") is None


def test_other_transactions_drop_nothing_and_an_expired_entry_stops_being_watched():
    cache, clock = live_cache(ttl=30.0, key_hashes=_hashes)
    cache.put("c1", READ, cache.begin())
    generation = cache.begin()
    assert apply_write(cache, _write("ModelRecorded", b"{}", (b"other",))) == ()
    assert cache.begin() == generation  # no fill under way was thrown away for nothing
    clock.now += 31
    assert cache.get("c1") is None
    assert cache.invalidate_written([b"index-of-c1"]) == ()


def test_the_watched_key_is_her_event_index_as_the_chaincode_renders_it():
    key = event_index_key("cust-abc").render().encode()
    assert customer_key_hashes("cust-abc") == (hashlib.sha256(key).digest(),)


def test_a_read_under_way_for_her_is_not_stored_after_a_write_about_her():
    cache = CustomerCache(30.0, key_hashes=_hashes)
    cache.resume()
    assert not cache.watching()
    generation = cache.begin("c1")
    assert cache.watching()
    assert cache.invalidate_written([b"index-of-c1"]) == ("c1",)
    assert not cache.put("c1", READ, generation)
    assert not cache.watching()  # the read ended, stored or not


def test_a_read_under_way_for_someone_else_is_stored_after_a_write_about_her():
    cache = CustomerCache(30.0, key_hashes=_hashes)
    cache.resume()
    generation = cache.begin("c2")
    assert cache.invalidate_written([b"index-of-c1"]) == ()
    assert cache.put("c2", READ, generation)


def test_a_read_never_finished_is_forgotten_after_the_ttl():
    cache, clock = live_cache(ttl=30.0, key_hashes=_hashes)
    cache.begin("c1")  # e.g. the ledger failed: no put follows
    clock.now += 31
    cache.begin("c2")
    generation = cache.begin()
    assert cache.invalidate_written([b"index-of-c1"]) == ()
    assert cache.begin() == generation
