"""How a customer is represented so that consent can be honoured at request time.

A customer's data is cut into **slices**: one per (retailer that recorded it, consent data
category), the unit a consent grants or withholds (DESIGN §4: ``purchases``, ``views``,
``stated_preferences``; event types map to them as in ``chaincode.preferences``). The model
never learns a customer-level embedding that mixes slices:

* Each slice is its own training row ``<customer>|<retailer>|<category>``, whose features are
  the slice's own identity feature ``slice:<retailer>:<category>:<customer>`` and the recording
  retailer as context, ``context:<retailer>``; its positives are that slice's items only. So
  the embedding of a slice feature is learnt from that slice's records (and from
  population-level parameters: item, context and stated-preference embeddings).
* Stated preferences (``category:shoes``, ...) recorded by a retailer become user features
  ``stated:category:shoes`` of a profile row ``<customer>|<retailer>|profile`` without any
  identity feature: her statement teaches only the population-level meaning of each stated
  preference.

At request time the serving retailer builds her user vector as LightFM does for any user, the
normalised sum of feature embeddings, from only the features her consent allows now: the
serving context, the slices of the serving retailer (its own records) and of every
(retailer, category) the :class:`ConsentView` grants, and the stated preferences recorded by a
retailer that grants ``stated_preferences``. A withdrawal removes her slices' features from the
next request: nothing has to be retrained. What stays until the next training drops her
records (DESIGN §8) is her share in population-level parameters, learnt from every consenting
customer.

Names must not contain ``|`` or ``:`` (customer ids, retailer MSP ids and item ids of the
project never do), so every feature and row id parses back unambiguously.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

#: The only purpose the recommender reads data for.
PURPOSE = "personalisation"
DataCategory = Literal["purchases", "views", "stated_preferences"]
DATA_CATEGORIES: tuple[DataCategory, ...] = ("purchases", "views", "stated_preferences")
EVENT_TYPES: tuple[str, ...] = ("purchase", "view", "like", "rating", "stated")
#: The consent data category of each event type (as ``chaincode.preferences``).
CATEGORY_OF_EVENT_TYPE: Mapping[str, DataCategory] = MappingProxyType(
    {
        "purchase": "purchases",
        "view": "views",
        "like": "views",
        "rating": "stated_preferences",
        "stated": "stated_preferences",
    }
)
#: Weight of a positive event of each type as a training interaction (the demo world's
#: :data:`~recommender.datasets.demo_world.EVENT_WEIGHTS` for view, like and purchase).
EVENT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"view": 1.0, "like": 2.0, "purchase": 3.0, "rating": 2.0, "stated": 2.0}
)
#: A rating is a positive signal from this value up (a 1-5 scale); a like with a negative
#: value is a dislike. Neither negative signal becomes a training positive.
RATING_POSITIVE = 4.0

CONTEXT_PREFIX = "context:"
SLICE_PREFIX = "slice:"
STATED_PREFIX = "stated:"
PROFILE_ROW = "profile"
_FORBIDDEN = ("|", ":")


def check_name(kind: str, value: object) -> str:
    """``value`` if it is a non-empty string usable in feature and row ids, else
    ``ValueError``."""
    if not isinstance(value, str) or not value or any(ch in value for ch in _FORBIDDEN):
        raise ValueError(f"{kind} must be a non-empty string without '|' or ':', got {value!r}")
    return value


def context_feature(retailer: str) -> str:
    return f"{CONTEXT_PREFIX}{retailer}"


def slice_feature(customer_id: str, retailer: str, category: str) -> str:
    return f"{SLICE_PREFIX}{retailer}:{category}:{customer_id}"


def slice_row(customer_id: str, retailer: str, category: str) -> str:
    """Training row id of a slice."""
    return f"{customer_id}|{retailer}|{category}"


def profile_row(customer_id: str, retailer: str) -> str:
    """Training row id of the stated preferences ``retailer`` recorded for a customer."""
    return f"{customer_id}|{retailer}|{PROFILE_ROW}"


def stated_feature(preference: str) -> str:
    return f"{STATED_PREFIX}{preference}"


@dataclass(frozen=True, slots=True)
class Slice:
    """A slice as a model knows it (parsed back from a ``slice:`` feature name)."""

    customer_id: str
    retailer: str
    category: DataCategory

    @classmethod
    def parse(cls, feature: str) -> Slice | None:
        """The slice a ``slice:<retailer>:<category>:<customer>`` feature names, or ``None``
        for any other feature."""
        if not feature.startswith(SLICE_PREFIX):
            return None
        parts = feature[len(SLICE_PREFIX) :].split(":")
        if len(parts) != 3 or parts[1] not in DATA_CATEGORIES:
            return None
        retailer, category, customer = parts
        return cls(customer, retailer, category)  # type: ignore[arg-type]

    @property
    def feature(self) -> str:
        return slice_feature(self.customer_id, self.retailer, self.category)

    @property
    def row(self) -> str:
        return slice_row(self.customer_id, self.retailer, self.category)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A preference event reduced to what the recommender reads (DESIGN §4).

    ``value`` follows ``chaincode.preferences``: quantity (purchase), 1 (view), 1/-1 (like),
    the score (rating), a strength (stated). ``timestamp`` is in Unix seconds, if known.
    Raises ``ValueError`` on a malformed field.
    """

    customer_id: str
    retailer: str
    item_id: str
    event_type: str
    value: float = 1.0
    item_category: str | None = None
    store_id: str | None = None
    timestamp: float | None = None

    def __post_init__(self) -> None:
        check_name("customer_id", self.customer_id)
        check_name("retailer", self.retailer)
        if not isinstance(self.item_id, str) or not self.item_id:
            raise ValueError(f"item_id must be a non-empty string, got {self.item_id!r}")
        if self.event_type not in CATEGORY_OF_EVENT_TYPE:
            raise ValueError(f"event_type must be one of {EVENT_TYPES}, got {self.event_type!r}")
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise ValueError(f"value must be a number, got {self.value!r}")
        if not math.isfinite(self.value):
            raise ValueError(f"value must be finite, got {self.value!r}")

    @property
    def category(self) -> DataCategory:
        return CATEGORY_OF_EVENT_TYPE[self.event_type]

    @property
    def positive_weight(self) -> float | None:
        """Training weight when the event is a positive signal, else ``None`` (a dislike or a
        low rating)."""
        if self.event_type == "like" and self.value < 0:
            return None
        if self.event_type == "rating" and self.value < RATING_POSITIVE:
            return None
        return EVENT_WEIGHTS[self.event_type]


def _field(record: object, name: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def event_record(record: object) -> EventRecord:
    """Read one event from any of the project's shapes: an :class:`EventRecord`, a
    :class:`recommender.datasets.demo_world.PreferenceEvent` (its ``weight`` is ignored: the weight
    follows the event type), a ``chaincode.preferences.PreferenceEvent`` or its JSON object
    (``value``, ``item_category``, timestamp as a datetime or the ledger's string).

    Raises ``ValueError`` when a field is missing or malformed.
    """
    if isinstance(record, EventRecord):
        return record
    stamp = _field(record, "timestamp")
    if isinstance(stamp, datetime):
        stamp = stamp.timestamp()
    elif isinstance(stamp, str):
        try:
            stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError as exc:
            raise ValueError(f"timestamp is not ISO 8601: {stamp!r}") from exc
    value = _field(record, "value", 1.0)
    return EventRecord(
        customer_id=_field(record, "customer_id"),
        retailer=_field(record, "retailer"),
        item_id=_field(record, "item_id"),
        event_type=_field(record, "event_type"),
        value=float(value) if isinstance(value, int) and not isinstance(value, bool) else value,
        item_category=_field(record, "item_category"),
        store_id=_field(record, "store_id"),
        timestamp=stamp,
    )


@dataclass(frozen=True, slots=True)
class StatedPreferences:
    """Preferences a customer stated, as recorded by ``retailer`` (data category
    ``stated_preferences``): features such as ``category:shoes``, ``brand:Kalu``,
    ``price:mid``. Raises ``ValueError`` on a malformed id or feature."""

    customer_id: str
    retailer: str
    features: tuple[str, ...]

    def __post_init__(self) -> None:
        check_name("customer_id", self.customer_id)
        check_name("retailer", self.retailer)
        features = tuple(dict.fromkeys(self.features))
        for feature in features:
            if not isinstance(feature, str) or not feature or "|" in feature:
                raise ValueError(f"stated preference must be a non-empty string: {feature!r}")
        object.__setattr__(self, "features", features)


@dataclass(frozen=True)
class ConsentView:
    """Which other retailers' data about one customer may be used now, for purpose
    personalisation, by the retailer serving her: retailer -> granted data categories.

    The gateway fills it from the ledger at request time (her consents that are active, name
    the serving retailer or ``*``, and cover ``personalisation``). The serving retailer's own
    records are always usable and need no entry.

    Raises ``ValueError`` on an unknown category or a malformed name.
    """

    customer_id: str
    grants: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("customer_id", self.customer_id)
        grants: dict[str, frozenset[str]] = {}
        for retailer, categories in self.grants.items():
            check_name("retailer", retailer)
            cats = frozenset(categories)
            unknown = cats - set(DATA_CATEGORIES)
            if unknown:
                raise ValueError(f"unknown data categories {sorted(unknown)} for {retailer!r}")
            if cats:
                grants[retailer] = cats
        object.__setattr__(self, "grants", MappingProxyType(grants))

    @classmethod
    def none(cls, customer_id: str) -> ConsentView:
        """No other retailer's data may be used (no consent, or every consent withdrawn)."""
        return cls(customer_id, {})

    @classmethod
    def for_retailers(
        cls,
        customer_id: str,
        retailers: Iterable[str],
        categories: Iterable[str] = DATA_CATEGORIES,
    ) -> ConsentView:
        """The same ``categories`` granted by each of ``retailers``."""
        cats = frozenset(categories)
        return cls(customer_id, {r: cats for r in retailers})

    def allows(self, owner: str, category: str, *, serving: str) -> bool:
        """May ``serving`` use ``owner``'s ``category`` data about this customer?"""
        return owner == serving or category in self.grants.get(owner, frozenset())


@dataclass(frozen=True)
class CustomerHistory:
    """A customer's events and stated preferences as the gateway could read them at request
    time (its own, and others' it may read for personalisation). The service filters them
    again by the :class:`ConsentView`, so an over-wide history cannot leak into a suggestion.

    Raises ``ValueError`` when a record names another customer.
    """

    customer_id: str
    events: tuple[EventRecord, ...] = ()
    stated: tuple[StatedPreferences, ...] = ()

    def __post_init__(self) -> None:
        check_name("customer_id", self.customer_id)
        events = tuple(event_record(e) for e in self.events)
        stated = tuple(self.stated)
        for st in stated:
            if not isinstance(st, StatedPreferences):
                raise ValueError(f"stated preferences must be StatedPreferences, got {st!r}")
        owners = {e.customer_id for e in events} | {st.customer_id for st in stated}
        if owners - {self.customer_id}:
            raise ValueError("a history record names another customer")
        object.__setattr__(self, "events", events)
        object.__setattr__(self, "stated", stated)

    @classmethod
    def from_records(
        cls,
        customer_id: str,
        events: Iterable[object] = (),
        stated: Iterable[StatedPreferences] = (),
    ) -> CustomerHistory:
        """A history from events in any shape :func:`event_record` reads."""
        return cls(customer_id, tuple(event_record(e) for e in events), tuple(stated))


def request_features(
    serving: str, slices: Iterable[Slice], stated: Iterable[str]
) -> tuple[str, ...]:
    """The user features of one request, in a fixed order: the serving retailer's context,
    then the slice features, then ``stated:`` features of the ``stated`` preferences.

    Training evaluates with exactly this composition, so its metrics describe serving.
    """
    return (
        context_feature(serving),
        *sorted({s.feature for s in slices}),
        *sorted({stated_feature(p) for p in stated}),
    )
