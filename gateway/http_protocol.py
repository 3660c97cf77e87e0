"""The gateway's HTTP/1.1 connection: uvicorn's h11 protocol with read deadlines and its
refusals in the project's error shape.

uvicorn bounds the time a connection may sit idle *between* requests (``timeout_keep_alive``)
but not the time a client takes to send a request's head or body: a client that sends one
header line a minute holds its connection (and a slot of ``limit_concurrency``) for ever.
This protocol gives every request a deadline for its head (``header_timeout_s``, from its
first byte or from the connection's start) and one for its body (``body_timeout_s``, from
the end of the head), and answers 408 ``REQUEST_TIMEOUT`` when one passes. uvicorn's own
answer to a malformed or oversized head is a plain-text 400; here it is the error shape, with
431 ``REQUEST_HEAD_TOO_LARGE`` for a request line and headers over h11's buffer limit. A
connection over ``max_connections`` gets 503 ``OVERLOADED`` and is closed at once (uvicorn's
own ``limit_concurrency`` answers in plain text, so it is not used; gateway/limits.py bounds
the requests in flight).

uvicorn takes the protocol class as its ``http`` setting (gateway/server.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol

_REASONS = {400: b"Bad Request", 408: b"Request Timeout",
            431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}
_REFUSALS = {
    400: ("MALFORMED_REQUEST", "the request is not valid HTTP/1.1"),
    408: ("REQUEST_TIMEOUT", "the request was not received in time"),
    431: ("REQUEST_HEAD_TOO_LARGE", "the request line and headers are over the gateway's limit"),
    503: ("OVERLOADED", "the gateway has too many connections; retry later"),
}


def refusal_bytes(status: int) -> bytes:
    """A whole HTTP/1.1 response in the project's error shape that closes the connection."""
    code, message = _REFUSALS[status]
    body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
    retry = b"retry-after: 1\r\n" if status == 503 else b""
    head = (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"%sconnection: close\r\n\r\n" % (status, _REASONS[status], len(body), retry))
    return head + body


class _Connection(h11.Connection):
    """h11's server connection remembering the status its last protocol error suggests."""

    refused_status = 400

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refused_status = 431 if exc.error_status_hint == 431 else 400
            raise


class GuardedH11Protocol(H11Protocol):
    """:class:`H11Protocol` with head and body deadlines, a connection bound and
    error-shaped refusals; its limits are attributes of the config (gateway/server.py)."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn = _Connection(h11.SERVER, config.h11_max_incomplete_event_size
                                or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE)
        self.limit_concurrency = None  # see the module's docstring
        self._header_timeout: float = config.header_timeout_s
        self._body_timeout: float = config.body_timeout_s
        self._max_connections: int = config.max_connections
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete or \
                not self.cycle.response_started:
            # Nothing of a response is on the wire: the client gets a reason.
            self.transport.write(refusal_bytes(408))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._max_connections:
            self.transport.write(refusal_bytes(503))
            self.transport.close()
            return
        self._arm(self._header_timeout)  # a connection that never sends a request

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        waiting_for_head = self.conn.their_state is h11.IDLE
        if waiting_for_head and self._deadline is None:
            # The first byte of a request on a kept-alive connection starts its deadline;
            # later bytes do not move it (a slow client cannot extend it byte by byte).
            self._arm(self._header_timeout)
        super().data_received(data)
        if waiting_for_head and self.conn.their_state is h11.SEND_BODY:
            self._arm(self._body_timeout)
        elif self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()  # uvicorn's keep-alive timeout takes over until the next byte
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        self._disarm()
        status = self.conn.refused_status if isinstance(self.conn, _Connection) else 400
        self.transport.write(refusal_bytes(status))
        self.transport.close()
