"""What every transaction shares: the write plan applied only once every check passed, the
contract's configuration (owner, collection, key derivation, members), the caller checks and
the reads of public and private state the transactions are built from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chaincode.canonical import canonical_bytes
from chaincode.collection_config import collection_for
from chaincode.consent import (
    ConsentRecord,
    customer_consents_prefix,
    nonce_key,
)
from chaincode.erasure import ErasureRecord, erasure_key
from chaincode.errors import (
    Backdated,
    CustomerErased,
    GatewayMismatch,
    InvalidValue,
    RetailerMismatch,
    UnknownCustomer,
)
from chaincode.fields import (
    MSP_ID_PATTERN,
    format_timestamp,
    read_str,
)
from chaincode.holdings import (
    Holding,
    OwnerKeys,
    erasure_marker_key,
)
from chaincode.identity import CallerIdentity, identity_from_creator, require_transient
from chaincode.keys import CustomerRecord, customer_key
from chaincode.ledger import Ledger
from chaincode.policy import decide_read
from chaincode.preferences import (
    MAX_BATCH_EVENTS,
    PreferenceEvent,
)
from chaincode.rights import RightsRequest
from chaincode.transactions.table import (
    GATEWAY_ROLE,
    MAX_TRAINING_PAGE,
    REQUEST_KEY,
    ROLE_ATTRIBUTE,
)


def encode(value: Any) -> bytes:
    """The canonical bytes of a response or record: identical on every endorsing peer."""
    return canonical_bytes(value)


@dataclass
class Writes:
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


class ContractBase:
    """The contract's configuration and the helpers its transactions share.

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
        value = encode(
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
