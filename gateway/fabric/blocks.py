"""What a chaincode's committed transactions wrote, from a peer's full blocks.

A filtered block (:mod:`gateway.fabric.deliver`) names each chaincode event but carries no
payload and nothing of the write sets. A listener that must know *whose* record changed
(e.g. a cache kept per customer) reads the whole block (here through ``qscc
GetBlockByNumber``, the channel's readers: this network closes the ``event/Block`` deliver
ACL to clients) and takes from each valid transaction of the chaincode::

    Envelope.payload → Payload { header.channel_header (ENDORSER_TRANSACTION, tx_id),
                                 data: Transaction { actions[] } }
    TransactionAction.payload → ChaincodeActionPayload.action.proposal_response_payload
        → ProposalResponsePayload.extension → ChaincodeAction { results, events }
    results → TxReadWriteSet.ns_rwset[namespace == chaincode]
        .rwset → KVRWSet.writes[].key                         (public keys written)
        .collection_hashed_rwset[].hashed_rwset → HashedRWSet.hashed_writes[].key_hash

Private data keys appear only as SHA-256 of the key string in the block (every member's
peer holds those hashes, whether or not it may read the values), so a listener matches
them against hashes of keys it cares about. The validation code of transaction ``i`` is
byte ``i`` of the block's ``TRANSACTIONS_FILTER`` metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.fabric._protos import (
    chaincode_event_pb2,
    common_pb2,
    kv_rwset_pb2,
    proposal_pb2,
    proposal_response_pb2,
    rwset_pb2,
    transaction_pb2,
)


@dataclass(frozen=True)
class CommittedWrite:
    """One valid transaction of a chaincode as a full block records it.

    ``event_name``/``payload``: its chaincode event (empty when it set none);
    ``public_keys``: the public state keys it wrote (or deleted); ``private_key_hashes``:
    SHA-256 of every private data key it wrote (or deleted), over all collections.
    """

    block_number: int
    transaction_id: str
    chaincode_name: str
    event_name: str
    payload: bytes
    public_keys: frozenset[str]
    private_key_hashes: frozenset[bytes]


def has_valid_transactions(filtered_block: Any) -> bool:
    """Whether a filtered block holds a valid endorser transaction (one that may have
    written something; a filtered block lists every transaction, events or not)."""
    return any(tx.tx_validation_code == transaction_pb2.VALID
               and tx.type == common_pb2.ENDORSER_TRANSACTION
               for tx in filtered_block.filtered_transactions)


def _validation_codes(block: Any) -> bytes:
    metadata = block.metadata.metadata
    index = common_pb2.TRANSACTIONS_FILTER
    return bytes(metadata[index]) if len(metadata) > index else b""


def committed_writes_of(block: Any, chaincode: str) -> list[CommittedWrite]:
    """Every valid transaction of ``chaincode`` in one full block, in block order.

    Transactions whose validation code is not VALID (or missing) never happened and are
    left out, as are configuration transactions and other chaincodes' transactions.
    Raises google.protobuf's DecodeError on a malformed block.
    """
    codes = _validation_codes(block)
    number = int(block.header.number)
    found: list[CommittedWrite] = []
    for position, raw in enumerate(block.data.data):
        if position >= len(codes) or codes[position] != transaction_pb2.VALID:
            continue
        payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(raw).payload)
        header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        if header.type != common_pb2.ENDORSER_TRANSACTION:
            continue
        for action in transaction_pb2.Transaction.FromString(payload.data).actions:
            written = _action_writes(action, chaincode)
            if written is None:
                continue
            event_name, event_payload, public, private = written
            found.append(CommittedWrite(number, header.tx_id, chaincode, event_name,
                                        event_payload, public, private))
    return found


def _action_writes(action: Any, chaincode: str
                   ) -> tuple[str, bytes, frozenset[str], frozenset[bytes]] | None:
    cap = transaction_pb2.ChaincodeActionPayload.FromString(action.payload)
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(
        cap.action.proposal_response_payload)
    cc_action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
    if cc_action.chaincode_id.name != chaincode:
        return None
    event_name, event_payload = "", b""
    if cc_action.events:
        event = chaincode_event_pb2.ChaincodeEvent.FromString(cc_action.events)
        if event.chaincode_id == chaincode:
            event_name, event_payload = event.event_name, bytes(event.payload)
    public: set[str] = set()
    private: set[bytes] = set()
    for ns in rwset_pb2.TxReadWriteSet.FromString(cc_action.results).ns_rwset:
        if ns.namespace != chaincode:
            continue
        public.update(w.key for w in kv_rwset_pb2.KVRWSet.FromString(ns.rwset).writes)
        for coll in ns.collection_hashed_rwset:
            hashed = kv_rwset_pb2.HashedRWSet.FromString(coll.hashed_rwset)
            private.update(bytes(w.key_hash) for w in hashed.hashed_writes)
    return event_name, event_payload, frozenset(public), frozenset(private)
