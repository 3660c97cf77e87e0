"""Who endorses, what a peer's answer means, and whether the endorsements agree.

Pure functions over messages; :mod:`gateway.fabric.endorse` sends the proposals.

A peer answers ``ProcessProposal`` with a ``peer.ProposalResponse``:

- ``response.status`` < 400 and an ``endorsement``: endorsed; ``payload`` is the
  ``ProposalResponsePayload`` it signed (proposal hash + ``ChaincodeAction``: the
  read-write set, the chaincode event, the response and the chaincode id);
- ``response.status`` >= 400 and no endorsement: the chaincode (or the peer's checks
  before it) refused, with the reason in ``response.message``.

Fabric's ``CreateSignedTx`` demands every endorsement's ``payload`` be byte-equal; so do
we, before ordering, and name the part that differs so the log says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from gateway.fabric._protos import proposal_pb2, proposal_response_pb2

#: Response statuses from this value up are refusals (Fabric's ``shim.ERRORTHRESHOLD``).
ERROR_THRESHOLD = 400


@dataclass(frozen=True)
class EndorsementPolicy:
    """How many distinct organisations out of ``orgs`` must endorse a write.

    ``EndorsementPolicy.majority(orgs)`` mirrors the lifecycle's ``MAJORITY Endorsement``
    (more than half of the channel's application organisations).

    Raises ValueError for no organisations or a ``required`` outside 1..len(orgs).
    """

    orgs: tuple[str, ...]
    required: int

    def __post_init__(self) -> None:
        if not self.orgs:
            raise ValueError("an endorsement policy needs at least one organisation")
        if not 1 <= self.required <= len(self.orgs):
            raise ValueError(f"required must be 1..{len(self.orgs)}, got {self.required}")

    @classmethod
    def majority(cls, orgs: Sequence[str]) -> EndorsementPolicy:
        distinct = tuple(dict.fromkeys(orgs))
        return cls(distinct, len(distinct) // 2 + 1)


@dataclass(frozen=True)
class EndorsementPlan:
    """Peers to ask, in order, and how many distinct organisations must endorse.

    ``candidates`` hold every eligible peer (own organisation first, then the other
    organisations in the order given); the client asks the first ``required`` of distinct
    organisations and moves down the list when one cannot be reached.
    """

    candidates: tuple[Any, ...]
    required: int


def plan_endorsement(
    policy: EndorsementPolicy,
    own_msp_id: str,
    peers: Sequence[Any],
    trusted_orgs: Sequence[str] | None = None,
) -> EndorsementPlan:
    """Order ``peers`` (anything with ``.msp_id``) for endorsing a write.

    ``trusted_orgs`` (for a proposal with transient data: the collection members the
    caller names) further restricts the organisations asked; private data never reaches
    a peer of another organisation.

    Raises ValueError when the eligible peers span fewer organisations than the policy
    requires (the transaction could never be valid).
    """
    allowed = set(policy.orgs)
    if trusted_orgs is not None:
        allowed &= set(trusted_orgs)
    eligible = [p for p in peers if p.msp_id in allowed]
    # Own organisation first: its peer is the nearest and its result is the one we trust.
    ordered = [p for p in eligible if p.msp_id == own_msp_id]
    ordered += [p for p in eligible if p.msp_id != own_msp_id]
    reachable_orgs = {p.msp_id for p in ordered}
    if len(reachable_orgs) < policy.required:
        raise ValueError(
            f"the policy needs {policy.required} organisations but only "
            f"{sorted(reachable_orgs)} have a known peer that may endorse this proposal"
        )
    return EndorsementPlan(tuple(ordered), policy.required)


def is_endorsed(response: Any) -> bool:
    """Did the peer endorse (status below 400 and an endorsement present)?"""
    return bool(response.response.status < ERROR_THRESHOLD and response.endorsement.endorser)


def refusal_message(response: Any) -> str:
    """What the peer said when it did not endorse."""
    message = str(response.response.message)
    if response.response.status >= ERROR_THRESHOLD:
        return message or f"status {response.response.status}"
    return message or "the peer returned no endorsement"


def _chaincode_action(payload: bytes) -> Any | None:
    try:
        response_payload = proposal_response_pb2.ProposalResponsePayload.FromString(payload)
        return proposal_pb2.ChaincodeAction.FromString(response_payload.extension)
    except DecodeError:
        return None


def disagreement(responses: Sequence[Any]) -> str | None:
    """None when every endorsement's payload is byte-equal to the first; else which part
    differs: ``"response"``, ``"read-write set"``, ``"chaincode event"`` or ``"payload"``."""
    first = responses[0].payload
    for other in responses[1:]:
        if other.payload == first:
            continue
        a, b = _chaincode_action(first), _chaincode_action(other.payload)
        if a is None or b is None:
            return "payload"
        if a.response.SerializeToString() != b.response.SerializeToString():
            return "response"
        if a.results != b.results:
            return "read-write set"
        if a.events != b.events:
            return "chaincode event"
        return "payload"
    return None


def chaincode_result(response: Any) -> bytes:
    """The chaincode's response payload (what ``evaluate`` and ``submit`` return)."""
    data: bytes = response.response.payload
    return data
