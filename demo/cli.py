"""`prefshare-demo COMMAND` (or `python -m demo`): the demo consortium on the real network.

  run     network up, catalogues, the three gateways, the seeded ledger, one model per
          retailer; prints where to look, then stays up until Ctrl-C (which stops it all)
  down    stop the gateways and the network (data kept: a later run resumes it)
  status  the gateways' state, what was seeded, and again the URLs, kiosk store ids and
          credentials, and demo customers that `run` printed
  train   retrain every retailer's model now against the running demo and install each one
          that passes the gate (`make train`; the same path `run` trains with)

Each step prints what it did and how long it took; steps already done are reused, so a
second run starts the processes and prints the same demo credentials and customers.
Every failure is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from demo.api import ApiError, GatewayClient
from demo.gateways import Gateways
from demo.seed import plans, seed
from demo.state import DemoState
from demo.train import has_model, train_and_install
from demo.wallet import DemoCustomer
from demo.world import demo_world, world_config
from gateway.fabric.errors import GatewayError
from gateway.lifecycle import RetrainBusy
from network.arguments import add_network_arguments, consortium_from, layout_from, network_from
from network.control import Network
from network.description import Consortium
from network.errors import LedgerTooOld, NetworkError
from recommender.datasets.demo_inputs import catalogue_from_world
from recommender.datasets.demo_world import Customer, World

DEFAULT_SEED = 13
DEFAULT_CUSTOMERS = 200


class Steps:
    """Prints each step's result with its wall time."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self._last = self.began

    def done(self, what: str) -> None:
        now = time.monotonic()
        print(f"[{now - self.began:6.1f} s] {what} ({now - self._last:.1f} s)", flush=True)
        self._last = now


def _world(state: DemoState, consortium: Consortium, args: argparse.Namespace) -> World:
    seeded = state.seeded()
    if seeded is not None:  # the world the ledger holds, whatever the flags say now
        w = seeded["world"]
        return demo_world(world_config(consortium, seed=w["seed"], customers=w["customers"],
                                       start=w["start"]))
    return demo_world(world_config(consortium, seed=args.seed, customers=args.customers))


def _credentials(gateways: Gateways, state: DemoState,
                 stores: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each retailer's admin credential and its demo store's credential, issued once."""
    kept = state.credentials()
    for retailer, store in stores.items():
        entry = kept.get(retailer, {})
        if "admin" not in entry:
            entry["admin"] = gateways.admin_credential(retailer)
        if entry.get("store_id") != store:
            issued = gateways.client(retailer, entry["admin"]).post(
                f"/v1/admin/stores/{store}/credentials", idempotent=False)
            entry.update(store_id=store, store=issued["credential"])
        kept[retailer] = entry
    state.record_credentials(kept)
    return kept


def demo_customers(world: World, consortium: Consortium) -> dict[str, Customer]:
    """Per retailer, the customer to try at its kiosk: she shops there and elsewhere, shares
    her purchases and views with every member, and has the most events among such."""
    counts: dict[str, int] = {}
    for event in world.events:
        counts[event.customer_id] = counts.get(event.customer_id, 0) + 1
    chosen: dict[str, Customer] = {}
    taken: set[str] = set()
    for retailer in consortium.retailers:
        candidates = [c for c, plan in zip(world.customers, plans(world), strict=True)
                      if plan.name == "all-members" and len(c.retailers) > 1
                      and retailer.msp_id in c.retailers and c.customer_id not in taken]
        best = max(candidates, key=lambda c: counts.get(c.customer_id, 0))
        chosen[retailer.name] = best
        taken.add(best.customer_id)
    return chosen


def _train(gateways: Gateways, credentials: dict[str, dict[str, str]], steps: Steps,
           retailers: list[str] | None = None) -> int:
    """Retrain ``retailers`` (default: those without a model); the number refused."""
    todo = retailers if retailers is not None else \
        [r for r in gateways.retailers if not has_model(gateways.settings(r))]
    if not todo:
        steps.done("models: each retailer's installed model reused")
        return 0
    refused = 0
    for n, retailer in enumerate(todo, 1):
        print(f"training {retailer}'s model from the ledger ({n}/{len(todo)}) ...", flush=True)
        trained = train_and_install(gateways.settings(retailer),
                                    gateways.client(retailer, credentials[retailer]["admin"]))
        remaining = (len(todo) - n) * trained.seconds
        if trained.installed:
            steps.done(f"{retailer}: {trained.model_id} on {trained.records} ledger records, "
                       f"installed in {trained.seconds:.1f} s; about {remaining:.0f} s left")
        else:
            refused += 1
            steps.done(f"{retailer}: {trained.model_id} refused by the gate "
                       f"({', '.join(trained.refused)}); the previous model keeps serving")
    return refused


def _print_urls(gateways: Gateways, credentials: dict[str, dict[str, str]],
                credentials_file: Path, customers: dict[str, Customer],
                keys: dict[str, DemoCustomer], backups: dict[str, Path], world: World) -> None:
    """Per retailer: its pages' URLs, the kiosk store and where its credential is, the demo
    customer and her key backup."""
    names = {r.msp_id: r.name for r in gateways.consortium.retailers}
    for retailer in gateways.retailers:
        base = gateways.base_url(retailer)
        c = customers[retailer]
        cred = credentials[retailer]
        shops = ", ".join(names[m] for m in c.retailers)
        print(f"\n{retailer}")
        print(f"  consent portal   {base}/portal/")
        print(f"  kiosk            {base}/kiosk/")
        print(f"  operator page    {base}/operator/  (the admin credential)")
        print(f"  API docs         {base}/docs")
        print(f"  kiosk store      {cred['store_id']}  credential in {credentials_file} "
              f'(["{retailer}"]["store"])')
        print(f"  demo customer    {keys[c.customer_id].customer_id}  (shops at {shops}; "
              f"{len([e for e in world.events if e.customer_id == c.customer_id])} events)")
        print(f"  her key backup   {backups[retailer]}  (restore it in the portal)")
    print(f"\nThe credentials (each retailer's admin and kiosk store) are in {credentials_file},"
          " readable by you only; they are not printed here.")


def _calls(seeded: dict[str, Any]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in seeded["calls"].items())


def _run(args: argparse.Namespace) -> int:
    steps = Steps()
    consortium = consortium_from(args)
    network = network_from(args, consortium)
    try:
        network.up()
    except LedgerTooOld as exc:
        # The demo's ledger holds nothing but demo data: start it afresh and seed it again.
        print(f"demo: {exc}; starting a fresh demo ledger", flush=True)
        network.clean()
        network.up()
    steps.done("network: orderers, peers, channel and chaincode healthy")
    layout = network.layout
    state = DemoState(layout.root / "demo")
    gateways = Gateways(consortium, layout)
    world = _world(state, consortium, args)
    written = gateways.write_catalogues(catalogue_from_world(world))
    steps.done(f"catalogues: {len(written)} written, {3 - len(written)} kept "
               f"({len(world.items)} items, {len(world.stores)} stores)")
    started = gateways.start()
    steps.done(f"gateways: {len(started)} started, {3 - len(started)} already running")
    customers = demo_customers(world, consortium)
    msp_of = {r.name: r.msp_id for r in consortium.retailers}
    stores = {r: c.home_stores[c.retailers.index(msp_of[r])] for r, c in customers.items()}
    credentials = _credentials(gateways, state, stores)
    keys = state.customers([c.customer_id for c in world.customers])
    if state.seeded() is None:
        name_of = {r.msp_id: r.name for r in consortium.retailers}

        def client_of(retailer: str, admin: bool) -> GatewayClient:
            return gateways.client(retailer, credentials[retailer]["admin"] if admin else None)

        record = seed(world, keys, name_of, client_of, workers=args.workers)
        state.record_seeded(record)
        steps.done(f"ledger seeded through the gateways: {_calls(record)}")
    else:
        steps.done(f"ledger: seeded at {state.seeded()['seeded_at']}, reused")  # type: ignore[index]
    _train(gateways, credentials, steps)
    backups = {r: state.write_key_backup(keys[c.customer_id]) for r, c in customers.items()}
    print("\nThe demo consortium is running. Each gateway's TLS certificate is issued by its "
          "retailer's own CA\n(trust .run/orgs/<retailer>/ca/ca-cert.pem, or accept the "
          "browser's warning).")
    _print_urls(gateways, credentials, state.credentials_file, customers, keys, backups, world)
    print("\nStop with Ctrl-C here, or `make down` from another terminal.", flush=True)
    if args.no_wait:
        return 0
    return _wait(gateways, network)


def _wait(gateways: Gateways, network: Network) -> int:
    """Until Ctrl-C (stop everything) or `make down` (the gateways stop: just leave)."""

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Installed for SIGINT too: a shell that started us in the background made it ignored.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        while len(gateways.running()) == len(gateways.retailers):
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        _stop(gateways, network)
        return 0
    print("the gateways were stopped (make down); leaving", flush=True)
    return 0


def _stop(gateways: Gateways, network: Network) -> None:
    stopped = gateways.stop()
    for name in stopped:
        print(f"stopped {name}")
    network_stopped = network.down()
    for name in network_stopped:
        print(f"stopped {name}")
    if not stopped and not network_stopped:
        print("nothing was running")


def _retrain(args: argparse.Namespace) -> int:
    consortium = consortium_from(args)
    layout = layout_from(args)
    gateways = Gateways(consortium, layout)
    running = set(gateways.running())
    missing = [r for r in gateways.retailers if gateways.process(r) not in running]
    if missing:
        raise ValueError(f"the demo's gateways are not all running ({', '.join(missing)}): "
                         "start them with `make run`")
    credentials = DemoState(layout.root / "demo").credentials()
    if not set(gateways.retailers) <= set(credentials):
        raise ValueError("the demo was never seeded here: run `make run` first")
    steps = Steps()
    refused = _train(gateways, credentials, steps, list(gateways.retailers))
    return 0 if refused == 0 else 1


def _down(args: argparse.Namespace) -> int:
    consortium = consortium_from(args)
    network = network_from(args, consortium)
    _stop(Gateways(consortium, network.layout), network)
    return 0


def _status(args: argparse.Namespace) -> int:
    consortium = consortium_from(args)
    layout = layout_from(args)
    gateways = Gateways(consortium, layout)
    running = set(gateways.running())
    for retailer in gateways.retailers:
        name = gateways.process(retailer)
        print(f"{name:24} {'running' if name in running else 'stopped':8} "
              f"{gateways.base_url(retailer)}")
    state = DemoState(layout.root / "demo")
    seeded = state.seeded()
    if seeded is None:
        print("ledger not seeded (make run seeds it)")
        return 0
    print(f"ledger seeded at {seeded['seeded_at']}: {_calls(seeded)}")
    # The seeded world, its demo customers and what `make run` issued for them, reprinted.
    world = _world(state, consortium, args)
    customers = demo_customers(world, consortium)
    keys = state.customers([c.customer_id for c in world.customers])
    credentials = state.credentials()
    if set(credentials) >= set(customers):
        backups = {r: state.key_backup(keys[c.customer_id]) for r, c in customers.items()}
        _print_urls(gateways, credentials, state.credentials_file, customers, keys, backups,
                    world)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="prefshare-demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_arguments(p, binaries=True, builder=True)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start and seed the demo consortium, print its URLs")
    run.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                     help="customers of a new demo world (ignored once seeded)")
    run.add_argument("--seed", type=int, default=DEFAULT_SEED,
                     help="seed of a new demo world (ignored once seeded)")
    run.add_argument("--workers", type=int, default=12, help="concurrent seeding calls")
    run.add_argument("--no-wait", action="store_true", help="return once the URLs are printed")
    sub.add_parser("down", help="stop the gateways and the network, keep the data")
    sub.add_parser("status", help="the gateways and the seeding")
    sub.add_parser("train", help="retrain every retailer's model now; install each one that "
                                 "passes the gate")
    args = p.parse_args(argv)
    try:
        return {"run": _run, "down": _down, "status": _status,
                "train": _retrain}[args.command](args)
    except (NetworkError, GatewayError, ApiError, ValueError, OSError, RetrainBusy) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
