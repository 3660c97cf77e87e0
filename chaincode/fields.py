"""Strict readers for the JSON documents the chaincode accepts.

Every record module parses through these, so every record refuses input the same way:
one typed error (see :mod:`chaincode.errors`) naming the offending field as a path such
as ``recipients[1]`` or ``[3].value``. Nothing here coerces: ``"5"`` is not a number,
``1`` is not ``true``, ``5.0`` is not an integer.

Timestamps have exactly one accepted form, the one JavaScript's
``Date.prototype.toISOString()`` produces: ``YYYY-MM-DDTHH:MM:SS.sssZ`` (UTC, always
three fractional digits). One form means a parsed timestamp re-serialises to the string
the customer signed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from chaincode.errors import (
    DuplicateValue,
    EmptyList,
    InvalidValue,
    MalformedJson,
    MissingField,
    PayloadTooLarge,
    UnknownField,
    WrongType,
)

#: Identifiers used as composite-key parts: ASCII, no separator characters.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Fabric MSP ids (``Org1MSP``) share the identifier alphabet.
MSP_ID_PATTERN = ID_PATTERN
SHA256_HEX_PATTERN = re.compile(r"[0-9a-f]{64}")

_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z"
)


def join(path: str, name: str | int) -> str:
    """Field path of a member: ``join("a", "b") == "a.b"``, ``join("a", 2) == "a[2]"``."""
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


# --- documents ---------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedJson("object has a duplicate key")
        out[key] = value
    return out


def _no_constants(name: str) -> NoReturn:
    raise MalformedJson("NaN and Infinity are not JSON")


def load_json(data: bytes | str, *, max_bytes: int) -> Any:
    """Parse one JSON document of at most ``max_bytes`` UTF-8 bytes.

    Refuses (MalformedJson) invalid UTF-8, invalid JSON, duplicate object keys, NaN and
    Infinity, and nesting too deep for the parser; PayloadTooLarge beyond ``max_bytes``.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"document exceeds {max_bytes} bytes", details={"max_bytes": max_bytes}
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJson("document is not UTF-8") from exc
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
    except MalformedJson:
        raise
    except (ValueError, RecursionError) as exc:
        raise MalformedJson(f"document is not JSON: {type(exc).__name__}") from exc


def expect_object(value: Any, path: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WrongType("expected a JSON object", field=path or None)
    return value


def check_fields(
    obj: Mapping[str, Any],
    *,
    required: Collection[str],
    optional: Collection[str] = (),
    path: str = "",
    context: str = "",
) -> None:
    """Refuse members outside ``required | optional`` and absent required members.

    Unknown fields are reported first, in sorted order, so the error is deterministic.
    """
    for name in sorted(obj):
        if name not in required and name not in optional:
            suffix = f" {context}" if context else ""
            raise UnknownField(f"field is not defined{suffix}", field=join(path, name))
    for name in sorted(required):
        if name not in obj:
            raise MissingField("required field is absent", field=join(path, name))


# --- scalars -----------------------------------------------------------------------------


def read_str(
    value: Any,
    field: str,
    *,
    pattern: re.Pattern[str] | None = None,
    max_len: int = 256,
    rule: str = "",
) -> str:
    """A string of 1..max_len characters, matching ``pattern`` when given."""
    if not isinstance(value, str):
        raise WrongType("expected a string", field=field)
    if not value:
        raise InvalidValue("must not be empty", field=field)
    if len(value) > max_len:
        raise InvalidValue(f"longer than {max_len} characters", field=field)
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidValue(rule or f"does not match {pattern.pattern}", field=field)
    if pattern is None and any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in value):
        raise InvalidValue("contains control characters", field=field)
    if pattern is None and any("\ud800" <= ch <= "\udfff" for ch in value):
        raise InvalidValue("contains a lone surrogate", field=field)
    return value


def read_enum(value: Any, field: str, allowed: Collection[str]) -> str:
    if not isinstance(value, str):
        raise WrongType("expected a string", field=field)
    if value not in allowed:
        raise InvalidValue(f"must be one of {sorted(allowed)}", field=field)
    return value


def read_int(value: Any, field: str, *, minimum: int = 0, maximum: int = 2**53 - 1) -> int:
    """An integer (not a bool, not a float) in ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongType("expected an integer", field=field)
    if not minimum <= value <= maximum:
        raise InvalidValue(f"must be between {minimum} and {maximum}", field=field)
    return value


def read_number(value: Any, field: str, *, bound: float) -> float:
    """A finite JSON number (integer or float, not bool) with ``|value| <= bound``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WrongType("expected a number", field=field)
    if isinstance(value, int) and abs(value) > bound:
        raise InvalidValue(f"magnitude exceeds {bound:g}", field=field)
    number = float(value)
    if not math.isfinite(number) or abs(number) > bound:
        raise InvalidValue(f"magnitude exceeds {bound:g}", field=field)
    return number


def read_str_list(
    value: Any,
    field: str,
    *,
    max_items: int,
    allowed: Collection[str] | None = None,
    pattern: re.Pattern[str] | None = None,
) -> tuple[str, ...]:
    """A non-empty list of distinct strings, each in ``allowed`` or matching ``pattern``.

    Order is kept (it is part of what the customer signed).
    """
    if not isinstance(value, list):
        raise WrongType("expected a list", field=field)
    if not value:
        raise EmptyList("must name at least one item", field=field)
    if len(value) > max_items:
        raise InvalidValue(f"more than {max_items} items", field=field)
    items: list[str] = []
    for index, item in enumerate(value):
        where = join(field, index)
        if allowed is not None:
            items.append(read_enum(item, where, allowed))
        else:
            items.append(read_str(item, where, pattern=pattern))
        if items[-1] in items[:-1]:
            raise DuplicateValue("item is listed twice", field=where)
    return tuple(items)


# --- time --------------------------------------------------------------------------------


def parse_timestamp(value: Any, field: str) -> datetime:
    """Parse ``YYYY-MM-DDTHH:MM:SS.sssZ`` into an aware UTC datetime."""
    if not isinstance(value, str):
        raise WrongType("expected a timestamp string", field=field)
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        raise InvalidValue("timestamp must look like 2025-01-31T09:30:00.000Z", field=field)
    year, month, day, hour, minute, second, millis = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)
    except ValueError as exc:
        raise InvalidValue("timestamp is not a calendar date and time", field=field) from exc


def format_timestamp(moment: datetime) -> str:
    """The canonical form of an aware datetime, truncated to milliseconds.

    >>> format_timestamp(datetime(2025, 1, 31, 9, 30, tzinfo=UTC))
    '2025-01-31T09:30:00.000Z'
    """
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond // 1000:03d}Z"


def truncate_to_millis(moment: datetime) -> datetime:
    """``moment`` with sub-millisecond digits dropped (what a stored timestamp keeps)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_proto_timestamp(seconds: int, nanos: int = 0) -> datetime:
    """A transaction timestamp (``google.protobuf.Timestamp`` fields) as aware UTC.

    Raises ValueError outside the years 1..9999 or for nanos outside 0..999,999,999.
    """
    if not 0 <= nanos < 1_000_000_000:
        raise ValueError("nanos must be in 0..999999999")
    try:
        return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError as exc:
        raise ValueError("timestamp out of range") from exc
