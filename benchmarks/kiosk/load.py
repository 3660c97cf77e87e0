"""Kiosk suggestions over HTTPS under an offered load, the ledger in the loop, beside a bare
FastAPI endpoint served the same way: the library of :mod:`benchmarks.kiosk.cli`.

- :func:`prepare_world`: a retailer's catalogue (the demo world's), customers registered with
  customer-signed consents naming the serving retailer, their purchases recorded as private
  data at another retailer, and a small model trained as the gateway's training job would
  (on the records the serving retailer may read), all through the client library.
- :func:`serve`: a server in a process of its own (:mod:`benchmarks.kiosk.server`), the
  retailer's gateway or the bare endpoint, over the gateway's TLS pair on loopback.
- :func:`open_loop`: an open-loop load generator: requests are *scheduled* at the offered
  rate for a bounded time and each latency is measured from its scheduled time, so a server
  that falls behind shows as latency (and as achieved < offered), not as a slower client.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.ledger.calls import percentile, register
from chaincode.canonical import b64url_encode
from chaincode.fields import format_timestamp
from chaincode.provenance import hash_consent_set
from demo.wallet import DemoCustomer
from gateway.ledger import ConsortiumLedger
from gateway.settings import GatewaySettings
from network.procstat import cpu_seconds
from recommender.catalogue import Catalogue
from recommender.config import ModelConfig
from recommender.datasets.demo_inputs import catalogue_from_world
from recommender.datasets.demo_world import World, WorldConfig, generate_world
from recommender.training import train_retailer_model

#: The checkout holding benchmarks/ (the server process imports it from there).
CHECKOUT = Path(__file__).resolve().parents[2]
#: A small model: the fit takes a fraction of a second (the suggestion path's cost does not
#: depend much on its size; docs/recommender.md has the served model's own figures).
BENCH_MODEL = ModelConfig(no_components=8, epochs=3, seed=1)
CATEGORIES = ("purchases", "views")


@dataclass(frozen=True)
class BenchWorld:
    """What the kiosk load asks about: the catalogue, the customers, the serving stores."""

    catalogue: Catalogue
    customers: tuple[DemoCustomer, ...]
    stores: tuple[str, ...]
    model_id: str


def demo_world(msp_ids: Sequence[str], seed: int = 3) -> World:
    """The small demo world whose retailers are the consortium's members (by MSP id)."""
    ids = tuple(msp_ids)
    return generate_world(WorldConfig(seed=seed, retailer_ids=ids, retailer_names=ids,
                                      items_per_retailer=60, customers=30))


def purchases_at(writer_msp: str, catalogue: Catalogue, customers: Sequence[DemoCustomer],
                 per_customer: int, rng: random.Random) -> list[dict[str, Any]]:
    """``per_customer`` purchases of each customer at ``writer_msp``'s stores (items its
    stores stock), each with its own id and random salt, as a store's till sends them."""
    when = format_timestamp(datetime.now(UTC) - timedelta(minutes=2))
    stores = catalogue.stores(writer_msp)
    out = []
    for customer in customers:
        store = rng.choice(stores)
        for item in rng.sample(list(catalogue.items_in_store(store)), per_customer):
            out.append({
                "event_id": f"kb-{os.urandom(8).hex()}", "customer_id": customer.customer_id,
                "retailer": writer_msp, "item_id": item,
                "item_category": catalogue.entry(item).category, "event_type": "purchase",
                "value": 1, "store_id": store, "timestamp": when,
                "salt": b64url_encode(os.urandom(16)),
            })
    return out


def prepare_world(serving: ConsortiumLedger, writer: ConsortiumLedger, channel: str,
                  data_dir: Path, *, customers: int, events_per_customer: int,
                  members: Sequence[str], seed: int = 3) -> BenchWorld:
    """Write the serving gateway's catalogue and model into ``data_dir`` and the customers
    to the ledger: registered (through ``serving``), each consenting to the serving retailer
    for personalisation of her purchases and views, her purchases recorded at ``writer``'s
    stores (through ``writer``). The model is trained on what the serving retailer may read:
    the demo world's events and those purchases.

    Raises the client library's errors when a write fails.
    """
    rng = random.Random(seed)
    world = demo_world(members, seed)
    catalogue = catalogue_from_world(world)
    (data_dir / "catalogue.json").write_text(catalogue.to_json(), encoding="utf-8")
    people = tuple(DemoCustomer.new() for _ in range(customers))
    register(serving, people)
    statements = [c.grant([serving.msp_id], categories=CATEGORIES) for c in people]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(serving.submit_consent, statements))
    events = purchases_at(writer.msp_id, catalogue, people, events_per_customer, rng)
    # A batch updates each of its customers' event index: batches in flight share none.
    per_batch = max(1, 200 // events_per_customer) * events_per_customer
    batches = [events[i:i + per_batch] for i in range(0, len(events), per_batch)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(writer.record_events, batches))
    consents = {(s["customer_id"], s["consent_id"], 1) for s in statements}
    provenance = train_retailer_model(
        serving.msp_id, [*world.events, *events], catalogue, output_dir=data_dir / "model",
        block_height=serving.block_height(channel), consent_set_hash=hash_consent_set(consents),
        config=BENCH_MODEL, evaluation_fraction=0.0)
    return BenchWorld(catalogue, people, catalogue.stores(serving.msp_id),
                      str(provenance["model_id"]))


# -- servers ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Server:
    """A server process on loopback, its URL and a TLS context that trusts it."""

    kind: str
    process: subprocess.Popen[bytes]
    base_url: str
    trust: ssl.SSLContext

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def serve(kind: str, settings: GatewaySettings, root_ca: Path, work_dir: Path, *,
          ready_path: str, start_timeout_s: float = 90.0,
          name: str | None = None) -> Iterator[Server]:
    """Start ``python -m benchmarks.kiosk.server KIND`` with ``settings`` and wait until
    ``ready_path`` answers 200; stop it (SIGTERM, then SIGKILL after 10 s) on leaving.
    Its output goes to ``work_dir/NAME.log`` (``name`` defaults to ``kind``).

    Raises RuntimeError when it exits or does not answer in time (naming its log).
    """
    name = name or kind
    settings_file = work_dir / f"{name}-settings.json"
    values = settings.model_dump(mode="json")
    if settings.database_url is not None:  # a secret: dumped masked unless revealed here
        values["database_url"] = settings.database_url.get_secret_value()
    settings_file.touch(mode=0o600)
    settings_file.write_text(json.dumps(values), encoding="utf-8")
    log_path = work_dir / f"{name}.log"
    trust = ssl.create_default_context(cafile=str(root_ca))
    base_url = f"https://{settings.http_host}:{settings.http_port}"
    with log_path.open("wb") as log:
        # BLAS on one thread, as `make run` starts the gateways: multi-threaded OpenBLAS
        # on 2 cores makes each scoring several times slower (docs/recommender.md).
        # benchmarks/ is run from the checkout, not installed: the server finds it there.
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT),
                                                           os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.kiosk.server", kind,
             "--settings", str(settings_file)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the {name} server exited ({process.returncode}); "
                                   f"see {log_path}")
            try:
                if httpx.get(base_url + ready_path, verify=trust, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {name} server did not answer in "
                                   f"{start_timeout_s:.0f} s; see {log_path}")
            time.sleep(0.2)
        yield Server(kind, process, base_url, trust)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- load ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class RunResult:
    """One open-loop run against one endpoint; latencies in milliseconds."""

    endpoint: str
    offered_per_s: float
    duration_s: float
    sent: int
    ok: int
    errors: int
    achieved_per_s: float
    p50_ms: float
    p99_ms: float
    #: CPU seconds the server process used during the run, per second of the run (1.0 =
    #: one core busy); None when it could not be read.
    server_cores: float | None
    #: The same for this load generator's process (when it nears 1.0, the client is the
    #: bottleneck, not the server).
    client_cores: float | None = None
    #: Share of the gateway's consent-cache lookups answered from the cache during the run
    #: (None when the server reports no cache).
    cache_hit_share: float | None = None

    def row(self) -> str:
        cores = "-" if self.server_cores is None else f"{self.server_cores:.2f}"
        client = "-" if self.client_cores is None else f"{self.client_cores:.2f}"
        hits = "-" if self.cache_hit_share is None else f"{self.cache_hit_share:.0%}"
        return (f"| {self.endpoint} | {self.offered_per_s:.0f} | {self.achieved_per_s:.0f} | "
                f"{self.p50_ms:.1f} | {self.p99_ms:.1f} | {self.errors} | {cores} | {client} | "
                f"{hits} |")


TABLE_HEADER = ("| endpoint | offered/s | achieved/s | p50 ms | p99 ms | errors | "
                "server cores | client cores | cache hits |")
TABLE_RULE = "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"


async def _open_loop(server: Server, requests: Sequence[Request], rate: float,
                     timeout_s: float, connections: int
                     ) -> tuple[list[tuple[float, float, bool]], float]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    samples: list[tuple[float, float, bool]] = []
    async with httpx.AsyncClient(base_url=server.base_url, verify=server.trust, limits=limits,
                                 timeout=timeout_s) as client:

        # Requests beyond the pool wait here, not in httpcore's pool queue, whose handling
        # grows with the queue's length and would make the client the bottleneck.
        slots = asyncio.Semaphore(connections)

        async def one(request: Request, scheduled: float) -> None:
            try:
                async with slots:
                    response = await client.get(request.path, headers=request.headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            samples.append((scheduled, time.perf_counter(), ok))

        # Open the pool's connections before the clock starts (TLS handshakes are no part
        # of a kiosk's steady state).
        await asyncio.gather(*(client.get(requests[0].path, headers=requests[0].headers)
                               for _ in range(connections)))
        start = time.perf_counter() + 0.05
        tasks = []
        for i, request in enumerate(requests):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(request, scheduled)))
        _, pending = await asyncio.wait(tasks, timeout=timeout_s + 1)
        for task in pending:
            task.cancel()
    return samples, start


def open_loop(server: Server, requests: Sequence[Request], endpoint: str, rate: float,
              duration_s: float, *, timeout_s: float = 5.0, connections: int = 8,
              cache_stats: Callable[[], tuple[int, int] | None] | None = None) -> RunResult:
    """Send ``rate * duration_s`` requests (cycling through ``requests``) at ``rate`` per
    second and summarise them. A request that fails, times out (``timeout_s``) or answers
    other than 200 is an error; p50/p99 are over the answered ones, measured from each
    request's scheduled time. ``cache_stats`` (hits, misses so far), read before and after,
    gives the run's cache hit share.

    Raises ValueError for a non-positive rate or duration, or no requests.
    """
    if rate <= 0 or duration_s <= 0 or not requests:
        raise ValueError("rate and duration must be positive and requests non-empty")
    count = max(1, round(rate * duration_s))
    plan = [requests[i % len(requests)] for i in range(count)]
    cpu_before, client_before = tree_cpu_seconds(server.pid), cpu_seconds(os.getpid())
    cache_before = cache_stats() if cache_stats else None
    samples, start = asyncio.run(_open_loop(server, plan, rate, timeout_s, connections))
    cpu_after, client_after = tree_cpu_seconds(server.pid), cpu_seconds(os.getpid())
    cache_after = cache_stats() if cache_stats else None
    answered = [(done - scheduled) * 1000 for scheduled, done, ok in samples if ok]
    ok = len(answered)
    last = max((done for _, done, _ in samples), default=start + duration_s)
    wall = max(last - start, duration_s)
    cores = None
    if cpu_before is not None and cpu_after is not None:
        cores = (cpu_after - cpu_before) / wall
    client = None
    if client_before is not None and client_after is not None:
        client = (client_after - client_before) / wall
    hit_share = None
    if cache_before is not None and cache_after is not None:
        hits = cache_after[0] - cache_before[0]
        lookups = hits + cache_after[1] - cache_before[1]
        hit_share = hits / lookups if lookups else None
    return RunResult(
        endpoint, rate, duration_s, count, ok, count - ok, ok / wall,
        percentile(answered, 50) if answered else float("nan"),
        percentile(answered, 99) if answered else float("nan"), cores, client, hit_share)


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds of ``pid`` and its live descendants (a gateway's worker processes)."""
    own = cpu_seconds(pid)
    if own is None:
        return None
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return own + sum(tree_cpu_seconds(int(c)) or 0.0 for c in children)


def kiosk_requests(world: BenchWorld, credentials: dict[str, str], n: int, count: int,
                   seed: int = 7) -> list[Request]:
    """``count`` suggestion requests: a random customer at a random store of the retailer,
    with that store's credential."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        store = rng.choice(world.stores)
        customer = rng.choice(world.customers)
        out.append(Request(f"/v1/stores/{store}/customers/{customer.customer_id}/suggestions"
                           f"?n={n}", {"Authorization": f"Bearer {credentials[store]}"}))
    return out


_CACHE_LINE = re.compile(r'^prefshare_consent_cache_lookups_total\{result="(hit|miss)"\} (\S+)$')


def gateway_cache_stats(server: Server) -> tuple[int, int] | None:
    """(hits, misses) of the gateway's consent cache from its ``/metrics``, or None when it
    reports none."""
    text = httpx.get(server.base_url + "/metrics", verify=server.trust, timeout=5).text
    found: dict[str, int] = {}
    for line in text.splitlines():
        m = _CACHE_LINE.match(line)
        if m:
            found[m.group(1)] = int(float(m.group(2)))
    if not found:
        return None
    return found.get("hit", 0), found.get("miss", 0)


def table(results: Sequence[RunResult]) -> list[str]:
    """The Markdown table and the throughput ratio line."""
    lines = [TABLE_HEADER, TABLE_RULE, *(r.row() for r in results)]
    best: dict[str, float] = {}
    for r in results:
        best[r.endpoint] = max(best.get(r.endpoint, 0.0), r.achieved_per_s)
    bare = best.get("bare endpoint")
    kiosks = [e for e in best if e.startswith("kiosk suggestions")]
    if kiosks and bare:
        lines.append("")
        for endpoint in kiosks:
            kiosk = best[endpoint]
            lines.append(f"Throughput ratio (max achieved {endpoint} / max achieved bare): "
                         f"{kiosk:.0f} / {bare:.0f} = {kiosk / bare:.2f}")
    return lines
