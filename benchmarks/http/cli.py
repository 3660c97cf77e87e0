"""Latency through a running gateway's HTTPS API: ``python -m benchmarks.http``.

Times ``GET /v1/customers/{id}/consents`` (an evaluate on the own peer behind the API) and
``POST /v1/consents`` (a customer-signed grant, answered after its commit) at each
``--concurrency`` level, with :func:`benchmarks.ledger.calls.bench_http`. The gateway is the
retailer's, on its plan port, trusted through its organisation's CA; a store credential for
the run is issued into its database, as ``python -m gateway issue-credential`` does. Every
grant is a real write. Prints a Markdown table (ms; calls per second).
"""

from __future__ import annotations

import argparse
import ssl
import sys

import httpx

from benchmarks.ledger.calls import Summary, bench_http
from demo.gateway_settings import gateway_settings
from gateway.stores import CredentialStore, Role
from network.arguments import add_network_arguments, consortium_from, layout_from


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.http",
                                description=__doc__.splitlines()[0])
    add_network_arguments(p)
    p.add_argument("--retailer", default="northwind")
    p.add_argument("--count", type=int, default=200, help="calls of each kind per level")
    p.add_argument("--concurrency", default="1,8", help="comma-separated thread counts")
    p.add_argument("--customers", type=int, default=8)
    args = p.parse_args(argv)
    consortium = consortium_from(args)
    layout = layout_from(args)
    settings = gateway_settings(consortium, args.retailer, layout)
    credential = CredentialStore(settings.data_dir / "gateway.sqlite3").issue(
        "ledger-bench", Role.STORE)
    trust = ssl.create_default_context(cafile=str(layout.ca_root_cert(args.retailer)))
    base = f"https://{settings.http_host}:{settings.http_port}"
    recipients = [r.msp_id for r in consortium.retailers]
    rows: list[Summary] = []
    try:
        with httpx.Client(base_url=base, verify=trust, timeout=60) as client:
            for level in (int(x) for x in args.concurrency.split(",")):
                rows += bench_http(client, credential, recipients, count=args.count,
                                   concurrency=level, customers=args.customers)
    except httpx.HTTPError as exc:
        print(f"error: the gateway at {base} did not answer: {type(exc).__name__}",
              file=sys.stderr)
        return 1
    print("| call | threads | n | p50 ms | p99 ms | mean ms | calls/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(row.row())
    return 0

