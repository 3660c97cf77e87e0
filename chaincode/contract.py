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
  functions that return private values (``ReadPreferences``, ``ExportCustomer``) write
  nothing and must be *evaluated*, never submitted: a peer cannot tell the two apart, so
  this is the gateway's duty (see ``TRANSACTIONS[...].kind``).

Access logging: a read in Fabric is an *evaluate*, which is neither ordered nor committed,
so it cannot write a log entry. ``LogAccess`` is the submit that does: it runs the same
consent-checked selection as ``ReadPreferences`` on the endorsing peer and records who read
how many events about whom, for what purpose, under which consents, without returning
them. The gateway submits ``LogAccess`` for each read it serves (one per kiosk session and
purpose is enough); the chaincode cannot force it, and says so rather than pretend.

Callers: functions touching preference data or model provenance need the Fabric CA
attribute ``prefshare.role=gateway`` in the creator certificate (the identity each
retailer's gateway enrols with, see ``network/plan.py``). Customer registration and consent
statements may be carried by any channel member: the customer's signature is the authority.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chaincode.access_log import AccessLogEntry, customer_access_prefix
from chaincode.canonical import canonical_bytes
from chaincode.collection_config import PREFERENCES_COLLECTION
from chaincode.consent import (
    DATA_CATEGORIES,
    PURPOSES,
    ConsentRecord,
    apply_statement,
    consent_key,
    customer_consents_prefix,
    erase_record,
    nonce_key,
    parse_signed_statement,
)
from chaincode.errors import (
    ConsentNotFound,
    CustomerErased,
    CustomerExists,
    EventExists,
    InvalidValue,
    ModelExists,
    ModelNotFound,
    UnknownCustomer,
)
from chaincode.fields import (
    ID_PATTERN,
    MSP_ID_PATTERN,
    format_timestamp,
    join,
    read_enum,
    read_str,
)
from chaincode.identity import CallerIdentity, identity_from_creator, require_transient
from chaincode.keys import CustomerRecord, customer_key, read_customer_id
from chaincode.ledger import Ledger
from chaincode.policy import decide_read, filter_events
from chaincode.preferences import (
    MAX_BATCH_EVENTS,
    EventIndex,
    PreferenceEvent,
    check_events_written_by,
    customer_preferences_prefix,
    event_index_key,
    parse_event_batch,
)
from chaincode.provenance import ModelProvenance, model_key
from chaincode.rights import RightsRequest
from chaincode.statekeys import CompositeKey

#: Fabric CA attribute (written into the enrolment certificate) naming the caller's role.
ROLE_ATTRIBUTE = "prefshare.role"
GATEWAY_ROLE = "gateway"
#: Transient map entries.
EVENTS_KEY = "events"
REQUEST_KEY = "request"

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
    """The transaction functions. ``collection`` is the consortium preference collection."""

    def __init__(
        self,
        collection: str = PREFERENCES_COLLECTION,
        *,
        max_batch_events: int = MAX_BATCH_EVENTS,
    ) -> None:
        self.collection = collection
        self.max_batch_events = max_batch_events
        self._functions: dict[str, Callable[..., Awaitable[bytes]]] = {
            "RegisterCustomer": self.register_customer,
            "SubmitConsentStatement": self.submit_consent_statement,
            "ListConsents": self.list_consents,
            "ConsentHistory": self.consent_history,
            "CheckConsent": self.check_consent,
            "RecordPreferenceEvents": self.record_preference_events,
            "ReadPreferences": self.read_preferences,
            "ReadTrainingEvents": self.read_training_events,
            "LogAccess": self.log_access,
            "ExportCustomer": self.export_customer,
            "EraseCustomer": self.erase_customer,
            "RecordModelProvenance": self.record_model_provenance,
            "GetModelProvenance": self.get_model_provenance,
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

    # --- preference events --------------------------------------------------------------------

    async def record_preference_events(self, ledger: Ledger) -> bytes:
        """Write a batch of the caller's own events (transient ``events``: a JSON array)
        into the consortium collection. Returns only the count."""
        caller = self._gateway(ledger)
        raw = require_transient(ledger.transient(), EVENTS_KEY)
        events = parse_event_batch(raw, max_events=self.max_batch_events)
        check_events_written_by(events, caller.msp_id)
        # Her index lists every event of hers in the collection (it is written with them and
        # erased with them), so it answers "already written?" for the whole batch: one point
        # read per customer instead of one private-hash round trip to the peer per event,
        # which was half of a batch's endorsement time.
        indexes: dict[str, EventIndex] = {}
        for customer_id in sorted({event.customer_id for event in events}):
            await self._customer(ledger, customer_id)
            stored = await ledger.get_private(self.collection,
                                              event_index_key(customer_id).render())
            indexes[customer_id] = EventIndex.from_json(customer_id, stored)
        known = {cid: set(index.entries) for cid, index in indexes.items()}
        writes = _Writes()
        for position, event in enumerate(events):
            if (event.retailer, event.event_id) in known[event.customer_id]:
                raise EventExists(
                    "preference event key already written",
                    field=join(join("", position), "event_id"),
                )
            writes.private.append((event.key.render(), event.to_json_bytes()))
        for customer_id, index in indexes.items():
            writes.private.append((event_index_key(customer_id).render(),
                                   index.adding(events).to_json_bytes()))
        await writes.apply(ledger, self.collection)
        return _json({"recorded": len(events)})

    async def read_preferences(self, ledger: Ledger, customer_id: str, purpose: str) -> bytes:
        """The customer's events the caller may read for ``purpose``, and a count of the
        rest by reason and holder. EVALUATE ONLY: the response holds private values."""
        caller = self._gateway(ledger)
        cid, purpose = read_customer_id(customer_id), read_enum(purpose, "purpose", PURPOSES)
        await self._customer(ledger, cid)
        filtered = filter_events(
            caller.msp_id,
            purpose,
            await self._events(ledger, cid),
            await self._consents(ledger, cid),
            ledger.tx_timestamp(),
        )
        return _json(
            {
                "customer_id": cid,
                "purpose": purpose,
                "events": [event.to_dict() for event in filtered.readable],
                "withheld": filtered.withheld.to_dict(),
            }
        )

    async def read_training_events(
        self, ledger: Ledger, purpose: str, after: str, limit: str
    ) -> bytes:
        """One page of every registered customer's events the caller may read for
        ``purpose``: customers in id order after ``after`` ("" for the first page), at most
        ``limit`` (1..500) of them. Returns the events, the consents that opened them as
        ``[customer_id, consent_id, version]`` (for the model's provenance) and ``next``,
        the ``after`` of the following page (null on the last). EVALUATE ONLY.
        """
        caller = self._gateway(ledger)
        purpose = read_enum(purpose, "purpose", PURPOSES)
        if after:
            read_customer_id(after, field="after")
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_TRAINING_PAGE:
            raise InvalidValue(f"limit must be 1..{MAX_TRAINING_PAGE}", field="limit")
        rows = await ledger.get_state_by_partial_key(CompositeKey("customer", ()))
        ids = sorted(CustomerRecord.from_json(value).customer_id for _, value in rows)
        ids = [cid for cid in ids if cid > after]
        page, rest = ids[: int(limit)], ids[int(limit) :]
        now = ledger.tx_timestamp()
        events: list[dict[str, Any]] = []
        opened: set[tuple[str, str, int]] = set()
        for cid in page:
            consents = await self._consents(ledger, cid)
            versions = {c.consent_id: c.version for c in consents}
            filtered = filter_events(
                caller.msp_id, purpose, await self._events(ledger, cid), consents, now
            )
            for event in filtered.readable:
                events.append(event.to_dict())
                decision = decide_read(
                    caller.msp_id, cid, event.retailer, purpose, event.category, consents, now
                )
                if decision.consent_id is not None:
                    opened.add((cid, decision.consent_id, versions[decision.consent_id]))
        return _json(
            {
                "purpose": purpose,
                "events": events,
                "consents": [list(entry) for entry in sorted(opened)],
                "customers": len(page),
                "next": page[-1] if rest else None,
            }
        )

    async def log_access(self, ledger: Ledger, customer_id: str, purpose: str) -> bytes:
        """Record a read of the customer's events for ``purpose`` in the access log
        (submit). Returns the entry: counts and consent ids, never events."""
        caller = self._gateway(ledger)
        cid, purpose = read_customer_id(customer_id), read_enum(purpose, "purpose", PURPOSES)
        await self._customer(ledger, cid)
        consents = await self._consents(ledger, cid)
        now = ledger.tx_timestamp()
        # Point reads through her index: a private range query would forbid the write.
        filtered = filter_events(
            caller.msp_id, purpose, await self._indexed_events(ledger, cid), consents, now
        )
        consent_ids = {
            decision.consent_id
            for event in filtered.readable
            if (
                decision := decide_read(
                    caller.msp_id, cid, event.retailer, purpose, event.category, consents, now
                )
            ).consent_id
            is not None
        }
        entry = AccessLogEntry.record(
            customer_id=cid,
            reader=caller.msp_id,
            purpose=purpose,
            now=now,
            tx_id=ledger.tx_id(),
            events_readable=len(filtered.readable),
            consent_ids=tuple(consent_ids),
        )
        writes = _Writes(public=[(entry.key.render(), entry.to_json_bytes())])
        await writes.apply(ledger, self.collection)
        return entry.to_json_bytes()

    # --- rights requests -----------------------------------------------------------------------

    async def export_customer(self, ledger: Ledger) -> bytes:
        """Everything about the customer the caller may see (transient ``request``: her
        signed export request). EVALUATE ONLY: the response holds private values, so the
        request's nonce is not spent; replay is bounded by the request's one-hour window
        and can only return what the caller may read anyway."""
        caller = self._gateway(ledger)
        request, customer = await self._rights_request(ledger, "export")
        cid = customer.customer_id
        now = ledger.tx_timestamp()
        consents = await self._consents(ledger, cid)
        events = await self._events(ledger, cid)
        readable: dict[str, PreferenceEvent] = {}
        for purpose in PURPOSES:
            for event in filter_events(caller.msp_id, purpose, events, consents, now).readable:
                readable[event.key.render()] = event
        withheld: dict[str, int] = {}
        for event in events:
            if event.key.render() not in readable:
                withheld[event.retailer] = withheld.get(event.retailer, 0) + 1
        access = await ledger.get_state_by_partial_key(customer_access_prefix(cid))
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
                "access_log": [AccessLogEntry.from_json(value).to_dict() for _, value in access],
                "events": [event.to_dict() for event in events if event.key.render() in readable],
                "withheld": {"total": sum(withheld.values()), "by_retailer": withheld},
            }
        )

    async def erase_customer(self, ledger: Ledger) -> bytes:
        """Delete every private event of the customer from the collection and withdraw her
        open consents (transient ``request``: her signed erase request). Emits
        ``CustomerErased`` and returns counts only."""
        self._gateway(ledger)
        request, customer = await self._rights_request(ledger, "erase")
        cid = customer.customer_id
        now = ledger.tx_timestamp()
        consents = await self._consents(ledger, cid)
        # Her events through her index (point reads): a private range query would forbid
        # every write of this transaction.
        index = EventIndex.from_json(
            cid, await ledger.get_private(self.collection, event_index_key(cid).render())
        )
        event_keys = [key.render() for key in index.keys()]
        erased = [
            record
            for record in (erase_record(consent, request, now=now) for consent in consents)
            if record is not None
        ]
        writes = _Writes(
            public=[
                self._spend_nonce(ledger, cid, request.nonce, "erase"),
                *((record.key.render(), record.to_json_bytes()) for record in erased),
                # No member records or reads anything of hers from now on (CustomerErased).
                (customer_key(cid).render(), customer.erased(now).to_json_bytes()),
            ],
            private_deletes=[*event_keys, event_index_key(cid).render()]
            if index.entries
            else [],
        )
        counts = {
            "customer_id": cid,
            "events_purged": len(event_keys),
            "consents_withdrawn": len(erased),
        }
        writes.event = (CUSTOMER_ERASED, _json(counts))
        await writes.apply(ledger, self.collection)
        return _json(counts)

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

    async def describe(self, ledger: Ledger) -> bytes:
        """What this chaincode serves: its transaction names and its collection. Reads no
        state, so any channel member may call it (the network's readiness check does)."""
        return _json({"collection": self.collection, "transactions": sorted(TRANSACTIONS)})

    # --- helpers ---------------------------------------------------------------------------------

    def _caller(self, ledger: Ledger) -> CallerIdentity:
        creator = ledger.creator()
        return identity_from_creator(creator.msp_id, creator.id_bytes)

    def _gateway(self, ledger: Ledger) -> CallerIdentity:
        caller = self._caller(ledger)
        caller.require_attribute(ROLE_ATTRIBUTE, {GATEWAY_ROLE})
        return caller

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

    async def _events(self, ledger: Ledger, customer_id: str) -> list[PreferenceEvent]:
        rows = await ledger.get_private_by_partial_key(
            self.collection, customer_preferences_prefix(customer_id)
        )
        return [PreferenceEvent.from_json(value) for _, value in rows]

    async def _indexed_events(self, ledger: Ledger, customer_id: str) -> list[PreferenceEvent]:
        """Her events found through her index, by point reads only (see EventIndex)."""
        stored = await ledger.get_private(self.collection, event_index_key(customer_id).render())
        events = []
        for key in EventIndex.from_json(customer_id, stored).keys():
            value = await ledger.get_private(self.collection, key.render())
            if value is not None:
                events.append(PreferenceEvent.from_json(value))
        return events

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
        self, ledger: Ledger, action: str
    ) -> tuple[RightsRequest, CustomerRecord]:
        request = RightsRequest.from_json(require_transient(ledger.transient(), REQUEST_KEY))
        if request.action != action:
            raise InvalidValue(f"this transaction takes an {action} request", field="action")
        # Her rights outlive her erasure: she may export what remains, or erase again.
        customer = await self._customer(ledger, request.customer_id, open_only=False)
        used = await self._used_nonces(ledger, request.customer_id, request.nonce)
        request.verify(customer.key, now=ledger.tx_timestamp(), used_nonces=used)
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
        Transaction("ReadPreferences", ("customer_id", "purpose"), "evaluate"),
        Transaction("ReadTrainingEvents", ("purpose", "after", "limit"), "evaluate"),
        Transaction("LogAccess", ("customer_id", "purpose"), "submit"),
        Transaction("ExportCustomer", (), "evaluate", (REQUEST_KEY,)),
        Transaction("EraseCustomer", (), "submit", (REQUEST_KEY,)),
        Transaction("RecordModelProvenance", ("provenance",), "submit"),
        Transaction("GetModelProvenance", ("model_id",), "evaluate"),
        Transaction("Describe", (), "evaluate"),
    )
}
