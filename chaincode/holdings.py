"""What one retailer holds about a customer, in its own collection, under keys no one else
can link to her.

Every retailer keeps its preference events in a private data collection of its own
(:func:`chaincode.collection_config.collection_for`): only its peers store them, and only its
peers' endorsement can write them. Collection keys reach every block as plain SHA-256 hashes,
so a key built from her public id alone (``hist~<customer_id>``) would be found by hashing
every registered id. Keys here are derived with the owner's secret (:class:`OwnerKeys`, an
HMAC): without it, a hashed key names no one.

One customer, one key per kind at each owner:

- ``hist~<tag>``: her events at this owner (:class:`Holding`), written by
  ``RecordPreferenceEvents``; one put per customer per batch, so a batch costs one shim
  round trip per customer rather than per event;
- ``reads~<tag>``: the owner's log of every shared read of her data (:class:`ReadLog`);
- ``served~<tag>``: an export request already served (its nonce), so a copy is refused;
- ``erased~<erasure_id>``: the owner's mark that it deleted what it held for one erasure.
  Every member writes it for every erasure, holder or not, so it says nothing about her
  shopping, and every peer can see its hash (the erasure's progress).

Values are salted with an HMAC of the transaction id under the same secret: deterministic on
the owner's endorsing peers, and the value hashes in blocks cannot be confirmed by guessing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from chaincode.access_log import AccessLogEntry
from chaincode.canonical import b64url_encode, canonical_bytes
from chaincode.errors import EventExists, WrongType
from chaincode.fields import expect_object, join, load_json
from chaincode.preferences import PreferenceEvent
from chaincode.statekeys import CompositeKey

#: A secret shorter than this is refused (it is the whole of the keys' unlinkability).
MIN_SECRET_BYTES = 32
#: One customer's holding at one owner: about 100,000 events.
MAX_HOLDING_BYTES = 64 * 1024 * 1024


class OwnerKeys:
    """The owner's key derivation. ``secret``: at least 32 random bytes known only to the
    owner's chaincode servers (``PREFSHARE_OWNER_SECRET_FILE``).

    Raises ValueError for a short secret.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the owner secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def _tag(self, kind: str, value: str) -> str:
        mac = hmac.new(self._secret, f"{kind}\x00{value}".encode(), hashlib.sha256)
        return b64url_encode(mac.digest())

    def holding_key(self, customer_id: str) -> CompositeKey:
        return CompositeKey("hist", (self._tag("hist", customer_id),))

    def read_log_key(self, customer_id: str) -> CompositeKey:
        return CompositeKey("reads", (self._tag("reads", customer_id),))

    def served_key(self, customer_id: str, nonce: str) -> CompositeKey:
        return CompositeKey("served", (self._tag("served", f"{customer_id}\x00{nonce}"),))

    def salt(self, tx_id: str) -> str:
        return self._tag("salt", tx_id)


def holdings_prefix() -> CompositeKey:
    """Partial key of every holding in the owner's collection (the owner's training read)."""
    return CompositeKey("hist", ())


def erasure_marker_key(erasure_id: str) -> CompositeKey:
    """``erased~<erasure_id>``: the owner deleted what it held for this erasure."""
    return CompositeKey("erased", (erasure_id,))


@dataclass(frozen=True)
class Holding:
    """Her events at one owner, oldest first."""

    customer_id: str
    events: tuple[PreferenceEvent, ...] = ()

    def adding(self, new: list[PreferenceEvent], positions: list[int]) -> Holding:
        """This holding with ``new`` (hers) appended; ``positions`` are their places in the
        batch, for the error. Raises EventExists for an event id she already has here."""
        known = {event.event_id for event in self.events}
        for event, position in zip(new, positions, strict=True):
            if event.event_id in known:
                raise EventExists("preference event key already written",
                                  field=join(join("", position), "event_id"))
        return Holding(self.customer_id, (*self.events, *new))

    def to_json_bytes(self, salt: str) -> bytes:
        return canonical_bytes({"customer_id": self.customer_id, "salt": salt,
                                "events": [event.to_dict() for event in self.events]})

    @classmethod
    def from_json(cls, data: bytes | None, customer_id: str | None = None) -> Holding | None:
        """The stored holding (``None`` for none). Raises MalformedJson or WrongType, or
        WrongType when it belongs to another customer than ``customer_id``."""
        if data is None:
            return None
        obj = expect_object(load_json(data, max_bytes=MAX_HOLDING_BYTES))
        owner = obj.get("customer_id")
        events = obj.get("events")
        if not isinstance(owner, str) or not isinstance(events, list):
            raise WrongType("a holding needs customer_id and events")
        if customer_id is not None and owner != customer_id:
            raise WrongType("the holding belongs to another customer")
        return cls(owner, tuple(PreferenceEvent.from_dict(e, join("events", i))
                                for i, e in enumerate(events)))


@dataclass(frozen=True)
class ReadLog:
    """The owner's log of the shared reads of her data, oldest first."""

    customer_id: str
    entries: tuple[AccessLogEntry, ...] = ()

    def adding(self, entries: list[AccessLogEntry]) -> ReadLog:
        return ReadLog(self.customer_id, (*self.entries, *entries))

    def to_json_bytes(self, salt: str) -> bytes:
        return canonical_bytes({"customer_id": self.customer_id, "salt": salt,
                                "entries": [entry.to_dict() for entry in self.entries]})

    @classmethod
    def from_json(cls, customer_id: str, data: bytes | None) -> ReadLog:
        if data is None:
            return cls(customer_id)
        obj: dict[str, Any] = expect_object(load_json(data, max_bytes=MAX_HOLDING_BYTES))
        entries = obj.get("entries")
        if obj.get("customer_id") != customer_id or not isinstance(entries, list):
            raise WrongType("a read log needs its customer_id and entries")
        return cls(customer_id, tuple(AccessLogEntry.from_dict(e) for e in entries))
