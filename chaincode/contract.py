"""The prefshare contract: its transaction functions, over a :class:`chaincode.ledger.Ledger`.

Each function takes the transaction's ledger view and string arguments, and returns the
response payload as RFC 8785 JSON bytes (identical on every endorsing peer) or raises a
:class:`chaincode.errors.ChaincodeError`. The record rules live in the pure modules; this
module only reads, decides through them, and writes.

Two rules shape every function:

- **Validate everything before the first write.** A submit function gathers all its
  writes in a :class:`_Writes` plan and applies them only once every check has passed, so a
  refusal leaves nothing staged. (Fabric would drop a failed simulation anyway; the plan
  makes the rule structural rather than a matter of statement order, and matches Fabric's
  lack of read-your-writes: all reads happen before any write.)
- **What goes into the block is public.** Arguments and the response of a *submitted*
  transaction are written into the block for every member to read. So private data arrives
  only through the transient map, a submit function never returns private values, and the
  functions that return private values (``ReadOwnEvents``, ``ReadSharedEvents``, the
  training pages, ``ExportCustomer``, ``ExportOwnData``) write nothing and must be
  *evaluated*, never submitted: a peer cannot tell the two apart, so this is the gateway's
  duty (see ``TRANSACTIONS[...].kind``).

Access logging: a read in Fabric is an *evaluate*, which is neither ordered nor committed,
so it cannot write a log entry. The owner's gateway submits ``LogReads`` for every shared
read it served (reader, purpose, kind, count, consent ids) into the owner's own collection;
an export entry also marks her request served there, so ``ExportOwnData`` serves it once.
The chaincode cannot force the log: it is the owner's gateway's duty (docs/chaincode.md,
what the design does not stop).

Callers: functions touching preference data, her rights or model provenance need the
Fabric CA attribute ``prefshare.role=gateway`` in the creator certificate (the identity each
retailer's gateway enrols with, see ``network/plan.py``); those on the owner's collection
need the owner's own gateway (``RETAILER_MISMATCH`` otherwise). Customer registration and
consent statements may be carried by any channel member: the customer's signature is the
authority.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from chaincode.access_log import MAX_ACCESS_ENTRY_BYTES, AccessLogEntry
from chaincode.canonical import canonical_bytes
from chaincode.collection_config import collection_for
from chaincode.consent import (
    ConsentRecord,
    apply_statement,
    consent_key,
    customer_consents_prefix,
    erase_record,
    nonce_key,
)
from chaincode.consent_statement import DATA_CATEGORIES, PURPOSES, parse_signed_statement
from chaincode.erasure import ErasureRecord, erasure_key, erasures_prefix
from chaincode.errors import (
    Backdated,
    ConsentNotFound,
    CustomerErased,
    CustomerExists,
    GatewayMismatch,
    InvalidValue,
    ModelExists,
    ModelNotFound,
    ReplayedNonce,
    RetailerMismatch,
    UnknownCustomer,
    WatchRecordExists,
)
from chaincode.fields import (
    ID_PATTERN,
    MSP_ID_PATTERN,
    expect_object,
    format_timestamp,
    join,
    load_json,
    read_enum,
    read_str,
)
from chaincode.holdings import (
    Holding,
    OwnerKeys,
    ReadLog,
    erasure_marker_key,
    holdings_prefix,
)
from chaincode.identity import CallerIdentity, identity_from_creator, require_transient
from chaincode.keys import CustomerRecord, customer_key, read_customer_id
from chaincode.ledger import Ledger
from chaincode.policy import decide_read
from chaincode.preferences import (
    MAX_BATCH_EVENTS,
    PreferenceEvent,
    check_events_written_by,
    parse_event_batch,
)
from chaincode.provenance import ModelProvenance, model_key
from chaincode.rights import RightsRequest
from chaincode.signed import NONCE_PATTERN
from chaincode.statekeys import CompositeKey
from chaincode.watch_record import WatchRecord, watch_prefix

#: Fabric CA attribute (written into the enrolment certificate) naming the caller's role.
ROLE_ATTRIBUTE = "prefshare.role"
GATEWAY_ROLE = "gateway"
#: Transient map entries.
EVENTS_KEY = "events"
REQUEST_KEY = "request"
ENTRIES_KEY = "entries"
NONCES_KEY = "nonces"
#: Most access-log entries one LogReads carries.
MAX_LOG_BATCH = 500

#: Event names.
CONSENT_EVENTS = {
    "grant": "ConsentGranted",
    "narrow": "ConsentNarrowed",
    "withdraw": "ConsentWithdrawn",
}
CUSTOMER_ERASED = "CustomerErased"
#: Most customers one ReadTrainingEvents page covers (an evaluation must stay small).
MAX_TRAINING_PAGE = 500

Kind = Literal["submit", "evaluate"]


def _json(value: Any) -> bytes:
    return canonical_bytes(value)


@dataclass
class _Writes:
    """Every write of one transaction, applied together after all checks passed."""

    public: list[tuple[str, bytes]] = field(default_factory=list)
    private: list[tuple[str, bytes]] = field(default_factory=list)
    #: Private keys deleted with ``DelPrivateData`` (Fabric 2.1 has no purge: DESIGN §3).
    private_deletes: list[str] = field(default_factory=list)
    event: tuple[str, bytes] | None = None

    async def apply(self, ledger: Ledger, collection: str) -> None:
        for key, value in self.public:
            await ledger.put_state(key, value)
        for key, value in self.private:
            await ledger.put_private(collection, key, value)
        for key in self.private_deletes:
            await ledger.delete_private(collection, key)
        if self.event is not None:
            ledger.set_event(*self.event)


@dataclass(frozen=True)
class Transaction:
    """One transaction function as the dispatcher sees it."""

    name: str
    params: tuple[str, ...]
    kind: Kind
    transient: tuple[str, ...] = ()


class PrefshareContract:
    """The transaction functions as one retailer's chaincode server runs them.

    ``owner``: the MSP id of the retailer whose peer this server serves; its events live in
    its own collection (:func:`chaincode.collection_config.collection_for`). ``keys``: the
    owner's key derivation (its secret). ``members``: every retailer of the consortium, in
    the same order on every server (an erasure names them all).
    """

    def __init__(
        self,
        owner: str,
        keys: OwnerKeys,
        members: Sequence[str],
        *,
        max_batch_events: int = MAX_BATCH_EVENTS,
    ) -> None:
        if owner not in members:
            raise ValueError("the owner must be one of the members")
        self.owner = owner
        self.collection = collection_for(owner)
        self.keys = keys
        self.members = tuple(members)
        self.max_batch_events = max_batch_events
        self._functions: dict[str, Callable[..., Awaitable[bytes]]] = {
            "RegisterCustomer": self.register_customer,
            "SubmitConsentStatement": self.submit_consent_statement,
            "ListConsents": self.list_consents,
            "ConsentHistory": self.consent_history,
            "CheckConsent": self.check_consent,
            "RecordPreferenceEvents": self.record_preference_events,
            "ReadOwnEvents": self.read_own_events,
            "ReadOwnTraining": self.read_own_training,
            "ReadSharedEvents": self.read_shared_events,
            "ReadSharedTraining": self.read_shared_training,
            "LogReads": self.log_reads,
            "ExportCustomer": self.export_customer,
            "ExportOwnData": self.export_own_data,
            "EraseCustomer": self.erase_customer,
            "PurgeCustomer": self.purge_customer,
            "ErasureProgress": self.erasure_progress,
            "PendingErasures": self.pending_erasures,
            "RecordModelProvenance": self.record_model_provenance,
            "GetModelProvenance": self.get_model_provenance,
            "RecordWatchEvent": self.record_watch_event,
            "ListWatchEvents": self.list_watch_events,
            "Describe": self.describe,
        }

    async def invoke(self, ledger: Ledger, function: str, args: Sequence[str]) -> bytes:
        """Dispatch ``function(*args)``; raises InvalidValue for an unknown function or a
        wrong number of arguments."""
        spec = TRANSACTIONS.get(function)
        if spec is None:
            raise InvalidValue("no transaction function of this name", field="function")
        if len(args) != len(spec.params):
            raise InvalidValue(
                f"{function} takes {len(spec.params)} argument(s): {', '.join(spec.params)}",
                field="args",
            )
        return await self._functions[function](ledger, *args)

    # --- customers and consent ---------------------------------------------------------------

    async def register_customer(self, ledger: Ledger, public_key: str) -> bytes:
        """Register a customer's P-256 key; returns the customer record."""
        record = CustomerRecord.register(public_key, now=ledger.tx_timestamp())
        key = customer_key(record.customer_id).render()
        if await ledger.get_state(key) is not None:
            raise CustomerExists("customer key is already registered", field="public_key")
        writes = _Writes(public=[(key, record.to_json_bytes())])
        await writes.apply(ledger, self.collection)
        return record.to_json_bytes()

    async def submit_consent_statement(self, ledger: Ledger, statement: str) -> bytes:
        """Apply a customer-signed grant, narrowing or withdrawal; returns the new record."""
        signed = parse_signed_statement(statement)
        body = signed.statement
        customer = await self._customer(ledger, body.customer_id, open_only=False)
        if customer.erased_at is not None and body.action != "grant":
            raise CustomerErased("the customer erased her data; only a new grant reopens it",
                                 field="customer_id")
        erased_at = await self._latest_erasure_at(ledger, body.customer_id)
        if erased_at is not None and body.given_at <= erased_at:
            # Nothing she signed before her erasure counts after it: a grant must not reopen
            # her id, and once a later grant has reopened it, an older one must not widen it.
            raise Backdated("signed before her latest erasure", field="given_at")
        record_key = consent_key(body.customer_id, body.consent_id).render()
        stored = await ledger.get_state(record_key)
        current = None if stored is None else ConsentRecord.from_json(stored)
        used = await self._used_nonces(ledger, body.customer_id, body.nonce)
        now = ledger.tx_timestamp()
        record = apply_statement(current, signed, customer.key, now=now, used_nonces=used)
        reopened = ([(customer_key(customer.customer_id).render(),
                      customer.reopened().to_json_bytes())]
                    if customer.erased_at is not None else [])
        writes = _Writes(
            public=[
                (record_key, record.to_json_bytes()),
                self._spend_nonce(ledger, body.customer_id, body.nonce, body.action),
                *reopened,
            ],
            event=(
                CONSENT_EVENTS[body.action],
                _json(
                    {
                        "customer_id": record.customer_id,
                        "consent_id": record.consent_id,
                        "version": record.version,
                    }
                ),
            ),
        )
        await writes.apply(ledger, self.collection)
        return record.to_json_bytes()

    async def list_consents(self, ledger: Ledger, customer_id: str) -> bytes:
        """Every consent of a registered customer, with its status at the transaction time."""
        customer = await self._customer(ledger, read_customer_id(customer_id))
        now = ledger.tx_timestamp()
        consents = await self._consents(ledger, customer.customer_id)
        return _json(
            {
                "customer_id": customer.customer_id,
                "consents": [{**c.to_dict(), "status": c.status(now)} for c in consents],
            }
        )

    async def consent_history(self, ledger: Ledger, customer_id: str, consent_id: str) -> bytes:
        """Every committed version of one consent record, oldest first."""
        cid = read_customer_id(customer_id)
        kid = read_str(consent_id, "consent_id", pattern=ID_PATTERN)
        versions = await self._history(ledger, consent_key(cid, kid).render())
        if not versions:
            raise ConsentNotFound("no consent with this id", field="consent_id")
        return _json({"customer_id": cid, "consent_id": kid, "versions": versions})

    async def check_consent(
        self, ledger: Ledger, customer_id: str, retailer: str, purpose: str, category: str
    ) -> bytes:
        """May the caller read ``customer_id``'s ``category`` data held by ``retailer`` for
        ``purpose`` now? Returns the basis, or raises the refusal (NOT_A_RECIPIENT,
        PURPOSE_NOT_GRANTED, CATEGORY_NOT_GRANTED, CONSENT_EXPIRED, CONSENT_WITHDRAWN,
        CONSENT_NOT_FOUND). Reads public state only."""
        caller = self._caller(ledger)
        cid = read_customer_id(customer_id)
        holder = read_str(retailer, "retailer", pattern=MSP_ID_PATTERN)
        read_enum(purpose, "purpose", PURPOSES)
        read_enum(category, "category", DATA_CATEGORIES)
        await self._customer(ledger, cid)
        consents = await self._consents(ledger, cid)
        decision = decide_read(
            caller.msp_id, cid, holder, purpose, category, consents, ledger.tx_timestamp()
        )
        decision.raise_if_refused()
        return _json({"allowed": True, "basis": decision.basis, "consent_id": decision.consent_id})

    # --- preference events: each owner's own collection ---------------------------------------

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
        writes = _Writes()
        for customer_id in sorted(by_customer):
            key = self.keys.holding_key(customer_id).render()
            held = Holding.from_json(await ledger.get_private(self.collection, key),
                                     customer_id) or Holding(customer_id)
            positions = by_customer[customer_id]
            updated = held.adding([events[i] for i in positions], positions)
            writes.private.append((key, updated.to_json_bytes(salt)))
        await writes.apply(ledger, self.collection)
        return _json({"recorded": len(events)})

    async def read_own_events(self, ledger: Ledger, customer_id: str) -> bytes:
        """Her events this owner recorded. EVALUATE ONLY (private values)."""
        self._owner_gateway(ledger)
        cid = read_customer_id(customer_id)
        await self._customer(ledger, cid)
        held = await self._servable_holding(ledger, cid)
        return _json({"customer_id": cid, "owner": self.owner,
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
        return _json({"owner": self.owner, "events": events, "customers": len(page),
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
        return _json({"customer_id": cid, "owner": self.owner, "reader": who,
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
        return _json({"owner": self.owner, "reader": who, "purpose": purpose,
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
        writes = _Writes()
        for customer_id in sorted(by_customer):
            key = self.keys.read_log_key(customer_id).render()
            log = ReadLog.from_json(customer_id, await ledger.get_private(self.collection, key))
            writes.private.append((key, log.adding(by_customer[customer_id])
                                   .to_json_bytes(salt)))
        for customer_id, nonce in sorted(served.items()):
            cid = read_customer_id(customer_id, field="nonces")
            nonce = read_str(nonce, "nonces", pattern=NONCE_PATTERN)
            writes.private.append((self.keys.served_key(cid, nonce).render(),
                                   _json({"salt": salt})))
        await writes.apply(ledger, self.collection)
        return _json({"logged": len(entries)})

    # --- rights requests -----------------------------------------------------------------------

    async def export_customer(self, ledger: Ledger) -> bytes:
        """The public part of what is held about her (transient ``request``: her signed
        export request): her record, consents with their history, her erasure's progress.
        Her events and their read logs come from each owner (``ExportOwnData``). EVALUATE
        ONLY: nothing is spent here; each owner serves a request once."""
        caller = self._gateway(ledger)
        request, customer = await self._rights_request(ledger, "export", via=caller.msp_id)
        cid = customer.customer_id
        now = ledger.tx_timestamp()
        consents = await self._consents(ledger, cid)
        return _json(
            {
                "request": request.to_dict(),
                "customer": customer.to_dict(),
                "consents": [
                    {
                        **consent.to_dict(),
                        "status": consent.status(now),
                        "versions": await self._history(ledger, consent.key.render()),
                    }
                    for consent in consents
                ],
                "erasure": await self._progress(ledger, cid),
            }
        )

    async def export_own_data(self, ledger: Ledger, requester: str) -> bytes:
        """What this owner holds about her and who read it (transient ``request``: her signed
        export request), for the member ``requester`` whose gateway serves her export (the
        owner's gateway authenticated it; the request must name it), once per request: a
        request this owner has served is refused (REPLAYED_NONCE). The owner's gateway then
        logs the export, which marks it served. EVALUATE ONLY."""
        self._owner_gateway(ledger)
        via = read_str(requester, "requester", pattern=MSP_ID_PATTERN)
        request, customer = await self._rights_request(ledger, "export", via=via, spend=False)
        cid = customer.customer_id
        served = await ledger.get_private(
            self.collection, self.keys.served_key(cid, request.nonce).render())
        if served is not None:
            raise ReplayedNonce("this owner already served the export request", field="nonce")
        held = await self._holding(ledger, cid)
        log = ReadLog.from_json(cid, await ledger.get_private(
            self.collection, self.keys.read_log_key(cid).render()))
        return _json({"customer_id": cid, "owner": self.owner,
                      "events": [event.to_dict() for event in held.events],
                      "access_log": [entry.to_dict() for entry in log.entries]})

    async def erase_customer(self, ledger: Ledger) -> bytes:
        """Accept her signed erase request (transient ``request``): withdraw her open
        consents, close her id and start the erasure every member must complete in its own
        collection (``PurgeCustomer``). Emits ``CustomerErased``; returns counts only."""
        caller = self._gateway(ledger)
        request, customer = await self._rights_request(ledger, "erase", via=caller.msp_id)
        cid = customer.customer_id
        now = ledger.tx_timestamp()
        consents = await self._consents(ledger, cid)
        erased = [
            record
            for record in (erase_record(consent, request, now=now) for consent in consents)
            if record is not None
        ]
        erasure = ErasureRecord.start(cid, ledger.tx_id(), now, self.members)
        writes = _Writes(
            public=[
                self._spend_nonce(ledger, cid, request.nonce, "erase"),
                *((record.key.render(), record.to_json_bytes()) for record in erased),
                # No member records or reads anything of hers from now on (CustomerErased).
                (customer_key(cid).render(), customer.erased(now).to_json_bytes()),
                (erasure.key.render(), erasure.to_json_bytes()),
            ],
        )
        counts = {
            "customer_id": cid,
            "erasure_id": erasure.erasure_id,
            "consents_withdrawn": len(erased),
            "holders": list(erasure.holders),
        }
        writes.event = (CUSTOMER_ERASED, _json(counts))
        await writes.apply(ledger, self.collection)
        return _json(counts)

    async def purge_customer(self, ledger: Ledger, customer_id: str) -> bytes:
        """This owner's part of her latest erasure: delete her holding and read log from its
        collection and mark the erasure done here. Every member runs it for every erasure,
        holder or not, and the writes have the same shape either way. Returns no counts."""
        self._owner_gateway(ledger)
        cid = read_customer_id(customer_id)
        stored = await ledger.get_state(erasure_key(cid).render())
        if stored is None:
            raise InvalidValue("the customer has no erasure to complete", field="customer_id")
        erasure = ErasureRecord.from_json(stored)
        writes = _Writes(
            private=[(erasure_marker_key(erasure.erasure_id).render(),
                      _json({"at": format_timestamp(ledger.tx_timestamp()),
                             "salt": self.keys.salt(ledger.tx_id())}))],
            private_deletes=[self.keys.holding_key(cid).render(),
                             self.keys.read_log_key(cid).render()],
        )
        await writes.apply(ledger, self.collection)
        return _json({"erasure_id": erasure.erasure_id, "owner": self.owner, "done": True})

    async def erasure_progress(self, ledger: Ledger, customer_id: str) -> bytes:
        """Her latest erasure and, per member, whether it deleted what it holds (the hash of
        its mark, which every peer keeps). Any channel member may ask."""
        cid = read_customer_id(customer_id)
        progress = await self._progress(ledger, cid)
        if progress is None:
            raise InvalidValue("the customer has no erasure", field="customer_id")
        return _json(progress)

    async def pending_erasures(self, ledger: Ledger) -> bytes:
        """Customers whose latest erasure this owner has not completed (at most 500)."""
        self._owner_gateway(ledger)
        pending = []
        for _, value in await ledger.get_state_by_partial_key(erasures_prefix()):
            erasure = ErasureRecord.from_json(value)
            if self.owner not in erasure.holders:
                continue
            mark = await ledger.get_private(
                self.collection, erasure_marker_key(erasure.erasure_id).render())
            if mark is None:
                pending.append(erasure.customer_id)
            if len(pending) == MAX_TRAINING_PAGE:
                break
        return _json({"owner": self.owner, "customers": pending})

    # --- model provenance ---------------------------------------------------------------------

    async def record_model_provenance(self, ledger: Ledger, provenance: str) -> bytes:
        """Record the caller's model provenance, once per model id."""
        caller = self._gateway(ledger)
        record = ModelProvenance.from_json(provenance)
        record.check_written_by(caller.msp_id)
        key = record.key.render()
        if await ledger.get_state(key) is not None:
            raise ModelExists("provenance record already written", field="model_id")
        writes = _Writes(public=[(key, record.to_json_bytes())])
        await writes.apply(ledger, self.collection)
        return record.to_json_bytes()

    async def get_model_provenance(self, ledger: Ledger, model_id: str) -> bytes:
        mid = read_str(model_id, "model_id", pattern=ID_PATTERN)
        stored = await ledger.get_state(model_key(mid).render())
        if stored is None:
            raise ModelNotFound("no provenance record for this model id", field="model_id")
        return ModelProvenance.from_json(stored).to_json_bytes()

    # --- the consortium watch ---------------------------------------------------------------

    async def record_watch_event(self, ledger: Ledger, record: str) -> bytes:
        """Record the caller's alert on, or clearance of, another member's reads (public,
        MAJORITY), once per record id. Names no customer."""
        caller = self._gateway(ledger)
        parsed = WatchRecord.from_json(record)
        parsed.check_written_by(caller.msp_id, self.members)
        key = parsed.key.render()
        if await ledger.get_state(key) is not None:
            raise WatchRecordExists("watch record already written", field="record_id")
        writes = _Writes(public=[(key, parsed.to_json_bytes())])
        await writes.apply(ledger, self.collection)
        return parsed.to_json_bytes()

    async def list_watch_events(self, ledger: Ledger) -> bytes:
        """Every member's watch records, oldest first (at most 500, the newest). Any channel
        member may ask."""
        rows = [WatchRecord.from_json(value).to_dict()
                for _, value in await ledger.get_state_by_partial_key(watch_prefix())]
        rows.sort(key=lambda r: (r["at"], r["record_id"]))
        return _json({"records": rows[-MAX_TRAINING_PAGE:]})

    async def describe(self, ledger: Ledger) -> bytes:
        """What this chaincode serves: its owner, its collection and transaction names. Reads no
        state, so any channel member may call it (the network's readiness check does)."""
        return _json({"owner": self.owner, "collection": self.collection,
                      "transactions": sorted(TRANSACTIONS)})

    # --- helpers ---------------------------------------------------------------------------------

    def _caller(self, ledger: Ledger) -> CallerIdentity:
        creator = ledger.creator()
        return identity_from_creator(creator.msp_id, creator.id_bytes)

    def _gateway(self, ledger: Ledger) -> CallerIdentity:
        caller = self._caller(ledger)
        caller.require_attribute(ROLE_ATTRIBUTE, {GATEWAY_ROLE})
        return caller

    def _owner_gateway(self, ledger: Ledger) -> CallerIdentity:
        """The caller must be this owner's gateway: only it reads and writes the owner's
        collection through this server (another member reads through the owner's gateway)."""
        caller = self._gateway(ledger)
        if caller.msp_id != self.owner:
            raise RetailerMismatch("only the owner's gateway reaches its collection",
                                   field="creator")
        return caller

    def _reader(self, reader: str) -> str:
        who = read_str(reader, "reader", pattern=MSP_ID_PATTERN)
        if who not in self.members or who == self.owner:
            raise InvalidValue("the reader must be another member", field="reader")
        return who

    @staticmethod
    def _page_limit(limit: str) -> int:
        if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_TRAINING_PAGE:
            raise InvalidValue(f"limit must be 1..{MAX_TRAINING_PAGE}", field="limit")
        return int(limit)

    async def _holding(self, ledger: Ledger, customer_id: str) -> Holding:
        stored = await ledger.get_private(self.collection,
                                          self.keys.holding_key(customer_id).render())
        return Holding.from_json(stored, customer_id) or Holding(customer_id)

    async def _erasure_pending_here(self, ledger: Ledger, customer_id: str) -> bool:
        """Has this owner yet to complete her latest erasure (``PurgeCustomer``)?"""
        stored = await ledger.get_state(erasure_key(customer_id).render())
        if stored is None:
            return False
        erasure = ErasureRecord.from_json(stored)
        if self.owner not in erasure.holders:
            return False
        mark = await ledger.get_private(
            self.collection, erasure_marker_key(erasure.erasure_id).render())
        return mark is None

    async def _servable_holding(self, ledger: Ledger, customer_id: str) -> Holding:
        """Her holding as the owner's reads may serve it: empty while her latest erasure is
        pending here. A grant can reopen her id before this owner completed the erasure
        (its peer was down when she erased); what it still holds from before must not be
        served to anyone in that window, only deleted by the purge. Her own export still
        shows it (``_holding``): it is what this owner holds about her."""
        if await self._erasure_pending_here(ledger, customer_id):
            return Holding(customer_id)
        return await self._holding(ledger, customer_id)

    async def _is_open(self, ledger: Ledger, customer_id: str) -> bool:
        stored = await ledger.get_state(customer_key(customer_id).render())
        return stored is not None and CustomerRecord.from_json(stored).erased_at is None

    def _shareable(self, reader: str, purpose: str, events: Sequence[PreferenceEvent],
                   consents: list[ConsentRecord], now: datetime
                   ) -> tuple[list[PreferenceEvent], set[tuple[str, str, int]]]:
        """The events ``reader`` may read for ``purpose`` and the consents that opened them
        (``(customer_id, consent_id, version)``)."""
        versions = {c.consent_id: c.version for c in consents}
        readable: list[PreferenceEvent] = []
        opened: set[tuple[str, str, int]] = set()
        decisions: dict[str, Any] = {}
        for event in events:
            decision = decisions.get(event.category)
            if decision is None:
                decision = decide_read(reader, event.customer_id, self.owner, purpose,
                                       event.category, consents, now)
                decisions[event.category] = decision
            if decision.allowed and decision.consent_id is not None:
                readable.append(event)
                opened.add((event.customer_id, decision.consent_id,
                            versions[decision.consent_id]))
        return readable, opened

    async def _latest_erasure_at(self, ledger: Ledger, customer_id: str) -> datetime | None:
        """When her latest erasure was made (its public record outlives a reopened id)."""
        stored = await ledger.get_state(erasure_key(customer_id).render())
        return None if stored is None else ErasureRecord.from_json(stored).at

    async def _progress(self, ledger: Ledger, customer_id: str) -> dict[str, Any] | None:
        stored = await ledger.get_state(erasure_key(customer_id).render())
        if stored is None:
            return None
        erasure = ErasureRecord.from_json(stored)
        done = {}
        for holder in erasure.holders:
            mark = await ledger.get_private_hash(
                collection_for(holder), erasure_marker_key(erasure.erasure_id).render())
            done[holder] = "done" if mark is not None else "pending"
        return {**erasure.to_dict(), "progress": done}

    async def _customer(self, ledger: Ledger, customer_id: str, *,
                        open_only: bool = True) -> CustomerRecord:
        """Her record. After her erasure (``open_only``) members may use nothing of hers:
        CustomerErased, a kind of UnknownCustomer, so a kiosk treats her as unknown."""
        stored = await ledger.get_state(customer_key(customer_id).render())
        if stored is None:
            raise UnknownCustomer("no key registered for the customer id", field="customer_id")
        record = CustomerRecord.from_json(stored)
        if open_only and record.erased_at is not None:
            raise CustomerErased("the customer erased her data", field="customer_id")
        return record

    async def _consents(self, ledger: Ledger, customer_id: str) -> list[ConsentRecord]:
        rows = await ledger.get_state_by_partial_key(customer_consents_prefix(customer_id))
        return [ConsentRecord.from_json(value) for _, value in rows]

    async def _used_nonces(self, ledger: Ledger, customer_id: str, nonce: str) -> set[str]:
        stored = await ledger.get_state(nonce_key(customer_id, nonce).render())
        return set() if stored is None else {nonce}

    def _spend_nonce(
        self, ledger: Ledger, customer_id: str, nonce: str, action: str
    ) -> tuple[str, bytes]:
        value = _json(
            {
                "action": action,
                "tx_id": ledger.tx_id(),
                "used_at": format_timestamp(ledger.tx_timestamp()),
            }
        )
        return nonce_key(customer_id, nonce).render(), value

    async def _rights_request(
        self, ledger: Ledger, action: str, *, via: str, spend: bool = True
    ) -> tuple[RightsRequest, CustomerRecord]:
        """Her verified request, served by member ``via``'s gateway (the one it names).
        ``spend=False``: a request an owner serves once by its own mark rather than by the
        public nonce (``ExportOwnData``)."""
        request = RightsRequest.from_json(require_transient(ledger.transient(), REQUEST_KEY))
        if request.action != action:
            raise InvalidValue(f"this transaction takes an {action} request", field="action")
        if request.gateway != via:
            raise GatewayMismatch("the request names another member's gateway",
                                  field="gateway")
        # Her rights outlive her erasure: she may export what remains, or erase again.
        customer = await self._customer(ledger, request.customer_id, open_only=False)
        used = (await self._used_nonces(ledger, request.customer_id, request.nonce)
                if spend else set())
        request.verify(customer.key, now=ledger.tx_timestamp(), used_nonces=used)
        erased_at = await self._latest_erasure_at(ledger, request.customer_id)
        if erased_at is not None and request.requested_at <= erased_at:
            raise Backdated("signed before her latest erasure", field="requested_at")
        return request, customer

    async def _history(self, ledger: Ledger, key: str) -> list[dict[str, Any]]:
        """Versions of a consent record, oldest first (by time, then record version)."""
        rows = []
        for mod in await ledger.get_history(key):
            record = None if mod.is_delete else ConsentRecord.from_json(mod.value)
            order = (mod.timestamp, 0 if record is None else record.version)
            rows.append(
                (
                    order,
                    {
                        "tx_id": mod.tx_id,
                        "timestamp": format_timestamp(mod.timestamp),
                        "is_delete": mod.is_delete,
                        "record": None if record is None else record.to_dict(),
                    },
                )
            )
        return [row for _, row in sorted(rows, key=lambda pair: pair[0])]


#: Every transaction function: arguments, transient keys, and how the gateway must call it.
TRANSACTIONS: Mapping[str, Transaction] = {
    t.name: t
    for t in (
        Transaction("RegisterCustomer", ("public_key",), "submit"),
        Transaction("SubmitConsentStatement", ("statement",), "submit"),
        Transaction("ListConsents", ("customer_id",), "evaluate"),
        Transaction("ConsentHistory", ("customer_id", "consent_id"), "evaluate"),
        Transaction("CheckConsent", ("customer_id", "retailer", "purpose", "category"), "evaluate"),
        Transaction("RecordPreferenceEvents", (), "submit", (EVENTS_KEY,)),
        Transaction("ReadOwnEvents", ("customer_id",), "evaluate"),
        Transaction("ReadOwnTraining", ("after", "limit"), "evaluate"),
        Transaction("ReadSharedEvents", ("customer_id", "reader", "purpose"), "evaluate"),
        Transaction("ReadSharedTraining", ("reader", "purpose", "after", "limit"), "evaluate"),
        Transaction("LogReads", (), "submit", (ENTRIES_KEY,)),
        Transaction("ExportCustomer", (), "evaluate", (REQUEST_KEY,)),
        Transaction("ExportOwnData", ("requester",), "evaluate", (REQUEST_KEY,)),
        Transaction("EraseCustomer", (), "submit", (REQUEST_KEY,)),
        Transaction("PurgeCustomer", ("customer_id",), "submit"),
        Transaction("ErasureProgress", ("customer_id",), "evaluate"),
        Transaction("PendingErasures", (), "evaluate"),
        Transaction("RecordModelProvenance", ("provenance",), "submit"),
        Transaction("GetModelProvenance", ("model_id",), "evaluate"),
        Transaction("RecordWatchEvent", ("record",), "submit"),
        Transaction("ListWatchEvents", (), "evaluate"),
        Transaction("Describe", (), "evaluate"),
    )
}
