import hashlib

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2

from gateway.fabric.errors import ResponseDecodeError
from gateway.fabric.proposal import ProposalBuilder
from gateway.fabric.signing import sha384
from gateway.fabric.transaction import (
    CommitStatusRequest,
    Status,
    Transaction,
    validation_code_name,
)


@pytest.fixture
def endorsed(org1, make_envelope):
    proposal = ProposalBuilder(org1.identity, "prefshare", "consent", "GrantConsent").build()
    proposal.sign(org1.signer())
    return proposal, make_envelope(proposal.signed_proposal(), b'{"ok":true}')


def test_prepared_transaction_signature_covers_exactly_the_envelope_payload(org1, endorsed):
    proposal, envelope = endorsed
    payload_as_received = bytes(envelope.payload)
    transaction = Transaction(proposal.transaction_id, envelope)
    seen = []

    def recording_signer(digest):
        seen.append(digest)
        return org1.signer()(digest)

    transaction.sign(recording_signer)

    assert seen == [hashlib.sha256(payload_as_received).digest()]
    assert transaction.envelope.payload == payload_as_received
    assert org1.verifies(transaction.envelope.signature, payload_as_received)


def test_prepared_transaction_digest_uses_the_gateway_hash(endorsed):
    proposal, envelope = endorsed

    transaction = Transaction(proposal.transaction_id, envelope, hash=sha384)

    assert transaction.digest() == hashlib.sha384(envelope.payload).digest()


def test_prepared_transaction_exposes_channel_and_chaincode_result(endorsed):
    proposal, envelope = endorsed

    transaction = Transaction(proposal.transaction_id, envelope)

    assert transaction.channel_id == "prefshare"
    assert transaction.result == b'{"ok":true}'


def test_prepared_transaction_bytes_decode_as_gateway_prepared_transaction(org1, endorsed):
    proposal, envelope = endorsed
    transaction = Transaction(proposal.transaction_id, envelope)
    transaction.sign(org1.signer())

    decoded = gateway_pb2.PreparedTransaction.FromString(transaction.bytes())

    assert decoded.transaction_id == proposal.transaction_id
    assert decoded.envelope.payload == envelope.payload
    assert decoded.envelope.signature == transaction.envelope.signature


def test_undecodable_envelope_payload_raises_response_decode_error():
    envelope = common_pb2.Envelope(payload=b"\xff\xff\xff")

    with pytest.raises(ResponseDecodeError) as caught:
        Transaction("tx1", envelope)
    assert caught.value.transaction_id == "tx1"


def test_envelope_without_actions_raises_response_decode_error():
    payload = common_pb2.Payload(header=common_pb2.Header(), data=b"")
    envelope = common_pb2.Envelope(payload=payload.SerializeToString())

    with pytest.raises(ResponseDecodeError, match="no proposal response"):
        Transaction("tx1", envelope)


def test_commit_status_request_is_signed_over_its_request_bytes(org1):
    request = CommitStatusRequest(
        transaction_id="tx1", channel_id="prefshare", creator=org1.identity.creator()
    )

    request.sign(org1.signer())

    signed = gateway_pb2.SignedCommitStatusRequest.FromString(request.bytes())
    inner = gateway_pb2.CommitStatusRequest.FromString(signed.request)
    assert (inner.transaction_id, inner.channel_id) == ("tx1", "prefshare")
    assert inner.identity == org1.identity.creator()
    assert org1.verifies(signed.signature, signed.request)


@pytest.mark.parametrize(
    ("code", "name", "successful"),
    [
        (0, "VALID", True),
        (11, "MVCC_READ_CONFLICT", False),
        (10, "ENDORSEMENT_POLICY_FAILURE", False),
    ],
)
def test_status_names_validation_codes(code, name, successful):
    status = Status("tx1", code, 3)

    assert status.code_name == name
    assert status.successful is successful


def test_unknown_validation_code_gets_a_placeholder_name():
    assert validation_code_name(9999) == "UNKNOWN(9999)"
