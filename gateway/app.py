"""The retailer's REST gateway: ``create_app(settings)`` builds one FastAPI application.

Without settings it reads them from the environment (:func:`gateway.settings.get_settings`),
so ``uvicorn --factory gateway.app:create_app`` serves a gateway configured by
``PREFSHARE_GATEWAY_*`` variables alone.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import BodyTooLarge, PayloadTooLarge, install_error_handlers, to_response
from gateway.limits import LimitSettings, RequestLimits
from gateway.routes import (
    admin,
    catalogue,
    consents,
    credentials,
    customers,
    events,
    members,
    ops,
    suggestions,
    watch,
    watch_nodes,
)
from gateway.security_headers import PageFiles, SecurityHeaders
from gateway.services import Services
from gateway.settings import GatewaySettings, get_settings
from gateway.strict_json import StrictJson

log = logging.getLogger("prefshare.gateway")

#: The browser pages (consent portal, kiosk) and their shared scripts, served as files.
STATIC = Path(__file__).parent / "static"
#: The API documentation page's Swagger UI, vendored by `make web` (gateway/static/build.sh):
#: a store has no CDN to fetch it from.
SWAGGER_UI = STATIC / "vendor" / "swagger-ui"
_DOCS_MISSING = ("<!doctype html><title>API documentation</title><p>The documentation "
                 "page's files are not installed: run <code>make web</code>. The schema is at "
                 "<a href=\"/openapi.json\">/openapi.json</a>.</p>")


#: The API documentation page: Swagger UI's files and its start script, no inline script
#: (the Content-Security-Policy allows none).
_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
<link rel="icon" href="/static/vendor/swagger-ui/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/js/api-docs.js" data-openapi="{openapi}"></script>
</body></html>"""


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isascii() and declared.isdigit() \
                and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            # Read outside the routes' error handling (none do so today): refuse here.
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = to_response(PayloadTooLarge(f"the request body is over {self.limit} bytes"))
        await response(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = Services.create(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        log.info("gateway starting", extra={"settings": settings.loggable()})
        yield
        if services.shared is not None and services.shared.rate_counters is not None:
            await services.shared.rate_counters.aclose()
        services.close()

    app = FastAPI(
        title=f"prefshare gateway ({settings.retailer})", version="1",
        summary="Consent, preference events and customer rights on the consortium ledger",
        lifespan=lifespan, docs_url=None, redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    for router in (consents.router, customers.router, events.router, suggestions.router,
                   catalogue.router, credentials.router, admin.router, watch.router,
                   watch_nodes.router, ops.router, members.router):
        app.include_router(router)

    # Outermost last. Inside the metrics middleware, so refused bodies are counted too, and
    # so the body limit's error is raised straight into FastAPI's body parsing (an HTTP
    # middleware would wrap it in an exception group, which FastAPI answers with a bare 400).
    # StrictJson reads the body inside the body limit; the request limits refuse before any
    # body is read.
    app.add_middleware(StrictJson)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestLimits, limits=LimitSettings(
        rate_per_address=settings.rate_per_address,
        rate_per_credential=settings.rate_per_credential,
        rate_registrations_per_address=settings.rate_registrations_per_address,
        rate_registrations=settings.rate_registrations,
        max_in_flight_per_credential=settings.max_in_flight_per_credential,
        max_in_flight=settings.max_in_flight, max_url_bytes=settings.max_url_bytes,
        max_head_bytes=settings.max_head_bytes, rate_per_member=settings.rate_per_member,
        max_in_flight_per_member=settings.max_in_flight_per_member,
        rate_suggestions_per_credential=settings.rate_suggestions_per_credential,
        rate_limited_delay_s=settings.rate_limited_delay_s),
        shared=services.shared.rate_counters if services.shared is not None else None)

    @app.middleware("http")
    async def observe(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # The route template, never the raw path: paths carry customer ids.
        route: Any = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        elapsed = time.perf_counter() - started
        services.metrics.requests.labels(request.method, template, response.status_code).inc()
        services.metrics.latency.labels(request.method, template).observe(elapsed)
        log.info("request", extra={"method": request.method, "route": template,
                                   "status": response.status_code,
                                   "ms": round(elapsed * 1000, 2)})
        return response

    app.add_middleware(SecurityHeaders, hsts_max_age_s=settings.hsts_max_age_s)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if not (SWAGGER_UI / "swagger-ui-bundle.js").is_file():
            return HTMLResponse(_DOCS_MISSING, status_code=503)
        return HTMLResponse(_DOCS_PAGE.format(title=html.escape(f"{app.title}: API"),
                                              openapi=app.openapi_url or "/openapi.json"))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # The pages name /static/favicon.svg; this answers browsers that ask anyway.
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    app.mount("/static", PageFiles(directory=STATIC), name="static")
    for page in ("portal", "kiosk", "operator"):
        if (STATIC / page).is_dir():
            app.mount(f"/{page}", StaticFiles(directory=STATIC / page, html=True), name=page)

    return app
