"""Kiosk suggestions over HTTPS at fixed offered rates, beside a bare FastAPI endpoint:
``python -m benchmarks.kiosk`` (``make bench-kiosk``).

Against a running network (it never starts or stops one; exit 1 with one line when it is not
healthy): prepares a retailer's world through the client library (the demo catalogue,
``--customers`` customers registered with customer-signed consents to the retailer and
``--events`` purchases each recorded at another retailer, a small model trained on what the
retailer may read), then starts every other member's gateway (the owners that serve it her
events under her consent, each at offset 88 of its port block) and the retailer's gateway as
real HTTPS servers in processes of their own (fresh data folders; the serving one at
``--gateway-port``), and a bare FastAPI endpoint over the
same TLS pair (``--bare-port``), and at each ``--rates`` level offers the load for
``--duration`` seconds to each: first the bare endpoint, then the kiosk route. Each kiosk
request is a random customer at a random store of the retailer, with that store's credential.

Load goes to 127.0.0.1 only, bounded in count (rate x duration) and time (``--timeout`` per
request). Prints a Markdown table (offered, achieved, p50, p99, errors, the server process's
CPU in cores, the gateway's consent-cache hit share) and the throughput ratio.

``--workers 1,2`` measures the serving gateway once per count, one after the other in the
same run: one process on its embedded SQLite, and N worker processes sharing a throwaway
PostgreSQL the benchmark starts (network/postgres.py) or ``--database-url``'s. With several
workers the cache hit share is one worker's (``/metrics`` is per process).

``--hostile`` adds a hostile-background run (benchmarks/kiosk/hostile.py): a one-worker
gateway with the default rate limits, the kiosk load at ``--hostile-rate`` (10 kiosks a
store, each with a credential of its own) first alone, then while slow connections and a
flooding store credential attack the same gateway from other loopback addresses; the rows
and a line on what the attack sent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.kiosk.hostile import Attack, AttackReport, hostile
from benchmarks.kiosk.load import (
    BenchWorld,
    Request,
    RunResult,
    Server,
    gateway_cache_stats,
    kiosk_requests,
    open_loop,
    prepare_world,
    serve,
    table,
)
from benchmarks.kiosk.server import BARE_PATH
from demo.gateway_settings import gateway_settings
from gateway.ledger import open_ledger
from gateway.settings import GatewaySettings
from gateway.shared_state import open_shared_state
from network.arguments import add_network_arguments, running_network
from network.description import Consortium
from network.errors import NetworkError
from network.layout import RunLayout
from network.postgres import LocalPostgres, PostgresFailed, PostgresUnavailable

#: The load comes from one address and a few store credentials, standing in for many kiosks
#: at many addresses: the per-address and per-credential rates (gateway/limits.py, sized for
#: one client) would measure the limiter, not the route. Every other limit stays as set.
LOAD_RATES = {"rate_per_address": "1000000/second", "rate_per_credential": "1000000/second",
              "rate_suggestions_per_credential": "1000000/second"}
#: The hostile run's well-behaved load: each store's kiosks, each with a credential of its own.
KIOSKS_PER_STORE = 10

#: Default ports: offsets in each retailer's port block that the port plan leaves free (the
#: serving gateway and the other members' gateways at GATEWAY_PORT_OFFSET of their blocks).
GATEWAY_PORT_OFFSET, BARE_PORT_OFFSET = 88, 89


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.kiosk",
                                description=__doc__.splitlines()[0])
    add_network_arguments(p, binaries=True)
    p.add_argument("--retailer", default="northwind", help="the serving retailer")
    p.add_argument("--writer", default=None,
                   help="the retailer whose stores recorded the purchases (default: the "
                        "next one in the description)")
    p.add_argument("--rates", default="100,300,600", help="offered requests/s, comma-separated")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    p.add_argument("--warmup", type=float, default=2.0,
                   help="seconds at the lowest rate before the first measured run")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    p.add_argument("--connections", type=int, default=8,
                   help="keep-alive connections (kiosks); more than a few make the Python "
                        "client, not the server, the bottleneck on 2 cores")
    p.add_argument("--customers", type=int, default=100)
    p.add_argument("--events", type=int, default=4, help="purchases per customer")
    p.add_argument("--n", type=int, default=10, help="suggestions per request")
    p.add_argument("--cache-ttl", type=float, default=30.0,
                   help="the gateway's suggestion_cache_ttl_s (0: read the ledger per request)")
    p.add_argument("--workers", default="1",
                   help="gateway worker counts to measure, comma-separated (1: SQLite; more: "
                        "PostgreSQL)")
    p.add_argument("--database-url", default=None,
                   help="PostgreSQL for the multi-worker runs (default: a throwaway one)")
    p.add_argument("--hostile", action="store_true",
                   help="also measure the kiosk alone and under slow connections and a "
                        "flooding credential, on a gateway with the default rate limits")
    p.add_argument("--hostile-rate", type=float, default=100.0,
                   help="the well-behaved kiosk's offered requests/s in the hostile run")
    p.add_argument("--slow-connections", type=int, default=64,
                   help="slow connections the hostile run holds open")
    p.add_argument("--flood-connections", type=int, default=8,
                   help="connections of the hostile run's flooding credential")
    p.add_argument("--gateway-port", type=int, default=None)
    p.add_argument("--bare-port", type=int, default=None)
    return p


def run(args: argparse.Namespace, consortium: Consortium, layout: RunLayout) -> list[str]:
    """Prepare, serve, load; the lines to print. Raises RuntimeError when a server does not
    start, and the client library's errors when the world cannot be written."""
    names = [r.name for r in consortium.retailers]
    if args.retailer not in names:
        raise ValueError(f"no retailer named {args.retailer!r} in the consortium")
    writer_name = args.writer or names[(names.index(args.retailer) + 1) % len(names)]
    serving_retailer = consortium.retailers[names.index(args.retailer)]
    block = consortium.block_of(consortium.retailer_index(serving_retailer))
    rates = [float(x) for x in args.rates.split(",")]
    workers = [int(x) for x in args.workers.split(",")]
    if not workers or any(not 1 <= w <= 64 for w in workers):
        raise ValueError("--workers takes counts from 1 to 64")
    members = tuple(r.msp_id for r in consortium.retailers)
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        work = Path(tmp)
        data_dir = work / "gateway"
        data_dir.mkdir()
        settings = gateway_settings(
            consortium, args.retailer, layout, data_dir=data_dir,
            http_port=args.gateway_port or block + GATEWAY_PORT_OFFSET)
        writer_settings = gateway_settings(consortium, writer_name, layout,
                                                data_dir=work / "writer")
        serving, writer = open_ledger(settings), open_ledger(writer_settings)
        try:
            world = prepare_world(serving.ledger, writer.ledger, consortium.channel, data_dir,
                                  customers=args.customers, events_per_customer=args.events,
                                  members=members)
        finally:
            writer.close()
            serving.close()
        # Settings again, now that the catalogue is in the data folder.
        settings = gateway_settings(consortium, args.retailer, layout, data_dir=data_dir,
                                    http_port=settings.http_port,
                                    suggestion_cache_ttl_s=args.cache_ttl, **LOAD_RATES)
        bare_settings = settings.model_copy(
            update={"http_port": args.bare_port or block + BARE_PORT_OFFSET})
        root_ca = layout.ca_root_cert(args.retailer)
        results: list[RunResult] = []
        with ExitStack() as stack:
            database_url = args.database_url
            if database_url is None and any(w > 1 for w in workers):
                database_url = stack.enter_context(LocalPostgres.start()).url
            # Every other member's gateway, which serves the serving one her events it holds
            # under her consent: the kiosk's read fans out to them (docs/chaincode.md).
            owners: dict[str, str] = {}
            for other in consortium.retailers:
                if other.name == args.retailer:
                    continue
                port = (consortium.block_of(consortium.retailer_index(other))
                        + GATEWAY_PORT_OFFSET)
                owner = gateway_settings(consortium, other.name, layout,
                                         data_dir=work / other.name, http_port=port)
                stack.enter_context(serve("gateway", owner, layout.ca_root_cert(other.name),
                                          work, ready_path="/healthz", name=other.name))
                owners[other.msp_id] = f"https://{owner.http_host}:{port}"
            settings = settings.model_copy(update={"members": tuple(
                m.model_copy(update={"url": owners[m.msp_id]}) for m in settings.members)})
            bare = stack.enter_context(
                serve("bare", bare_settings, root_ca, work, ready_path=BARE_PATH))
            bare_requests = [Request(BARE_PATH, {})]
            if args.warmup > 0:
                open_loop(bare, bare_requests, "warm-up", min(rates), args.warmup)
            for rate in rates:
                results.append(_run(bare, bare_requests, "bare endpoint", rate, args))
            for count in workers:
                results += _measure_gateway(
                    _with_workers(settings, count, database_url), world, root_ca, work,
                    rates, args)
            attacks: list[AttackReport] = []
            if args.hostile:
                defaults = {name: GatewaySettings.model_fields[name].default
                            for name in LOAD_RATES}
                rows, attacks = _measure_hostile(settings.model_copy(update=defaults), world,
                                                 root_ca, work, args)
                results += rows
    header = (f"{args.retailer}'s kiosk route (`GET /v1/stores/{{store}}/customers/{{id}}/"
              f"suggestions?n={args.n}`, {args.customers} customers with consents and "
              f"{args.events} purchases each at {writer_name}, read through its gateway under her "
              f"consent, model {world.model_id}, "
              f"suggestion cache TTL {args.cache_ttl:g} s) and "
              f"a bare FastAPI endpoint, HTTPS on 127.0.0.1, {args.duration:g} s per rate, "
              f"open loop (latency from each request's scheduled time):")
    said = [line for attack in attacks for line in ("", attack.line())]
    return [header, "", *table(results), *said]


def _with_workers(settings: GatewaySettings, workers: int,
                  database_url: str | None) -> GatewaySettings:
    if workers == 1:
        return settings
    return GatewaySettings.model_validate(
        {**settings.model_dump(), "workers": workers, "database_url": database_url})


def _issue(settings: GatewaySettings, world: BenchWorld, *,
           kiosks: int) -> list[dict[str, str]]:
    """``kiosks`` sets of credentials, each with one credential per store issued in its
    store, in the gateway's own credential store (before the gateway starts)."""
    shared = open_shared_state(settings)
    try:
        return [{store: shared.credentials.issue(store) for store in world.stores}
                for _ in range(kiosks)]
    finally:
        shared.close()


def _measure_gateway(settings: GatewaySettings, world: BenchWorld, root_ca: Path, work: Path,
                     rates: list[float], args: argparse.Namespace) -> list[RunResult]:
    """The kiosk route at each rate on a gateway of ``settings.workers`` processes, with a
    credential per store issued in its store."""
    store_keys, = _issue(settings, world, kiosks=1)
    requests = kiosk_requests(world, store_keys, args.n, 4096)
    endpoint = ("kiosk suggestions (1 worker, SQLite)" if settings.workers == 1 else
                f"kiosk suggestions ({settings.workers} workers, PostgreSQL)")
    name = f"gateway-{settings.workers}w"
    with serve("gateway", settings, root_ca, work, ready_path="/healthz", name=name) as gateway:
        if args.warmup > 0:
            open_loop(gateway, requests, "warm-up", min(rates), args.warmup)
        return [_run(gateway, requests, endpoint, rate, args, cache=True) for rate in rates]


def _measure_hostile(settings: GatewaySettings, world: BenchWorld, root_ca: Path, work: Path,
                     args: argparse.Namespace) -> tuple[list[RunResult], list[AttackReport]]:
    """The kiosk at ``--hostile-rate`` on a one-worker gateway with the default rates, alone
    and then under attack (the attack starts a second before the measured run and ends with
    it). Raises RuntimeError when a server or the attack does not start."""
    *kiosks, flooding_keys = _issue(settings, world, kiosks=KIOSKS_PER_STORE + 1)
    flooding = flooding_keys[world.stores[0]]
    per_kiosk = [kiosk_requests(world, keys, args.n, 4096 // KIOSKS_PER_STORE, seed=7 + i)
                 for i, keys in enumerate(kiosks)]
    requests = [r for turn in zip(*per_kiosk, strict=True) for r in turn]
    rate = args.hostile_rate
    # Each run on a gateway of its own, warmed up the same way, so both start from the same
    # cache and neither sees its entries expire (the TTL is longer than a run).
    rows: list[RunResult] = []
    reports: list[AttackReport] = []
    for attacked in (False, True):
        with serve("gateway", settings, root_ca, work, ready_path="/healthz",
                   name=f"gateway-hostile-{int(attacked)}") as gateway:
            if args.warmup > 0:
                open_loop(gateway, requests, "warm-up", rate, args.warmup)
            if not attacked:
                rows.append(_run(gateway, requests, "kiosk, default limits, alone", rate,
                                 args))
                continue
            # The flooding credential asks for suggestions at its own store (valid requests).
            own = next(r.path for r in requests if r.path.startswith(
                f"/v1/stores/{world.stores[0]}/"))
            attack = Attack(gateway.base_url, str(root_ca), own, flooding,
                            slow=args.slow_connections, flood=args.flood_connections,
                            duration_s=args.duration + 1.0)
            with hostile(attack) as reports:
                time.sleep(1.0)
                rows.append(_run(gateway, requests, "kiosk, default limits, under attack",
                                 rate, args))
    return rows, reports


def _run(server: Server, requests: list[Request], endpoint: str, rate: float,
         args: argparse.Namespace, *, cache: bool = False) -> RunResult:
    stats = (lambda: gateway_cache_stats(server)) if cache else None
    return open_loop(server, requests, endpoint, rate, args.duration, timeout_s=args.timeout,
                     connections=args.connections, cache_stats=stats)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        net = running_network(args)
        lines = run(args, net.consortium, net.layout)
    except (NetworkError, ValueError, RuntimeError, PostgresUnavailable, PostgresFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0

