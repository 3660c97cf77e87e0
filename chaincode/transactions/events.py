"""Transactions on preference events, each in its owner's own collection: recording, the owner's
own reads, the reads it serves to other members under her consents, and its access log.
"""

from __future__ import annotations

from typing import Any

from chaincode.access_log import MAX_ACCESS_ENTRY_BYTES, AccessLogEntry
from chaincode.consent_statement import PURPOSES
from chaincode.errors import (
    InvalidValue,
    RetailerMismatch,
)
from chaincode.fields import (
    expect_object,
    join,
    load_json,
    read_enum,
    read_str,
)
from chaincode.holdings import (
    Holding,
    ReadLog,
    holdings_prefix,
)
from chaincode.identity import require_transient
from chaincode.keys import CustomerRecord, read_customer_id
from chaincode.ledger import Ledger
from chaincode.preferences import (
    check_events_written_by,
    parse_event_batch,
)
from chaincode.signed import NONCE_PATTERN
from chaincode.statekeys import CompositeKey
from chaincode.transactions.base import ContractBase, Writes, encode
from chaincode.transactions.table import (
    ENTRIES_KEY,
    EVENTS_KEY,
    MAX_LOG_BATCH,
    NONCES_KEY,
)


class EventTransactions(ContractBase):
    """RecordPreferenceEvents, ReadOwnEvents, ReadOwnTraining, ReadSharedEvents,
    ReadSharedTraining, LogReads."""

    async def record_preference_events(self, ledger: Ledger) -> bytes:
        """Write a batch of the owner's own events (transient ``events``: a JSON array) into
        its collection, one holding per customer. Reads no public key (a read set names
        public keys in clear: her registration read here would link her to this retailer);
        the owner's gateway checks that she is registered before it records. Returns only
        the count."""
        self._owner_gateway(ledger)
        raw = require_transient(ledger.transient(), EVENTS_KEY)
        events = parse_event_batch(raw, max_events=self.max_batch_events)
        check_events_written_by(events, self.owner)
        by_customer: dict[str, list[int]] = {}
        for position, event in enumerate(events):
            by_customer.setdefault(event.customer_id, []).append(position)
        salt = self.keys.salt(ledger.tx_id())
        writes = Writes()
        for customer_id in sorted(by_customer):
            key = self.keys.holding_key(customer_id).render()
            held = Holding.from_json(await ledger.get_private(self.collection, key),
                                     customer_id) or Holding(customer_id)
            positions = by_customer[customer_id]
            updated = held.adding([events[i] for i in positions], positions)
            writes.private.append((key, updated.to_json_bytes(salt)))
        await writes.apply(ledger, self.collection)
        return encode({"recorded": len(events)})

    async def read_own_events(self, ledger: Ledger, customer_id: str) -> bytes:
        """Her events this owner recorded. EVALUATE ONLY (private values)."""
        self._owner_gateway(ledger)
        cid = read_customer_id(customer_id)
        await self._customer(ledger, cid)
        held = await self._servable_holding(ledger, cid)
        return encode({"customer_id": cid, "owner": self.owner,
                      "events": [event.to_dict() for event in held.events]})

    async def read_own_training(self, ledger: Ledger, after: str, limit: str) -> bytes:
        """One page of every holding of this owner, in key order after ``after`` ("" for the
        first), at most ``limit`` (1..500) customers; erased or unknown customers left out.
        Returns the events and ``next`` (null on the last page). EVALUATE ONLY."""
        self._owner_gateway(ledger)
        count = self._page_limit(limit)
        rows = await ledger.get_private_by_partial_key(self.collection, holdings_prefix())
        rows = [(key, value) for key, value in rows if key > after]
        page, rest = rows[:count], rows[count:]
        events: list[dict[str, Any]] = []
        for _, value in page:
            held = Holding.from_json(value)
            if (held is None or not await self._is_open(ledger, held.customer_id)
                    or await self._erasure_pending_here(ledger, held.customer_id)):
                continue
            events += [event.to_dict() for event in held.events]
        return encode({"owner": self.owner, "events": events, "customers": len(page),
                      "next": page[-1][0] if rest else None})

    async def read_shared_events(self, ledger: Ledger, customer_id: str, reader: str,
                                 purpose: str) -> bytes:
        """Her events held by this owner that ``reader`` may read for ``purpose`` now, and
        the consents that opened them. Called by the OWNER's gateway on behalf of the reader
        it authenticated; her consents are checked here, at the time of the read, so a
        withdrawal takes effect on the next read whatever the reader runs. Nothing is said
        about what was withheld. EVALUATE ONLY."""
        self._owner_gateway(ledger)
        cid = read_customer_id(customer_id)
        who = self._reader(reader)
        purpose = read_enum(purpose, "purpose", PURPOSES)
        await self._customer(ledger, cid)
        consents = await self._consents(ledger, cid)
        readable, opened = self._shareable(
            who, purpose, (await self._servable_holding(ledger, cid)).events, consents,
            ledger.tx_timestamp())
        return encode({"customer_id": cid, "owner": self.owner, "reader": who,
                      "purpose": purpose, "events": [e.to_dict() for e in readable],
                      "consent_ids": sorted({k for _, k, _ in opened})})

    async def read_shared_training(self, ledger: Ledger, reader: str, purpose: str,
                                   after: str, limit: str) -> bytes:
        """One page, in customer id order after ``after``, of what ``reader`` may read of
        this owner's events for ``purpose``: the events, the consents that opened them as
        ``[customer_id, consent_id, version]`` and ``next``. EVALUATE ONLY."""
        self._owner_gateway(ledger)
        who = self._reader(reader)
        purpose = read_enum(purpose, "purpose", PURPOSES)
        if after:
            read_customer_id(after, field="after")
        count = self._page_limit(limit)
        rows = await ledger.get_state_by_partial_key(CompositeKey("customer", ()))
        records = sorted((CustomerRecord.from_json(v) for _, v in rows),
                         key=lambda r: r.customer_id)
        records = [r for r in records if r.customer_id > after]
        page, rest = records[:count], records[count:]
        now = ledger.tx_timestamp()
        events: list[dict[str, Any]] = []
        opened: set[tuple[str, str, int]] = set()
        for record in page:
            if record.erased_at is not None:
                continue
            consents = await self._consents(ledger, record.customer_id)
            if not any(c.scope.names_recipient(who) for c in consents):
                continue
            held = await self._servable_holding(ledger, record.customer_id)
            readable, keys = self._shareable(who, purpose, held.events, consents, now)
            events += [event.to_dict() for event in readable]
            opened |= keys
        return encode({"owner": self.owner, "reader": who, "purpose": purpose,
                      "events": events, "consents": [list(c) for c in sorted(opened)],
                      "customers": len(page),
                      "next": page[-1].customer_id if rest else None})

    async def log_reads(self, ledger: Ledger) -> bytes:
        """Append the owner's access-log entries (transient ``entries``: a JSON array of
        :class:`AccessLogEntry` objects naming this owner) to each customer's log in its
        collection; an ``export`` entry also marks her request's nonce served (transient
        ``nonces``: ``{customer_id: nonce}``). Returns only the count."""
        self._owner_gateway(ledger)
        raw = load_json(require_transient(ledger.transient(), ENTRIES_KEY),
                        max_bytes=MAX_LOG_BATCH * MAX_ACCESS_ENTRY_BYTES)
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_LOG_BATCH:
            raise InvalidValue(f"entries must be a list of 1..{MAX_LOG_BATCH}", field="entries")
        entries = [AccessLogEntry.from_dict(item, join("", i)) for i, item in enumerate(raw)]
        for index, entry in enumerate(entries):
            if entry.owner != self.owner:
                raise RetailerMismatch("an owner logs only reads of its own data",
                                       field=join(join("", index), "owner"))
        served: dict[str, Any] = {}
        if NONCES_KEY in ledger.transient():
            served = expect_object(load_json(ledger.transient()[NONCES_KEY],
                                             max_bytes=MAX_LOG_BATCH * 128))
        by_customer: dict[str, list[AccessLogEntry]] = {}
        for entry in entries:
            by_customer.setdefault(entry.customer_id, []).append(entry)
        salt = self.keys.salt(ledger.tx_id())
        writes = Writes()
        for customer_id in sorted(by_customer):
            key = self.keys.read_log_key(customer_id).render()
            log = ReadLog.from_json(customer_id, await ledger.get_private(self.collection, key))
            writes.private.append((key, log.adding(by_customer[customer_id])
                                   .to_json_bytes(salt)))
        for customer_id, nonce in sorted(served.items()):
            cid = read_customer_id(customer_id, field="nonces")
            nonce = read_str(nonce, "nonces", pattern=NONCE_PATTERN)
            writes.private.append((self.keys.served_key(cid, nonce).render(),
                                   encode({"salt": salt})))
        await writes.apply(ledger, self.collection)
        return encode({"logged": len(entries)})
