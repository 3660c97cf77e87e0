"""Transactions on her rights: her export (the public part, each owner's part) and her erasure
(accepted once, completed by every member in its own collection).
"""

from __future__ import annotations

from chaincode.consent import (
    erase_record,
)
from chaincode.erasure import ErasureRecord, erasure_key, erasures_prefix
from chaincode.errors import (
    InvalidValue,
    ReplayedNonce,
)
from chaincode.fields import (
    MSP_ID_PATTERN,
    format_timestamp,
    read_str,
)
from chaincode.holdings import (
    ReadLog,
    erasure_marker_key,
)
from chaincode.keys import customer_key, read_customer_id
from chaincode.ledger import Ledger
from chaincode.transactions.base import ContractBase, Writes, encode
from chaincode.transactions.table import (
    CUSTOMER_ERASED,
    MAX_TRAINING_PAGE,
)


class RightsTransactions(ContractBase):
    """ExportCustomer, ExportOwnData, EraseCustomer, PurgeCustomer, ErasureProgress,
    PendingErasures."""

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
        return encode(
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
        return encode({"customer_id": cid, "owner": self.owner,
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
        writes = Writes(
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
        writes.event = (CUSTOMER_ERASED, encode(counts))
        await writes.apply(ledger, self.collection)
        return encode(counts)

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
        writes = Writes(
            private=[(erasure_marker_key(erasure.erasure_id).render(),
                      encode({"at": format_timestamp(ledger.tx_timestamp()),
                             "salt": self.keys.salt(ledger.tx_id())}))],
            private_deletes=[self.keys.holding_key(cid).render(),
                             self.keys.read_log_key(cid).render()],
        )
        await writes.apply(ledger, self.collection)
        return encode({"erasure_id": erasure.erasure_id, "owner": self.owner, "done": True})

    async def erasure_progress(self, ledger: Ledger, customer_id: str) -> bytes:
        """Her latest erasure and, per member, whether it deleted what it holds (the hash of
        its mark, which every peer keeps). Any channel member may ask."""
        cid = read_customer_id(customer_id)
        progress = await self._progress(ledger, cid)
        if progress is None:
            raise InvalidValue("the customer has no erasure", field="customer_id")
        return encode(progress)

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
        return encode({"owner": self.owner, "customers": pending})
