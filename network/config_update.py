"""Channel configuration updates: read the channel's config, change it, have a majority of
the members' admins sign the difference, and submit it to the ordering service.

Every step uses Fabric's own tools: ``peer channel fetch config`` (an admin reads the latest
config block from an orderer), ``configtxlator`` (the block to JSON and back, and
``compute_update``: the read set and write set between the current and the wanted config),
``peer channel signconfigtx`` (one signature per organisation, each made by that
organisation's OWN admin identity, as separate members would sign on their own machines)
and ``peer channel update`` (the last signer adds its signature and submits).

The orderer checks the signatures against the modified group's ``mod_policy``: for the
application group that is ``Admins`` = ``MAJORITY Admins`` (network/configtx.py), so an
update signed by fewer than a majority of the current members is refused (``BAD_REQUEST``,
"implicit policy evaluation failed").

The JSON edits are pure functions (:func:`with_member`, :func:`without_member`) over the
``channel_group`` of configtxlator's ``common.Config``, so they are unit tested alone.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from network.configtx import BLOCK_READERS_POLICY
from network.errors import CommandFailed
from network.fabric_cli import FabricTools
from network.plan import Orderer, Peer

#: configtxlator's name for an MSP role principal and a signature policy.
_ROLE = "ROLE"
_SIGNATURE_POLICY = 1


def application_members(config: dict[str, Any]) -> list[str]:
    """The MSP ids of the application group's organisations, in the config's key order."""
    return list(config["channel_group"]["groups"]["Application"]["groups"])


def org_admins_policy(msp_ids: Sequence[str]) -> dict[str, Any]:
    """``OR(<each>.admin)`` as configtxlator writes a signature policy (the application's
    ``OrgAdmins``: who may read full blocks from a peer's Deliver)."""
    return {
        "type": _SIGNATURE_POLICY,
        "value": {
            "identities": [{"principal": {"msp_identifier": msp, "role": "ADMIN"},
                            "principal_classification": _ROLE} for msp in msp_ids],
            "rule": {"n_out_of": {"n": 1, "rules": [{"signed_by": i}
                                                    for i in range(len(msp_ids))]}},
            "version": 0,
        },
    }


def with_member(config: dict[str, Any], msp_id: str, org_group: dict[str, Any],
                anchor: tuple[str, int]) -> dict[str, Any]:
    """A copy of ``config`` with ``org_group`` (configtxgen ``-printOrg``) added to the
    application group under ``msp_id``, its anchor peer set, and ``OrgAdmins`` naming its
    admin too.

    Raises ValueError when ``msp_id`` is a member already.
    """
    out = copy.deepcopy(config)
    app = out["channel_group"]["groups"]["Application"]
    if msp_id in app["groups"]:
        raise ValueError(f"{msp_id} is in the channel's application group already")
    group = copy.deepcopy(org_group)
    group.setdefault("values", {})["AnchorPeers"] = {
        "mod_policy": "Admins", "version": "0",
        "value": {"anchor_peers": [{"host": anchor[0], "port": anchor[1]}]}}
    app["groups"][msp_id] = group
    _set_org_admins(app, [*app["groups"]])
    return out


def without_member(config: dict[str, Any], msp_id: str) -> dict[str, Any]:
    """A copy of ``config`` without ``msp_id`` in the application group or ``OrgAdmins``.

    Raises ValueError when ``msp_id`` is not a member, or is the last one.
    """
    out = copy.deepcopy(config)
    app = out["channel_group"]["groups"]["Application"]
    if msp_id not in app["groups"]:
        raise ValueError(f"{msp_id} is not in the channel's application group")
    if len(app["groups"]) == 1:
        raise ValueError(f"{msp_id} is the channel's last member")
    del app["groups"][msp_id]
    _set_org_admins(app, [*app["groups"]])
    return out


def _set_org_admins(app: dict[str, Any], members: list[str]) -> None:
    entry = app["policies"][BLOCK_READERS_POLICY]
    entry["policy"] = org_admins_policy(members)


def majority(count: int) -> int:
    """How many of ``count`` members make a majority (``MAJORITY Admins``)."""
    return count // 2 + 1


class ConfigUpdater:
    """Reads and updates ``channel``'s configuration through ``orderer``."""

    def __init__(self, channel: str, tools: FabricTools, orderer: Orderer) -> None:
        self.channel = channel
        self._tools = tools
        self._orderer = orderer

    def _lator(self, args: list[str], what: str) -> str:
        return self._tools.run("configtxlator", args, env={}, what=what)

    def current(self, reader: Peer) -> dict[str, Any]:
        """The channel's latest config (``common.Config`` as JSON), fetched by ``reader``'s
        organisation admin."""
        with tempfile.TemporaryDirectory(prefix="config-") as tmp:
            block = Path(tmp) / "config.block"
            self._tools.peer_cli(reader, [
                "channel", "fetch", "config", str(block), "-c", self.channel,
                *self._tools.orderer_args(self._orderer)],
                what=f"fetching {self.channel}'s config")
            decoded = Path(tmp) / "config.json"
            self._lator(["proto_decode", "--input", str(block), "--type", "common.Block",
                         "--output", str(decoded)], what="decoding the config block")
            data = json.loads(decoded.read_text())
        config: dict[str, Any] = data["data"]["data"][0]["payload"]["data"]["config"]
        return config

    def envelope(self, original: dict[str, Any], updated: dict[str, Any], folder: Path) -> Path:
        """The config update from ``original`` to ``updated`` as an unsigned
        ``common.Envelope`` file in ``folder``.

        Raises:
            CommandFailed: configtxlator refused (e.g. nothing differs).
        """
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for name, config in (("original", original), ("updated", updated)):
            (folder / f"{name}.json").write_text(json.dumps(config))
            files[name] = folder / f"{name}.pb"
            self._lator(["proto_encode", "--input", str(folder / f"{name}.json"),
                         "--type", "common.Config", "--output", str(files[name])],
                        what=f"encoding the {name} config")
        update = folder / "update.pb"
        self._lator(["compute_update", "--channel_id", self.channel,
                     "--original", str(files["original"]), "--updated", str(files["updated"]),
                     "--output", str(update)], what="computing the config update")
        self._lator(["proto_decode", "--input", str(update), "--type", "common.ConfigUpdate",
                     "--output", str(folder / "update.json")], what="decoding the update")
        wrapped = {"payload": {
            "header": {"channel_header": {"channel_id": self.channel, "type": 2}},
            "data": {"config_update": json.loads((folder / "update.json").read_text())}}}
        (folder / "envelope.json").write_text(json.dumps(wrapped))
        envelope = folder / "envelope.pb"
        self._lator(["proto_encode", "--input", str(folder / "envelope.json"),
                     "--type", "common.Envelope", "--output", str(envelope)],
                    what="encoding the update envelope")
        return envelope

    def sign_and_submit(self, envelope: Path, signers: Sequence[Peer]) -> None:
        """Each of ``signers``' organisation admins signs ``envelope`` with its own identity
        (``peer channel signconfigtx``, on its organisation's host); the last one submits it
        (``peer channel update`` adds its signature).

        Raises:
            CommandFailed: a signature or the submission failed; the orderer's refusal of
                too few signatures says "policy ... not satisfied" or "implicit policy
                evaluation failed".
        """
        if not signers:
            raise ValueError("a config update needs at least one signer")
        for signer in signers[:-1]:
            self._tools.peer_cli(signer, ["channel", "signconfigtx", "-f", str(envelope)],
                                 what=f"{signer.msp_id}'s admin signing the config update")
        last = signers[-1]
        self._tools.peer_cli(last, [
            "channel", "update", "-f", str(envelope), "-c", self.channel,
            *self._tools.orderer_args(self._orderer)],
            what=f"submitting the config update signed by "
                 f"{', '.join(s.msp_id for s in signers)}")


def refused_for_signatures(exc: CommandFailed) -> bool:
    """True when the orderer refused an update for its signatures (not for another cause)."""
    text = str(exc)
    return "policy" in text and ("not satisfied" in text or "evaluation failed" in text
                                 or "signature set did not satisfy" in text)
