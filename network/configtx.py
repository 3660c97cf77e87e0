"""The channel configuration, generated from the consortium description: configtx.yaml and
what ``configtxgen`` makes of it.

Fabric 2.1 has no channel participation API, so the orderers start from the genesis block
of a *system channel* that holds the ordering organisation and a consortium of the
retailers; the application channel is then created from a channel-creation transaction
(``peer channel create``), and each retailer's anchor peer is set by an anchor-peer update.
configtx.yaml is written from the description (not copied from Fabric's sample) with
capabilities V2_0 everywhere.

Policies, per retailer, by the NodeOU role Fabric CA writes into each certificate:
Readers = admin or peer; Members = admin, peer or client; Writers = admin or client;
Admins = admin; Endorsement = peer. The ordering organisation: Readers = admin or orderer,
Writers = member, Admins = admin. The application's LifecycleEndorsement and Endorsement are
``MAJORITY Endorsement``: no single retailer commits alone.

Who gets full blocks. A full block (and a full transaction) names every public key read and
written and the hashes of every private key, so it serves a linkage attack (issue 20,
docs/network.md "Who may read what"); it goes to peers and organisation admins only:

- the orderer's ``Deliver`` checks the channel's ``Readers``, which no ACL can move, so the
  organisations' Readers leave out ``client``. Peers stay in (gossip checks the application
  Readers, and each peer pulls its blocks from the orderers as itself), admins stay in (they
  create and join the channel by fetching its blocks); the orderers stay in their own
  organisation's Readers, to replicate the chain between them.
- qscc's ``GetBlockByNumber``, ``GetBlockByHash``, ``GetBlockByTxID`` and
  ``GetTransactionByID`` point at ``/Channel/Application/Readers`` explicitly (Fabric's
  default too, but stated so the config says it).
- the peer's ``event/Block`` (full blocks, and private write-sets through
  ``DeliverWithPrivateData``) points at ``OrgAdmins``, any retailer's admin.

Every other resource whose Fabric default is the application Readers points at ``Members``
(``ANY Members``: an admin, peer or client of any retailer), so clients keep exactly what
they had apart from blocks: ``event/FilteredBlock`` (each gateway's commit stream, and
``peer chaincode invoke --waitForEvent``), ``qscc/GetChainInfo`` (the gateways read the
height), ``cscc/GetConfigBlock`` (a config block holds no customer data) and lscc's read-only
queries. ``peer/Propose``, ``peer/ChaincodeToChaincode`` and the channel-wide ``_lifecycle``
queries keep Fabric's default, the Writers (admin or client). The discovery service also
checks the application Readers; no gateway uses it (each talks to the peers named in its
settings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from network.description import Consortium
from network.fabric_cli import FabricTools
from network.layout import RunLayout
from network.plan import Plan

#: Profile names inside the generated configtx.yaml.
GENESIS_PROFILE = "PrefshareOrdererGenesis"
CHANNEL_PROFILE = "PrefshareChannel"
#: The system channel's id and the consortium's name in it.
SYSTEM_CHANNEL = "prefshare-system"
CONSORTIUM = "PrefshareConsortium"
#: The application policy that ``event/Block`` points at: one admin of any retailer.
BLOCK_READERS_POLICY = "OrgAdmins"
#: The organisation and application policy of any identity of a retailer (admin, peer or
#: client): what a client may read that is not a block.
MEMBERS_POLICY = "Members"
#: Resources that hand out whole blocks or transactions, served to peers and admins only
#: (the application Readers) or, for the peer's block stream, to admins only.
FULL_BLOCK_ACLS = {
    "qscc/GetBlockByNumber": "/Channel/Application/Readers",
    "qscc/GetBlockByHash": "/Channel/Application/Readers",
    "qscc/GetBlockByTxID": "/Channel/Application/Readers",
    "qscc/GetTransactionByID": "/Channel/Application/Readers",
    "event/Block": f"/Channel/Application/{BLOCK_READERS_POLICY}",
}
#: Resources whose Fabric default is the application Readers but that give no block: kept
#: open to clients through the Members policy.
MEMBER_ACLS = {
    resource: f"/Channel/Application/{MEMBERS_POLICY}"
    for resource in (
        "event/FilteredBlock",
        "qscc/GetChainInfo",
        "cscc/GetConfigBlock",
        "lscc/ChaincodeExists",
        "lscc/GetDeploymentSpec",
        "lscc/GetChaincodeData",
        "lscc/GetInstantiatedChaincodes",
        "lscc/GetCollectionsConfig",
    )
}
#: Raft timing: a 500 ms tick and 10 ticks to an election give a new leader about 5 s after
#: the old one stops answering, without spurious elections on a loaded 2-core machine.
RAFT_OPTIONS = {
    "TickInterval": "500ms",
    "ElectionTick": 10,
    "HeartbeatTick": 1,
    "MaxInflightBlocks": 5,
    "SnapshotIntervalSize": "16 MB",
}


def _signature(rule: str) -> dict[str, str]:
    return {"Type": "Signature", "Rule": rule}


def _implicit(rule: str) -> dict[str, str]:
    return {"Type": "ImplicitMeta", "Rule": rule}


def _or(*principals: str) -> str:
    return "OR(" + ", ".join(f"'{p}'" for p in principals) + ")"


def _organisations(consortium: Consortium, plan: Plan, layout: RunLayout) -> dict[str, Any]:
    """Each organisation's configtx entry, by name."""
    oorg = consortium.orderer_org
    out: dict[str, Any] = {
        oorg.name: {
            "Name": oorg.msp_id,
            "ID": oorg.msp_id,
            "MSPDir": str(layout.org_msp(oorg.name)),
            "Policies": {
                # No client of the ordering organisation reads blocks either; its orderers
                # replicate the chain between them as themselves.
                "Readers": _signature(_or(f"{oorg.msp_id}.admin", f"{oorg.msp_id}.orderer")),
                "Writers": _signature(_or(f"{oorg.msp_id}.member")),
                "Admins": _signature(_or(f"{oorg.msp_id}.admin")),
            },
            "OrdererEndpoints": [o.address for o in plan.orderers],
        }
    }
    for peer in plan.peers:
        msp = peer.msp_id
        out[peer.org] = {
            "Name": msp,
            "ID": msp,
            "MSPDir": str(layout.org_msp(peer.org)),
            "Policies": {
                # Readers is what the orderer's Deliver checks: no client gets full blocks.
                "Readers": _signature(_or(f"{msp}.admin", f"{msp}.peer")),
                MEMBERS_POLICY: _signature(_or(f"{msp}.admin", f"{msp}.peer", f"{msp}.client")),
                "Writers": _signature(_or(f"{msp}.admin", f"{msp}.client")),
                "Admins": _signature(_or(f"{msp}.admin")),
                "Endorsement": _signature(_or(f"{msp}.peer")),
            },
            "AnchorPeers": [{"Host": peer.host, "Port": peer.port}],
        }
    return out


def render_configtx(consortium: Consortium, plan: Plan, layout: RunLayout) -> dict[str, Any]:
    """configtx.yaml as a mapping (written by :func:`write_configtx`)."""
    orgs = _organisations(consortium, plan, layout)
    oorg = consortium.orderer_org
    retailers = [orgs[r.name] for r in consortium.retailers]
    v2 = {"V2_0": True}
    channel_policies = {
        "Readers": _implicit("ANY Readers"),
        "Writers": _implicit("ANY Writers"),
        "Admins": _implicit("MAJORITY Admins"),
    }
    orderer = {
        "OrdererType": "etcdraft",
        # Orderer addresses are per organisation (OrdererEndpoints); a global list too would
        # be ignored, with a warning on every config block.
        "Addresses": [],
        "BatchTimeout": f"{oorg.batch_timeout_ms}ms",
        "BatchSize": {
            "MaxMessageCount": oorg.max_message_count,
            "AbsoluteMaxBytes": "10 MB",
            "PreferredMaxBytes": "2 MB",
        },
        "EtcdRaft": {
            "Consenters": [
                {
                    "Host": o.host,
                    "Port": o.port,
                    "ClientTLSCert": str(layout.tls_cert(o.org, o.name)),
                    "ServerTLSCert": str(layout.tls_cert(o.org, o.name)),
                }
                for o in plan.orderers
            ],
            "Options": RAFT_OPTIONS,
        },
        "Organizations": [orgs[oorg.name]],
        "Policies": {**channel_policies, "BlockValidation": _implicit("ANY Writers")},
        "Capabilities": v2,
    }
    admins = [f"{r.msp_id}.admin" for r in consortium.retailers]
    application = {
        "Organizations": retailers,
        "Policies": {
            **channel_policies,
            "LifecycleEndorsement": _implicit("MAJORITY Endorsement"),
            "Endorsement": _implicit("MAJORITY Endorsement"),
            BLOCK_READERS_POLICY: _signature(_or(*admins)),
            MEMBERS_POLICY: _implicit(f"ANY {MEMBERS_POLICY}"),
        },
        "ACLs": {**MEMBER_ACLS, **FULL_BLOCK_ACLS},
        "Capabilities": v2,
    }
    return {
        "Profiles": {
            GENESIS_PROFILE: {
                "Policies": channel_policies,
                "Capabilities": v2,
                "Orderer": orderer,
                "Consortiums": {CONSORTIUM: {"Organizations": retailers}},
            },
            CHANNEL_PROFILE: {
                "Consortium": CONSORTIUM,
                "Policies": channel_policies,
                "Capabilities": v2,
                "Application": application,
            },
        }
    }


def write_configtx(consortium: Consortium, plan: Plan, layout: RunLayout) -> Path:
    """Write configtx.yaml into the run folder's channel folder; returns the folder."""
    folder = layout.channel_dir
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(render_configtx(consortium, plan, layout), sort_keys=False)
    (folder / "configtx.yaml").write_text(text)
    return folder


class ChannelArtifacts:
    """The files ``configtxgen`` makes from the generated configtx.yaml.

    Each is made once: the genesis block must never change under running orderers, and the
    creation transaction is only used once.
    """

    def __init__(self, consortium: Consortium, plan: Plan, tools: FabricTools) -> None:
        self._consortium = consortium
        self._plan = plan
        self._tools = tools
        self._layout = tools.layout

    def _configtxgen(self, args: list[str], what: str) -> None:
        folder = write_configtx(self._consortium, self._plan, self._layout)
        self._tools.run("configtxgen", args, env={"FABRIC_CFG_PATH": str(folder),
                                                  "FABRIC_LOGGING_SPEC": "warning"},
                        what=what)

    def genesis_block(self) -> Path:
        path = self._layout.genesis_block
        if not path.exists():
            self._configtxgen(["-profile", GENESIS_PROFILE, "-channelID", SYSTEM_CHANNEL,
                               "-outputBlock", str(path)], "the system channel's genesis block")
        return path

    def channel_tx(self) -> Path:
        channel = self._consortium.channel
        path = self._layout.channel_dir / f"{channel}.tx"
        if not path.exists():
            self._configtxgen(["-profile", CHANNEL_PROFILE, "-channelID", channel,
                               "-outputCreateChannelTx", str(path)],
                              f"the creation transaction of channel {channel}")
        return path

    def anchor_update(self, msp_id: str) -> Path:
        channel = self._consortium.channel
        path = self._layout.channel_dir / f"anchors-{msp_id}.tx"
        if not path.exists():
            self._configtxgen(["-profile", CHANNEL_PROFILE, "-channelID", channel,
                               "-asOrg", msp_id, "-outputAnchorPeersUpdate", str(path)],
                              f"the anchor peer update of {msp_id}")
        return path

    def org_group(self, name: str) -> dict[str, Any]:
        """Organisation ``name``'s channel group as ``configtxgen -printOrg`` writes it
        (configtxlator JSON: its MSP and policies), for a config update that adds it.

        Raises:
            CommandFailed: configtxgen refused the organisation's definition.
        """
        org = _organisations(self._consortium, self._plan, self._layout)[name]
        folder = self._layout.channel_dir / f"org-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "configtx.yaml").write_text(yaml.safe_dump({"Organizations": [org]},
                                                             sort_keys=False))
        out = self._tools.run("configtxgen", ["-printOrg", org["Name"]],
                              env={"FABRIC_CFG_PATH": str(folder), "FABRIC_LOGGING_SPEC": "error"},
                              what=f"the channel definition of {org['Name']}")
        group: dict[str, Any] = json.JSONDecoder().raw_decode(out[out.index("{"):])[0]
        return group
