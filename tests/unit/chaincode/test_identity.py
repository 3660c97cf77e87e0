import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fabric_protos.common import common_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import proposal_pb2

from chaincode.errors import (
    MalformedIdentity,
    MalformedProposal,
    MissingAttribute,
    MissingTransientKey,
)
from chaincode.identity import (
    FABRIC_CA_ATTRS_OID,
    certificate_attributes,
    decode_signed_proposal,
    identity_from_creator,
    parse_serialized_identity,
    require_transient,
    transient_map,
    transient_map_from_signed_proposal,
)

ATTRS = {"hf.EnrollmentID": "gw1", "hf.Type": "client", "role": "gateway", "store_id": "b-01"}


def make_cert_pem(attr_value: bytes | None = None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gw1")])
    start = datetime(2025, 1, 1, tzinfo=UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365))
    )
    if attr_value is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(FABRIC_CA_ATTRS_OID, attr_value), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM)


CERT_WITH_ATTRS = make_cert_pem(json.dumps({"attrs": ATTRS}).encode())


def serialized_identity(msp_id="Org1MSP", pem=CERT_WITH_ATTRS) -> bytes:
    return identities_pb2.SerializedIdentity(mspid=msp_id, id_bytes=pem).SerializeToString()


def signed_proposal(transient=None, creator=None, seconds=1740830400, nanos=123456789):
    channel_header = common_pb2.ChannelHeader(type=3, channel_id="prefs", tx_id="tx-1")
    channel_header.timestamp.seconds = seconds
    channel_header.timestamp.nanos = nanos
    signature_header = common_pb2.SignatureHeader(
        creator=serialized_identity() if creator is None else creator, nonce=b"n" * 24
    )
    header = common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=signature_header.SerializeToString(),
    )
    payload = proposal_pb2.ChaincodeProposalPayload(input=b"args", TransientMap=transient or {})
    proposal = proposal_pb2.Proposal(
        header=header.SerializeToString(), payload=payload.SerializeToString()
    )
    return proposal_pb2.SignedProposal(
        proposal_bytes=proposal.SerializeToString(), signature=b"sig"
    )


def test_serialized_identity_gives_msp_id_certificate_and_ca_attributes():
    caller = parse_serialized_identity(serialized_identity())
    assert caller.msp_id == "Org1MSP"
    assert caller.certificate_pem == CERT_WITH_ATTRS
    assert caller.attributes == ATTRS
    assert caller.attribute("role") == "gateway"
    assert caller.attribute("missing") is None


def test_certificate_without_attribute_extension_has_no_attributes():
    caller = identity_from_creator("Org1MSP", make_cert_pem())
    assert caller.attributes == {}


def test_required_attribute_is_enforced_with_allowed_values():
    caller = parse_serialized_identity(serialized_identity())
    assert caller.require_attribute("role", {"gateway", "admin"}) == "gateway"
    with pytest.raises(MissingAttribute) as info:
        caller.require_attribute("clearance")
    assert info.value.field == "clearance"
    with pytest.raises(MissingAttribute):
        caller.require_attribute("role", {"admin"})


@pytest.mark.parametrize(
    "value",
    [b"not json", b'["attrs"]', b'{"attrs": ["role"]}', b'{"attrs": {"n": 1}}', b"\xff"],
)
def test_malformed_attribute_extension_is_refused(value):
    cert = x509.load_pem_x509_certificate(make_cert_pem(value))
    with pytest.raises(MalformedIdentity):
        certificate_attributes(cert)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"\xff\xff\xff", None),
        (serialized_identity(msp_id=""), "mspid"),
        (serialized_identity(msp_id="Org 1"), "mspid"),
        (serialized_identity(pem=b"not a certificate"), "id_bytes"),
    ],
)
def test_undecodable_identity_is_refused(data, field):
    with pytest.raises(MalformedIdentity) as info:
        parse_serialized_identity(data)
    assert info.value.field == field


def test_transient_map_is_read_from_the_proposal_payload():
    signed = signed_proposal({"events": b"[1]", "salt": b"\x00\x01"})
    expected = {"events": b"[1]", "salt": b"\x00\x01"}
    assert transient_map_from_signed_proposal(signed) == expected
    assert transient_map_from_signed_proposal(signed.SerializeToString()) == expected
    proposal = proposal_pb2.Proposal.FromString(signed.proposal_bytes)
    assert transient_map(proposal) == expected
    assert transient_map(signed.proposal_bytes) == expected


def test_proposal_without_transient_data_has_an_empty_map():
    assert transient_map_from_signed_proposal(signed_proposal()) == {}


def test_missing_transient_entry_is_refused_by_name():
    with pytest.raises(MissingTransientKey) as info:
        require_transient({"other": b""}, "events")
    assert info.value.field == "events"
    assert require_transient({"events": b""}, "events") == b""


def test_signed_proposal_decodes_creator_time_and_transaction():
    facts = decode_signed_proposal(signed_proposal({"k": b"v"}))
    assert facts.creator.msp_id == "Org1MSP"
    assert facts.creator.attributes["store_id"] == "b-01"
    assert facts.transient == {"k": b"v"}
    assert facts.timestamp == datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert (facts.tx_id, facts.channel_id) == ("tx-1", "prefs")


@pytest.mark.parametrize(
    "signed",
    [
        b"\xff\xff",
        proposal_pb2.SignedProposal(proposal_bytes=b"\xff\xff"),
        proposal_pb2.SignedProposal(
            proposal_bytes=proposal_pb2.Proposal(header=b"\xff\xff").SerializeToString()
        ),
        signed_proposal(creator=b""),
        signed_proposal(seconds=10**13),
    ],
    ids=["bytes", "proposal", "header", "no-creator", "timestamp"],
)
def test_undecodable_signed_proposal_is_refused(signed):
    with pytest.raises(MalformedProposal):
        decode_signed_proposal(signed)
