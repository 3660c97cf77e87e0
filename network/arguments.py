"""The arguments every command of this checkout shares to find its network: the consortium
description, the run folder and, for commands that start nodes, Fabric's binaries and the
chaincode builder. ``prefshare-network``, ``prefshare-demo`` and the benchmarks take them
alike::

    parser = argparse.ArgumentParser(prog="prefshare-network")
    add_network_arguments(parser, binaries=True, builder=True)
    net = network_from(parser.parse_args())
"""

from __future__ import annotations

import argparse
from pathlib import Path

from network.control import Network
from network.description import Consortium, load_consortium
from network.layout import RunLayout


def add_network_arguments(parser: argparse.ArgumentParser, *, binaries: bool = False,
                          builder: bool = False) -> None:
    """``--description`` and ``--run-dir``; ``--bin-dir`` with ``binaries``,
    ``--builder-dir`` with ``builder``. Paths are relative to the current folder."""
    parser.add_argument("--description", type=Path, default=Path("network/consortium.yaml"),
                        help="the consortium description (default: %(default)s)")
    parser.add_argument("--run-dir", type=Path, default=Path(".run"),
                        help="the network's run folder (default: %(default)s)")
    if binaries:
        parser.add_argument("--bin-dir", type=Path, default=Path(".fabric/bin"),
                            help="Fabric's binaries (make fabric-bins; default: %(default)s)")
    if builder:
        parser.add_argument("--builder-dir", type=Path,
                            default=Path(".fabric/builders/ccaas"),
                            help="the peer's chaincode-as-a-service builder "
                                 "(make ccaas-builder; default: %(default)s)")


def consortium_from(args: argparse.Namespace) -> Consortium:
    """The description ``--description`` names. Raises DescriptionError."""
    return load_consortium(args.description)


def layout_from(args: argparse.Namespace) -> RunLayout:
    """The run folder ``--run-dir`` names, as an absolute path."""
    return RunLayout(args.run_dir.resolve())


def running_network(args: argparse.Namespace) -> Network:
    """The network of these arguments, which must be running and healthy. Raises
    DescriptionError, or NotReady naming what is not."""
    net = network_from(args)
    net.require_healthy()
    return net


def network_from(args: argparse.Namespace, consortium: Consortium | None = None) -> Network:
    """The network of these arguments (given ``binaries``, and ``builder`` when present).
    Raises DescriptionError."""
    builder = getattr(args, "builder_dir", None)
    return Network(consortium or consortium_from(args), layout_from(args),
                   args.bin_dir.resolve(), builder_dir=builder.resolve() if builder else None)
