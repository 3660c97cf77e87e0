"""What a chaincode's committed transactions wrote, read from full blocks (pure parsing)."""

from __future__ import annotations

import hashlib

from gateway.fabric._protos import (
    chaincode_event_pb2,
    chaincode_pb2,
    common_pb2,
    events_pb2,
    kv_rwset_pb2,
    proposal_pb2,
    proposal_response_pb2,
    rwset_pb2,
    transaction_pb2,
)
from gateway.fabric.blocks import committed_writes_of, has_valid_transactions


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _envelope(tx_id: str, chaincode: str, *, event: tuple[str, bytes] | None = None,
              public: tuple[str, ...] = (), private: tuple[str, ...] = (),
              tx_type: int = common_pb2.ENDORSER_TRANSACTION) -> bytes:
    ns = rwset_pb2.NsReadWriteSet(
        namespace=chaincode,
        rwset=kv_rwset_pb2.KVRWSet(
            writes=[kv_rwset_pb2.KVWrite(key=k, value=b"v") for k in public]
        ).SerializeToString())
    if private:
        ns.collection_hashed_rwset.add(
            collection_name="consortium",
            hashed_rwset=kv_rwset_pb2.HashedRWSet(hashed_writes=[
                kv_rwset_pb2.KVWriteHash(key_hash=_hash(k), value_hash=b"x") for k in private
            ]).SerializeToString())
    action = proposal_pb2.ChaincodeAction(
        chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode),
        results=rwset_pb2.TxReadWriteSet(ns_rwset=[ns]).SerializeToString())
    if event is not None:
        action.events = chaincode_event_pb2.ChaincodeEvent(
            chaincode_id=chaincode, tx_id=tx_id, event_name=event[0], payload=event[1]
        ).SerializeToString()
    prp = proposal_response_pb2.ProposalResponsePayload(extension=action.SerializeToString())
    cap = transaction_pb2.ChaincodeActionPayload(
        action=transaction_pb2.ChaincodeEndorsedAction(
            proposal_response_payload=prp.SerializeToString()))
    tx = transaction_pb2.Transaction(
        actions=[transaction_pb2.TransactionAction(payload=cap.SerializeToString())])
    header = common_pb2.ChannelHeader(type=tx_type, tx_id=tx_id, channel_id="prefshare")
    payload = common_pb2.Payload(
        header=common_pb2.Header(channel_header=header.SerializeToString()),
        data=tx.SerializeToString())
    return common_pb2.Envelope(payload=payload.SerializeToString()).SerializeToString()


def _block(number: int, txs: list[tuple[bytes, int]]) -> object:
    block = common_pb2.Block()
    block.header.number = number
    block.data.data.extend(raw for raw, _ in txs)
    for _ in range(common_pb2.TRANSACTIONS_FILTER + 1):
        block.metadata.metadata.append(b"")
    block.metadata.metadata[common_pb2.TRANSACTIONS_FILTER] = bytes(code for _, code in txs)
    return block


def test_valid_transactions_of_the_chaincode_give_event_payloads_and_written_keys():
    block = _block(9, [
        (_envelope("t1", "prefshare", event=("ConsentWithdrawn", b'{"customer_id":"c1"}'),
                   public=("consent~c1~k1",)), transaction_pb2.VALID),
        (_envelope("t2", "prefshare", private=("prefindex~c2", "pref~c2~e1")),
         transaction_pb2.VALID),
    ])

    first, second = committed_writes_of(block, "prefshare")

    assert (first.block_number, first.transaction_id, first.event_name) == \
        (9, "t1", "ConsentWithdrawn")
    assert first.payload == b'{"customer_id":"c1"}'
    assert first.public_keys == {"consent~c1~k1"} and not first.private_key_hashes
    assert second.event_name == "" and second.payload == b""
    assert second.private_key_hashes == {_hash("prefindex~c2"), _hash("pref~c2~e1")}


def test_invalid_other_chaincode_and_config_transactions_are_left_out():
    block = _block(3, [
        (_envelope("t1", "prefshare", private=("k",)), transaction_pb2.MVCC_READ_CONFLICT),
        (_envelope("t2", "other", private=("k",)), transaction_pb2.VALID),
        (_envelope("t3", "prefshare", tx_type=common_pb2.CONFIG), transaction_pb2.VALID),
        (_envelope("t4", "prefshare", private=("k",)), transaction_pb2.VALID),
    ])

    assert [w.transaction_id for w in committed_writes_of(block, "prefshare")] == ["t4"]


def test_a_block_without_validation_codes_yields_nothing():
    block = common_pb2.Block()
    block.data.data.append(_envelope("t1", "prefshare", private=("k",)))
    assert committed_writes_of(block, "prefshare") == []


def test_a_filtered_block_with_a_valid_endorser_transaction_is_worth_reading():
    block = events_pb2.FilteredBlock(channel_id="prefshare", number=4)
    block.filtered_transactions.add(txid="t1", type=common_pb2.ENDORSER_TRANSACTION,
                                    tx_validation_code=transaction_pb2.MVCC_READ_CONFLICT)
    assert not has_valid_transactions(block)
    block.filtered_transactions.add(txid="t2", type=common_pb2.ENDORSER_TRANSACTION,
                                    tx_validation_code=transaction_pb2.VALID)
    assert has_valid_transactions(block)
