"""Proposals, cross-checked against the chaincode side's own decoder.

``chaincode.identity.decode_signed_proposal`` was written separately, for the
chaincode; agreeing with it is a check between two independent readings of
Fabric's proposal structure (not a substitute for a peer accepting it).
"""

import hashlib
from datetime import UTC, datetime

import pytest
from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2

from chaincode.identity import decode_signed_proposal
from gateway.fabric.proposal import NONCE_LENGTH, ProposalBuilder, transaction_id

TIMESTAMP_NS = 1_740_830_400_123_456_789  # 2025-03-01T12:00:00.123456789Z


def _builder(identity, **overrides):
    fields = {
        "identity": identity,
        "channel_id": "prefshare",
        "chaincode": "consent",
        "transaction_name": "GrantConsent",
        "args": ["k-0001", b"\x00\xffraw"],
        "transient": {"statement": b'{"a":1}', "salt": b"\x01\x02"},
        "endorsing_orgs": ["Org1MSP", "Org2MSP"],
    }
    fields.update(overrides)
    return ProposalBuilder(**fields)


def _headers(proposal_bytes):
    proposal = proposal_pb2.Proposal.FromString(proposal_bytes)
    header = common_pb2.Header.FromString(proposal.header)
    return (
        proposal,
        common_pb2.ChannelHeader.FromString(header.channel_header),
        common_pb2.SignatureHeader.FromString(header.signature_header),
    )


def _invocation(proposal):
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    return chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input)


def test_transaction_id_is_sha256_of_nonce_then_creator(org1):
    proposal = _builder(org1.identity).build()

    _, channel_header, signature_header = _headers(proposal.proposal_bytes)
    expected = hashlib.sha256(signature_header.nonce + signature_header.creator).hexdigest()
    assert proposal.transaction_id == expected
    assert channel_header.tx_id == expected
    assert len(signature_header.nonce) == NONCE_LENGTH


def test_transaction_id_function_matches_independent_computation():
    nonce, creator = bytes(range(24)), b"creator-bytes"

    assert transaction_id(nonce, creator) == hashlib.sha256(nonce + creator).hexdigest()


def test_each_proposal_gets_a_fresh_nonce_and_transaction_id(org1):
    first = _builder(org1.identity).build()
    second = _builder(org1.identity).build()

    assert first.transaction_id != second.transaction_id
    assert _headers(first.proposal_bytes)[2].nonce != _headers(second.proposal_bytes)[2].nonce


def test_chaincode_decoder_reads_back_tx_id_creator_channel_time_and_transient(org1):
    transient = {"statement": b'{"consent_id":"k-0001"}', "salt": b"\x00\x01"}
    proposal = _builder(org1.identity, transient=transient, timestamp_ns=TIMESTAMP_NS).build()
    proposal.sign(org1.signer())

    facts = decode_signed_proposal(proposal.signed_proposal().SerializeToString())

    assert facts.tx_id == proposal.transaction_id
    assert facts.channel_id == "prefshare"
    assert facts.creator.msp_id == "Org1MSP"
    assert facts.creator.certificate_pem == org1.identity.certificate
    assert facts.creator.attribute("role") == "gateway"
    assert facts.transient == transient
    assert facts.timestamp.replace(microsecond=0) == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_invocation_holds_function_name_then_arguments_as_bytes(org1):
    proposal = _builder(org1.identity, args=["k-0001", "ünïcode", b"\x00\xff"]).build()

    spec = _invocation(_headers(proposal.proposal_bytes)[0]).chaincode_spec
    assert spec.chaincode_id.name == "consent"
    assert list(spec.input.args) == [
        b"GrantConsent",
        b"k-0001",
        "ünïcode".encode(),
        b"\x00\xff",
    ]


def test_channel_header_is_endorser_transaction_for_the_chaincode(org1):
    proposal = _builder(org1.identity, timestamp_ns=TIMESTAMP_NS).build()

    _, channel_header, _ = _headers(proposal.proposal_bytes)
    extension = proposal_pb2.ChaincodeHeaderExtension.FromString(channel_header.extension)
    assert channel_header.type == common_pb2.ENDORSER_TRANSACTION
    assert channel_header.channel_id == "prefshare"
    assert channel_header.epoch == 0
    assert extension.chaincode_id.name == "consent"
    assert (channel_header.timestamp.seconds, channel_header.timestamp.nanos) == (
        1_740_830_400,
        123_456_789,
    )


def test_signature_covers_exactly_the_proposal_bytes(org1):
    proposal = _builder(org1.identity).build()
    proposal.sign(org1.signer())

    signed = proposal.signed_proposal()
    assert signed.proposal_bytes == proposal.proposal_bytes
    assert org1.verifies(signed.signature, proposal.proposal_bytes)
    assert proposal.digest() == hashlib.sha256(proposal.proposal_bytes).digest()


def test_signing_twice_keeps_the_first_signature(org1):
    proposal = _builder(org1.identity).build()
    proposal.sign(org1.signer())
    first = proposal.signature

    proposal.sign(org1.signer())

    assert proposal.signature == first


def test_bytes_is_the_signed_proposal(org1):
    proposal = _builder(org1.identity).build()
    proposal.sign(org1.signer())

    decoded = proposal_pb2.SignedProposal.FromString(proposal.bytes())
    assert decoded.proposal_bytes == proposal.proposal_bytes
    assert decoded.signature == proposal.signature
    assert proposal.endorsing_orgs == ("Org1MSP", "Org2MSP")


def test_payload_for_transaction_drops_the_transient_map_and_keeps_the_input(org1):
    proposal = _builder(org1.identity).build()
    full = proposal_pb2.ChaincodeProposalPayload.FromString(
        proposal_pb2.Proposal.FromString(proposal.proposal_bytes).payload)

    stripped = proposal_pb2.ChaincodeProposalPayload.FromString(
        proposal.payload_for_transaction())

    assert proposal.has_transient and dict(full.TransientMap)
    assert not stripped.TransientMap
    assert stripped.input == full.input


def test_neither_proposal_nor_builder_shows_transient_values_in_repr(org1):
    builder = _builder(org1.identity, transient={"statement": b"private-value-xyz"})
    proposal = builder.build()

    for text in (repr(builder), repr(proposal), str(proposal)):
        assert "private-value-xyz" not in text


def test_fixed_nonce_and_time_give_identical_bytes(org1):
    fixed = {"nonce": b"n" * NONCE_LENGTH, "timestamp_ns": TIMESTAMP_NS}

    first = _builder(org1.identity, **fixed).build()
    second = _builder(org1.identity, **fixed).build()

    assert first.proposal_bytes == second.proposal_bytes
    creator = identities_pb2.SerializedIdentity(
        mspid="Org1MSP", id_bytes=org1.identity.certificate
    ).SerializeToString()
    assert first.transaction_id == hashlib.sha256(b"n" * NONCE_LENGTH + creator).hexdigest()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"channel_id": ""}, "channel_id"),
        ({"chaincode": ""}, "chaincode"),
        ({"transaction_name": ""}, "transaction_name"),
        ({"nonce": b"short"}, "nonce"),
    ],
)
def test_builder_refuses_empty_names_and_wrong_nonce_length(org1, override, message):
    with pytest.raises(ValueError, match=message):
        _builder(org1.identity, **override).build()
