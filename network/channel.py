"""The application channel: created by a retailer admin, joined by every peer, anchor peers
set, and each peer's height read back; every step with Fabric's own ``peer`` CLI.

Each step is idempotent, so a second ``network-up`` changes nothing: the channel's genesis
block is kept in the run folder once created (or fetched from an orderer when the channel
exists but the file is gone), a peer that answers ``channel getinfo`` (or whose join finds
its ledger already there) has joined, and an anchor-peer update is recorded as done once
applied (a config update applies only once).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from network.configtx import ChannelArtifacts
from network.errors import CommandFailed
from network.fabric_cli import FabricTools
from network.plan import Peer, Plan

_T = TypeVar("_T")

#: Raft elects a leader a few seconds after the orderers start (network/configtx.py); until
#: then the ordering service answers SERVICE_UNAVAILABLE.
ORDERING_READY_S = 60.0


def retry(step: Callable[[], _T], *, seconds: float, every: float = 1.0) -> _T:
    """Call ``step`` until it returns without :class:`CommandFailed` or ``seconds`` pass
    (then the last failure is raised)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return step()
        except CommandFailed:
            if time.monotonic() >= deadline:
                raise
            time.sleep(every)


#: How long a just-started peer may take to listen.
PEER_LISTENING_S = 30.0


def _unreachable(exc: CommandFailed) -> bool:
    text = str(exc)
    return "connection refused" in text or "failed to connect" in text or \
        "context deadline exceeded" in text


def parse_height(output: str) -> int:
    """The height in ``peer channel getinfo``'s ``Blockchain info: {...}`` line.

    Raises:
        CommandFailed: no such line (the peer answered something else).
    """
    for line in output.splitlines():
        _, sep, rest = line.partition("Blockchain info: ")
        if sep:
            return int(json.loads(rest)["height"])
    raise CommandFailed("peer channel getinfo printed no blockchain info")


class Channel:
    """The consortium's application channel over ``plan``'s peers and orderers."""

    def __init__(self, name: str, plan: Plan, tools: FabricTools,
                 artifacts: ChannelArtifacts) -> None:
        self.name = name
        self._plan = plan
        self._tools = tools
        self._artifacts = artifacts
        self._layout = tools.layout

    @property
    def block_file(self) -> Path:
        return self._layout.channel_dir / f"{self.name}.block"

    def _orderer_args(self) -> list[str]:
        return self._tools.orderer_args(self._plan.orderers[0])

    def create(self) -> Path:
        """Create the channel as the first retailer's admin (or fetch its genesis block)."""
        if self.block_file.exists():
            return self.block_file
        creator = self._plan.peers[0]
        tx = self._artifacts.channel_tx()
        partial = self.block_file.with_suffix(".partial")

        def create_or_fetch() -> None:
            try:
                self._tools.peer_cli(creator, [
                    "channel", "create", "-c", self.name, "-f", str(tx),
                    "--outputBlock", str(partial), *self._orderer_args()],
                    what=f"creating channel {self.name}")
            except CommandFailed as created:
                try:  # it may exist already (created by an earlier run whose file is gone)
                    self._tools.peer_cli(creator, [
                        "channel", "fetch", "0", str(partial), "-c", self.name,
                        *self._orderer_args()], what=f"fetching channel {self.name}")
                except CommandFailed:
                    raise created from None

        retry(create_or_fetch, seconds=ORDERING_READY_S)
        partial.rename(self.block_file)
        return self.block_file

    def height(self, peer: Peer) -> int:
        """The channel's height on ``peer``.

        Raises:
            CommandFailed: the peer is down or has not joined.
        """
        out = self._tools.peer_cli(peer, ["channel", "getinfo", "-c", self.name],
                                   what=f"reading {self.name}'s height on {peer.process}",
                                   timeout=20)
        return parse_height(out)

    def join(self, peer: Peer) -> None:
        deadline = time.monotonic() + PEER_LISTENING_S
        while True:
            try:
                self.height(peer)
                return
            except CommandFailed as exc:
                # A peer restarted a moment ago may not listen yet: "not joined" is only
                # known once it answers (a join sent now fails with connection refused).
                if not _unreachable(exc) or time.monotonic() >= deadline:
                    break
                time.sleep(0.5)
        try:
            self._tools.peer_cli(peer, ["channel", "join", "-b", str(self.block_file)],
                                 what=f"joining {peer.process} to {self.name}")
        except CommandFailed as exc:
            # A peer that has just started can fail getinfo while it opens its ledgers, and
            # then answer the join with its ledger already there (seen under CI load).
            if "LedgerID already exists" not in str(exc):
                raise

    def set_anchor(self, peer: Peer) -> None:
        done = self._layout.channel_dir / f"anchors-{peer.msp_id}.done"
        if done.exists():
            return
        update = self._artifacts.anchor_update(peer.msp_id)
        retry(lambda: self._tools.peer_cli(peer, [
            "channel", "update", "-c", self.name, "-f", str(update), *self._orderer_args()],
            what=f"setting {peer.msp_id}'s anchor peer"), seconds=ORDERING_READY_S)
        done.write_text("applied\n")

    def bring_up(self) -> None:
        """Create, join every peer, set every anchor peer."""
        self.create()
        for peer in self._plan.peers:
            self.join(peer)
        for peer in self._plan.peers:
            self.set_anchor(peer)

    def heights(self) -> dict[str, int | None]:
        """Each peer's height (None where it cannot be read), by process name."""
        out: dict[str, int | None] = {}
        for peer in self._plan.peers:
            try:
                out[peer.process] = self.height(peer)
            except CommandFailed:
                out[peer.process] = None
        return out

    def wait_same_height(self, *, seconds: float = 60.0) -> int:
        """Wait until every peer reports the same height; returns it.

        Raises:
            CommandFailed: the heights still differ (or one cannot be read) after ``seconds``.
        """
        deadline = time.monotonic() + seconds
        while True:
            heights = self.heights()
            values = set(heights.values())
            if len(values) == 1 and None not in values:
                return next(iter(values))  # type: ignore[return-value]
            if time.monotonic() >= deadline:
                shown = ", ".join(f"{p} {h if h is not None else '?'}"
                                  for p, h in heights.items())
                raise CommandFailed(f"peers of {self.name} differ in height: {shown}")
            time.sleep(0.5)
