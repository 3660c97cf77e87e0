"""The chaincode's life cycle on the channel, with Fabric's ``peer lifecycle`` CLI:
install each retailer's chaincode-as-a-service package on its peer, approve the definition
for every retailer, commit it, and check that the chaincode answers on every peer.

The definition: the description's chaincode name and version, the collection config
rendered from the retailers, then the former members whose collections Fabric cannot drop
(chaincode/collection_config.py, with the description's
``block_to_live``), and the channel's default endorsement policy,
``/Channel/Application/Endorsement`` = ``MAJORITY Endorsement`` (network/configtx.py). No
``--init-required``: the contract needs no initialisation.

Idempotent and upgrade-aware: the definition committed at each sequence is recorded (by
its hash) in the run folder; the same definition keeps the committed sequence, a changed one
(a new version, other collections) is approved and committed at the next sequence, which
keeps every record. Packages differ per retailer (each holds its own server's address), so
each retailer approves its own package id for the same definition; an installed package that
Fabric reports as referenced by the definition on the channel is approved already.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaincode.collection_config import collections_config_json
from network.channel import retry
from network.description import Consortium
from network.errors import CommandFailed, LedgerTooOld
from network.fabric_cli import FabricTools
from network.plan import Peer, Plan

#: A probe every member may evaluate (chaincode/contract.py ``Describe``).
PROBE = '{"Args":["Describe"]}'
#: After a commit, each peer launches its chaincode (the builder's release step, then a
#: connection to the chaincode server) on the first call.
ANSWER_WITHIN_S = 60.0


@dataclass(frozen=True)
class Committed:
    sequence: int
    version: str
    approvals: dict[str, bool]
    collections: tuple[str, ...] = ()


def parse_committed(output: str) -> Committed:
    """``peer lifecycle chaincode querycommitted --output json`` for one chaincode."""
    data = json.loads(output)
    configs = ((data.get("collections") or {}).get("config")) or []
    names = tuple(str(c.get("Payload", {}).get("StaticCollectionConfig", {}).get("name", ""))
                  for c in configs)
    return Committed(int(data["sequence"]), str(data["version"]),
                     {str(k): bool(v) for k, v in data.get("approvals", {}).items()},
                     names)


def referenced(queryinstalled: str, package_id: str, channel: str, name: str,
               version: str) -> bool | None:
    """Whether the installed package is referenced by ``name``/``version`` on ``channel``
    (None when the package is not installed), from ``queryinstalled --output json``."""
    data = json.loads(queryinstalled or "{}")
    for pkg in data.get("installed_chaincodes") or []:
        if pkg.get("package_id") != package_id:
            continue
        refs = (pkg.get("references") or {}).get(channel, {}).get("chaincodes") or []
        return any(r.get("name") == name and r.get("version") == version for r in refs)
    return None


class ChaincodeLifecycle:
    """Deploys the description's chaincode on its channel."""

    def __init__(self, consortium: Consortium, plan: Plan, tools: FabricTools) -> None:
        self._consortium = consortium
        self._plan = plan
        self._tools = tools
        self._spec = consortium.chaincode
        self._channel = consortium.channel

    # -- the definition ----------------------------------------------------------------

    @property
    def collections_file(self) -> Path:
        return self._tools.layout.channel_dir / f"{self._spec.name}-collections.json"

    def _definition_hash(self) -> str:
        consortium = self._consortium
        text = collections_config_json([r.msp_id for r in consortium.retailers],
                                       block_to_live=self._spec.block_to_live,
                                       former=consortium.former_members,
                                       custodian=consortium.orderer_org.msp_id)
        self.collections_file.parent.mkdir(parents=True, exist_ok=True)
        self.collections_file.write_text(text)
        # Fabric compares collections by name, and a member leaving from the middle of the
        # list reorders them: the order must not make a new definition.
        by_name = json.dumps(sorted(json.loads(text), key=lambda c: c["name"]), sort_keys=True)
        return hashlib.sha256(f"{self._spec.version}\n{by_name}".encode()).hexdigest()

    @property
    def _record(self) -> Path:
        return self._tools.layout.channel_dir / f"{self._spec.name}-committed.json"

    def _definition_args(self, sequence: int) -> list[str]:
        return ["-C", self._channel, "-n", self._spec.name, "-v", self._spec.version,
                "--sequence", str(sequence), "--collections-config", str(self.collections_file)]

    # -- queries -----------------------------------------------------------------------

    def committed(self, peer: Peer | None = None) -> Committed | None:
        """The committed definition as ``peer`` (default: the first) sees it, or None."""
        peer = peer or self._plan.peers[0]
        try:
            out = self._tools.peer_cli(peer, [
                "lifecycle", "chaincode", "querycommitted", "-C", self._channel,
                "-n", self._spec.name, "--output", "json"], what="querycommitted")
        except CommandFailed as exc:
            if "not defined" in str(exc) or "404" in str(exc):
                return None
            raise
        return parse_committed(out)

    def _installed(self, peer: Peer) -> str:
        return self._tools.peer_cli(peer, ["lifecycle", "chaincode", "queryinstalled",
                                           "--output", "json"],
                                    what=f"queryinstalled on {peer.process}")

    # -- steps -------------------------------------------------------------------------

    def _target_sequence(self, committed: Committed | None, definition: str) -> int:
        if committed is None:
            return 1
        try:
            record = json.loads(self._record.read_text())
        except (FileNotFoundError, ValueError):
            record = None
        same = (record == {"sequence": committed.sequence, "definition": definition}
                if record is not None else committed.version == self._spec.version)
        return committed.sequence if same else committed.sequence + 1

    def deploy(self, package_ids: dict[str, str]) -> int:
        """Install, approve and commit; returns the committed sequence.

        ``package_ids``: each retailer's package id (org name -> id), from its package file.

        Raises:
            CommandFailed: a lifecycle command failed (one line: which and why).
        """
        definition = self._definition_hash()
        committed = self.committed()
        if committed is not None:
            self._check_collections_kept(committed)
        sequence = self._target_sequence(committed, definition)
        for peer in self._plan.peers:
            package_id = package_ids[peer.org]
            package = self._tools.layout.chaincode_package(peer.org, self._spec.label)
            state = referenced(self._installed(peer), package_id, self._channel,
                               self._spec.name, self._spec.version)
            if state is None:
                self._tools.peer_cli(peer, ["lifecycle", "chaincode", "install", str(package)],
                                     what=f"installing {self._spec.label} on {peer.process}",
                                     timeout=120)
            approved = (state is True and committed is not None
                        and sequence == committed.sequence)
            if not approved and not self._approved_uncommitted(peer, sequence):
                self._approve(peer, package_id, sequence)
        if committed is None or sequence != committed.sequence:
            self._commit(sequence)
        self._record.write_text(json.dumps({"sequence": sequence, "definition": definition}))
        return sequence

    def _check_collections_kept(self, committed: Committed) -> None:
        """Fabric cannot drop a collection from a definition: a ledger whose definition has
        collections this description no longer makes (the single shared collection of the
        first version) needs a fresh ledger. Raises LedgerTooOld."""
        wanted = {c["name"] for c in json.loads(self.collections_file.read_text())}
        dropped = sorted(set(committed.collections) - wanted)
        if dropped:
            raise LedgerTooOld(
                f"the ledger's chaincode has collection(s) {', '.join(dropped)} this version "
                "no longer keeps (one collection per retailer now) and Fabric cannot drop one: "
                "start a fresh ledger with `make network-clean` "
                "(docs/chaincode.md, 'Migration from the single collection')")

    def _approved_uncommitted(self, peer: Peer, sequence: int) -> bool:
        """True when ``peer``'s org approved this definition at the not yet committed
        ``sequence`` with the package it has now (a re-run after an interrupted deploy)."""
        committed = self.committed()
        if committed is not None and committed.sequence >= sequence:
            return False
        out = self._tools.peer_cli(peer, [
            "lifecycle", "chaincode", "checkcommitreadiness", *self._definition_args(sequence),
            "--output", "json"], what="checkcommitreadiness")
        approvals: dict[str, Any] = json.loads(out).get("approvals", {})
        return bool(approvals.get(peer.msp_id))

    def _approve(self, peer: Peer, package_id: str, sequence: int) -> None:
        orderer_args = self._tools.orderer_args(self._plan.orderers[0])
        retry(lambda: self._tools.peer_cli(peer, [
            "lifecycle", "chaincode", "approveformyorg", *self._definition_args(sequence),
            "--package-id", package_id, "--waitForEvent", *orderer_args],
            what=f"approving {self._spec.label} for {peer.msp_id}", timeout=90),
            seconds=30, every=2)

    def _commit(self, sequence: int) -> None:
        targets: list[str] = []
        for peer in self._plan.peers:
            targets += ["--peerAddresses", peer.address,
                        "--tlsRootCertFiles", str(self._tools.layout.ca_root_cert(peer.org))]
        orderer_args = self._tools.orderer_args(self._plan.orderers[0])
        retry(lambda: self._tools.peer_cli(self._plan.peers[0], [
            "lifecycle", "chaincode", "commit", *self._definition_args(sequence),
            "--waitForEvent", *targets, *orderer_args],
            what=f"committing {self._spec.label} at sequence {sequence}", timeout=90),
            seconds=30, every=2)

    def wait_answering(self) -> None:
        """Wait until the chaincode answers ``Describe`` on every peer.

        Raises:
            CommandFailed: a peer's chaincode did not answer within ``ANSWER_WITHIN_S``.
        """
        for peer in self._plan.peers:
            retry(lambda p=peer: self._tools.peer_cli(p, [  # type: ignore[misc]
                "chaincode", "query", "-C", self._channel, "-n", self._spec.name,
                "-c", PROBE], what=f"querying {self._spec.name} on {p.process}"),
                seconds=ANSWER_WITHIN_S, every=1)
