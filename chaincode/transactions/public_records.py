"""Transactions on the public records that name no customer: model provenance, the consortium
watch's alerts and clearances, and what the chaincode serves.
"""

from __future__ import annotations

from chaincode.errors import (
    ModelExists,
    ModelNotFound,
    WatchRecordExists,
)
from chaincode.fields import (
    ID_PATTERN,
    read_str,
)
from chaincode.ledger import Ledger
from chaincode.provenance import ModelProvenance, model_key
from chaincode.transactions.base import ContractBase, Writes, encode
from chaincode.transactions.table import (
    MAX_TRAINING_PAGE,
    TRANSACTIONS,
)
from chaincode.watch_record import WatchRecord, watch_prefix


class PublicRecordTransactions(ContractBase):
    """RecordModelProvenance, GetModelProvenance, RecordWatchEvent, ListWatchEvents,
    Describe."""

    async def record_model_provenance(self, ledger: Ledger, provenance: str) -> bytes:
        """Record the caller's model provenance, once per model id."""
        caller = self._gateway(ledger)
        record = ModelProvenance.from_json(provenance)
        record.check_written_by(caller.msp_id)
        key = record.key.render()
        if await ledger.get_state(key) is not None:
            raise ModelExists("provenance record already written", field="model_id")
        writes = Writes(public=[(key, record.to_json_bytes())])
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
        writes = Writes(public=[(key, parsed.to_json_bytes())])
        await writes.apply(ledger, self.collection)
        return parsed.to_json_bytes()

    async def list_watch_events(self, ledger: Ledger) -> bytes:
        """Every member's watch records, oldest first (at most 500, the newest). Any channel
        member may ask."""
        rows = [WatchRecord.from_json(value).to_dict()
                for _, value in await ledger.get_state_by_partial_key(watch_prefix())]
        rows.sort(key=lambda r: (r["at"], r["record_id"]))
        return encode({"records": rows[-MAX_TRAINING_PAGE:]})

    async def describe(self, ledger: Ledger) -> bytes:
        """What this chaincode serves: its owner, its collection and transaction names. Reads no
        state, so any channel member may call it (the network's readiness check does)."""
        return encode({"owner": self.owner, "collection": self.collection,
                      "transactions": sorted(TRANSACTIONS)})
