"""The private data collection config, rendered from the consortium's member list.

The consortium description in ``network/`` is the one place that names the members, so
the config the chaincode is committed with is derived from it rather than kept as a
file that would drift::

    render_collections_config(["Org1MSP", "Org2MSP", "Org3MSP"])

gives the JSON list ``peer lifecycle chaincode approveformyorg --collections-config``
reads, with one collection, ``prefsCollection``, for preference events:

- ``policy``: ``OR('Org1MSP.member', ...)``: every member stores the events;
- ``requiredPeerCount`` 0: with one peer per organisation, 1 or more fails endorsement
  unless anchor peers and gossip external endpoints are set; peers reconcile missing
  private data later;
- ``maxPeerCount``: the number of members, so an endorser may push to every other
  member's peer (one per organisation today, with room for one more);
- ``blockToLive`` 0: events are kept until the customer asks for erasure (purge);
- ``memberOnlyRead`` / ``memberOnlyWrite``: only members' clients reach the chaincode's
  private reads and writes;
- ``endorsementPolicy``: ``OR('Org1MSP.peer', ...)``: a write to the collection needs
  one member peer's endorsement, whatever the chaincode-level policy (the ``peer``
  role needs NodeOUs enabled in each member MSP).

Each organisation's own data uses Fabric's implicit collections
(``_implicit_org_<MSPID>``), which need no configuration.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chaincode.fields import MSP_ID_PATTERN

PREFERENCES_COLLECTION = "prefsCollection"


def _or_policy(msp_ids: Sequence[str], role: str) -> str:
    return "OR(" + ",".join(f"'{msp}.{role}'" for msp in msp_ids) + ")"


def render_collections_config(
    msp_ids: Sequence[str],
    *,
    name: str = PREFERENCES_COLLECTION,
    required_peer_count: int = 0,
    max_peer_count: int | None = None,
    block_to_live: int = 0,
) -> list[dict[str, Any]]:
    """The collection config for a consortium of ``msp_ids`` (order kept).

    Raises ValueError for an empty member list, a malformed or repeated MSP id, or
    peer counts that contradict each other.
    """
    members = list(msp_ids)
    if not members:
        raise ValueError("a collection needs at least one member")
    for msp in members:
        if not isinstance(msp, str) or not MSP_ID_PATTERN.fullmatch(msp):
            raise ValueError(f"not an MSP id: {msp!r}")
    if len(set(members)) != len(members):
        raise ValueError("MSP ids must be distinct")
    max_peers = len(members) if max_peer_count is None else max_peer_count
    if not 0 <= required_peer_count <= max_peers:
        raise ValueError("need 0 <= required_peer_count <= max_peer_count")
    if block_to_live < 0:
        raise ValueError("block_to_live must be >= 0")
    return [
        {
            "name": name,
            "policy": _or_policy(members, "member"),
            "requiredPeerCount": required_peer_count,
            "maxPeerCount": max_peers,
            "blockToLive": block_to_live,
            "memberOnlyRead": True,
            "memberOnlyWrite": True,
            "endorsementPolicy": {"signaturePolicy": _or_policy(members, "peer")},
        }
    ]


def collections_config_json(msp_ids: Sequence[str], **options: Any) -> str:
    """:func:`render_collections_config` as indented JSON text, ending in a newline."""
    return json.dumps(render_collections_config(msp_ids, **options), indent=2) + "\n"
