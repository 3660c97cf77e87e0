"""The client's pure parts: who endorses, when endorsements agree, the deliver request,
events from filtered blocks, and waking waiters from a block. Talking to peers and
orderers is tested against a real network in tests/integration/test_fabric_client.py."""

import grpc
import pytest
from fabric_protos.common import common_pb2
from fabric_protos.orderer import ab_pb2
from fabric_protos.peer import (
    chaincode_event_pb2,
    events_pb2,
    proposal_pb2,
    proposal_response_pb2,
    transaction_pb2,
)

from gateway.fabric.commits import CommitListener
from gateway.fabric.deliver import MAX_BLOCK_NUMBER, chaincode_events_of, seek_envelope
from gateway.fabric.endorsement import (
    EndorsementPolicy,
    disagreement,
    is_endorsed,
    plan_endorsement,
)
from gateway.fabric.events import ChaincodeEvent, Checkpoint, EventFilter, start_of
from gateway.fabric.nodes import Node

N, S, E = "NorthwindMSP", "SouthgateMSP", "EastmarketMSP"


class Peer:
    def __init__(self, name, msp_id):
        self.address, self.msp_id = name, msp_id


PEERS = [Peer("n", N), Peer("s", S), Peer("e", E)]


def test_majority_of_three_organisations_is_two():
    assert EndorsementPolicy.majority([N, S, E]).required == 2
    assert EndorsementPolicy.majority([N, S, E, "FourthMSP"]).required == 3


def test_policy_refuses_a_requirement_it_can_never_meet():
    with pytest.raises(ValueError, match="required"):
        EndorsementPolicy((N,), 2)


def test_plan_puts_the_own_organisation_first_then_the_others_in_order():
    plan = plan_endorsement(EndorsementPolicy.majority([N, S, E]), S, PEERS)

    assert [p.address for p in plan.candidates] == ["s", "n", "e"]
    assert plan.required == 2


def test_plan_with_transient_data_asks_only_the_trusted_organisations():
    plan = plan_endorsement(EndorsementPolicy.majority([N, S, E]), N, PEERS, [N, E])

    assert [p.msp_id for p in plan.candidates] == [N, E]


def test_plan_refuses_when_trusted_organisations_cannot_meet_the_policy():
    with pytest.raises(ValueError, match="needs 2 organisations"):
        plan_endorsement(EndorsementPolicy.majority([N, S, E]), N, PEERS, [N])


def _response(result=b"ok", rwset=b"rw", event=b"", status=200, endorsed=True):
    action = proposal_pb2.ChaincodeAction(
        results=rwset, events=event,
        response=proposal_response_pb2.Response(status=status, payload=result))
    payload = proposal_response_pb2.ProposalResponsePayload(
        proposal_hash=b"h" * 32, extension=action.SerializeToString())
    endorsement = (proposal_response_pb2.Endorsement(endorser=b"peer", signature=b"s")
                   if endorsed else None)
    return proposal_response_pb2.ProposalResponse(
        response=proposal_response_pb2.Response(status=status, payload=result),
        payload=payload.SerializeToString(), endorsement=endorsement)


def test_equal_endorsements_agree():
    assert disagreement([_response(), _response(), _response()]) is None


@pytest.mark.parametrize(
    ("other", "what"),
    [(_response(result=b"other"), "response"),
     (_response(rwset=b"other"), "read-write set"),
     (_response(event=b"other"), "chaincode event")],
)
def test_disagreement_names_the_part_that_differs(other, what):
    assert disagreement([_response(), other]) == what


def test_refusal_or_missing_endorsement_is_not_endorsed():
    assert is_endorsed(_response())
    assert not is_endorsed(_response(status=500, endorsed=False))
    assert not is_endorsed(_response(endorsed=False))


def test_seek_envelope_asks_from_a_block_to_the_end_and_is_signed(org1):
    envelope = seek_envelope(channel_id="prefshare", creator=org1.identity.creator(),
                             signer=org1.signer(), start_block=7)

    payload = common_pb2.Payload.FromString(envelope.payload)
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    signature_header = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
    seek = ab_pb2.SeekInfo.FromString(payload.data)
    assert header.type == common_pb2.DELIVER_SEEK_INFO
    assert header.channel_id == "prefshare"
    assert header.timestamp.seconds > 0 and header.tls_cert_hash == b""
    assert signature_header.creator == org1.identity.creator()
    assert seek.start.specified.number == 7
    assert seek.stop.specified.number == MAX_BLOCK_NUMBER
    assert seek.behavior == ab_pb2.SeekInfo.BLOCK_UNTIL_READY
    assert org1.verifies(envelope.signature, envelope.payload)


def test_seek_envelope_without_a_block_starts_at_the_newest(org1):
    envelope = seek_envelope(channel_id="prefshare", creator=org1.identity.creator(),
                             signer=org1.signer(), start_block=None)

    seek = ab_pb2.SeekInfo.FromString(common_pb2.Payload.FromString(envelope.payload).data)
    assert seek.start.WhichOneof("Type") == "newest"


def _block(number, txs):
    """A filtered block; ``txs`` are (tx id, validation code, [(chaincode, event name)])."""
    block = events_pb2.FilteredBlock(channel_id="prefshare", number=number)
    for tx_id, code, events in txs:
        tx = block.filtered_transactions.add(
            txid=tx_id, type=common_pb2.ENDORSER_TRANSACTION, tx_validation_code=code)
        for chaincode, name in events:
            tx.transaction_actions.chaincode_actions.add(
                chaincode_event=chaincode_event_pb2.ChaincodeEvent(
                    chaincode_id=chaincode, tx_id=tx_id, event_name=name))
    return block


def test_events_come_only_from_valid_transactions_of_the_chaincode():
    block = _block(5, [
        ("t1", transaction_pb2.VALID, [("prefshare", "ConsentGranted")]),
        ("t2", transaction_pb2.MVCC_READ_CONFLICT, [("prefshare", "ConsentGranted")]),
        ("t3", transaction_pb2.VALID, [("other", "X")]),
        ("t4", transaction_pb2.VALID, [("prefshare", "ConsentWithdrawn")]),
    ])

    events = chaincode_events_of(block, "prefshare")

    assert [(e.transaction_id, e.event_name, e.block_number) for e in events] == [
        ("t1", "ConsentGranted", 5), ("t4", "ConsentWithdrawn", 5)]


def _events(block, *tx_ids):
    return [ChaincodeEvent(block, t, "prefshare", "E", b"") for t in tx_ids]


def test_checkpoint_skips_events_through_its_transaction_in_the_first_block_only():
    first, after = start_of(None, Checkpoint(4, "b"))
    admit = EventFilter(after)

    assert first == 4
    assert [e.transaction_id for e in admit.admit(_events(4, "a", "b", "c"), 4)] == ["c"]
    assert [e.transaction_id for e in admit.admit(_events(5, "b", "d"), 5)] == ["b", "d"]


def test_stream_from_the_newest_block_skips_that_block():
    admit = EventFilter(skip_first_block=True)

    assert admit.admit(_events(9, "a"), 9) == []
    assert len(admit.admit(_events(10, "b"), 10)) == 1


def test_checkpoint_wins_over_start_block():
    assert start_of(3, Checkpoint(8)) == (8, "")
    assert start_of(3, None) == (3, "")
    with pytest.raises(ValueError):
        start_of(-1, None)


def test_one_block_wakes_every_waiter_it_holds_with_code_and_block_number():
    listener = CommitListener(Node("p:1", N, grpc.insecure_channel("127.0.0.1:9")),
                              lambda start: None)
    waiters = [listener.register(f"t{i}") for i in range(3)]

    listener._on_block(_block(12, [("t0", transaction_pb2.VALID, []),
                                    ("t2", transaction_pb2.MVCC_READ_CONFLICT, []),
                                    ("unrelated", transaction_pb2.VALID, [])]))

    assert [w.done.is_set() for w in waiters] == [True, False, True]
    assert listener.wait(waiters[0], 0).block_number == 12
    assert listener.wait(waiters[2], 0).code_name == "MVCC_READ_CONFLICT"
    assert listener.last_block == 12
