"""The Fabric nodes a client talks to: where they are, and the gRPC channel to each.

Peers and orderers serve server-authenticated TLS; the client trusts each node through
its organisation's TLS root (the CA that issued the node's TLS certificate). The caller
owns every channel (as with the official clients) and closes it; :func:`dial` is the one
place that opens one, with the options every node connection here uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc

#: Keep-alive so a silent network drop is noticed on the long-lived deliver stream; 60 s
#: stays above the peer's default minimum interval (keepalive.client.interval), so the
#: server never answers with GOAWAY "too_many_pings".
_KEEPALIVE_MS = 60_000
#: Redial an orderer or peer that went away quickly: the deliver stream's reconnect and
#: a failover both wait on gRPC's backoff otherwise (up to 120 s by default).
_MAX_RECONNECT_BACKOFF_MS = 2_000


@dataclass(frozen=True)
class Endpoint:
    """A peer or orderer: ``host:port``, its organisation's MSP id and TLS root (PEM).

    ``host_override`` is the TLS server name to expect when it differs from the host
    (e.g. dialling 127.0.0.1 for a certificate issued to ``localhost``).
    """

    address: str
    msp_id: str
    tls_root: bytes
    host_override: str | None = None

    def __repr__(self) -> str:
        return f"Endpoint({self.address!r}, {self.msp_id!r})"


def dial(endpoint: Endpoint) -> grpc.Channel:
    """A TLS gRPC channel to ``endpoint`` (dials lazily, redials after a restart)."""
    credentials = grpc.ssl_channel_credentials(root_certificates=endpoint.tls_root)
    options: list[tuple[str, Any]] = [
        ("grpc.keepalive_time_ms", _KEEPALIVE_MS),
        ("grpc.max_reconnect_backoff_ms", _MAX_RECONNECT_BACKOFF_MS),
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.min_reconnect_backoff_ms", 200),
        # Blocks carry whole transactions; the peer's default limit is 100 MiB.
        ("grpc.max_receive_message_length", 100 * 1024 * 1024),
    ]
    if endpoint.host_override:
        options.append(("grpc.ssl_target_name_override", endpoint.host_override))
    return grpc.secure_channel(endpoint.address, credentials, options=options)


@dataclass(frozen=True)
class Node:
    """A node the client has a channel to; ``address`` and ``msp_id`` name it in errors."""

    address: str
    msp_id: str
    channel: grpc.Channel

    @classmethod
    def connect(cls, endpoint: Endpoint) -> Node:
        return cls(endpoint.address, endpoint.msp_id, dial(endpoint))

    def __repr__(self) -> str:
        return f"Node({self.address!r}, {self.msp_id!r})"
