"""A small HTTPS client for a retailer's gateway, as the demo's seeder and its checks use it.

Only the standard library: the demo runs from the project's environment, and the calls are
plain JSON over TLS to the gateway's certificate, issued by the retailer's own Fabric CA.
Every write carries an ``Idempotency-Key``; a 503 (the ledger briefly unavailable, a commit
not confirmed) is retried under the same key, so a write that did land is not applied twice;
a 429 (the gateway's rate limits) is retried after the ``Retry-After`` it names.
"""

from __future__ import annotations

import json
import secrets
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ApiError(Exception):
    """The gateway answered with an error: ``status`` and the error body's ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code = status, code


@dataclass
class GatewayClient:
    """Calls to one gateway at ``base_url`` (``https://host:port``), trusting ``ca_file``."""

    base_url: str
    ca_file: Path
    credential: str | None = None
    timeout_s: float = 60.0
    retries: int = 4
    _context: ssl.SSLContext = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._context = ssl.create_default_context(cafile=str(self.ca_file))

    def get(self, path: str) -> Any:
        return self._call("GET", path, None)

    def post(self, path: str, body: Any | None = None, *, idempotent: bool = True) -> Any:
        """POST ``body`` as JSON, with a fresh Idempotency-Key unless ``idempotent`` is
        False (a route that takes none)."""
        key = secrets.token_urlsafe(18) if idempotent else None
        return self._call("POST", path, body, key)

    def healthy(self) -> bool:
        try:
            return bool(self.get("/healthz").get("status") == "ok")
        except (ApiError, OSError):
            return False

    def _call(self, method: str, path: str, body: Any | None, key: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        if self.credential is not None:
            headers["Authorization"] = f"Bearer {self.credential}"
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                             headers=headers)
            try:
                with urllib.request.urlopen(request, context=self._context,
                                            timeout=self.timeout_s) as response:
                    text = response.read()
                    return json.loads(text) if text else None
            except urllib.error.HTTPError as exc:
                error = _error_of(exc)
                if exc.code not in (429, 503) or attempt == self.retries:
                    raise error from None
                wait = exc.headers.get("Retry-After", "")
                if wait.isdigit():  # the gateway's limits say when to come back
                    time.sleep(min(int(wait), 30))
                    continue
            time.sleep(0.5 * 2 ** attempt)
        raise AssertionError("unreachable")


def _error_of(exc: urllib.error.HTTPError) -> ApiError:
    try:
        detail = json.loads(exc.read())["error"]
        return ApiError(exc.code, str(detail["code"]), str(detail["message"]))
    except (ValueError, KeyError, TypeError):
        return ApiError(exc.code, "HTTP_ERROR", exc.reason or "")
