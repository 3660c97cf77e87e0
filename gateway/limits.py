"""What one client may ask of the gateway: request rates, requests in flight, URL length.

:class:`RequestLimits` is a pure ASGI middleware in front of every route. In order:

- a request line and headers over ``max_head_bytes``: 431 ``REQUEST_HEAD_TOO_LARGE`` (h11
  refuses a head over its buffer only while it is incomplete; a whole one can pass it);
- a URL (path and query) over ``max_url_bytes``: 414 ``URI_TOO_LONG``;
- ``/healthz`` and ``/metrics`` pass the rest untouched, so an operator sees the gateway while it is
  under attack (gateway/health.py keeps the health probe off the routes' thread pool);
- rates, counted with the `limits` library (sliding windows in this process's memory; with
  PostgreSQL configured, fixed windows in the shared database, gateway/postgres/
  rate_counters.py, so N workers and replicas share one budget): every request per
  client address (``rate_per_address``); a request carrying a store credential also per
  credential (``rate_per_credential``, keyed by the credential's key id, read before the
  credential is checked, so a flood of bad credentials is refused as cheaply as a good one);
  an anonymous customer registration (``POST /v1/customers``, a ledger write anyone may ask
  for) per address and for the whole gateway (``rate_registrations_per_address``,
  ``rate_registrations``); a member read (``/v1/members/*``, another retailer's gateway,
  gateway/members.py) also per reading member (``rate_per_member``, keyed by a digest of the
  certificate it sends, read before its signature is checked, as a key id is); a request for
  suggestions also per credential at its own, lower rate (``rate_suggestions_per_credential``:
  the costliest route a store calls). Over a rate: 429 ``RATE_LIMITED`` with ``Retry-After``,
  held ``rate_limited_delay_s`` before it is sent (a tarpit: a flood on a few connections
  then waits instead of costing a refusal per round trip);
- requests in flight: per credential and per reading member (``max_in_flight_per_credential``,
  ``max_in_flight_per_member``: 429 ``TOO_MANY_IN_FLIGHT``) and in all (``max_in_flight``:
  503 ``OVERLOADED``), all with
  ``Retry-After: 1``. The routes that call the ledger run in a shared thread pool (40
  threads); with ``max_in_flight`` below that, no one credential, nor all of them, can take
  every thread, so the other stores' calls and the health probe always find one.

Every refusal is in the project's error shape (gateway/errors.py) and reveals nothing about
the credential. The in-flight bounds stay per process (they guard its own thread pool); with
PostgreSQL the rates are shared, and a database that does not answer refuses with 503
``DATABASE_UNAVAILABLE`` (docs/gateway.md, "Limits").
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import time
from collections import Counter
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage as SharedStorage
from limits.aio.strategies import FixedWindowRateLimiter as SharedWindows
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import ApiError, DatabaseUnavailable, to_response

#: Routes an operator needs while the gateway is under attack.
UNLIMITED_PATHS = frozenset({"/healthz", "/metrics"})
_KEY_ID = re.compile(rb"^bearer\s+psk_([0-9a-f]{16})\.", re.IGNORECASE)
MEMBER_PATHS = "/v1/members/"
#: gateway.members.CERT_HEADER as ASGI carries it (lower case).
_MEMBER_CERT = b"x-prefshare-member-cert"
#: The kiosk's route (gateway/routes/suggestions.py), matched before routing.
_SUGGESTIONS = re.compile(r"^/v1/stores/[^/]+/customers/[^/]+/suggestions/?$")


class RateLimited(ApiError):
    status, code = 429, "RATE_LIMITED"


class TooManyInFlight(ApiError):
    status, code = 429, "TOO_MANY_IN_FLIGHT"


class Overloaded(ApiError):
    status, code = 503, "OVERLOADED"


class UriTooLong(ApiError):
    status, code = 414, "URI_TOO_LONG"


class HeadTooLarge(ApiError):
    status, code = 431, "REQUEST_HEAD_TOO_LARGE"


@dataclass(frozen=True)
class LimitSettings:
    """The limits, in the `limits` library's notation (``"20/second"``, ``"5/minute"``)."""

    rate_per_address: str
    rate_per_credential: str
    rate_registrations_per_address: str
    rate_registrations: str
    max_in_flight_per_credential: int
    max_in_flight: int
    rate_per_member: str
    max_in_flight_per_member: int
    max_url_bytes: int
    max_head_bytes: int
    rate_suggestions_per_credential: str = "1000000/second"
    rate_limited_delay_s: float = 0.0


def credential_key_id(scope: Scope) -> str | None:
    """The key id of a ``Bearer psk_...`` credential in the request, unchecked; None without.

    >>> credential_key_id({"headers": [(b"authorization", b"Bearer psk_0123456789abcdef.x")]})
    '0123456789abcdef'
    """
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            m = _KEY_ID.match(value)
            return m.group(1).decode() if m else None
    return None


def member_key(scope: Scope) -> str | None:
    """A short digest of the certificate a member read sends, unchecked; None elsewhere.

    >>> member_key({"path": "/v1/members/shared-events",
    ...             "headers": [(b"x-prefshare-member-cert", b"TUlJQg==")]})
    '5421030da0b244ca'
    """
    if not scope["path"].startswith(MEMBER_PATHS):
        return None
    for name, value in scope.get("headers", ()):
        if name == _MEMBER_CERT:
            return hashlib.sha256(value).hexdigest()[:16]
    return None


class RequestLimits:
    """The ASGI middleware described in the module's docstring."""

    def __init__(self, app: ASGIApp, limits: LimitSettings,
                 shared: SharedStorage | None = None) -> None:
        self.app, self.settings = app, limits
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        # Workers and replicas count together here when given (PostgreSQL); fixed windows,
        # the one strategy a plain counter per key carries in one atomic statement.
        self._shared = None if shared is None else SharedWindows(shared)
        self._per_address = parse(limits.rate_per_address)
        self._per_credential = parse(limits.rate_per_credential)
        self._registrations_per_address = parse(limits.rate_registrations_per_address)
        self._registrations = parse(limits.rate_registrations)
        self._per_member = parse(limits.rate_per_member)
        self._suggestions_per_credential = parse(limits.rate_suggestions_per_credential)
        # Only touched from the event loop's thread: no lock needed.
        self._in_flight: Counter[str] = Counter()
        self._total_in_flight = 0

    async def _over(self, item: RateLimitItem, *key: str) -> int | None:
        """None when the hit is allowed; else the seconds until it would be (>= 1).

        Raises DatabaseUnavailable when shared counters do not answer."""
        if self._shared is not None:
            if await self._shared.hit(item, *key):
                return None
            reset = (await self._shared.get_window_stats(item, *key)).reset_time
        elif self._limiter.hit(item, *key):
            return None
        else:
            reset = self._limiter.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def _oversized(self, scope: Scope) -> ApiError | None:
        path = scope["path"]
        url = len(scope.get("raw_path") or path.encode()) + len(scope.get("query_string", b""))
        head = url + sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
        if head > self.settings.max_head_bytes:
            return HeadTooLarge("the request line and headers are over the gateway's limit")
        if url > self.settings.max_url_bytes:
            return UriTooLong(f"the URL is over {self.settings.max_url_bytes} bytes")
        return None

    async def _refusal(self, scope: Scope, key_id: str | None, member: str | None
                       ) -> ApiError | None:
        path, method = scope["path"], scope["method"]
        address = (scope.get("client") or ("unknown", 0))[0]
        checks: list[tuple[RateLimitItem, tuple[str, ...], str]] = [
            (self._per_address, ("address", address), "address")]
        if key_id is not None:
            checks.append((self._per_credential, ("credential", key_id), "credential"))
            if method == "GET" and _SUGGESTIONS.match(path):
                checks.append((self._suggestions_per_credential, ("suggestions", key_id),
                               "suggestions_per_credential"))
        if member is not None:
            checks.append((self._per_member, ("member", member), "member"))
        if method == "POST" and path.rstrip("/") == "/v1/customers":
            checks += [(self._registrations_per_address, ("registration", address),
                        "registrations_per_address"),
                       (self._registrations, ("registration",), "registrations")]
        for item, key, name in checks:
            wait = await self._over(item, *key)
            if wait is not None:
                return RateLimited("too many requests; retry after the Retry-After seconds",
                                   details={"limit": name, "retry_after_s": wait})
        if key_id is not None and \
                self._in_flight[key_id] >= self.settings.max_in_flight_per_credential:
            return TooManyInFlight("this credential has too many requests in flight",
                                   details={"retry_after_s": 1})
        if member is not None and \
                self._in_flight["member:" + member] >= self.settings.max_in_flight_per_member:
            return TooManyInFlight("this member has too many requests in flight",
                                   details={"retry_after_s": 1})
        if self._total_in_flight >= self.settings.max_in_flight:
            return Overloaded("the gateway is busy; retry later", details={"retry_after_s": 1})
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key_id, member = credential_key_id(scope), member_key(scope)
        refusal = self._oversized(scope)
        if refusal is None and scope["path"] not in UNLIMITED_PATHS:
            try:
                refusal = await self._refusal(scope, key_id, member)
            except DatabaseUnavailable as exc:
                refusal = exc
        elif refusal is None:
            await self.app(scope, receive, send)
            return
        if refusal is not None:
            if isinstance(refusal, RateLimited) and self.settings.rate_limited_delay_s > 0:
                await asyncio.sleep(min(self.settings.rate_limited_delay_s,
                                        refusal.details["retry_after_s"]))
            response = to_response(refusal)
            if refusal.status in (429, 503):
                wait = (refusal.details or {}).get("retry_after_s", 1)
                response.headers["Retry-After"] = str(wait)
            await response(scope, receive, send)
            return
        slot = key_id or ("member:" + member if member is not None else "")
        self._in_flight[slot] += 1
        self._total_in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._total_in_flight -= 1
            self._in_flight[slot] -= 1
            if self._in_flight[slot] <= 0:
                del self._in_flight[slot]
