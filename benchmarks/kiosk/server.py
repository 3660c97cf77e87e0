"""The two servers the kiosk benchmark (:mod:`benchmarks.kiosk.load`) loads, each run in a
process of its own::

    python -m benchmarks.kiosk.server gateway --settings FILE
    python -m benchmarks.kiosk.server bare --settings FILE

``FILE`` is a :class:`~gateway.settings.GatewaySettings` as JSON (the benchmark writes it:
a fresh data folder, its catalogue and model, a loopback port). ``gateway`` serves
``create_app(settings)`` (in ``settings.workers`` processes) exactly as
``python -m gateway serve`` does (gateway/server.py: the
guarded h11 protocol, JSON logs, no access log); ``bare`` serves one FastAPI route,
``GET /v1/bare``, that answers a small JSON body at once, under the same server
configuration, host, port and TLS pair: the floor the gateway is compared with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fastapi import FastAPI

from gateway import logs
from gateway.server import serve, serve_workers
from gateway.settings import GatewaySettings

BARE_PATH = "/v1/bare"


def bare_app() -> FastAPI:
    """A FastAPI app with one route that does nothing but answer."""
    app = FastAPI(title="bare", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get(BARE_PATH)
    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.kiosk.server",
                                description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=("gateway", "bare"))
    p.add_argument("--settings", type=Path, required=True, help="GatewaySettings as JSON")
    args = p.parse_args(argv)
    settings = GatewaySettings.model_validate_json(args.settings.read_text(encoding="utf-8"))
    logs.configure()
    if args.kind == "gateway":
        from gateway.app import create_app

        if settings.workers > 1:  # worker processes on the shared database
            serve_workers(create_app, settings)
            return 0
        app = create_app(settings)
    else:
        app = bare_app()
    serve(app, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
