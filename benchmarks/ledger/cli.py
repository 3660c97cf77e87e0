"""Ledger figures on a running network: ``python -m benchmarks.ledger``
(``make bench-ledger``).

Connects as a retailer's gateway identity (settings from the consortium description and the
run folder, as ``python -m gateway`` does) and measures, in one run, through the client
library exactly as a gateway calls it:

- consent grants (customer-signed, verified by the chaincode, MAJORITY endorsement) submitted
  to commit at each ``--in-flight`` level: committed grants per second, p50/p99;
- preference events recorded as private data in batches of ``--batch``: events per second and
  a batch's commit latency;
- the consent-checked read of a customer's readable events (evaluate; she holds
  ``--reader-events``) p50/p99;
- CPU seconds used by each node of the network and by this load generator during the grant
  run at the highest level, so the bottleneck is named;
- with ``--restart``, the time of ``network-down`` then ``network-up`` (every node stopped,
  then started again until the chaincode answers on every peer with a Raft leader).

Every write is real. Prints Markdown tables; exit 1 with one line when no healthy network runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ledger.calls import (
    Summary,
    bench_evaluate,
    bench_events,
    bench_grants,
    bench_reads,
    event_batch,
    register,
)
from demo.gateway_settings import gateway_settings
from demo.wallet import DemoCustomer
from gateway.ledger import ConsortiumLedger, open_ledger
from network.arguments import add_network_arguments, running_network
from network.control import Network
from network.description import Consortium
from network.errors import NetworkError
from network.procstat import cpu_seconds

PURPOSE = "personalisation"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ledger",
                                description=__doc__.splitlines()[0])
    add_network_arguments(p, binaries=True)
    p.add_argument("--retailer", default="northwind")
    p.add_argument("--grants", type=int, default=600, help="grants per in-flight level")
    p.add_argument("--in-flight", default="8,32,64", help="comma-separated levels")
    p.add_argument("--batch", type=int, default=500, help="events per batch")
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--batches-in-flight", type=int, default=4)
    p.add_argument("--reads", type=int, default=400)
    p.add_argument("--reader-events", type=int, default=20,
                   help="events the read customer holds")
    p.add_argument("--customers", type=int, default=32)
    p.add_argument("--restart", action="store_true",
                   help="first time network-down then network-up of the running network")
    return p


def _table(rows: list[Summary], batch: int) -> list[str]:
    out = ["| call | in flight | n | p50 ms | p99 ms | mean ms | calls/s | items/s |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        items = r.per_second * (batch if r.name.startswith("record") else 1)
        out.append(f"{r.row()} {items:.0f} |")
    return out


def _cpu_table(before: dict[str, float], after: dict[str, float], wall: float,
               count: int) -> list[str]:
    out = ["| process | CPU s | share of 2 cores | CPU ms per grant |", "| --- | --- | --- | --- |"]
    used = {p: after[p] - before.get(p, 0.0) for p in after}
    for process, seconds in sorted(used.items(), key=lambda kv: -kv[1]):
        out.append(f"| {process} | {seconds:.2f} | {seconds / wall / 2:.0%} | "
                   f"{seconds / count * 1000:.2f} |")
    total = sum(used.values())
    out.append(f"| total | {total:.2f} | {total / wall / 2:.0%} | {total / count * 1000:.2f} |")
    return out


def _cpu_now(net: Network) -> dict[str, float]:
    found = net.cpu_seconds()
    me = cpu_seconds(os.getpid())
    if me is not None:
        found["load generator (client library)"] = me
    return found


def run(ledger: ConsortiumLedger, consortium: Consortium, net: Network,
        args: argparse.Namespace) -> list[str]:
    customers = [DemoCustomer.new() for _ in range(args.customers)]
    reader = customers[0]
    register(ledger, customers)
    recipients = [r.msp_id for r in consortium.retailers]
    ledger.submit_consent(reader.grant(recipients))
    rows: list[Summary] = []
    cpu_lines: list[str] = []
    levels = [int(x) for x in args.in_flight.split(",")]
    for level in levels:
        before, started = _cpu_now(net), time.monotonic()
        rows.append(bench_grants(ledger, customers[1:], recipients, args.grants, level))
        if level == max(levels):
            cpu_lines = _cpu_table(before, _cpu_now(net), time.monotonic() - started,
                                   args.grants)
    rows.append(bench_events(ledger, customers[1:], args.batch, args.batches,
                             args.batches_in_flight))
    # The read is of a customer with a kiosk's usual history, not of the bulk load.
    ledger.record_events(event_batch(ledger.msp_id, [reader], args.reader_events))
    for level in (1, 8):
        other = next(msp for msp in recipients if msp != ledger.msp_id)
        rows.append(bench_reads(ledger, reader, other, PURPOSE, args.reads, level))
    rows.append(bench_evaluate(ledger, reader, args.reads, 8))
    return [*_table(rows, args.batch), "",
            f"CPU during the grant run at {max(levels)} in flight:", "", *cpu_lines]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        net = running_network(args)
        consortium, layout = net.consortium, net.layout
        restart_s = None
        if args.restart:
            started = time.monotonic()
            net.down()
            net.up()
            restart_s = time.monotonic() - started
    except NetworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as data_dir:
        settings = gateway_settings(consortium, args.retailer, layout,
                                         data_dir=Path(data_dir))
        connection = open_ledger(settings)
        try:
            lines = run(connection.ledger, consortium, net, args)
        finally:
            connection.close()
    if restart_s is not None:
        lines += ["", f"network-down then network-up (resume): {restart_s:.1f} s"]
    print("\n".join(lines))
    return 0

