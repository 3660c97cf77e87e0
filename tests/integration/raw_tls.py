"""Raw TLS connections to a gateway, for attacks an HTTP client is too polite to send (a
request head that never ends, a connection held open): test_abuse.py and
test_workers_postgres.py."""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path
from typing import Any


def tls_socket(host: str, port: int, root_ca: Path) -> ssl.SSLSocket:
    """A TLS connection to ``host:port``, its certificate checked against ``root_ca``."""
    context = ssl.create_default_context(cafile=str(root_ca))
    raw = socket.create_connection((host, port), timeout=10)
    return context.wrap_socket(raw, server_hostname=host)


def read_all(sock: ssl.SSLSocket, timeout_s: float) -> bytes:
    """What the server sends until it closes the connection or ``timeout_s`` passes."""
    sock.settimeout(timeout_s)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (TimeoutError, ssl.SSLError, ConnectionError):
        pass
    return b"".join(chunks)


def status_and_body(raw: bytes) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of one raw HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)
