"""What a kiosk suggestion reads from the ledger about a customer, kept for a short while.

A suggestion needs her consents and the events this retailer may read (two evaluations on
the own peer) and writes an access-log entry (a submit endorsed by two peers): about 80% of
a suggestion's time in the gateway (docs/performance.md). :class:`CustomerCache` keeps that
read per customer so the rest of her kiosk session is answered without the ledger; the
access log gets one entry per read from the ledger, i.e. one per kiosk session, as the
chaincode asks (``chaincode/contract.py``, access logging).

When an entry stops being used (only hers: other customers' entries stay):

- **this gateway's own writes** about her (a consent statement, an erasure, an event
  batch) drop her entry synchronously once the ledger call returns, before the HTTP answer
  (``ConsortiumLedger.on_customer_write``): a withdrawal made through this gateway changes
  the very next suggestion;
- **events she got at another member**: that owner's gateway, once it recorded them, sends
  a signed notice naming only her id to each member her consents open them to
  (:mod:`gateway.notices`, ``POST /v1/members/notices``), which drops her entry here; her
  next suggestion reads the owner's events again and folds them in. Blocks cannot tell
  this: a client identity gets filtered blocks only, and those link no write to anyone
  (docs/chaincode.md, the trust model). Staleness bound: the notice's delivery (tens of
  milliseconds); a notice that is lost leaves at most ``ttl_s``, which is a freshness
  matter, not a consent one;
- **other gateways' consent changes** arrive as the chaincode's ``ConsentGranted`` /
  ``ConsentNarrowed`` / ``ConsentWithdrawn`` / ``CustomerErased`` events on the own peer's
  filtered blocks (:class:`ConsentEventWatcher`). A filtered block carries no event
  payload, so the event does not say whose consent changed: every entry is dropped (what
  she withdrew is never served after the own peer committed it, plus the milliseconds to
  the watcher). While the stream is not connected the cache is bypassed, and emptied on
  reconnect;
- **another worker or replica's writes** (gateway processes sharing a PostgreSQL database,
  docs/operations.md): the writing worker increments her generation there before it
  answers (:class:`SharedGenerations`), and every worker compares the generation it cached
  her read under with that row on each hit: the very next answer from any worker reads
  the ledger again. If the database does not answer, a hit counts as a miss;
- after ``ttl_s`` in any case.

A fill that raced with an invalidation is not stored (:meth:`CustomerCache.begin` hands out
the generation the read started under). Answers that are errors (unknown customer, ledger
unreachable) are never cached.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from chaincode.preferences import PreferenceEvent
from gateway.errors import DatabaseUnavailable
from gateway.fabric import Checkpoint, GatewayError, Network
from gateway.ledger import ConsortiumLedger
from gateway.ledger_records import ListedConsent

log = logging.getLogger(__name__)

#: The chaincode's events that change what a retailer may read about a customer.
CONSENT_EVENTS = frozenset({"ConsentGranted", "ConsentNarrowed", "ConsentWithdrawn",
                            "CustomerErased"})


@dataclass(frozen=True)
class CustomerRead:
    """Her consent records and her readable events (her own and what each owner served),
    as read together."""

    consents: tuple[ListedConsent, ...]
    events: tuple[PreferenceEvent, ...]


class SharedGenerations(Protocol):
    """Per-customer write counters every worker of a gateway sees
    (gateway/postgres/generations.py). Both raise DatabaseUnavailable."""

    def current(self, customer_id: str) -> int: ...

    def bump(self, customer_id: str) -> None: ...


class Ticket(NamedTuple):
    """What a read from the ledger started under (:meth:`CustomerCache.begin`)."""

    #: This process's generation (every entry dropped when it moves).
    local: int
    #: Her shared generation (-1: unknown, so the entry is never used).
    shared: int


class CustomerCache:
    """Customer id -> :class:`CustomerRead`, each kept at most ``ttl_s`` seconds, at most
    ``max_entries`` (the oldest fill is dropped first). Each entry's lifetime is drawn
    between ``(1 - ttl_jitter) * ttl_s`` and ``ttl_s``: entries filled together (a
    gateway's first minutes, a cleared cache) then expire spread out, not in one burst of
    ledger reads (measured: a 1.4 s stall of every kiosk answer 30 s after a warm-up,
    docs/performance.md). Thread-safe. Starts *suspended*
    (every lookup misses) until :meth:`resume`: the invalidating event stream is connected.

    With ``shared`` (worker processes sharing a database), a hit is used only while her
    shared generation is the one her read was cached under.

    Raises ValueError for a non-positive ``ttl_s`` or ``max_entries``.
    """

    def __init__(self, ttl_s: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic,
                 shared: SharedGenerations | None = None, ttl_jitter: float = 0.25) -> None:
        if ttl_s <= 0 or max_entries <= 0:
            raise ValueError("ttl_s and max_entries must be positive")
        if not 0 <= ttl_jitter < 1:
            raise ValueError("ttl_jitter is a share of ttl_s, from 0 to below 1")
        self.ttl_s, self.max_entries, self._clock = ttl_s, max_entries, clock
        self._jitter = ttl_jitter
        self._random = random.Random()
        self._shared = shared
        self._lock = threading.Lock()
        #: customer -> (expires at, her read, her shared generation then)
        self._entries: OrderedDict[str, tuple[float, CustomerRead, int]] = OrderedDict()
        #: customer -> (reads from the ledger under way, when the last began, whether she
        #: was invalidated meanwhile): such a read may predate the change, so it is not kept.
        self._pending: dict[str, tuple[int, float, bool]] = {}
        self._generation = 0
        self._live = False
        self.hits = 0
        self.misses = 0

    @property
    def live(self) -> bool:
        return self._live

    def get(self, customer_id: str) -> CustomerRead | None:
        """Her cached read if fresh and the cache is live; counts a hit or a miss."""
        with self._lock:
            found = self._entries.get(customer_id) if self._live else None
            if found is not None and self._clock() >= found[0]:
                del self._entries[customer_id]
                found = None
            if found is None:
                self.misses += 1
                return None
        if self._shared is not None and self._shared_generation(customer_id) != found[2]:
            with self._lock:
                if self._entries.get(customer_id) is found:
                    del self._entries[customer_id]
                self.misses += 1
            return None
        with self._lock:
            self.hits += 1
        return found[1]

    def _shared_generation(self, customer_id: str) -> int:
        assert self._shared is not None
        try:
            return self._shared.current(customer_id)
        except DatabaseUnavailable:
            return -1  # unknown: matches no entry, so the ledger is read

    def begin(self, customer_id: str) -> Ticket:
        """The generation a read of hers from the ledger starts under (pass it to
        :meth:`put`). An invalidation of her (or of everyone) before the put keeps the read
        from being stored; a read not followed by :meth:`put` is forgotten after
        ``ttl_s``."""
        shared = 0 if self._shared is None else self._shared_generation(customer_id)
        with self._lock:
            now = self._clock()
            for stale in [c for c, (_, t, _) in self._pending.items() if now - t >= self.ttl_s]:
                del self._pending[stale]
            count, _, dropped = self._pending.get(customer_id, (0, now, False))
            self._pending[customer_id] = (count + 1, now, dropped)
            return Ticket(self._generation, shared)

    def put(self, customer_id: str, read: CustomerRead, generation: Ticket) -> bool:
        """Keep ``read`` unless she (or everyone) was invalidated since :meth:`begin`
        returned ``generation``, or the cache is suspended; True when kept."""
        with self._lock:
            count, began, dropped = self._pending.pop(customer_id, (0, 0.0, False))
            if count > 1:
                self._pending[customer_id] = (count - 1, began, dropped)
            if not self._live or dropped or generation.local != self._generation \
                    or generation.shared < 0:
                return False
            self._entries.pop(customer_id, None)
            lifetime = self.ttl_s * (1 - self._jitter * self._random.random())
            self._entries[customer_id] = (self._clock() + lifetime, read, generation.shared)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return True

    def invalidate(self, customer_id: str) -> None:
        """Drop her entry, here and (with ``shared``) in every worker; a read of hers under
        way is not stored (other customers' reads under way are).

        Raises DatabaseUnavailable when the shared generation cannot be moved: the caller's
        answer must not claim the change is effective everywhere.
        """
        if self._shared is not None:
            self._shared.bump(customer_id)
        with self._lock:
            self._entries.pop(customer_id, None)
            if customer_id in self._pending:
                count, began, _ = self._pending[customer_id]
                self._pending[customer_id] = (count, began, True)

    def clear(self) -> None:
        """Drop every entry and every read under way (a change about someone unknown)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def suspend(self) -> None:
        """Empty the cache and bypass it until :meth:`resume` (the event stream is down)."""
        with self._lock:
            self._live = False
            self._generation += 1
            self._entries.clear()

    def resume(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._live = True

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class ConsentEventWatcher:
    """A daemon thread reading the chaincode's events from the own peer's filtered blocks
    and emptying ``cache`` on every consent or erasure event (see the module docstring).

    The stream starts at the channel's current height (read before the cache resumes, so
    no block between the two is missed) and after a failure resumes from its checkpoint,
    with the cache suspended until it is open again (retried every ``retry_s``).
    """

    def __init__(self, cache: CustomerCache, ledger: ConsortiumLedger, network: Network,
                 chaincode: str, *, retry_s: float = 1.0) -> None:
        self._cache, self._ledger, self._network = cache, ledger, network
        self._chaincode, self._retry_s = chaincode, retry_s
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._stream: Any = None
        self._thread = threading.Thread(target=self._run, name="consent-event-watcher",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        checkpoint: Checkpoint | None = None
        down = False
        while not self._stopped.is_set():
            self._cache.suspend()
            stream = None
            try:
                if checkpoint is None:
                    checkpoint = Checkpoint(self._ledger.block_height(self._network.name))
                stream = self._network.chaincode_events(self._chaincode, checkpoint=checkpoint)
                with self._lock:
                    self._stream = stream
                if self._stopped.is_set():
                    break
                self._cache.resume()
                if down:
                    log.info("consent event stream is back; suggestion cache in use")
                    down = False
                for event in stream:
                    if event.event_name in CONSENT_EVENTS:
                        self._cache.clear()
            except GatewayError as exc:
                # Unreachable peer, refused stream, broken stream: bypass the cache, retry
                # (said once per outage, not once per retry).
                if not down:
                    log.warning("consent event stream is down; suggestions read the ledger "
                                "until it is back", extra={"cause": type(exc).__name__})
                down = True
            finally:
                if stream is not None and stream.checkpoint is not None:
                    checkpoint = stream.checkpoint
            self._stopped.wait(self._retry_s)
        self._cache.suspend()
