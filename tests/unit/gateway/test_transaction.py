"""The transaction envelope as Fabric's ``protoutil.CreateSignedTx`` assembles it."""

import hashlib

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2

from gateway.fabric.proposal import ProposalBuilder
from gateway.fabric.signing import sha384
from gateway.fabric.transaction import Status, Transaction, validation_code_name


def endorsed_response(result: bytes, endorser: bytes = b"peer-a", rwset: bytes = b"rw"):
    action = proposal_pb2.ChaincodeAction(
        results=rwset, response=proposal_response_pb2.Response(status=200, payload=result))
    payload = proposal_response_pb2.ProposalResponsePayload(
        proposal_hash=b"\x00" * 32, extension=action.SerializeToString())
    return proposal_response_pb2.ProposalResponse(
        version=1,
        response=proposal_response_pb2.Response(status=200, payload=result),
        payload=payload.SerializeToString(),
        endorsement=proposal_response_pb2.Endorsement(endorser=endorser, signature=b"sig"))


@pytest.fixture
def proposal(org1):
    built = ProposalBuilder(org1.identity, "prefshare", "prefshare", "RecordPreferenceEvents",
                            transient={"events": b"private"}).build()
    built.sign(org1.signer())
    return built


def _decode(payload_bytes):
    payload = common_pb2.Payload.FromString(payload_bytes)
    transaction = transaction_pb2.Transaction.FromString(payload.data)
    action_payload = transaction_pb2.ChaincodeActionPayload.FromString(
        transaction.actions[0].payload)
    return payload, transaction, action_payload


def test_payload_keeps_the_proposal_header_and_signature_header_unchanged(proposal):
    transaction = Transaction(proposal, [endorsed_response(b"ok")])

    payload, tx, _ = _decode(transaction.payload)

    header = proposal_pb2.Proposal.FromString(proposal.proposal_bytes).header
    assert payload.header.SerializeToString() == header
    assert len(tx.actions) == 1
    assert tx.actions[0].header == common_pb2.Header.FromString(header).signature_header


def test_payload_carries_every_endorsement_and_the_first_response_payload(proposal):
    first, second = endorsed_response(b"ok", b"peer-a"), endorsed_response(b"ok", b"peer-b")

    transaction = Transaction(proposal, [first, second])

    _, _, action_payload = _decode(transaction.payload)
    assert action_payload.action.proposal_response_payload == first.payload
    assert [e.endorser for e in action_payload.action.endorsements] == [b"peer-a", b"peer-b"]
    assert transaction.endorsers == (b"peer-a", b"peer-b")


def test_transient_data_never_reaches_the_transaction(proposal):
    transaction = Transaction(proposal, [endorsed_response(b"ok")])

    _, _, action_payload = _decode(transaction.payload)
    cc_payload = proposal_pb2.ChaincodeProposalPayload.FromString(
        action_payload.chaincode_proposal_payload)
    assert not cc_payload.TransientMap
    assert b"private" not in transaction.bytes()


def test_signature_covers_exactly_the_payload(org1, proposal):
    transaction = Transaction(proposal, [endorsed_response(b"ok")])
    seen = []

    def recording_signer(digest):
        seen.append(digest)
        return org1.signer()(digest)

    transaction.sign(recording_signer)
    transaction.sign(recording_signer)  # a second sign keeps the first signature

    assert seen == [hashlib.sha256(transaction.payload).digest()]
    envelope = common_pb2.Envelope.FromString(transaction.bytes())
    assert envelope.payload == transaction.payload
    assert org1.verifies(envelope.signature, transaction.payload)


def test_digest_uses_the_clients_hash(proposal):
    transaction = Transaction(proposal, [endorsed_response(b"ok")], hash=sha384)

    assert transaction.digest() == hashlib.sha384(transaction.payload).digest()


def test_result_is_the_chaincode_response_payload(proposal):
    transaction = Transaction(proposal, [endorsed_response(b'{"ok":true}')])

    assert transaction.result == b'{"ok":true}'
    assert transaction.channel_id == "prefshare"
    assert transaction.transaction_id == proposal.transaction_id


def test_a_transaction_needs_an_endorsement(proposal):
    with pytest.raises(ValueError, match="at least one"):
        Transaction(proposal, [])


@pytest.mark.parametrize(
    ("code", "name", "successful"),
    [(0, "VALID", True), (11, "MVCC_READ_CONFLICT", False),
     (10, "ENDORSEMENT_POLICY_FAILURE", False)],
)
def test_status_names_validation_codes(code, name, successful):
    status = Status("t", code, 7)

    assert (status.code_name, status.successful) == (name, successful)


def test_unknown_validation_code_gets_a_placeholder_name():
    assert validation_code_name(9999) == "UNKNOWN(9999)"
