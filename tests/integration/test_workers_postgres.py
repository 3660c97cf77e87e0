"""A gateway of two worker processes sharing a real PostgreSQL, on the real network: a
revocation or a withdrawal through one worker is effective on the very next answer from
either, and issue 21's attacks on a gateway (floods, rates, slow connections, credentials,
malformed input, the pages' hardening) fail as they do on one process; the owner's side of
shared reads is test_abuse.py's.

Northwind's gateway runs as an operator starts it (``python -m gateway --env-file F serve
--workers 2``); Southgate's, which serves it her events under her consent, in this process.
Each probe goes over a fresh TLS connection, which the kernel hands to whichever worker is
waiting in accept: a round of them reaches both workers.
"""

from __future__ import annotations

import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from chaincode.fields import format_timestamp
from demo.wallet import DemoCustomer
from gateway.postgres.credentials import PostgresCredentialStore
from gateway.postgres.pool import open_pool
from gateway.stores import Role, key_id_of
from network.gateway_env import gateway_environment, render_env_file
from tests.integration.flood_client import Flood
from tests.integration.raw_tls import read_all, status_and_body, tls_socket

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
#: Offset of the two-worker gateway's port in the whole network's block.
PORT_OFFSET = 301
ROUND = 12  # fresh connections per probe round
SHARED_RATE = 60  # requests a credential may send a minute, to both workers together
SUGGESTIONS_RATE = 50  # of them, suggestions (no other test asks for more than 36)


@pytest.fixture(scope="module")
def database(postgres_url: str) -> str:
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("CREATE DATABASE workers")
    return postgres_url.rsplit("/", 1)[0] + "/workers"


@pytest.fixture(scope="module")
def south(start_ledger_gateway) -> Iterator[Any]:
    """Southgate's gateway at the port its members expect (the plan's)."""
    with start_ledger_gateway("southgate") as running:
        yield running


@pytest.fixture(scope="module")
def north(fabric_network, gateway_process, database, catalogue, south, tmp_path_factory
          ) -> Iterator[dict[str, Any]]:
    """Northwind's gateway on two workers; its base URL, CA root and credential store."""
    work = tmp_path_factory.mktemp("workers")
    (work / "catalogue.json").write_text(catalogue.to_json())
    port = fabric_network.consortium.port_base + PORT_OFFSET
    env = gateway_environment(fabric_network.consortium, "northwind", fabric_network.layout)
    env.update({"PREFSHARE_GATEWAY_DATA_DIR": str(work / "data"),
                "PREFSHARE_GATEWAY_HTTP_PORT": str(port),
                "PREFSHARE_GATEWAY_CATALOGUE_PATH": str(work / "catalogue.json"),
                "PREFSHARE_GATEWAY_DATABASE_URL": database,
                # One budget for both workers (the shared counters' test below); no other
                # test of the module sends a credential more than 36 requests.
                "PREFSHARE_GATEWAY_RATE_PER_CREDENTIAL": f"{SHARED_RATE}/minute",
                "PREFSHARE_GATEWAY_RATE_SUGGESTIONS_PER_CREDENTIAL":
                    f"{SUGGESTIONS_RATE}/minute",
                # The module registers (and sends malformed registrations) from this one
                # address more than the strangers' default of 10 a minute allows; the rate
                # itself is test_abuse.py's subject.
                "PREFSHARE_GATEWAY_RATE_REGISTRATIONS_PER_ADDRESS": "6000/minute",
                "PREFSHARE_GATEWAY_RATE_REGISTRATIONS": "6000/minute",
                # Slow connections are closed after 3 s (the default 10 s is test_abuse's
                # subject too; here it only makes the module's slow-connection test short).
                "PREFSHARE_GATEWAY_HEADER_TIMEOUT_S": "3",
                "PREFSHARE_GATEWAY_BODY_TIMEOUT_S": "3"})
    env_file = work / "northwind.env"
    env_file.write_text(render_env_file(env))
    root_ca = fabric_network.layout.ca_root_cert("northwind")
    pool = open_pool(database)
    argv = [sys.executable, "-m", "gateway", "--env-file", str(env_file), "serve",
            "--workers", "2"]
    try:
        with gateway_process(argv, port=port, root_ca=root_ca, log=work / "gateway.log",
                             cwd=ROOT):
            yield {"url": f"https://127.0.0.1:{port}", "root_ca": root_ca,
                   "credentials": PostgresCredentialStore(pool), "log": work / "gateway.log"}
    finally:
        pool.close()


def _fresh(north: dict[str, Any], method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request over a connection of its own."""
    trust = ssl.create_default_context(cafile=str(north["root_ca"]))
    with httpx.Client(base_url=north["url"], verify=trust, timeout=30) as client:
        return client.request(method, path, **kwargs)


def _round(north: dict[str, Any], path: str, headers: dict[str, str]) -> list[httpx.Response]:
    return [_fresh(north, "GET", path, headers=headers) for _ in range(ROUND)]


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def _write(north: dict[str, Any], path: str, body: Any, headers: dict[str, str] | None = None,
           key: str | None = None) -> httpx.Response:
    return _fresh(north, "POST", path, json=body, headers={
        "Idempotency-Key": key or f"wk-{secrets.token_hex(10)}", **(headers or {})})


def test_serving_two_workers_on_sqlite_is_refused_in_one_line(tmp_path):
    env_file = tmp_path / "x.env"
    env_file.write_text("")
    done = subprocess.run([sys.executable, "-m", "gateway", "--env-file", str(env_file),
                           "serve", "--workers", "2"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PREFSHARE_GATEWAY_RETAILER": "xy",
                               "PREFSHARE_GATEWAY_MSP_ID": "XyMSP",
                               "PREFSHARE_GATEWAY_ENDORSING_ORGS": '["XyMSP"]',
                               "PREFSHARE_GATEWAY_PEER_ENDPOINT": "127.0.0.1:1",
                               "PREFSHARE_GATEWAY_PEER_TLS_ROOT": "/nonexistent",
                               "PREFSHARE_GATEWAY_MSP_DIR": "/nonexistent",
                               "PREFSHARE_GATEWAY_DATA_DIR": str(tmp_path / "d")})
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "DATABASE_URL" in done.stderr


def test_a_revocation_through_one_worker_is_refused_at_once_by_both(north, catalogue):
    store = catalogue.stores("NorthwindMSP")[0]
    admin = _bearer(north["credentials"].issue("hq", Role.ADMIN))
    credential = north["credentials"].issue(store)
    path = "/v1/customers/c_" + "U" * 43 + "/consents"
    assert {r.status_code for r in _round(north, path, _bearer(credential))} == {404}
    revoked = _fresh(north, "DELETE", f"/v1/admin/credentials/{key_id_of(credential)}",
                     headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert {r.status_code for r in _round(north, path, _bearer(credential))} == {401}


def test_a_withdrawal_through_one_worker_changes_the_next_answer_of_both(
        north, south, catalogue):
    customer = DemoCustomer.new()
    assert _write(north, "/v1/customers", {"public_key": customer.public_key}).status_code == 201
    sg_store = catalogue.stores("SouthgateMSP")[0]
    when = format_timestamp(datetime.now(UTC) - timedelta(minutes=3))
    batch = {"events": [{"event_id": f"wk-{secrets.token_hex(6)}", "item_id": item,
                         "item_category": "kiosk", "event_type": "purchase", "value": 1.0,
                         "timestamp": when} for item in catalogue.items_in_store(sg_store)[:3]]}
    recorded = south.write(f"/v1/stores/{sg_store}/customers/{customer.customer_id}/events",
                           batch, south.credential(sg_store))
    assert recorded.status_code == 201, recorded.text
    consent = customer.grant(["NorthwindMSP"], categories=("purchases",))
    assert _write(north, "/v1/consents", consent).status_code == 201
    store = catalogue.stores("NorthwindMSP")[0]
    path = f"/v1/stores/{store}/customers/{customer.customer_id}/suggestions"
    kiosk = _bearer(north["credentials"].issue(store))
    # Both workers' caches hold her read (a round fills them, the next is answered there).
    for _ in range(2):
        answers = _round(north, path, kiosk)
        assert all(a.status_code == 200 for a in answers), answers[0].text
        assert {tuple(a.json()["data_sources"]) for a in answers} == {("SouthgateMSP",)}
    withdrawn = _write(north, "/v1/consents", customer.withdraw(consent["consent_id"]))
    assert withdrawn.status_code == 201, withdrawn.text
    answers = _round(north, path, kiosk)
    assert {tuple(a.json()["data_sources"]) for a in answers} == {()}


def test_a_credentials_rate_is_one_budget_for_both_workers(north, catalogue):
    """Counted apart, each worker would let SHARED_RATE through: fresh connections spread
    over both, so 5 more than the budget would all pass."""
    credential = north["credentials"].issue(catalogue.stores("NorthwindMSP")[0])
    path = "/v1/customers/c_" + "U" * 43 + "/consents"
    answers = [_fresh(north, "GET", path, headers=_bearer(credential))
               for _ in range(SHARED_RATE + 5)]
    codes = [a.status_code for a in answers]
    assert codes == [404] * SHARED_RATE + [429] * 5, codes
    for refused in answers[SHARED_RATE:]:
        error = refused.json()["error"]
        assert (error["code"], error["details"]["limit"]) == ("RATE_LIMITED", "credential")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_suggestions_have_their_own_rate_per_credential_on_both_workers(north, catalogue):
    """The suggestions' own rate (the costliest route a store calls) is one budget too."""
    store = catalogue.stores("NorthwindMSP")[0]
    credential = _bearer(north["credentials"].issue(store))
    path = f"/v1/stores/{store}/customers/c_{'U' * 43}/suggestions"
    answers = [_fresh(north, "GET", path, headers=credential)
               for _ in range(SUGGESTIONS_RATE + 5)]
    assert all(a.status_code != 429 for a in answers[:SUGGESTIONS_RATE]), \
        [a.status_code for a in answers]
    for refused in answers[SUGGESTIONS_RATE:]:
        assert refused.status_code == 429
        assert refused.json()["error"]["details"]["limit"] == "suggestions_per_credential"


# -- a chosen set of test_abuse.py's attacks, against the two workers ---------------------------

def test_an_expired_credential_is_refused_by_both(north, catalogue):
    credential = north["credentials"].issue(catalogue.stores("NorthwindMSP")[0],
                                            lifetime=timedelta(seconds=1))
    time.sleep(1.1)
    path = "/v1/customers/c_" + "U" * 43 + "/consents"
    assert {r.status_code for r in _round(north, path, _bearer(credential))} == {401}


def test_a_retried_write_is_answered_once_whichever_worker_gets_it(north):
    body = {"public_key": DemoCustomer.new().public_key}
    key = f"wk-{secrets.token_hex(10)}"
    first = _write(north, "/v1/customers", body, key=key)
    assert first.status_code == 201, first.text
    retries = [_write(north, "/v1/customers", body, key=key) for _ in range(6)]
    assert all(r.status_code == 201 and r.headers.get("idempotent-replay") == "true"
               and r.json() == first.json() for r in retries)


@pytest.mark.parametrize(("body", "kind"), [
    (b'{"public_key": "' + b"A" * 60 + b'", "public_key": "' + b"B" * 60 + b'"}',
     "json_duplicate_key"),
    (b"[" * 50_000 + b"]" * 50_000, "json_too_deep"),
])
def test_malformed_bodies_are_refused_by_both(north, body, kind):
    for _ in range(4):
        r = _fresh(north, "POST", "/v1/customers", content=body, headers={
            "Content-Type": "application/json", "Idempotency-Key": f"raw-{secrets.token_hex(6)}"})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["type"] == kind


def test_an_admin_never_acts_as_another_retailers_store_on_either(north, catalogue):
    foreign = catalogue.stores("SouthgateMSP")[0]
    admin = _bearer(north["credentials"].issue("hq", Role.ADMIN))
    path = f"/v1/stores/{foreign}/customers/c_{'U' * 43}/suggestions"
    assert {r.status_code for r in _round(north, path, admin)} == {403}


def _event(item: str, **extra: Any) -> dict[str, Any]:
    event = {"event_id": f"ev-{time.monotonic_ns()}", "item_id": item, "item_category": "m",
             "event_type": "purchase", "value": 1.0,
             "timestamp": format_timestamp(datetime.now(UTC) - timedelta(minutes=1))}
    return {"events": [{**event, **extra}]}


def test_slow_connections_are_closed_with_408_by_both_and_others_are_served(north, catalogue):
    host, port = "127.0.0.1", int(north["url"].rsplit(":", 1)[1])
    slow = [tls_socket(host, port, north["root_ca"]) for _ in range(ROUND)]
    for sock in slow:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the head never ends
    started = time.monotonic()
    try:
        store = _bearer(north["credentials"].issue(catalogue.stores("NorthwindMSP")[1]))
        assert {r.status_code for r in
                _round(north, "/v1/customers/c_" + "U" * 43 + "/consents", store)} == {404}
        for sock in slow:
            status, body = status_and_body(read_all(sock, 10))
            assert (status, body["error"]["code"]) == (408, "REQUEST_TIMEOUT")
        assert time.monotonic() - started < 8
    finally:
        for sock in slow:
            sock.close()


@pytest.mark.parametrize("path", ["/portal/", "/healthz", f"/v1/customers/c_{'U' * 43}/consents"])
def test_every_answer_from_either_carries_the_hardening_headers(north, path):
    for answer in [_fresh(north, "GET", path) for _ in range(4)]:
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["strict-transport-security"].startswith("max-age=")


def test_neither_serves_build_files_nor_takes_an_oversized_head(north):
    for path in ("package.json", "build.sh", "css/../package.json"):
        answers = [_fresh(north, "GET", f"/static/{path}") for _ in range(4)]
        assert {(a.status_code, a.json()["error"]["code"]) for a in answers} == {
            (404, "NOT_FOUND")}, path
    big = [_fresh(north, "GET", "/healthz", headers={"X-Filler": "a" * 40_000})
           for _ in range(4)]
    assert {(a.status_code, a.json()["error"]["code"]) for a in big} == {
        (431, "REQUEST_HEAD_TOO_LARGE")}


def test_implausible_times_and_unknown_items_are_refused_by_both(north, catalogue):
    customer = DemoCustomer.new()
    assert _write(north, "/v1/customers", {"public_key": customer.public_key}).status_code == 201
    own = catalogue.stores("NorthwindMSP")[0]
    store = _bearer(north["credentials"].issue(own))
    path = f"/v1/stores/{own}/customers/{customer.customer_id}/events"
    item = catalogue.items_in_store(own)[0]
    for _ in range(3):
        future = _write(north, path, _event(item, timestamp="9999-12-31T23:59:59.999Z"), store)
        assert (future.status_code, future.json()["error"]["code"]) == (422, "IMPLAUSIBLE_TIME")
        unknown = _write(north, path, _event("no-such-item"), store)
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "UNKNOWN_ITEM")
    assert _write(north, path, _event(item), store).status_code == 201


def test_a_flooding_credential_stalls_neither_health_nor_another_store_on_either(
        north, catalogue):
    """More than the credential's shared budget at once (SHARED_RATE + 10): at least ten are
    refused, whichever worker counts them, and health and another store are answered."""
    flooding, other = (north["credentials"].issue(store)
                       for store in catalogue.stores("NorthwindMSP")[:2])
    unknown = f"/v1/customers/c_{'U' * 43}"
    flood = Flood(north["url"], north["root_ca"], f"{unknown}/preferences", flooding,
                  SHARED_RATE + 10)
    flood.go()
    time.sleep(0.05)
    health_s = []
    for _ in range(4):
        started = time.perf_counter()
        assert _fresh(north, "GET", "/healthz").status_code == 200
        health_s.append(time.perf_counter() - started)
        assert _fresh(north, "GET", f"{unknown}/consents",
                      headers=_bearer(other)).status_code == 404
    flooded = flood.answers()
    assert max(health_s) < 1.0, health_s
    assert [f for f in flooded if "error" in f] == []
    assert {f["status"] for f in flooded} <= {404, 429}
    refused = [f for f in flooded if f["status"] == 429]
    assert len(refused) >= 10 and {f["body"]["error"]["code"] for f in refused} <= {
        "TOO_MANY_IN_FLIGHT", "RATE_LIMITED"}
