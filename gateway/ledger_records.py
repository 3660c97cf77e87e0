"""The consortium chaincode's answers as records, parsed once where the gateway receives them.

Each transaction of ``chaincode/contract.py`` answers with JSON; :mod:`gateway.ledger` turns
that JSON into the records below before any caller sees it, so no caller reads a dict the
chaincode wrote, and no caller restates what the chaincode decided. The records the chaincode
itself keeps (consents, customers, events, erasures, provenance, watch records, access-log
entries) are its own types, parsed by their own strict parsers; this module adds the
envelopes the transactions answer with. Each envelope's ``to_dict`` gives back the JSON
the chaincode answered (the HTTP API serves it unchanged).

An answer that does not parse (another chaincode version, a bug) raises
:class:`MalformedLedgerAnswer`, naming the transaction and never the content (it holds
personal data).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar, cast

from chaincode.access_log import AccessLogEntry
from chaincode.consent import ConsentRecord, Status
from chaincode.erasure import ErasureRecord
from chaincode.errors import ChaincodeError
from chaincode.fields import expect_object, read_enum, read_int, read_str
from chaincode.keys import CustomerRecord, read_customer_id
from chaincode.preferences import PreferenceEvent
from chaincode.provenance import ModelProvenance
from chaincode.rights import RightsRequest
from chaincode.watch_record import WatchRecord

T = TypeVar("T")
Progress = Literal["done", "pending"]
_STATUSES = ("active", "expired", "withdrawn")


#: What a parser below raises for an answer of another shape.
MALFORMED = (ChaincodeError, KeyError, TypeError, ValueError, AttributeError)


class MalformedLedgerAnswer(Exception):
    """The chaincode's answer to ``function`` is not what its contract returns."""

    def __init__(self, function: str) -> None:
        super().__init__(f"the ledger's answer to {function} is malformed")
        self.function = function


def parse_answer(function: str, data: bytes, parse: Callable[[Any], T]) -> T:
    """``parse`` applied to the decoded answer of ``function``; raises MalformedLedgerAnswer
    for anything that is not valid JSON of the expected shape."""
    try:
        return parse(json.loads(data.decode("utf-8")))
    except MALFORMED as exc:
        raise MalformedLedgerAnswer(function) from exc


def _object(value: Any) -> dict[str, Any]:
    return expect_object(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def _events(value: Any) -> tuple[PreferenceEvent, ...]:
    return tuple(PreferenceEvent.from_dict(e) for e in _list(value))


def _next(value: Any) -> str | None:
    # A page cursor is the chaincode's own key, opaque here: a composite key holds the
    # U+0000 separators read_str refuses, and is handed back to the chaincode as it came.
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise TypeError("a page cursor is a non-empty string")
    return value


def _consent(value: Any) -> ConsentRecord:
    return ConsentRecord.from_json(json.dumps(_object(value)))


def _text(value: Any) -> str:
    return json.dumps(value)


# --- customers and consents ----------------------------------------------------------------


def customer_record(answer: Any) -> CustomerRecord:
    return CustomerRecord.from_json(_text(_object(answer)))


def consent_record(answer: Any) -> ConsentRecord:
    return _consent(answer)


@dataclass(frozen=True)
class ListedConsent:
    """One of her consents and its status at the time the chaincode was asked."""

    record: ConsentRecord
    status: Status

    @classmethod
    def from_dict(cls, value: Any) -> ListedConsent:
        obj = dict(_object(value))
        status = cast(Status, read_enum(obj.pop("status"), "status", _STATUSES))
        return cls(_consent(obj), status)

    def to_dict(self) -> dict[str, Any]:
        return {**self.record.to_dict(), "status": self.status}


def listed_consents(answer: Any) -> tuple[ListedConsent, ...]:
    return tuple(ListedConsent.from_dict(c) for c in _list(_object(answer)["consents"]))


@dataclass(frozen=True)
class ConsentVersion:
    """One committed version of a consent record (``record`` None for a deletion)."""

    tx_id: str
    timestamp: str
    is_delete: bool
    record: ConsentRecord | None

    @classmethod
    def from_dict(cls, value: Any) -> ConsentVersion:
        obj = _object(value)
        is_delete = obj["is_delete"]
        if not isinstance(is_delete, bool):
            raise TypeError("is_delete must be a boolean")
        record = obj["record"]
        return cls(read_str(obj["tx_id"], "tx_id"), read_str(obj["timestamp"], "timestamp"),
                   is_delete, None if record is None else _consent(record))

    def to_dict(self) -> dict[str, Any]:
        return {"tx_id": self.tx_id, "timestamp": self.timestamp, "is_delete": self.is_delete,
                "record": None if self.record is None else self.record.to_dict()}


def _versions(value: Any) -> tuple[ConsentVersion, ...]:
    return tuple(ConsentVersion.from_dict(v) for v in _list(value))


def consent_history(answer: Any) -> tuple[ConsentVersion, ...]:
    return _versions(_object(answer)["versions"])


@dataclass(frozen=True)
class ConsentCheck:
    """``CheckConsent``'s answer when the read is allowed (a refusal is an error)."""

    basis: Literal["owner", "consent"]
    consent_id: str | None

    @classmethod
    def from_dict(cls, value: Any) -> ConsentCheck:
        obj = _object(value)
        if obj["allowed"] is not True:
            raise ValueError("a check that answers is an allowed one")
        basis = cast(Literal["owner", "consent"],
                     read_enum(obj["basis"], "basis", ("owner", "consent")))
        consent_id = obj["consent_id"]
        return cls(basis, None if consent_id is None else read_str(consent_id, "consent_id"))

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": True, "basis": self.basis, "consent_id": self.consent_id}


# --- preference events ---------------------------------------------------------------------


def recorded_count(answer: Any) -> int:
    """``RecordPreferenceEvents``' answer: how many events were recorded."""
    return read_int(_object(answer)["recorded"], "recorded")


def logged_count(answer: Any) -> int:
    """``LogReads``' answer: how many access-log entries were appended."""
    return read_int(_object(answer)["logged"], "logged")


def answer_events(answer: Any) -> tuple[PreferenceEvent, ...]:
    """The events of an answer that carries them: ``ReadOwnEvents``', or an owner's gateway's
    answer to a shared-events request (gateway/sharing.py)."""
    return _events(_object(answer)["events"])


@dataclass(frozen=True)
class OwnPage:
    """One page of this retailer's own events (``ReadOwnTraining``); ``next`` is None on
    the last page."""

    owner: str
    events: tuple[PreferenceEvent, ...]
    customers: int
    next: str | None

    @classmethod
    def from_dict(cls, value: Any) -> OwnPage:
        obj = _object(value)
        return cls(read_str(obj["owner"], "owner"), _events(obj["events"]),
                   read_int(obj["customers"], "customers"), _next(obj["next"]))


@dataclass(frozen=True)
class SharedEvents:
    """What a reader may read now of her events held by this owner, and the consents that
    opened them (``ReadSharedEvents``)."""

    customer_id: str
    owner: str
    reader: str
    purpose: str
    events: tuple[PreferenceEvent, ...]
    consent_ids: tuple[str, ...]

    @classmethod
    def from_dict(cls, value: Any) -> SharedEvents:
        obj = _object(value)
        return cls(read_customer_id(obj["customer_id"]), read_str(obj["owner"], "owner"),
                   read_str(obj["reader"], "reader"), read_str(obj["purpose"], "purpose"),
                   _events(obj["events"]),
                   tuple(read_str(k, "consent_ids") for k in _list(obj["consent_ids"])))


class OpenedConsent(NamedTuple):
    """A consent that opened events to a reader: ``(customer_id, consent_id, version)``."""

    customer_id: str
    consent_id: str
    version: int

    @classmethod
    def from_value(cls, value: Any) -> OpenedConsent:
        customer_id, consent_id, version = _list(value)
        return cls(read_customer_id(customer_id), read_str(consent_id, "consent_id"),
                   read_int(version, "version"))


@dataclass(frozen=True)
class SharedPage:
    """One page of what a reader may train on of one owner's events, the consents that
    opened them, and ``next`` (None on the last page). The chaincode's answer to
    ``ReadSharedTraining``, which the owner's gateway serves to the reader as it is."""

    owner: str
    events: tuple[PreferenceEvent, ...]
    consents: tuple[OpenedConsent, ...]
    next: str | None

    @classmethod
    def from_dict(cls, value: Any) -> SharedPage:
        obj = _object(value)
        return cls(read_str(obj["owner"], "owner"), _events(obj["events"]),
                   tuple(OpenedConsent.from_value(c) for c in _list(obj["consents"])),
                   _next(obj["next"]))

    def to_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "events": [e.to_dict() for e in self.events],
                "consents": [list(c) for c in self.consents], "next": self.next}


# --- customer rights -----------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureProgress:
    """Her latest erasure and, per member, whether it deleted what it holds."""

    erasure: ErasureRecord
    progress: dict[str, Progress]

    @classmethod
    def from_dict(cls, value: Any) -> ErasureProgress:
        obj = dict(_object(value))
        progress = {read_str(msp, "progress"):
                    cast(Progress, read_enum(state, "progress", ("done", "pending")))
                    for msp, state in _object(obj.pop("progress")).items()}
        return cls(ErasureRecord.from_json(_text(obj)), progress)

    @property
    def complete(self) -> bool:
        return all(state == "done" for state in self.progress.values())

    def to_dict(self) -> dict[str, Any]:
        return {**self.erasure.to_dict(), "progress": dict(self.progress)}


def erasure_progress(answer: Any) -> ErasureProgress:
    return ErasureProgress.from_dict(answer)


def pending_erasures(answer: Any) -> tuple[str, ...]:
    return tuple(read_customer_id(c) for c in _list(_object(answer)["customers"]))


@dataclass(frozen=True)
class ErasureAccepted:
    """``EraseCustomer``'s answer: counts only."""

    customer_id: str
    erasure_id: str
    consents_withdrawn: int
    holders: tuple[str, ...]

    @classmethod
    def from_dict(cls, value: Any) -> ErasureAccepted:
        obj = _object(value)
        return cls(read_customer_id(obj["customer_id"]), read_str(obj["erasure_id"], "erasure_id"),
                   read_int(obj["consents_withdrawn"], "consents_withdrawn"),
                   tuple(read_str(h, "holders") for h in _list(obj["holders"])))

    def to_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "erasure_id": self.erasure_id,
                "consents_withdrawn": self.consents_withdrawn, "holders": list(self.holders)}


def purged_erasure(answer: Any) -> str:
    """``PurgeCustomer``'s answer: the erasure this owner completed."""
    obj = _object(answer)
    if obj["done"] is not True:
        raise ValueError("a purge that answers is a done one")
    return read_str(obj["erasure_id"], "erasure_id")


@dataclass(frozen=True)
class ExportedConsent:
    """One of her consents in her export: the record, its status, every version."""

    record: ConsentRecord
    status: Status
    versions: tuple[ConsentVersion, ...]

    @classmethod
    def from_dict(cls, value: Any) -> ExportedConsent:
        obj = dict(_object(value))
        versions = _versions(obj.pop("versions"))
        listed = ListedConsent.from_dict(obj)
        return cls(listed.record, listed.status, versions)

    def to_dict(self) -> dict[str, Any]:
        return {**self.record.to_dict(), "status": self.status,
                "versions": [v.to_dict() for v in self.versions]}


@dataclass(frozen=True)
class PublicExport:
    """The public part of her export (``ExportCustomer``): her request, her record, her
    consents with their history, her latest erasure's progress."""

    request: RightsRequest
    customer: CustomerRecord
    consents: tuple[ExportedConsent, ...]
    erasure: ErasureProgress | None

    @classmethod
    def from_dict(cls, value: Any) -> PublicExport:
        obj = _object(value)
        erasure = obj["erasure"]
        return cls(RightsRequest.from_json(_text(_object(obj["request"]))),
                   customer_record(obj["customer"]),
                   tuple(ExportedConsent.from_dict(c) for c in _list(obj["consents"])),
                   None if erasure is None else ErasureProgress.from_dict(erasure))

    def to_dict(self) -> dict[str, Any]:
        return {"request": self.request.to_dict(), "customer": self.customer.to_dict(),
                "consents": [c.to_dict() for c in self.consents],
                "erasure": None if self.erasure is None else self.erasure.to_dict()}


@dataclass(frozen=True)
class OwnData:
    """What this owner holds about her and who read it (``ExportOwnData``)."""

    customer_id: str
    owner: str
    events: tuple[PreferenceEvent, ...]
    access_log: tuple[AccessLogEntry, ...]

    @classmethod
    def from_dict(cls, value: Any) -> OwnData:
        obj = _object(value)
        return cls(read_customer_id(obj["customer_id"]), read_str(obj["owner"], "owner"),
                   _events(obj["events"]),
                   tuple(AccessLogEntry.from_dict(e) for e in _list(obj["access_log"])))


# --- provenance and the consortium watch --------------------------------------------------


def provenance(answer: Any) -> ModelProvenance:
    return ModelProvenance.from_dict(_object(answer))


def watch_record(answer: Any) -> WatchRecord:
    return WatchRecord.from_dict(_object(answer))


def watch_records(answer: Any) -> tuple[WatchRecord, ...]:
    return tuple(WatchRecord.from_dict(r) for r in _list(_object(answer)["records"]))


def event_dicts(events: Iterable[PreferenceEvent]) -> list[dict[str, Any]]:
    """The events as the chaincode's JSON objects (what the HTTP API serves)."""
    return [event.to_dict() for event in events]
