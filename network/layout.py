"""Where the network keeps its files: one run folder for crypto material, data, logs and pids.

Cleaning the network removes exactly this folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunLayout:
    root: Path

    def org(self, org: str) -> Path:
        return self.root / "orgs" / org

    def ca_home(self, org: str) -> Path:
        return self.org(org) / "ca"

    def ca_root_cert(self, org: str) -> Path:
        """The CA's self-signed root, written on first start; it also issued the CA's TLS
        certificate, so clients trust the CA's TLS endpoint through it."""
        return self.ca_home(org) / "ca-cert.pem"

    def ca_bootstrap_secret(self, org: str) -> Path:
        return self.ca_home(org) / "bootstrap.secret"

    def ca_admin(self, org: str) -> Path:
        """The fabric-ca-client home of the CA's bootstrap registrar."""
        return self.org(org) / "registrar"

    def identity(self, org: str, name: str) -> Path:
        return self.org(org) / "identities" / name

    def secret(self, org: str, name: str) -> Path:
        return self.identity(org, name) / "enrollment.secret"

    def msp(self, org: str, name: str) -> Path:
        return self.identity(org, name) / "msp"

    def tls(self, org: str, name: str) -> Path:
        return self.identity(org, name) / "tls"

    def tls_cert(self, org: str, name: str) -> Path:
        """The identity's TLS certificate."""
        return self.tls(org, name) / "signcerts" / "cert.pem"

    def tls_key(self, org: str, name: str) -> Path:
        """The private key of the identity's TLS certificate (the one ``*_sk`` file).

        Raises ValueError when the keystore holds none or several.
        """
        keystore = self.tls(org, name) / "keystore"
        keys = sorted(keystore.glob("*_sk"))
        if len(keys) != 1:
            raise ValueError(f"{keystore} should hold exactly one *_sk key, found {len(keys)}")
        return keys[0]

    def gateway_data(self, org: str) -> Path:
        """The retailer's gateway's data folder (credentials, catalogue, installed model)."""
        return self.org(org) / "gateway"

    def gateway_env(self, org: str) -> Path:
        """The retailer's gateway's generated env file (``network.gateway_env``)."""
        return self.org(org) / "gateway.env"

    def owner_secret(self, org: str) -> Path:
        """The retailer's chaincode secret (0600): its collection keys are derived with it."""
        return self.org(org) / "chaincode" / "owner.secret"

    def chaincode_package(self, org: str, label: str) -> Path:
        """The organisation's chaincode-as-a-service package (its peer installs this one)."""
        return self.org(org) / "chaincode" / f"{label}.tar.gz"

    def org_msp(self, org: str) -> Path:
        """The organisation's verifying MSP (CA certs, TLS CA certs, NodeOU config)."""
        return self.org(org) / "msp"

    def node_home(self, org: str, name: str) -> Path:
        """A peer's or orderer's own folder: its derived config and its ledger data."""
        return self.org(org) / "nodes" / name

    def node_data(self, org: str, name: str) -> Path:
        return self.node_home(org, name) / "data"

    def node_config(self, org: str, name: str) -> Path:
        """The node's FABRIC_CFG_PATH (a derived core.yaml for a peer)."""
        return self.node_home(org, name) / "config"

    @property
    def channel_dir(self) -> Path:
        """configtx.yaml, the system channel's genesis block, channel and anchor updates."""
        return self.root / "channel"

    @property
    def genesis_block(self) -> Path:
        return self.channel_dir / "genesis.block"

    def log(self, process: str) -> Path:
        return self.root / "logs" / f"{process}.log"

    def pid(self, process: str) -> Path:
        return self.root / "pids" / f"{process}.pid"
