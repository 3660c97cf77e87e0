"""Who is calling, and what they sent privately: decoding Fabric's proposal structures.

The Python shim (fabric-chaincode-python 2.5.4) returns None from ``get_attribute()``
and ``get_transient()``; these pure helpers recover both from the bytes the shim does
hold:

- the creator: an ``msp.SerializedIdentity`` (MSP id plus PEM certificate), whose
  certificate carries the Fabric CA enrolment attributes in the X.509 extension
  ``1.2.3.4.5.6.7.8.1`` as JSON ``{"attrs": {"role": "gateway", "store_id": "..."}}``
  (the raw JSON bytes are the extension value, not wrapped in further DER);
- the transient map: ``SignedProposal.proposal_bytes`` → ``Proposal.payload`` →
  ``ChaincodeProposalPayload.TransientMap`` (never written to the block).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from fabric_protos.common import common_pb2 as _common_pb2
from fabric_protos.msp import identities_pb2 as _identities_pb2
from fabric_protos.peer import proposal_pb2 as _proposal_pb2
from google.protobuf.message import DecodeError, Message

from chaincode.errors import (
    MalformedIdentity,
    MalformedProposal,
    MissingAttribute,
    MissingTransientKey,
)
from chaincode.fields import MSP_ID_PATTERN, from_proto_timestamp

# The generated modules ship without type stubs; bind them as Any once, here.
common_pb2: Any = _common_pb2
identities_pb2: Any = _identities_pb2
proposal_pb2: Any = _proposal_pb2

#: OID under which Fabric CA writes enrolment attributes into certificates.
FABRIC_CA_ATTRS_OID = x509.ObjectIdentifier("1.2.3.4.5.6.7.8.1")


@dataclass(frozen=True)
class CallerIdentity:
    """The transaction creator: MSP id, PEM certificate and Fabric CA attributes."""

    msp_id: str
    certificate_pem: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)

    def attribute(self, name: str) -> str | None:
        return self.attributes.get(name)

    def require_attribute(self, name: str, allowed: Collection[str] | None = None) -> str:
        """The attribute's value; MissingAttribute if absent or not in ``allowed``."""
        value = self.attributes.get(name)
        if value is None:
            raise MissingAttribute("caller certificate lacks a required attribute", field=name)
        if allowed is not None and value not in allowed:
            raise MissingAttribute(
                "caller certificate attribute has a value that is not allowed", field=name
            )
        return value


def certificate_attributes(certificate: x509.Certificate) -> dict[str, str]:
    """Fabric CA attributes of a certificate; ``{}`` if it has none.

    Raises MalformedIdentity when the extension is present but not
    ``{"attrs": {name: string}}``.
    """
    try:
        extension = certificate.extensions.get_extension_for_oid(FABRIC_CA_ATTRS_OID)
    except x509.ExtensionNotFound:
        return {}
    value = extension.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedIdentity("attribute extension is not JSON", field="attrs") from exc
    attrs = doc.get("attrs") if isinstance(doc, dict) else None
    if not isinstance(attrs, dict) or not all(isinstance(v, str) for v in attrs.values()):
        raise MalformedIdentity(
            'attribute extension must be {"attrs": {name: string}}', field="attrs"
        )
    return dict(attrs)


def identity_from_creator(msp_id: str, id_bytes: bytes) -> CallerIdentity:
    """Build the caller from the two fields of a SerializedIdentity (``stub.creator``)."""
    if not isinstance(msp_id, str) or not MSP_ID_PATTERN.fullmatch(msp_id):
        raise MalformedIdentity("creator has no valid MSP id", field="mspid")
    try:
        certificate = x509.load_pem_x509_certificate(bytes(id_bytes))
    except (ValueError, TypeError) as exc:
        raise MalformedIdentity("creator certificate is not PEM X.509", field="id_bytes") from exc
    return CallerIdentity(msp_id, bytes(id_bytes), certificate_attributes(certificate))


def parse_serialized_identity(data: bytes) -> CallerIdentity:
    """Decode an ``msp.SerializedIdentity`` (the signature header's ``creator``)."""
    try:
        identity = identities_pb2.SerializedIdentity.FromString(bytes(data))
    except (DecodeError, TypeError) as exc:
        raise MalformedIdentity("creator is not a SerializedIdentity") from exc
    return identity_from_creator(identity.mspid, identity.id_bytes)


def _proposal(proposal: Message | bytes) -> Any:
    if isinstance(proposal, proposal_pb2.Proposal):
        return proposal
    try:
        return proposal_pb2.Proposal.FromString(bytes(proposal))
    except (DecodeError, TypeError) as exc:
        raise MalformedProposal("not a Proposal") from exc


def _signed_proposal(
    signed: Message | bytes,
) -> Any:
    if not isinstance(signed, proposal_pb2.SignedProposal):
        try:
            signed = proposal_pb2.SignedProposal.FromString(bytes(signed))
        except (DecodeError, TypeError) as exc:
            raise MalformedProposal("not a SignedProposal") from exc
    return _proposal(signed.proposal_bytes)


def transient_map(proposal: Message | bytes) -> dict[str, bytes]:
    """The transient map of a Proposal (as the shim keeps it in ``stub.proposal``)."""
    try:
        payload = proposal_pb2.ChaincodeProposalPayload.FromString(_proposal(proposal).payload)
    except DecodeError as exc:
        raise MalformedProposal("proposal payload is not a ChaincodeProposalPayload") from exc
    return dict(payload.TransientMap)


def transient_map_from_signed_proposal(
    signed: Message | bytes,
) -> dict[str, bytes]:
    return transient_map(_signed_proposal(signed))


def require_transient(transient: Mapping[str, bytes], name: str) -> bytes:
    """The entry ``name`` of a transient map, or MissingTransientKey."""
    value = transient.get(name)
    if value is None:
        raise MissingTransientKey("transient map lacks a required entry", field=name)
    return value


@dataclass(frozen=True)
class ProposalFacts:
    """What the chaincode needs from a signed proposal, decoded once."""

    creator: CallerIdentity
    transient: dict[str, bytes]
    timestamp: datetime
    tx_id: str
    channel_id: str


def decode_signed_proposal(signed: Message | bytes) -> ProposalFacts:
    """Creator, transient map, transaction time, tx id and channel of a proposal.

    Raises MalformedProposal or MalformedIdentity.
    """
    proposal = _signed_proposal(signed)
    try:
        header = common_pb2.Header.FromString(proposal.header)
        signature_header = common_pb2.SignatureHeader.FromString(header.signature_header)
        channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
    except DecodeError as exc:
        raise MalformedProposal("proposal header is undecodable") from exc
    if not signature_header.creator:
        raise MalformedProposal("proposal has no creator")
    try:
        timestamp = from_proto_timestamp(
            channel_header.timestamp.seconds, channel_header.timestamp.nanos
        )
    except ValueError as exc:
        raise MalformedProposal("proposal timestamp is out of range") from exc
    return ProposalFacts(
        creator=parse_serialized_identity(signature_header.creator),
        transient=transient_map(proposal),
        timestamp=timestamp,
        tx_id=channel_header.tx_id,
        channel_id=channel_header.channel_id,
    )
