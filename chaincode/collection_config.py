"""The private data collections, one per retailer, rendered from the consortium's members.

The consortium description in ``network/`` is the one place that names the members, so the
config the chaincode is committed with is derived from it rather than kept as a file that
would drift::

    render_collections_config(["Org1MSP", "Org2MSP"], block_to_live=100000)

gives the JSON list ``peer lifecycle chaincode approveformyorg --collections-config`` reads:
one collection per retailer, ``events-<MSP id>``, for the events that retailer recorded:

- ``policy``: ``OR('<MSP>.member')``: only that retailer's peers store the events;
- ``endorsementPolicy``: ``OR('<MSP>.peer')``. A transaction that writes only to a
  collection is validated against the collection's own policy, not the chaincode's, so this
  is what makes the owner's endorsement necessary and sufficient: no other member's peer,
  whatever chaincode it runs, can write, change or delete the owner's events (found on the
  real network with an ``OR(every member)`` policy: one member committed alone);
- ``memberOnlyRead`` / ``memberOnlyWrite``: only the owner's clients reach the data through
  its peer; another member reads through the owner's gateway, which checks her consent;
- ``requiredPeerCount`` 0, ``maxPeerCount`` 1: a second peer of the owner gets the data at
  endorsement or by reconciliation, never another organisation's peer;
- ``blockToLive``: the retention bound (``chaincode.block_to_live`` of the description):
  a holding not written again within that many blocks leaves the owner's state too.

A former member's collection stays in every later definition (Fabric cannot drop one), but
its policies cannot keep naming an organisation that left: Fabric 2.1 refuses at approval a
member policy naming an MSP not in the channel. Both are handed to the ``custodian``, the
orderer organisation, which runs no peer: no current member's peer is eligible to hold,
pull or serve that collection, and no endorsement can write to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from chaincode.fields import MSP_ID_PATTERN

#: Fabric collection names take letters, digits and '-'.
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")


def collection_for(msp_id: str) -> str:
    """The collection holding the events ``msp_id`` recorded (``events-Org1MSP``).

    Raises ValueError for an MSP id a collection name cannot carry.
    """
    name = f"events-{msp_id}"
    if not MSP_ID_PATTERN.fullmatch(msp_id) or not _COLLECTION_NAME.fullmatch(name):
        raise ValueError(f"not an MSP id a collection can be named for: {msp_id!r}")
    return name


def render_collections_config(msp_ids: Sequence[str], *, block_to_live: int = 0,
                              former: Sequence[str] = (), custodian: str | None = None
                              ) -> list[dict[str, Any]]:
    """One collection per member of ``msp_ids`` (order kept), then one per ``former``
    member, held by ``custodian`` (the orderer organisation's MSP id).

    Raises ValueError for an empty member list, a malformed or repeated MSP id, a negative
    ``block_to_live``, or former members without a custodian (or one that is a member).
    """
    members, gone = list(msp_ids), list(former)
    if not members:
        raise ValueError("a consortium needs at least one member")
    if len(set(members + gone)) != len(members + gone):
        raise ValueError("MSP ids must be distinct")
    if block_to_live < 0:
        raise ValueError("block_to_live must be >= 0")
    if gone and (custodian is None or not MSP_ID_PATTERN.fullmatch(custodian)
                 or custodian in members):
        raise ValueError("former members' collections need a custodian MSP that is no member")
    holder = dict.fromkeys(members, "") | dict.fromkeys(gone, custodian or "")
    return [
        {
            "name": collection_for(msp),
            "policy": f"OR('{holder[msp] or msp}.member')",
            "requiredPeerCount": 0,
            "maxPeerCount": 1,
            "blockToLive": block_to_live,
            "memberOnlyRead": True,
            "memberOnlyWrite": True,
            "endorsementPolicy": {"signaturePolicy": f"OR('{holder[msp] or msp}.peer')"},
        }
        for msp in members + gone
    ]


def collections_config_json(msp_ids: Sequence[str], **options: Any) -> str:
    """:func:`render_collections_config` as indented JSON text, ending in a newline."""
    return json.dumps(render_collections_config(msp_ids, **options), indent=2) + "\n"
