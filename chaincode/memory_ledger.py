"""An in-memory ledger: a **unit-test double**, never evidence of end-to-end behaviour.

It lets the contract's logic (consent checks, refusals, what is written where) be tested
without a peer. It imitates the Fabric behaviours the contract depends on, as far as they
are documented (see :mod:`chaincode.ledger`), and nothing more: no endorsement policies, no
collection membership checks, no MVCC conflicts, no gossip, no capability checks, no block
or transaction validation. Whatever passes here must still be shown on a running peer.

Model:

- :class:`MemoryLedger` holds the committed world: public state, the history of every
  public key, the current private state per collection, every private version a member's
  private store would keep (until purged), and a list of :class:`Block` records (one per
  committed transaction) holding what a Fabric block holds: the public write-set, the
  *hashed* private write-set (SHA-256 of key and value, with delete and purge flags), the
  chaincode event and the response payload.
- :meth:`MemoryLedger.begin` opens a :class:`MemoryTransaction` (a :class:`Ledger`): reads
  see committed state only (no read-your-writes, as in Fabric); writes are staged in order
  and applied by :meth:`MemoryLedger.commit`. A transaction that is never committed leaves
  no trace, like a failed endorsement.
- Unlike Fabric, a second ``set_event`` in one transaction raises: Fabric would silently
  keep only the last, which is always a contract bug here.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from chaincode.ledger import Creator, Event, KeyModification
from chaincode.statekeys import CompositeKey

_MAX_RUNE = "\U0010ffff"


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass(frozen=True)
class PublicWrite:
    key: str
    value: bytes  # empty for a delete
    is_delete: bool


@dataclass(frozen=True)
class HashedWrite:
    """What a block carries for a private write (``kvrwset.KVWriteHash``)."""

    collection: str
    key_hash: bytes
    value_hash: bytes  # empty for a delete or purge
    is_delete: bool
    is_purge: bool


@dataclass(frozen=True)
class Block:
    """One committed transaction, as the channel's blocks would show it to any member."""

    number: int
    tx_id: str
    timestamp: datetime
    creator_msp: str
    public_writes: tuple[PublicWrite, ...]
    hashed_writes: tuple[HashedWrite, ...]
    event: Event | None
    response: bytes


_Op = tuple[Literal["put", "del", "purge"], str, str, bytes]  # (op, collection, key, value)


class MemoryLedger:
    """The committed world of one channel and one chaincode namespace (test double)."""

    def __init__(self) -> None:
        self.state: dict[str, bytes] = {}
        self.history: dict[str, list[KeyModification]] = {}
        self.private: dict[str, dict[str, bytes]] = {}
        #: Every version a member's private store keeps, per (collection, key), until purged.
        self.private_store: dict[tuple[str, str], list[bytes]] = {}
        self.blocks: list[Block] = []
        self._tx_ids = itertools.count(1)

    # --- transactions -------------------------------------------------------------------------

    def begin(
        self,
        creator: Creator,
        *,
        timestamp: datetime,
        transient: Mapping[str, bytes] | None = None,
        tx_id: str | None = None,
    ) -> MemoryTransaction:
        if timestamp.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware")
        return MemoryTransaction(
            self,
            creator=creator,
            timestamp=timestamp.astimezone(UTC),
            transient=dict(transient or {}),
            tx_id=tx_id or f"tx{next(self._tx_ids):06d}",
        )

    def commit(self, tx: MemoryTransaction, response: bytes = b"") -> Block:
        """Apply ``tx``'s writes atomically and append its block."""
        if tx.ledger is not self:
            raise ValueError("transaction belongs to another ledger")
        if tx.committed:
            raise ValueError("transaction already committed")
        public: list[PublicWrite] = []
        hashed: list[HashedWrite] = []
        for op, collection, key, value in tx.writes:
            if not collection:
                public.append(self._apply_public(tx, op, key, value))
            else:
                hashed.append(self._apply_private(op, collection, key, value))
        tx.committed = True
        block = Block(
            number=len(self.blocks),
            tx_id=tx.tx_id(),
            timestamp=tx.tx_timestamp(),
            creator_msp=tx.creator().msp_id,
            public_writes=tuple(public),
            hashed_writes=tuple(hashed),
            event=tx.event,
            response=bytes(response),
        )
        self.blocks.append(block)
        return block

    def _apply_public(self, tx: MemoryTransaction, op: str, key: str, value: bytes) -> PublicWrite:
        is_delete = op == "del"
        if is_delete:
            self.state.pop(key, None)
        else:
            self.state[key] = value
        self.history.setdefault(key, []).append(
            KeyModification(tx.tx_id(), b"" if is_delete else value, tx.tx_timestamp(), is_delete)
        )
        return PublicWrite(key, b"" if is_delete else value, is_delete)

    def _apply_private(self, op: str, collection: str, key: str, value: bytes) -> HashedWrite:
        current = self.private.setdefault(collection, {})
        versions = self.private_store.setdefault((collection, key), [])
        if op == "put":
            current[key] = value
            versions.append(value)
            return HashedWrite(collection, sha256(key.encode()), sha256(value), False, False)
        current.pop(key, None)
        if op == "purge":
            del self.private_store[(collection, key)]
        return HashedWrite(collection, sha256(key.encode()), b"", True, op == "purge")

    # --- inspection, for tests -----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of everything committed, to compare before and after a call."""
        return copy.deepcopy(
            {
                "state": self.state,
                "history": self.history,
                "private": self.private,
                "private_store": self.private_store,
                "blocks": self.blocks,
            }
        )

    def public_bytes(self) -> Iterator[bytes]:
        """Every byte string any channel member can read outside private data: public
        state keys and values, every history version, and every block's public writes,
        hashed writes, event and response."""
        for key, value in self.state.items():
            yield key.encode()
            yield value
        for key, versions in self.history.items():
            yield key.encode()
            for version in versions:
                yield version.tx_id.encode()
                yield version.value
        for block in self.blocks:
            for write in block.public_writes:
                yield write.key.encode()
                yield write.value
            for hashed in block.hashed_writes:
                yield hashed.collection.encode()
                yield hashed.key_hash
                yield hashed.value_hash
            if block.event is not None:
                yield block.event.name.encode()
                yield block.event.payload
            yield block.response


class MemoryTransaction:
    """One simulated transaction over a :class:`MemoryLedger` (implements ``Ledger``).

    ``writes`` lists the staged writes in order as ``(op, collection, key, value)``
    (collection ``""`` for public state); ``event`` is the event set, if any.
    """

    def __init__(
        self,
        ledger: MemoryLedger,
        *,
        creator: Creator,
        timestamp: datetime,
        transient: dict[str, bytes],
        tx_id: str,
    ) -> None:
        self.ledger = ledger
        self._creator = creator
        self._timestamp = timestamp
        self._transient = transient
        self._tx_id = tx_id
        self.writes: list[_Op] = []
        self.event: Event | None = None
        self.committed = False
        #: A Fabric peer refuses every write after a range query on private data.
        self.queried_private = False

    # --- public state -----------------------------------------------------------------------

    async def get_state(self, key: str) -> bytes | None:
        return self.ledger.state.get(key) or None

    async def put_state(self, key: str, value: bytes) -> None:
        self._stage("put", "", key, value)

    async def delete_state(self, key: str) -> None:
        self._stage("del", "", key, b"")

    async def get_state_by_partial_key(self, prefix: CompositeKey) -> list[tuple[str, bytes]]:
        return _range(self.ledger.state, prefix)

    async def get_history(self, key: str) -> list[KeyModification]:
        # A Fabric peer returns the newest version first.
        return list(reversed(self.ledger.history.get(key, [])))

    # --- private data -------------------------------------------------------------------------

    async def get_private(self, collection: str, key: str) -> bytes | None:
        return self.ledger.private.get(collection, {}).get(key) or None

    async def put_private(self, collection: str, key: str, value: bytes) -> None:
        self._stage("put", _collection(collection), key, value)

    async def delete_private(self, collection: str, key: str) -> None:
        self._stage("del", _collection(collection), key, b"")

    async def purge_private(self, collection: str, key: str) -> None:
        self._stage("purge", _collection(collection), key, b"")

    async def get_private_hash(self, collection: str, key: str) -> bytes | None:
        value = self.ledger.private.get(collection, {}).get(key)
        return sha256(value) if value else None

    async def get_private_by_partial_key(
        self, collection: str, prefix: CompositeKey
    ) -> list[tuple[str, bytes]]:
        self.queried_private = True
        return _range(self.ledger.private.get(collection, {}), prefix)

    # --- the proposal ---------------------------------------------------------------------------

    def transient(self) -> Mapping[str, bytes]:
        return dict(self._transient)

    def creator(self) -> Creator:
        return self._creator

    def tx_timestamp(self) -> datetime:
        return self._timestamp

    def tx_id(self) -> str:
        return self._tx_id

    def set_event(self, name: str, payload: bytes) -> None:
        if self.event is not None:
            raise AssertionError("a transaction carries one chaincode event; set_event twice")
        if not name:
            raise ValueError("event name must not be empty")
        self.event = Event(name, bytes(payload))

    def _stage(
        self, op: Literal["put", "del", "purge"], collection: str, key: str, value: bytes
    ) -> None:
        if self.committed:
            raise RuntimeError("transaction already committed")
        if self.queried_private:
            # The peer's answer to PUT_STATE/DEL_STATE (Fabric 2.1 to 3.x, core/ledger).
            raise RuntimeError("Transaction has already performed queries on pvt data. "
                               "Writes are not allowed")
        if not key:
            raise ValueError("key must not be empty")
        if op == "put" and not value:
            raise ValueError("Fabric treats an empty value as a delete; write a value")
        self.writes.append((op, collection, key, bytes(value)))


def _collection(name: str) -> str:
    if not name:
        raise ValueError("private data needs a collection name")
    return name


def _range(store: Mapping[str, bytes], prefix: CompositeKey) -> list[tuple[str, bytes]]:
    start = prefix.render()
    end = start + _MAX_RUNE
    return [(key, store[key]) for key in sorted(store) if start <= key < end]
