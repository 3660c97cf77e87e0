"""Measure the ledger client on a running network: ``python -m gateway.ledger_bench_cli``.

Connects as the retailer's gateway identity (settings from the consortium description and
the run folder, as ``python -m gateway`` does), registers a few demo customers, then times
``--count`` evaluations (``ListConsents`` of a customer holding one consent) and
``--count`` consent grants submitted to commit (spread over ``--customers``), at each
``--concurrency`` level. Prints a Markdown table of p50, p99 and mean in
milliseconds and calls per second. Every grant is a real write on the ledger.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from gateway.ledger import open_ledger
from gateway.ledger_bench import DemoCustomer, bench_evaluate, bench_grants, register
from gateway.settings import settings_for_retailer
from network.description import load_consortium
from network.layout import RunLayout


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gateway.ledger_bench_cli",
                                description=__doc__.splitlines()[0])
    p.add_argument("--description", type=Path, default=Path("network/consortium.yaml"))
    p.add_argument("--run-dir", type=Path, default=Path(".run"))
    p.add_argument("--retailer", default="northwind")
    p.add_argument("--count", type=int, default=200, help="calls of each kind per level")
    p.add_argument("--concurrency", default="1,8", help="comma-separated thread counts")
    p.add_argument("--customers", type=int, default=8)
    args = p.parse_args(argv)
    if not (args.run_dir / "READY").exists():
        print(f"error: no running network in {args.run_dir} (no READY file)", file=sys.stderr)
        return 1
    consortium = load_consortium(args.description)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = settings_for_retailer(consortium, args.retailer,
                                         RunLayout(args.run_dir.resolve()),
                                         data_dir=Path(data_dir))
        connection = open_ledger(settings)
        try:
            ledger = connection.ledger
            reader, *granting = [DemoCustomer.new() for _ in range(args.customers + 1)]
            register(ledger, [reader, *granting])
            recipients = [r.msp_id for r in consortium.retailers]
            # The evaluated customer holds one consent throughout, so every level reads
            # the same amount (ListConsents grows with her consents).
            ledger.submit_consent(reader.grant(recipients))
            rows = []
            for level in (int(x) for x in args.concurrency.split(",")):
                rows.append(bench_evaluate(ledger, reader, args.count, level))
                rows.append(bench_grants(ledger, granting, recipients, args.count, level))
        finally:
            connection.close()
    print("| call | threads | n | p50 ms | p99 ms | mean ms | calls/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(row.row())
    return 0


if __name__ == "__main__":
    sys.exit(main())
