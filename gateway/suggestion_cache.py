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
- **other gateways' writes** arrive in the own peer's full blocks
  (:class:`ConsentEventWatcher`, ``Network.committed_writes``): a ``ConsentGranted`` /
  ``ConsentNarrowed`` / ``ConsentWithdrawn`` / ``CustomerErased`` event names her in its
  payload; a batch of her events recorded by another member (private data: no event, the
  values are not in the block) shows as the SHA-256 of her event index key among the
  transaction's private write hashes, which the cache matches against the customers it
  holds (:func:`customer_key_hashes`). So her purchase at another member reaches this
  gateway's next suggestion for her once its own peer committed that block: no TTL wait.
  Staleness bound: an uncached read on the own peer sees the change once that peer
  committed its block; the cache adds the time from that commit to the block reaching the
  watcher (milliseconds on one host). While the stream is not connected the cache is
  bypassed, and emptied on reconnect; a consent event whose payload names nobody empties
  it;
- after ``ttl_s`` in any case.

A fill that raced with an invalidation is not stored (:meth:`CustomerCache.begin` hands out
the generation the read started under). Answers that are errors (unknown customer, ledger
unreachable) are never cached.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chaincode.preferences import event_index_key
from gateway.fabric import Checkpoint, CommittedWrite, GatewayError, Network
from gateway.ledger import ConsortiumLedger

log = logging.getLogger(__name__)

#: The chaincode's events that change what a retailer may read about a customer.
CONSENT_EVENTS = frozenset({"ConsentGranted", "ConsentNarrowed", "ConsentWithdrawn",
                            "CustomerErased"})


def customer_key_hashes(customer_id: str) -> tuple[bytes, ...]:
    """SHA-256 of the private data keys whose write means her read is stale: her event
    index, which the chaincode rewrites with every batch of her events (and with an
    erasure). A block shows a private key only as this hash (Fabric's hashed write set)."""
    return (hashlib.sha256(event_index_key(customer_id).render().encode("utf-8")).digest(),)


@dataclass(frozen=True)
class CustomerRead:
    """Her consent records and the ledger's ``ReadPreferences`` answer, as read together."""

    consents: list[dict[str, Any]]
    readable: dict[str, Any]


class CustomerCache:
    """Customer id -> :class:`CustomerRead`, each kept at most ``ttl_s`` seconds, at most
    ``max_entries`` (the oldest fill is dropped first). Thread-safe. Starts *suspended*
    (every lookup misses) until :meth:`resume`: the invalidating event stream is connected.

    ``key_hashes`` gives, per customer, the hashes of ledger keys whose write makes her
    entry stale (:meth:`invalidate_written`).

    Raises ValueError for a non-positive ``ttl_s`` or ``max_entries``.
    """

    def __init__(self, ttl_s: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic,
                 key_hashes: Callable[[str], Iterable[bytes]] = customer_key_hashes) -> None:
        if ttl_s <= 0 or max_entries <= 0:
            raise ValueError("ttl_s and max_entries must be positive")
        self.ttl_s, self.max_entries, self._clock = ttl_s, max_entries, clock
        self._key_hashes = key_hashes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, CustomerRead]] = OrderedDict()
        #: key hash -> the customer whose entry a write of that key makes stale.
        self._watched: dict[bytes, str] = {}
        #: customer -> (reads from the ledger under way, when the last began): a write about
        #: her committed meanwhile makes that read stale before it is stored.
        self._pending: dict[str, tuple[int, float]] = {}
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
            if found is not None and self._clock() - found[0] >= self.ttl_s:
                self._drop(customer_id)
                found = None
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            return found[1]

    def begin(self, customer_id: str | None = None) -> int:
        """The generation a read from the ledger starts under (pass it to :meth:`put`).
        Naming the customer lets a committed write about her (:meth:`invalidate_written`)
        keep the read from being stored; a read not followed by :meth:`put` is forgotten
        after ``ttl_s``."""
        with self._lock:
            if customer_id is not None:
                now = self._clock()
                for stale in [c for c, (_, t) in self._pending.items() if now - t >= self.ttl_s]:
                    del self._pending[stale]
                count = self._pending.get(customer_id, (0, now))[0]
                self._pending[customer_id] = (count + 1, now)
            return self._generation

    def watching(self) -> bool:
        """Whether a committed write could make anything here stale (an entry, or a read
        under way): when not, the block need not be read at all."""
        with self._lock:
            return self._live and bool(self._entries or self._pending)

    def put(self, customer_id: str, read: CustomerRead, generation: int) -> bool:
        """Keep ``read`` unless something was invalidated since :meth:`begin` returned
        ``generation``, or the cache is suspended; True when kept."""
        with self._lock:
            count, began = self._pending.pop(customer_id, (0, 0.0))
            if count > 1:
                self._pending[customer_id] = (count - 1, began)
            if not self._live or generation != self._generation:
                return False
            self._drop(customer_id)
            self._entries[customer_id] = (self._clock(), read)
            for key_hash in self._key_hashes(customer_id):
                self._watched[key_hash] = customer_id
            while len(self._entries) > self.max_entries:
                self._drop(next(iter(self._entries)))
            return True

    def _drop(self, customer_id: str) -> None:
        """Remove her entry and its watched key hashes (the lock is held)."""
        if self._entries.pop(customer_id, None) is not None:
            for key_hash in self._key_hashes(customer_id):
                if self._watched.get(key_hash) == customer_id:
                    del self._watched[key_hash]

    def invalidate(self, customer_id: str) -> None:
        """Drop her entry (and any fill under way for anyone: see :meth:`put`)."""
        with self._lock:
            self._generation += 1
            self._drop(customer_id)

    def invalidate_written(self, key_hashes: Iterable[bytes]) -> tuple[str, ...]:
        """Drop the entry of every customer one of whose watched keys was written (the
        hashes of a committed transaction's private writes); the customers dropped."""
        written = set(key_hashes)
        with self._lock:
            hit = {self._watched[h] for h in written if h in self._watched}
            reading = {c for c in self._pending if written.intersection(self._key_hashes(c))}
            if hit or reading:
                self._generation += 1  # a read of hers under way is not stored
                for customer_id in hit:
                    self._drop(customer_id)
            return tuple(sorted(hit | reading))

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._watched.clear()

    def suspend(self) -> None:
        """Empty the cache and bypass it until :meth:`resume` (the event stream is down)."""
        with self._lock:
            self._live = False
            self._generation += 1
            self._entries.clear()
            self._watched.clear()

    def resume(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._watched.clear()
            self._live = True

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def customer_named(payload: bytes) -> str | None:
    """The ``customer_id`` a consent or erasure event's JSON payload names, else None."""
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    found = value.get("customer_id") if isinstance(value, dict) else None
    return found if isinstance(found, str) and found else None


def apply_write(cache: CustomerCache, write: CommittedWrite) -> tuple[str, ...] | None:
    """Drop what one committed transaction made stale: the customer its consent or erasure
    event names, and every customer whose watched private key it wrote. Returns the
    customers dropped, or None when the cache was emptied (an event naming nobody)."""
    if write.event_name in CONSENT_EVENTS:
        customer = customer_named(write.payload)
        if customer is None:
            cache.clear()
            return None
        cache.invalidate(customer)
        return (customer, *cache.invalidate_written(write.private_key_hashes))
    return cache.invalidate_written(write.private_key_hashes)


class ConsentEventWatcher:
    """A daemon thread reading the chaincode's committed writes from the own peer's full
    blocks and dropping the entries they make stale (:func:`apply_write`; see the module
    docstring).

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
                stream = self._network.committed_writes(self._chaincode, checkpoint=checkpoint,
                                                        wanted=self._cache.watching)
                with self._lock:
                    self._stream = stream
                if self._stopped.is_set():
                    break
                self._cache.resume()
                if down:
                    log.info("consent event stream is back; suggestion cache in use")
                    down = False
                for write in stream:
                    apply_write(self._cache, write)
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
