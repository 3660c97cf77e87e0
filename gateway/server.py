"""The HTTP server a gateway runs under: uvicorn, configured from the settings in one place,
so ``prefshare-gateway serve``, the benchmark's server and the tests' gateways agree.

With ``workers`` > 1 (:func:`serve_workers`) uvicorn's supervisor binds the socket once and
starts that many worker processes on it, each building its own app from the settings (its
own ledger connection, suggestion cache, limits); what they must agree on lives in the
shared PostgreSQL database (gateway/postgres/).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from gateway import logs
from gateway.http_protocol import GuardedH11Protocol
from gateway.settings import GatewaySettings

#: Builds a worker's app from the settings: a module-level function (it is pickled to the
#: worker processes, which uvicorn spawns).
AppFactory = Callable[[GatewaySettings], Any]


class ServerConfig(uvicorn.Config):
    """uvicorn's config with the limits :class:`GuardedH11Protocol` reads, and, for worker
    processes, the factory each one builds its app with."""

    def __init__(self, app: Any, settings: GatewaySettings, *,
                 app_factory: AppFactory | None = None, **kwargs: Any) -> None:
        super().__init__(
            app, host=settings.http_host, port=settings.http_port,
            ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key,
            http=GuardedH11Protocol, timeout_keep_alive=settings.keep_alive_timeout_s,
            h11_max_incomplete_event_size=settings.max_head_bytes, **kwargs)
        self.header_timeout_s = settings.header_timeout_s
        self.body_timeout_s = settings.body_timeout_s
        self.max_connections = settings.max_connections
        self.gateway_settings = settings
        self.app_factory = app_factory

    def load_app(self) -> Any:
        if self.app_factory is None:
            return super().load_app()
        # In a worker process: its logging is configured afresh (a spawned process inherits
        # none), then its app is built.
        logs.configure()
        return self.app_factory(self.gateway_settings)


def server_config(app: Any, settings: GatewaySettings, **kwargs: Any) -> ServerConfig:
    """The uvicorn config serving ``app`` with ``settings`` (``kwargs``: uvicorn's own
    options, e.g. ``log_config=None, access_log=False``)."""
    return ServerConfig(app, settings, **kwargs)


def serve(app: Any, settings: GatewaySettings) -> None:
    """Serve ``app`` until interrupted, as ``prefshare-gateway serve`` does."""
    uvicorn.Server(server_config(app, settings, log_config=None, access_log=False)).run()


def serve_workers(app_factory: AppFactory, settings: GatewaySettings) -> None:
    """Serve ``app_factory(settings)`` in ``settings.workers`` processes until interrupted
    (a worker that dies is replaced by the supervisor)."""
    config = ServerConfig(f"{app_factory.__module__}:{app_factory.__qualname__}", settings,
                          app_factory=app_factory, workers=settings.workers,
                          log_config=None, access_log=False)
    Multiprocess(config, sockets=[config.bind_socket()]).run()
