"""Response headers that keep the pages (the portal signs with her key) out of frames, off
other origins' scripts and off plain HTTP, and the static files that may be served at all.

The Content-Security-Policy allows scripts, styles and connections from the gateway's own
origin only: no inline script, no ``eval``, no other origin, and no framing
(``frame-ancestors 'none'``, with ``X-Frame-Options: DENY`` for older browsers). Pages keep
their scripts in files (gateway/static/portal/portal.js, kiosk/kiosk.js, js/api-docs.js).
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'")


def security_headers(hsts_max_age_s: int) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries (HSTS only when ``hsts_max_age_s`` > 0)."""
    headers = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts_max_age_s > 0:
        headers.append((b"strict-transport-security", b"max-age=%d" % hsts_max_age_s))
    return headers


class SecurityHeaders:
    """ASGI middleware adding :func:`security_headers` to every response."""

    def __init__(self, app: ASGIApp, hsts_max_age_s: int) -> None:
        self.app, self.headers = app, security_headers(hsts_max_age_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers[name.decode()] = value.decode()
            await send(message)

        await self.app(scope, receive, with_headers)


#: What the pages load from /static/: their styles, scripts, vendored browser files and the
#: consortium's members. The rest of the folder (package.json, package-lock.json, build.sh,
#: README.md, node_modules/) is how those are built, not something to serve.
PAGE_FILES = ("css/", "js/", "vendor/", "consortium.json", "favicon.svg")


class PageFiles(StaticFiles):
    """StaticFiles serving only paths under :data:`PAGE_FILES` (404 for anything else)."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        clean = PurePosixPath(path).as_posix().lstrip("/")
        if ".." in PurePosixPath(clean).parts or not any(
                clean == allowed or (allowed.endswith("/") and clean.startswith(allowed))
                for allowed in PAGE_FILES):
            return "", None
        return super().lookup_path(path)
