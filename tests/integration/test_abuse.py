"""The gateway under a hostile client, on the real network: each finding of issue 21 as an
attack that now fails, while the gateway's health and a well-behaved store's answers stay
unaffected.

Each attack runs against a real gateway (conftest ``start_ledger_gateway``: HTTPS under the
gateway's own server configuration, its own peer, the orderers), with limits set low enough
that a bounded attack from one test reaches them (the defaults are in gateway/settings.py).
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from gateway.ledger_bench import DemoCustomer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETAILER, MSP = "northwind", "NorthwindMSP"
#: Ports of this module (the 24000 block; conftest moves them with the block).
PORT, REGISTRATION_PORT, CONNECTIONS_PORT = 24292, 24293, 24294
UNKNOWN = "c_" + "U" * 43
#: Limits this module's gateways run with (the attacks stay bounded).
LIMITS = {"rate_per_credential": "30/second", "max_in_flight_per_credential": 4,
          "header_timeout_s": 2.0, "body_timeout_s": 2.0}


@pytest.fixture(scope="module")
def gateway(start_ledger_gateway, catalogue) -> Iterator[Any]:
    with start_ledger_gateway(RETAILER, catalogue=catalogue, http_port=PORT,
                              **LIMITS) as running:
        yield running


@pytest.fixture(scope="module")
def stores(catalogue) -> tuple[str, str]:
    first, second = catalogue.stores(MSP)[:2]
    return first, second


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


def _client(gateway: Any, connections: int = 100) -> httpx.Client:
    trust = ssl.create_default_context(cafile=str(gateway.root_ca))
    return httpx.Client(base_url=gateway.base_url, verify=trust, timeout=30,
                        limits=httpx.Limits(max_connections=connections,
                                            max_keepalive_connections=connections))


def _tls_socket(gateway: Any) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(gateway.root_ca))
    raw = socket.create_connection((gateway.settings.http_host, gateway.settings.http_port),
                                   timeout=10)
    return context.wrap_socket(raw, server_hostname=gateway.settings.http_host)


def _read_all(sock: ssl.SSLSocket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (TimeoutError, ssl.SSLError, ConnectionError):
        pass
    return b"".join(chunks)


def _status_and_body(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


# -- 1. limits ----------------------------------------------------------------------------------

def test_a_flooding_credential_stalls_neither_health_nor_another_store(gateway, stores):
    flooder, other = gateway.credential(stores[0]), gateway.credential(stores[1])
    path = f"/v1/customers/{UNKNOWN}/preferences"
    with _client(gateway) as client, ThreadPoolExecutor(60) as pool:
        flood = [pool.submit(client.get, path, headers=flooder) for _ in range(60)]
        time.sleep(0.05)
        health_s, answers = [], []
        for _ in range(5):
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            health_s.append(time.perf_counter() - started)
            answers.append(client.get(f"/v1/customers/{UNKNOWN}/consents", headers=other))
        flooded = [f.result() for f in flood]
    # Before: 60 reads from one credential stalled /healthz for 2.3 s (the shared pool).
    assert max(health_s) < 1.0, health_s
    assert all(a.status_code == 404 and _error(a)["code"] == "UNKNOWN_CUSTOMER"
               for a in answers), [a.text for a in answers]
    refused = [r for r in flooded if r.status_code == 429]
    assert refused, "the flood was not bounded"
    for r in refused:
        assert _error(r)["code"] in {"TOO_MANY_IN_FLIGHT", "RATE_LIMITED"}
        assert int(r.headers["retry-after"]) >= 1
    assert {r.status_code for r in flooded} <= {404, 429}


def test_a_credential_over_its_rate_gets_429_with_retry_after(gateway, stores):
    flooder, other = gateway.credential(stores[0]), gateway.credential(stores[1])
    with _client(gateway) as client:
        answers = [client.get("/v1/admin/model", headers=flooder) for _ in range(45)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited and all(_error(a)["code"] == "RATE_LIMITED" for a in limited)
        assert all(1 <= int(a.headers["retry-after"]) <= 2 for a in limited)
        assert _error(limited[0])["details"]["limit"] == "credential"
        # Another store of the retailer, and the health, are not limited by it.
        assert client.get("/v1/admin/model", headers=other).status_code == 403
        assert client.get("/healthz").status_code == 200
        time.sleep(int(limited[-1].headers["retry-after"]) + 0.1)
        assert client.get("/v1/admin/model", headers=flooder).status_code == 403


def test_a_stores_repeated_reads_of_her_log_one_access_per_session(gateway, stores):
    customer = DemoCustomer.new()
    assert gateway.write("/v1/customers", {"public_key": customer.public_key}).status_code == 201
    store = gateway.credential(stores[0])
    path = f"/v1/customers/{customer.customer_id}/preferences"
    for _ in range(6):
        assert gateway.client.get(path, headers=store).status_code == 200
    export = gateway.write(f"/v1/customers/{customer.customer_id}/export",
                           customer.rights_request("export"))
    assert export.status_code == 200, export.text
    log = export.json()["access_log"]
    # Before: one LogAccess transaction per GET, so a store could grow the ledger at will.
    assert [(e["reader"], e["purpose"]) for e in log] == [(MSP, "personalisation")]


@pytest.fixture(scope="module")
def registration_gateway(start_ledger_gateway) -> Iterator[Any]:
    with start_ledger_gateway(RETAILER, http_port=REGISTRATION_PORT,
                              rate_registrations_per_address="3/minute") as running:
        yield running


def test_anonymous_registrations_are_throttled(registration_gateway):
    gw = registration_gateway
    height = gw.services.connection.ledger.block_height(gw.settings.channel)
    answers = [gw.write("/v1/customers", {"public_key": DemoCustomer.new().public_key})
               for _ in range(8)]
    # Before: 30 anonymous registrations, each a ledger write, went through in 1.9 s.
    assert [a.status_code for a in answers] == [201] * 3 + [429] * 5
    assert all(_error(a)["details"]["limit"] == "registrations_per_address" and
               int(a.headers["retry-after"]) >= 1 for a in answers[3:])
    assert gw.services.connection.ledger.block_height(gw.settings.channel) <= height + 3
    assert gw.client.get("/healthz").status_code == 200


def test_slow_connections_are_closed_with_408_and_others_are_served(gateway, stores):
    slow = []
    for _ in range(40):
        sock = _tls_socket(gateway)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the head never ends
        slow.append(sock)
    body_sock = _tls_socket(gateway)
    body_sock.sendall(b"POST /v1/customers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pu")
    started = time.monotonic()
    try:
        # A well-behaved store is served while they hang.
        r = gateway.client.get(f"/v1/customers/{UNKNOWN}/consents",
                               headers=gateway.credential(stores[1]))
        assert r.status_code == 404
        for sock in [*slow, body_sock]:
            status, body = _status_and_body(_read_all(sock, 10))
            assert (status, body["error"]["code"]) == (408, "REQUEST_TIMEOUT")
        # Before: 200 slow connections stayed open for 30 s.
        assert time.monotonic() - started < 8
    finally:
        for sock in [*slow, body_sock]:
            sock.close()


@pytest.fixture(scope="module")
def connections_gateway(start_ledger_gateway) -> Iterator[Any]:
    with start_ledger_gateway(RETAILER, http_port=CONNECTIONS_PORT, max_connections=20,
                              header_timeout_s=3.0) as running:
        yield running


def test_connections_over_the_bound_are_refused_in_the_error_shape(connections_gateway):
    held = [_tls_socket(connections_gateway) for _ in range(20)]
    try:
        extra = _tls_socket(connections_gateway)
        status, body = _status_and_body(_read_all(extra, 5))
        assert (status, body["error"]["code"]) == (503, "OVERLOADED")
        extra.close()
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while connections_gateway.client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
