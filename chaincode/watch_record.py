"""The consortium watch's public record: a data owner flagged a reading member as reading
unusually (``alert``, the owner's gateway then brakes its reads) or its operator cleared it
(``clearance``). Public state under ``watch~<owner>~<record_id>``, written by the owner's
gateway with MAJORITY endorsement like every public write, so every member sees who was
braked, when, and why in features; it names no customer::

    {"record_id": "alert-SouthgateMSP-1767600000-3f2a", "owner": "NorthwindMSP",
     "reader": "SouthgateMSP", "kind": "alert", "at": "2026-01-05T08:00:00.000Z",
     "window_from": "2026-01-05T07:55:00.000Z", "window_to": "2026-01-05T08:00:00.000Z",
     "score": 4.2, "drivers": {"customers_per_hour": 6.1, "first_read_share": 3.0}}

A clearance carries neither window, score nor drivers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chaincode.canonical import canonical_bytes
from chaincode.errors import InvalidValue, MissingField, RetailerMismatch, WrongType
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
    read_number,
    read_str,
)
from chaincode.statekeys import CompositeKey

WATCH_KINDS = ("alert", "clearance")
FEATURE_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_DRIVERS = 8
MAX_WATCH_RECORD_BYTES = 2048
_ALERT_ONLY = ("window_from", "window_to", "score", "drivers")


def watch_key(owner: str, record_id: str) -> CompositeKey:
    """``watch~<owner>~<record_id>`` (public state)."""
    return CompositeKey("watch", (owner, record_id))


def watch_prefix() -> CompositeKey:
    return CompositeKey("watch")


@dataclass(frozen=True)
class WatchRecord:
    record_id: str
    owner: str
    reader: str
    kind: str
    at: datetime
    window_from: datetime | None = None
    window_to: datetime | None = None
    score: float | None = None
    drivers: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> CompositeKey:
        return watch_key(self.owner, self.record_id)

    def check_written_by(self, caller_msp: str, members: tuple[str, ...]) -> None:
        """Raise RetailerMismatch unless the caller is the owner it names, InvalidValue
        unless the reader is another member."""
        if self.owner != caller_msp:
            raise RetailerMismatch("an owner records only its own watch", field="owner")
        if self.reader not in members or self.reader == self.owner:
            raise InvalidValue("the reader must be another member", field="reader")

    @classmethod
    def from_dict(cls, value: Any) -> WatchRecord:
        obj = expect_object(value)
        check_fields(obj, required=("record_id", "owner", "reader", "kind", "at"),
                     optional=_ALERT_ONLY)
        kind = read_enum(obj["kind"], "kind", WATCH_KINDS)
        if kind == "alert":
            for name in _ALERT_ONLY:
                if name not in obj:
                    raise MissingField("an alert names its window, score and drivers",
                                       field=name)
        elif any(name in obj for name in _ALERT_ONLY):
            raise InvalidValue("a clearance carries no window, score or drivers", field="kind")
        window_from = window_to = None
        score = None
        drivers: dict[str, float] = {}
        if kind == "alert":
            window_from = parse_timestamp(obj["window_from"], "window_from")
            window_to = parse_timestamp(obj["window_to"], "window_to")
            if window_to <= window_from:
                raise InvalidValue("the window must end after it starts", field="window_to")
            score = read_number(obj["score"], "score", bound=1e9)
            drivers = _read_drivers(obj["drivers"])
        return cls(
            record_id=read_str(obj["record_id"], "record_id", pattern=ID_PATTERN),
            owner=read_str(obj["owner"], "owner", pattern=MSP_ID_PATTERN),
            reader=read_str(obj["reader"], "reader", pattern=MSP_ID_PATTERN),
            kind=kind,
            at=parse_timestamp(obj["at"], "at"),
            window_from=window_from, window_to=window_to, score=score, drivers=drivers,
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> WatchRecord:
        """Strictly parse a record of at most 2 KiB."""
        return cls.from_dict(load_json(data, max_bytes=MAX_WATCH_RECORD_BYTES))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record_id": self.record_id, "owner": self.owner,
                               "reader": self.reader, "kind": self.kind,
                               "at": format_timestamp(self.at)}
        if self.kind == "alert":
            assert self.window_from and self.window_to and self.score is not None
            out.update(window_from=format_timestamp(self.window_from),
                       window_to=format_timestamp(self.window_to), score=self.score,
                       drivers=dict(sorted(self.drivers.items())))
        return out

    def to_json_bytes(self) -> bytes:
        return canonical_bytes(self.to_dict())


def _read_drivers(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise WrongType("expected a JSON object of numbers", field="drivers")
    if len(value) > MAX_DRIVERS:
        raise InvalidValue(f"more than {MAX_DRIVERS} drivers", field="drivers")
    drivers: dict[str, float] = {}
    for name in sorted(value):
        read_str(name, "drivers", pattern=FEATURE_NAME_PATTERN,
                 rule="feature names are [a-z][a-z0-9_]")
        drivers[name] = read_number(value[name], join("drivers", name), bound=1e9)
    return drivers
