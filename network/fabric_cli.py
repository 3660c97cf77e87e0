"""Running Fabric's own command-line tools (``configtxgen``, ``peer``) for the network.

One way to run each: :class:`FabricTools` builds the environment (``FABRIC_CFG_PATH`` and
the ``CORE_PEER_*`` of the identity the command acts as), runs the command on the host it
belongs to through the :class:`~network.placement.Placement`, and turns a failure into one
:class:`~network.errors.CommandFailed` line. The peer CLI acts as an organisation's admin
(channel creation, joins, lifecycle); the admin's key never leaves the run folder.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from network.ca import binary
from network.errors import CommandFailed
from network.layout import RunLayout
from network.placement import Placement
from network.plan import Orderer, Peer

#: The admin identity of each organisation (enrolled with type admin: its OU says so).
ADMIN = "admin"


@dataclass(frozen=True)
class FabricTools:
    """Fabric's CLIs built into ``bin_dir``, with Fabric's default config in ``config_dir``."""

    bin_dir: Path
    layout: RunLayout
    placement: Placement = field(default_factory=Placement)

    @property
    def config_dir(self) -> Path:
        """Fabric's default core.yaml and orderer.yaml (network/install-fabric.sh puts them)."""
        return self.bin_dir.parent / "config"

    def run(self, tool: str, args: Sequence[str], *, env: Mapping[str, str], what: str,
            host: str | None = None, timeout: float = 60.0, cwd: Path | None = None) -> str:
        """Run ``tool args`` and return its combined output.

        Raises:
            CommandFailed: a non-zero exit or no exit within ``timeout`` (message: ``what``
                and the tool's last non-empty output line).
        """
        argv = self.placement.command(host, [str(binary(self.bin_dir, tool)), *args])
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "FABRIC_CFG_PATH": str(self.config_dir), **env}
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  env=full_env, cwd=cwd)
        except subprocess.TimeoutExpired:
            raise CommandFailed(f"{what}: {tool} did not finish in {timeout:.0f} s") from None
        output = done.stdout + done.stderr
        if done.returncode != 0:
            lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
            raise CommandFailed(f"{what} failed: {lines[-1] if lines else done.returncode}")
        return output

    def admin_env(self, peer: Peer) -> dict[str, str]:
        """``CORE_PEER_*`` for the peer CLI acting as ``peer``'s organisation admin, at it."""
        return {
            "CORE_PEER_LOCALMSPID": peer.msp_id,
            "CORE_PEER_MSPCONFIGPATH": str(self.layout.msp(peer.org, ADMIN)),
            "CORE_PEER_ADDRESS": peer.address,
            "CORE_PEER_TLS_ENABLED": "true",
            "CORE_PEER_TLS_ROOTCERT_FILE": str(self.layout.ca_root_cert(peer.org)),
            # The CLI logs at INFO by default; its warnings are enough here.
            "FABRIC_LOGGING_SPEC": "warning",
        }

    def peer_cli(self, peer: Peer, args: Sequence[str], *, what: str,
                 timeout: float = 60.0) -> str:
        """``peer args`` as ``peer``'s organisation admin, run on the organisation's host."""
        return self.run("peer", args, env=self.admin_env(peer), what=what, host=peer.host,
                        timeout=timeout)

    def orderer_args(self, orderer: Orderer) -> list[str]:
        """The ``-o ... --tls --cafile ...`` flags of a peer CLI command that talks to it."""
        return ["-o", orderer.address, "--tls",
                "--cafile", str(self.layout.ca_root_cert(orderer.org))]
