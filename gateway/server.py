"""The HTTP server a gateway runs under: uvicorn, configured from the settings in one place,
so ``prefshare-gateway serve``, the benchmark's server and the tests' gateways agree."""

from __future__ import annotations

from typing import Any

import uvicorn

from gateway.http_protocol import GuardedH11Protocol
from gateway.settings import GatewaySettings


class ServerConfig(uvicorn.Config):
    """uvicorn's config with the limits :class:`GuardedH11Protocol` reads."""

    def __init__(self, app: Any, settings: GatewaySettings, **kwargs: Any) -> None:
        super().__init__(
            app, host=settings.http_host, port=settings.http_port,
            ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key,
            http=GuardedH11Protocol, timeout_keep_alive=settings.keep_alive_timeout_s,
            h11_max_incomplete_event_size=settings.max_head_bytes, **kwargs)
        self.header_timeout_s = settings.header_timeout_s
        self.body_timeout_s = settings.body_timeout_s
        self.max_connections = settings.max_connections


def server_config(app: Any, settings: GatewaySettings, **kwargs: Any) -> ServerConfig:
    """The uvicorn config serving ``app`` with ``settings`` (``kwargs``: uvicorn's own
    options, e.g. ``log_config=None, access_log=False``)."""
    return ServerConfig(app, settings, **kwargs)


def serve(app: Any, settings: GatewaySettings) -> None:
    """Serve ``app`` until interrupted, as ``prefshare-gateway serve`` does."""
    uvicorn.Server(server_config(app, settings, log_config=None, access_log=False)).run()
