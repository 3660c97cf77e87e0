"""`prefshare-network COMMAND`: validate, up, down, status, clean, gateway-env, add-retailer,
remove-retailer.

Every failure is one readable line on stderr and exit status 1; nothing is started when the
description is invalid, a binary is missing or a port is taken.
"""

from __future__ import annotations

import argparse
import sys
import time

from pydantic import ValidationError

from network.arguments import add_network_arguments, consortium_from, network_from
from network.control import Layer, Network
from network.description import Retailer
from network.errors import NetworkError
from network.gateway_env import gateway_environment, render_env_file
from network.membership import Membership
from network.plan import make_plan
from network.supervisor import ProcessState


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prefshare-network", description=__doc__)
    add_network_arguments(p, binaries=True, builder=True)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("validate", help="check the description and print the port plan")
    up = sub.add_parser("up", help="start the network and wait until healthy")
    up.add_argument("--layer", choices=[x.value for x in Layer], default=Layer.ALL.value)
    sub.add_parser("down", help="stop every node, keep data")
    sub.add_parser("status", help="each node's state and health; exit 1 if any crashed")
    sub.add_parser("clean", help="stop everything and remove the run folder")
    env = sub.add_parser("gateway-env", help="print a retailer's gateway settings as an env "
                         "file (prefshare-gateway --env-file)")
    env.add_argument("retailer")
    add = sub.add_parser("add-retailer", help="add a retailer to the running consortium: its "
                         "CA, a majority-signed channel update, its peer, chaincode and "
                         "gateway; the description updated (docs/network.md, 'Membership')")
    add.add_argument("name", help="the retailer's name (lower case, e.g. westfield)")
    add.add_argument("--msp-id", help="its MSP id (default: the name capitalised + MSP)")
    add.add_argument("--host", default="127.0.0.1", help="its host (default: %(default)s)")
    add.add_argument("--port-block", type=int, help="its port block (default: the next one)")
    remove = sub.add_parser("remove-retailer", help="remove a retailer from the running "
                            "consortium: a majority-signed channel update, its nodes stopped")
    remove.add_argument("name")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        consortium = consortium_from(args)
        plan = make_plan(consortium)
        net = network_from(args, consortium)
        if args.command == "validate":
            for process, host, port in plan.ports():
                print(f"{process:24} {host}:{port}")
            return 0
        if args.command == "up":
            started = time.monotonic()
            net.up(Layer(args.layer))
            print(f"network ({args.layer}) healthy in {time.monotonic() - started:.1f} s")
            return 0
        if args.command == "down":
            stopped = net.down()
            for process in stopped:
                print(f"stopped {process}")
            print(f"{len(stopped)} nodes stopped, data kept in {net.layout.root}"
                  if stopped else "nothing was running")
            return 0
        if args.command == "gateway-env":
            heading = f"{args.retailer}'s gateway on the network of {net.layout.root}"
            print(render_env_file(gateway_environment(consortium, args.retailer, net.layout),
                                  heading=heading), end="")
            return 0
        if args.command in ("add-retailer", "remove-retailer"):
            return _membership(args, net)
        if args.command == "clean":
            stopped, removed = net.clean()
            for process in stopped:
                print(f"stopped {process}")
            print(f"removed {removed}" if removed else f"{net.layout.root} did not exist")
            return 0
        rows = net.status()
        for row in rows:
            health = "healthy" if row.healthy else "-"
            rss = f"{row.rss_kib / 1024:8.1f} MiB" if row.rss_kib is not None else " " * 12
            height = f"height {row.height}" if row.height is not None else ""
            print(f"{row.process:24} {row.state:8} {health:8} {rss}  {height}".rstrip())
        total = sum(r.rss_kib or 0 for r in rows)
        print(f"{'resident memory, total':42} {total / 1024:8.1f} MiB")
        return 1 if any(r.state is ProcessState.CRASHED for r in rows) else 0
    except ValidationError as exc:  # a retailer given on the command line, one line
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        print(f"error: {where}: {str(first['msg']).removeprefix('Value error, ')}",
              file=sys.stderr)
        return 1
    except (NetworkError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _membership(args: argparse.Namespace, net: Network) -> int:
    started = time.monotonic()
    retailer = None
    if args.command == "add-retailer":
        msp_id = args.msp_id or f"{args.name.replace('-', ' ').title().replace(' ', '')}MSP"
        retailer = Retailer(name=args.name, msp_id=msp_id, host=args.host,
                            port_block=args.port_block)
    net.require_healthy()
    change = Membership(net, args.description, progress=print)
    if retailer is not None:
        change.add(retailer)
        print(f"{args.name} ({msp_id}) joined in {time.monotonic() - started:.1f} s")
    else:
        change.remove(args.name)
        print(f"{args.name} left in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
