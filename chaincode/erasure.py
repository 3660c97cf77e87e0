"""Her erasure, as the public state keeps it: which erasure is her latest and which members
must delete what they hold for it.

``erasure~<customer_id>`` (public, MAJORITY-endorsed with her signed erase request) names the
erasure (the transaction id that accepted it), when, and every member of the consortium
then. Each member then deletes what it holds in its own collection and writes its mark
(``erased~<erasure_id>``, :mod:`chaincode.holdings`); every member writes the mark, holder or
not, so the progress says nothing about where she shops. A member whose peer was down
completes when it returns: its gateway asks for the erasures it has not marked
(``PendingErasures``) at start and on every ``CustomerErased`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chaincode.access_log import TX_ID_PATTERN
from chaincode.canonical import canonical_bytes
from chaincode.errors import WrongType
from chaincode.fields import (
    MSP_ID_PATTERN,
    check_fields,
    expect_object,
    format_timestamp,
    load_json,
    parse_timestamp,
    read_str,
    truncate_to_millis,
)
from chaincode.keys import read_customer_id
from chaincode.statekeys import CompositeKey

MAX_ERASURE_BYTES = 8192


def erasure_key(customer_id: str) -> CompositeKey:
    """``erasure~<customer_id>`` (public state): her latest erasure."""
    return CompositeKey("erasure", (customer_id,))


def erasures_prefix() -> CompositeKey:
    return CompositeKey("erasure", ())


@dataclass(frozen=True)
class ErasureRecord:
    customer_id: str
    erasure_id: str
    at: datetime
    holders: tuple[str, ...]

    @classmethod
    def start(cls, customer_id: str, tx_id: str, now: datetime,
              holders: tuple[str, ...]) -> ErasureRecord:
        return cls(customer_id, tx_id, truncate_to_millis(now), tuple(sorted(set(holders))))

    @property
    def key(self) -> CompositeKey:
        return erasure_key(self.customer_id)

    def to_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "erasure_id": self.erasure_id,
                "at": format_timestamp(self.at), "holders": list(self.holders)}

    def to_json_bytes(self) -> bytes:
        return canonical_bytes(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str) -> ErasureRecord:
        obj = expect_object(load_json(data, max_bytes=MAX_ERASURE_BYTES))
        check_fields(obj, required=("customer_id", "erasure_id", "at", "holders"))
        holders = obj["holders"]
        if not isinstance(holders, list):
            raise WrongType("expected a list", field="holders")
        return cls(read_customer_id(obj["customer_id"]),
                   read_str(obj["erasure_id"], "erasure_id", pattern=TX_ID_PATTERN),
                   parse_timestamp(obj["at"], "at"),
                   tuple(read_str(h, "holders", pattern=MSP_ID_PATTERN) for h in holders))
