"""Preference events: what a customer bought, viewed, liked, rated or stated at a retailer.

Events are personal data: they live only in the consortium's private data collection
under ``pref~<customer_id>~<retailer>~<event_id>`` and reach the chaincode through the
transient map (a batch is a JSON array of event objects)::

    {"event_id": "e-000123", "customer_id": "c_...", "retailer": "Org1MSP",
     "item_id": "sku-4711", "item_category": "outdoor/shoes", "event_type": "purchase",
     "value": 1, "store_id": "berlin-01", "timestamp": "2025-01-31T09:30:00.000Z",
     "salt": "3q2-7wF1l0aS9cXvZ5nO8A"}

``salt`` is at least 16 random bytes (base64url) chosen by the writing gateway: the
channel ledger keeps a hash of every private value, and without a salt the hash of a
predictable event ("customer X bought item Y") could be confirmed by guessing. The
chaincode cannot make the salt itself: endorsing peers must produce identical writes,
so nothing random may happen inside it.

``value`` is a finite number whose meaning follows the event type: quantity for
``purchase``, ``1`` for ``view``, ``1``/``-1`` for ``like``, the score for ``rating``, a
strength for ``stated``.

Each event type belongs to one consent data category (:data:`CATEGORY_OF_EVENT_TYPE`):
``purchase`` → ``purchases``; ``view`` and ``like`` → ``views`` (both are browsing
signals the customer did not state as a preference); ``rating`` and ``stated`` →
``stated_preferences`` (both are opinions she expressed on purpose).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chaincode.canonical import b64url_decode, canonical_bytes
from chaincode.errors import (
    BatchTooLarge,
    DuplicateEventId,
    EmptyList,
    InvalidValue,
    RetailerMismatch,
    WrongType,
)
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
from chaincode.keys import read_customer_id
from chaincode.statekeys import CompositeKey

EVENT_TYPES = ("purchase", "view", "like", "rating", "stated")
CATEGORY_OF_EVENT_TYPE: dict[str, str] = {
    "purchase": "purchases",
    "view": "views",
    "like": "views",
    "rating": "stated_preferences",
    "stated": "stated_preferences",
}
ITEM_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")

MAX_BATCH_EVENTS = 500
MAX_EVENT_BYTES = 2048
MAX_VALUE = 1e9
MIN_SALT_BYTES = 16
MAX_SALT_BYTES = 64

_FIELDS = (
    "event_id",
    "customer_id",
    "retailer",
    "item_id",
    "item_category",
    "event_type",
    "value",
    "store_id",
    "timestamp",
    "salt",
)


def category_for_event_type(event_type: str) -> str:
    """The consent data category an event type falls under (``"like"`` → ``"views"``)."""
    try:
        return CATEGORY_OF_EVENT_TYPE[event_type]
    except KeyError:
        raise InvalidValue(f"must be one of {list(EVENT_TYPES)}", field="event_type") from None


def preference_key(customer_id: str, retailer: str, event_id: str) -> CompositeKey:
    """``pref~<customer_id>~<retailer>~<event_id>`` (consortium private collection)."""
    return CompositeKey("pref", (customer_id, retailer, event_id))


def customer_preferences_prefix(customer_id: str, retailer: str | None = None) -> CompositeKey:
    """Partial key for one customer's events, optionally at one retailer."""
    parts = (customer_id,) if retailer is None else (customer_id, retailer)
    return CompositeKey("pref", parts)


@dataclass(frozen=True)
class PreferenceEvent:
    event_id: str
    customer_id: str
    retailer: str
    item_id: str
    item_category: str
    event_type: str
    value: float
    store_id: str
    timestamp: datetime
    salt: str

    @property
    def category(self) -> str:
        return CATEGORY_OF_EVENT_TYPE[self.event_type]

    @property
    def key(self) -> CompositeKey:
        return preference_key(self.customer_id, self.retailer, self.event_id)

    @classmethod
    def from_dict(cls, value: Any, path: str = "") -> PreferenceEvent:
        """Strictly parse one event object; errors name the field under ``path``."""
        obj = expect_object(value, path)
        check_fields(obj, required=_FIELDS, path=path)
        salt_field = join(path, "salt")
        salt = obj["salt"]
        if isinstance(salt, str) and len(salt) > 2 * MAX_SALT_BYTES:
            raise InvalidValue(f"salt longer than {MAX_SALT_BYTES} bytes", field=salt_field)
        salt_bytes = b64url_decode(salt, field=salt_field)
        if not MIN_SALT_BYTES <= len(salt_bytes) <= MAX_SALT_BYTES:
            raise InvalidValue(
                f"salt must be {MIN_SALT_BYTES}..{MAX_SALT_BYTES} random bytes", field=salt_field
            )
        return cls(
            event_id=read_str(obj["event_id"], join(path, "event_id"), pattern=ID_PATTERN),
            customer_id=read_customer_id(obj["customer_id"], join(path, "customer_id")),
            retailer=read_str(obj["retailer"], join(path, "retailer"), pattern=MSP_ID_PATTERN),
            item_id=read_str(obj["item_id"], join(path, "item_id"), pattern=ITEM_ID_PATTERN),
            item_category=read_str(obj["item_category"], join(path, "item_category"), max_len=64),
            event_type=read_enum(obj["event_type"], join(path, "event_type"), EVENT_TYPES),
            value=read_number(obj["value"], join(path, "value"), bound=MAX_VALUE),
            store_id=read_str(obj["store_id"], join(path, "store_id"), pattern=ID_PATTERN),
            timestamp=parse_timestamp(obj["timestamp"], join(path, "timestamp")),
            salt=salt,
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> PreferenceEvent:
        return cls.from_dict(load_json(data, max_bytes=MAX_EVENT_BYTES))

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "customer_id": self.customer_id,
            "retailer": self.retailer,
            "item_id": self.item_id,
            "item_category": self.item_category,
            "event_type": self.event_type,
            "value": self.value,
            "store_id": self.store_id,
            "timestamp": format_timestamp(self.timestamp),
            "salt": self.salt,
        }

    def to_json_bytes(self) -> bytes:
        """Deterministic serialisation (RFC 8785): the private value written to the ledger."""
        return canonical_bytes(self.to_dict())


def parse_event_batch(
    data: bytes | str, *, max_events: int = MAX_BATCH_EVENTS
) -> tuple[PreferenceEvent, ...]:
    """Parse a JSON array of 1..``max_events`` events with distinct keys.

    Raises PayloadTooLarge (over ``max_events * 2 KiB``), MalformedJson, WrongType (not
    an array), EmptyList, BatchTooLarge, DuplicateEventId (same customer, retailer and
    event id twice, field ``[i].event_id``), or any event error with field ``[i].name``.
    """
    items = load_json(data, max_bytes=max_events * MAX_EVENT_BYTES)
    if not isinstance(items, list):
        raise WrongType("expected a JSON array of events")
    if not items:
        raise EmptyList("batch must hold at least one event")
    if len(items) > max_events:
        raise BatchTooLarge(
            f"batch holds more than {max_events} events",
            details={"max_events": max_events, "events": len(items)},
        )
    events: list[PreferenceEvent] = []
    seen: set[CompositeKey] = set()
    for index, item in enumerate(items):
        event = PreferenceEvent.from_dict(item, join("", index))
        if event.key in seen:
            raise DuplicateEventId(
                "event key appears twice in the batch", field=join(join("", index), "event_id")
            )
        seen.add(event.key)
        events.append(event)
    return tuple(events)


def check_events_written_by(events: tuple[PreferenceEvent, ...], caller_msp: str) -> None:
    """Raise RetailerMismatch unless every event names the calling organisation."""
    for index, event in enumerate(events):
        if event.retailer != caller_msp:
            raise RetailerMismatch(
                "a retailer records only its own events", field=join(join("", index), "retailer")
            )
