"""The chaincode as a service: a gRPC server the peer connects to (``protos.Chaincode``).

Configuration comes from one typed settings object, read from the environment the
chaincode-as-a-service builder's ``connection.json`` and the run scripts provide:

=============================  ======================================================
variable                       meaning
=============================  ======================================================
``CHAINCODE_ID``               package id the peer knows the chaincode by (label:hash)
``CHAINCODE_SERVER_ADDRESS``   ``host:port`` to listen on, e.g. ``127.0.0.1:7052``
``CHAINCODE_TLS_KEY_FILE``     PEM private key of the server's TLS certificate
``CHAINCODE_TLS_CERT_FILE``    PEM TLS certificate (chain) the peer verifies
``CHAINCODE_TLS_CLIENT_CA_FILE``  optional PEM CA bundle: when set, the peer must present
                               a client certificate issued by it (mutual TLS)
``PREFSHARE_OWNER_MSP``        the MSP id of the retailer whose peer this server serves
``PREFSHARE_OWNER_SECRET_FILE``  file (0600) holding the owner's secret, at least 32 bytes:
                               its collection keys are derived with it (chaincode/holdings.py)
``PREFSHARE_MEMBERS``          every retailer's MSP id, comma-separated, the same order on
                               every server (a member joining or leaving restarts each
                               server with the new list: network/membership.py)
=============================  ======================================================

TLS is not optional. Unlike the shim's ``start()``, nothing here lets an environment
variable override an explicit argument: :func:`serve` takes the settings object only.

Logging: the shim logs every message and its payload at INFO on the ``asyncio`` logger,
and ``fabric_shim.logging`` configures the root logger at DEBUG when imported. The server
puts both at WARNING and drops the shim's own records below ERROR (it logs one WARNING,
"-->> Look out!", per message received), so no personal data reaches the logs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chaincode.collection_config import collection_for
from chaincode.contract import PrefshareContract
from chaincode.holdings import OwnerKeys
from chaincode.shim_ext import add_to_server

log = logging.getLogger(__name__)

ENV = {
    "chaincode_id": "CHAINCODE_ID",
    "address": "CHAINCODE_SERVER_ADDRESS",
    "tls_key_file": "CHAINCODE_TLS_KEY_FILE",
    "tls_cert_file": "CHAINCODE_TLS_CERT_FILE",
    "client_ca_file": "CHAINCODE_TLS_CLIENT_CA_FILE",
    "owner_msp": "PREFSHARE_OWNER_MSP",
    "owner_secret_file": "PREFSHARE_OWNER_SECRET_FILE",
    "members": "PREFSHARE_MEMBERS",
}
#: Fabric's own default gRPC message limit (peer ``MaxRecvMsgSize``/``MaxSendMsgSize``).
MAX_MESSAGE_BYTES = 100 * 1024 * 1024
#: The peer pings its gRPC connections every 60 s by default (``DefaultKeepaliveOptions``);
#: gRPC's server default would answer pings more often than every 5 min with GOAWAY.
MIN_PING_INTERVAL_MS = 10_000
SHUTDOWN_GRACE_SECONDS = 3.0
_SHIM_LOGGER = "asyncio"  # fabric_shim.logging.LOGGER


class SettingsError(ValueError):
    """The environment does not describe a usable server (names the variable)."""


class ServerSettings(BaseModel):
    """Everything the server needs; build it with :meth:`from_environ` or directly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chaincode_id: str = Field(min_length=1, max_length=256)
    address: str
    tls_key_file: Path
    tls_cert_file: Path
    client_ca_file: Path | None = None
    owner_msp: str = Field(min_length=1, max_length=64)
    owner_secret_file: Path
    members: tuple[str, ...]

    @field_validator("members", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return tuple(v.strip() for v in value.split(",") if v.strip()) \
            if isinstance(value, str) else value

    @field_validator("members")
    @classmethod
    def _distinct_collection_owners(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Checked here rather than when a member's collection is first named: a malformed id
        # would otherwise be written into erasure records no server can read back.
        if not value:
            raise ValueError("must name at least one member")
        for msp in value:
            collection_for(msp)
        if len(set(value)) != len(value):
            raise ValueError("must not name a member twice")
        return value

    @field_validator("address")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if (not sep or not host or not (port.isascii() and port.isdigit())
                or not 0 < int(port) < 65536):
            raise ValueError("must be host:port")
        return value

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ServerSettings:
        """Read the ``CHAINCODE_*`` variables; raises SettingsError naming the first bad one."""
        values = {name: environ[var] for name, var in ENV.items() if environ.get(var)}
        try:
            return cls(**values)  # type: ignore[arg-type]
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else ""
            var = ENV.get(name, name)
            raise SettingsError(f"{var}: {first['msg']}") from None

    def describe(self) -> str:
        """The effective settings for the start-up log (paths only, never key material)."""
        mtls = f"mutual TLS with clients of {self.client_ca_file}" if self.client_ca_file else "TLS"
        return (
            f"chaincode {self.chaincode_id} on {self.address} ({mtls}, cert {self.tls_cert_file})"
        )


class _DropShimChatter(logging.Filter):
    """Keep the shim's own records only from ERROR up; asyncio's pass as usual."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or "fabric_chaincode_python" not in record.pathname


def quiet_shim_logging(level: int = logging.WARNING) -> None:
    """Put the shim's logger and the root logger at ``level`` and drop shim chatter."""
    shim = logging.getLogger(_SHIM_LOGGER)
    shim.setLevel(level)
    if not any(isinstance(f, _DropShimChatter) for f in shim.filters):
        shim.addFilter(_DropShimChatter())
    logging.getLogger().setLevel(level)


def server_credentials(settings: ServerSettings) -> grpc.ServerCredentials:
    """TLS credentials; reading a missing or unreadable file raises SettingsError."""

    def read(path: Path, var: str) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise SettingsError(f"{var}: cannot read {path}: {exc.strerror}") from None

    key = read(settings.tls_key_file, ENV["tls_key_file"])
    cert = read(settings.tls_cert_file, ENV["tls_cert_file"])
    client_ca = (
        None
        if settings.client_ca_file is None
        else read(settings.client_ca_file, ENV["client_ca_file"])
    )
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def owner_contract(settings: ServerSettings) -> PrefshareContract:
    """The contract as the owner's server runs it; raises SettingsError for an unreadable or
    short secret, or an owner that is not a member."""
    var = ENV["owner_secret_file"]
    try:
        secret = settings.owner_secret_file.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{var}: cannot read {settings.owner_secret_file}: "
                            f"{exc.strerror}") from None
    try:
        keys = OwnerKeys(secret)
    except ValueError as exc:
        raise SettingsError(f"{var}: {exc}") from None
    try:
        return PrefshareContract(settings.owner_msp, keys, settings.members)
    except ValueError as exc:
        raise SettingsError(f"{ENV['owner_msp']}: {exc}") from None


def build_server(
    settings: ServerSettings, contract: PrefshareContract | None = None
) -> tuple[grpc.aio.Server, int]:
    """A gRPC server serving the contract on ``settings.address``, and the bound port.

    Must be called inside a running event loop (``grpc.aio``).
    """
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", MIN_PING_INTERVAL_MS),
    ]
    server = grpc.aio.server(options=options)
    add_to_server(server, settings.chaincode_id, contract or owner_contract(settings))
    port = server.add_secure_port(settings.address, server_credentials(settings))
    if port == 0:
        raise SettingsError(f"{ENV['address']}: cannot listen on {settings.address}")
    return server, port


async def serve(settings: ServerSettings, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then stop gracefully (in-flight calls get a grace)."""
    server, port = build_server(settings)
    await server.start()
    log.info("serving %s (port %d)", settings.describe(), port)
    try:
        await stop.wait()
    finally:
        await server.stop(SHUTDOWN_GRACE_SECONDS)
        log.info("stopped")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of ``python -m chaincode``: serve until SIGTERM or SIGINT."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True
    )
    quiet_shim_logging()
    logging.getLogger("chaincode").setLevel(logging.INFO)  # our own records hold no payloads
    if argv:
        sys.stderr.write("usage: python -m chaincode  (configured by CHAINCODE_* variables)\n")
        return 2
    try:
        settings = ServerSettings.from_environ(os.environ if environ is None else environ)
    except SettingsError as exc:
        sys.stderr.write(f"chaincode server: {exc}\n")
        return 2

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    try:
        asyncio.run(run())
    except SettingsError as exc:
        sys.stderr.write(f"chaincode server: {exc}\n")
        return 2
    return 0
