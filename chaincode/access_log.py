"""The access log: who read a customer's events from their owner, for what, how many, under
which consents.

The OWNER of the events writes it, in its own collection (``reads~<tag>``, see
:mod:`chaincode.holdings`), for every read it serves to another member (a kiosk's read, a
training read, her export): the reader cannot skip it, and no other member learns from it
where she shops. One entry::

    {"owner": "NorthwindMSP", "reader": "SouthgateMSP", "purpose": "personalisation",
     "kind": "kiosk", "at": "2025-01-31T09:30:00.000Z", "count": 12,
     "consent_ids": ["k-2025-0001"]}

It holds counts and consent ids only, never the events. Her portal reads it from every owner
with her signed export request and shows it in words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chaincode.canonical import canonical_bytes
from chaincode.consent_statement import PURPOSES
from chaincode.errors import InvalidValue, WrongType
from chaincode.fields import (
    ID_PATTERN,
    MSP_ID_PATTERN,
    check_fields,
    expect_object,
    format_timestamp,
    join,
    load_json,
    parse_timestamp,
    read_enum,
    read_int,
    read_str,
    truncate_to_millis,
)
from chaincode.keys import read_customer_id

#: Fabric transaction ids are hex SHA-256; test doubles use shorter ids.
TX_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: What the read served: a kiosk or store read, a training job, her own export.
READ_KINDS = ("kiosk", "training", "export")
MAX_ACCESS_ENTRY_BYTES = 8192
MAX_CONSENT_IDS = 64
_FIELDS = ("customer_id", "owner", "reader", "purpose", "kind", "at", "count", "consent_ids")


@dataclass(frozen=True)
class AccessLogEntry:
    customer_id: str
    owner: str
    reader: str
    purpose: str
    kind: str
    at: datetime
    count: int
    consent_ids: tuple[str, ...]

    @classmethod
    def record(cls, *, customer_id: str, owner: str, reader: str, purpose: str, kind: str,
               at: datetime, count: int, consent_ids: tuple[str, ...] | list[str]
               ) -> AccessLogEntry:
        """An entry; consent ids sorted and distinct, the time to the millisecond."""
        return cls(customer_id, owner, reader, purpose, kind, truncate_to_millis(at), count,
                   tuple(sorted(set(consent_ids))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "owner": self.owner,
            "reader": self.reader,
            "purpose": self.purpose,
            "kind": self.kind,
            "at": format_timestamp(self.at),
            "count": self.count,
            "consent_ids": list(self.consent_ids),
        }

    def to_json_bytes(self) -> bytes:
        return canonical_bytes(self.to_dict())

    @classmethod
    def from_dict(cls, value: Any, path: str = "") -> AccessLogEntry:
        """Strictly parse one entry. Raises the field errors of :mod:`chaincode.fields`,
        each naming its field under ``path`` (``[3].count`` for the fourth of a batch)."""
        obj = expect_object(value, path)
        check_fields(obj, required=_FIELDS, path=path)

        def named(name: str) -> str:
            # Under the batch position, as every other record's errors are (LogReads).
            return join(path, name)

        ids = obj["consent_ids"]
        if not isinstance(ids, list):
            raise WrongType("expected a list", field=named("consent_ids"))
        if len(ids) > MAX_CONSENT_IDS:
            raise InvalidValue(f"more than {MAX_CONSENT_IDS} items", field=named("consent_ids"))
        return cls.record(
            customer_id=read_customer_id(obj["customer_id"], named("customer_id")),
            owner=read_str(obj["owner"], named("owner"), pattern=MSP_ID_PATTERN),
            reader=read_str(obj["reader"], named("reader"), pattern=MSP_ID_PATTERN),
            purpose=read_enum(obj["purpose"], named("purpose"), PURPOSES),
            kind=read_enum(obj["kind"], named("kind"), READ_KINDS),
            at=parse_timestamp(obj["at"], named("at")),
            count=read_int(obj["count"], named("count")),
            consent_ids=[read_str(item, join(named("consent_ids"), index), pattern=ID_PATTERN)
                         for index, item in enumerate(ids)],
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> AccessLogEntry:
        return cls.from_dict(load_json(data, max_bytes=MAX_ACCESS_ENTRY_BYTES))
