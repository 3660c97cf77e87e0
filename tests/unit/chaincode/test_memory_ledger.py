"""The memory ledger keeps the Fabric behaviours the contract relies on (a test double)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from chaincode.collection_config import collection_for
from chaincode.ledger import Creator
from chaincode.memory_ledger import MemoryLedger, MemoryTransaction
from chaincode.statekeys import CompositeKey

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CREATOR = Creator("Org1MSP", b"-----BEGIN CERTIFICATE-----")
COLL = collection_for("Org1MSP")


def begin(ledger: MemoryLedger, at: datetime = NOW) -> MemoryTransaction:
    return ledger.begin(CREATOR, timestamp=at)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_reads_do_not_see_the_transactions_own_writes_until_commit():
    ledger = MemoryLedger()
    tx = begin(ledger)
    run(tx.put_state("k", b"v1"))
    run(tx.put_private(COLL, "p", b"secret"))
    assert run(tx.get_state("k")) is None
    assert run(tx.get_private(COLL, "p")) is None
    ledger.commit(tx)
    after = begin(ledger)
    assert run(after.get_state("k")) == b"v1"
    assert run(after.get_private(COLL, "p")) == b"secret"


def test_an_uncommitted_transaction_leaves_no_trace():
    ledger = MemoryLedger()
    before = ledger.snapshot()
    tx = begin(ledger)
    run(tx.put_state("k", b"v"))
    tx.set_event("E", b"{}")
    assert ledger.snapshot() == before
    assert tx.writes == [("put", "", "k", b"v")]


def test_history_keeps_every_version_newest_first_with_deletes_flagged():
    ledger = MemoryLedger()
    for step, op in enumerate(("v1", "v2", None)):
        tx = begin(ledger, NOW + timedelta(minutes=step))
        run(tx.put_state("k", op.encode()) if op else tx.delete_state("k"))
        ledger.commit(tx)
    history = run(begin(ledger).get_history("k"))
    assert [(m.value, m.is_delete) for m in history] == [
        (b"", True),
        (b"v2", False),
        (b"v1", False),
    ]
    assert history[0].timestamp == NOW + timedelta(minutes=2)


def test_partial_key_range_stops_at_the_attribute_boundary():
    ledger = MemoryLedger()
    tx = begin(ledger)
    for parts in (("c_a", "1"), ("c_a", "2"), ("c_ab", "1"), ("c_b", "1")):
        run(tx.put_state(CompositeKey("consent", parts).render(), b"x"))
    ledger.commit(tx)
    rows = run(begin(ledger).get_state_by_partial_key(CompositeKey("consent", ("c_a",))))
    assert [key.split("\x00")[2:4] for key, _ in rows] == [["c_a", "1"], ["c_a", "2"]]


def test_a_write_after_a_private_range_query_is_refused_as_a_peer_refuses_it():
    tx = begin(MemoryLedger())
    run(tx.get_private(COLL, "point-reads-are-fine"))
    run(tx.put_state("k", b"v"))
    run(tx.get_private_by_partial_key(COLL, CompositeKey("pref")))
    for write in (tx.put_state("k2", b"v"), tx.put_private(COLL, "p", b"v"),
                  tx.delete_private(COLL, "p")):
        with pytest.raises(RuntimeError, match="performed queries on pvt data"):
            run(write)


def test_delete_keeps_old_private_versions_but_purge_removes_them():
    ledger = MemoryLedger()
    for key in ("deleted", "purged"):
        tx = begin(ledger)
        run(tx.put_private(COLL, key, b"v-" + key.encode()))
        ledger.commit(tx)
    tx = begin(ledger)
    run(tx.delete_private(COLL, "deleted"))
    run(tx.purge_private(COLL, "purged"))
    ledger.commit(tx)
    assert ledger.private[COLL] == {}
    assert ledger.private_store[(COLL, "deleted")] == [b"v-deleted"]
    assert (COLL, "purged") not in ledger.private_store


def test_private_hash_is_current_state_while_the_block_keeps_the_evidence():
    ledger = MemoryLedger()
    tx = begin(ledger)
    run(tx.put_private(COLL, "p", b"secret"))
    ledger.commit(tx)
    assert run(begin(ledger).get_private_hash(COLL, "p")) == hashlib.sha256(b"secret").digest()
    tx = begin(ledger)
    run(tx.purge_private(COLL, "p"))
    ledger.commit(tx)
    assert run(begin(ledger).get_private_hash(COLL, "p")) is None
    written, purged = (block.hashed_writes[0] for block in ledger.blocks)
    assert written.value_hash == hashlib.sha256(b"secret").digest()
    assert (purged.is_delete, purged.is_purge, purged.value_hash) == (True, True, b"")
    assert all(b"secret" not in chunk for chunk in ledger.public_bytes())


def test_public_bytes_cover_state_history_events_and_responses():
    ledger = MemoryLedger()
    tx = begin(ledger)
    run(tx.put_state("k", b"in-state"))
    tx.set_event("E", b"in-event")
    ledger.commit(tx, b"in-response")
    tx = begin(ledger)
    run(tx.put_state("k", b"replaced"))
    ledger.commit(tx)
    chunks = list(ledger.public_bytes())
    for marker in (b"in-state", b"in-event", b"in-response"):
        assert any(marker in chunk for chunk in chunks), marker


def test_a_second_event_in_one_transaction_is_a_contract_bug():
    tx = begin(MemoryLedger())
    tx.set_event("First", b"")
    with pytest.raises(AssertionError):
        tx.set_event("Second", b"")


@pytest.mark.parametrize("value", [b""])
def test_writing_an_empty_value_is_refused(value):
    tx = begin(MemoryLedger())
    with pytest.raises(ValueError, match="empty value"):
        run(tx.put_state("k", value))


def test_private_operations_need_a_collection_and_commit_only_once():
    ledger = MemoryLedger()
    tx = begin(ledger)
    with pytest.raises(ValueError, match="collection"):
        run(tx.put_private("", "k", b"v"))
    ledger.commit(tx)
    with pytest.raises(ValueError, match="already committed"):
        ledger.commit(tx)


def test_each_owners_collection_is_its_own_store_and_blocks_name_it():
    ledger = MemoryLedger()
    other = collection_for("Org2MSP")
    tx = begin(ledger)
    run(tx.put_private(COLL, "same-key", b"org1's"))
    ledger.commit(tx)
    reader = begin(ledger)
    assert run(reader.get_private(other, "same-key")) is None
    assert run(reader.get_private_hash(other, "same-key")) is None
    assert run(reader.get_private(COLL, "same-key")) == b"org1's"
    (written,) = ledger.blocks[-1].hashed_writes
    assert written.collection == "events-Org1MSP"
    assert written.key_hash == hashlib.sha256(b"same-key").digest()
