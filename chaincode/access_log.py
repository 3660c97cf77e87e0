"""The access log: which organisation read a customer's preference events, for what, and
under which consents.

Public state under ``access~<customer_id>~<tx_id>``, written by the ``LogAccess``
transaction, one entry per logged read::

    {"customer_id": "c_...", "reader": "Org2MSP", "purpose": "personalisation",
     "at": "2025-01-31T09:30:00.000Z", "tx_id": "...", "events_readable": 12,
     "consent_ids": ["k-2025-0001"]}

It holds counts and consent ids only. Counts of *withheld* events, or counts per retailer,
are deliberately absent: every member can read public state, and "customer X has 40
events at retailer Y" is exactly what a customer who did not consent keeps from Y's
competitors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chaincode.canonical import canonical_bytes
from chaincode.consent import PURPOSES
from chaincode.errors import InvalidValue, WrongType
from chaincode.fields import (
    ID_PATTERN,
    MSP_ID_PATTERN,
    check_fields,
    expect_object,
    format_timestamp,
    load_json,
    parse_timestamp,
    read_enum,
    read_int,
    read_str,
    truncate_to_millis,
)
from chaincode.keys import read_customer_id
from chaincode.statekeys import CompositeKey

#: Fabric transaction ids are hex SHA-256; test doubles use shorter ids.
TX_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
MAX_ACCESS_ENTRY_BYTES = 8192
MAX_CONSENT_IDS = 64


def access_key(customer_id: str, tx_id: str) -> CompositeKey:
    """``access~<customer_id>~<tx_id>`` (public state)."""
    return CompositeKey("access", (customer_id, tx_id))


def customer_access_prefix(customer_id: str) -> CompositeKey:
    return CompositeKey("access", (customer_id,))


@dataclass(frozen=True)
class AccessLogEntry:
    customer_id: str
    reader: str
    purpose: str
    at: datetime
    tx_id: str
    events_readable: int
    consent_ids: tuple[str, ...]

    @classmethod
    def record(
        cls,
        *,
        customer_id: str,
        reader: str,
        purpose: str,
        now: datetime,
        tx_id: str,
        events_readable: int,
        consent_ids: tuple[str, ...],
    ) -> AccessLogEntry:
        """The entry for a read at transaction time ``now``; consent ids sorted, distinct."""
        return cls(
            customer_id=customer_id,
            reader=reader,
            purpose=purpose,
            at=truncate_to_millis(now),
            tx_id=tx_id,
            events_readable=events_readable,
            consent_ids=tuple(sorted(set(consent_ids))),
        )

    @property
    def key(self) -> CompositeKey:
        return access_key(self.customer_id, self.tx_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "reader": self.reader,
            "purpose": self.purpose,
            "at": format_timestamp(self.at),
            "tx_id": self.tx_id,
            "events_readable": self.events_readable,
            "consent_ids": list(self.consent_ids),
        }

    def to_json_bytes(self) -> bytes:
        return canonical_bytes(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str) -> AccessLogEntry:
        obj = expect_object(load_json(data, max_bytes=MAX_ACCESS_ENTRY_BYTES))
        check_fields(
            obj,
            required=(
                "customer_id",
                "reader",
                "purpose",
                "at",
                "tx_id",
                "events_readable",
                "consent_ids",
            ),
        )
        ids = obj["consent_ids"]
        if not isinstance(ids, list):
            raise WrongType("expected a list", field="consent_ids")
        if len(ids) > MAX_CONSENT_IDS:
            raise InvalidValue(f"more than {MAX_CONSENT_IDS} items", field="consent_ids")
        return cls(
            customer_id=read_customer_id(obj["customer_id"]),
            reader=read_str(obj["reader"], "reader", pattern=MSP_ID_PATTERN),
            purpose=read_enum(obj["purpose"], "purpose", PURPOSES),
            at=parse_timestamp(obj["at"], "at"),
            tx_id=read_str(obj["tx_id"], "tx_id", pattern=TX_ID_PATTERN),
            events_readable=read_int(obj["events_readable"], "events_readable"),
            consent_ids=tuple(
                read_str(item, f"consent_ids[{index}]", pattern=ID_PATTERN)
                for index, item in enumerate(ids)
            ),
        )
