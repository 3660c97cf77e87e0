"""The REST gateway as a real HTTPS server on 127.0.0.1, with identities from the real CA,
and its peer down on purpose (the CA-only network, conftest ``start_gateway``).

A peer that cannot be reached is a documented case of the API (503, clear reason, nothing
written, a retry really retries), and everything decided before the ledger is reached
(authentication, authorisation, validation, size limits, idempotency keys, the chaincode's
own record rules) is exercised here without one. The success paths, and a peer stopped and
restarted under a running gateway, run on the real network in the ``test_ledger_*.py``
modules (docs/gateway.md).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from demo.gateway_settings import gateway_settings
from gateway.stores import CredentialStore, Role
from gateway.suggestions import NOTICE_LEDGER_UNAVAILABLE
from network.gateway_env import write_gateway_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MARKER = "zz-personal-marker-7f3a"
CUSTOMER = "c_" + "Q" * 43


@pytest.fixture(scope="module")
def gateway(start_gateway, catalogue) -> Iterator[Any]:
    with start_gateway("northwind", catalogue=catalogue, max_body_bytes=64 * 1024) as running:
        yield running


def _error(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def _events(n: int = 2, **override) -> dict:
    events = [{"event_id": f"e-{i}", "item_id": f"item-{i}", "item_category": "shoes",
               "event_type": "purchase", "value": 1.0,
               "timestamp": "2026-11-21T10:00:00.000Z"} for i in range(n)]
    for event in events:
        event.update(override)
    return {"events": events}


def test_https_uses_the_retailers_ca_certificate(gateway):
    assert gateway.client.get("/openapi.json").status_code == 200
    with httpx.Client(verify=True) as untrusting, pytest.raises(httpx.ConnectError):
        untrusting.get(f"{gateway.client.base_url}/openapi.json")


def test_health_reports_the_unreachable_peer_with_503(gateway):
    r = gateway.client.get("/healthz")
    assert r.status_code == 503
    assert r.json() == {"status": "degraded", "peer": "unreachable"}


def test_openapi_lists_the_versioned_endpoints(gateway):
    paths = gateway.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/consents", "/v1/customers", "/v1/customers/{customer_id}/consents",
                 "/v1/stores/{store_id}/customers/{customer_id}/events",
                 "/v1/customers/{customer_id}/export", "/v1/customers/{customer_id}/erasure",
                 "/v1/admin/stores/{store_id}/credentials", "/healthz", "/metrics"):
        assert path in paths, path
    assert gateway.client.get("/docs").status_code == 200


def test_reads_without_credentials_are_401(gateway):
    r = gateway.client.get(f"/v1/customers/{CUSTOMER}/consents")
    assert r.status_code == 401 and _error(r)["code"] == "UNAUTHENTICATED"
    r = gateway.client.get(f"/v1/customers/{CUSTOMER}/consents",
                           headers={"Authorization": "Bearer psk_0123456789abcdef." + "x" * 43})
    assert r.status_code == 401


def test_revoked_credential_is_401(gateway):
    credential = gateway.services.credentials.issue("store-r")
    key_id = credential.removeprefix("psk_").split(".")[0]
    assert gateway.services.credentials.revoke(key_id)
    r = gateway.client.get(f"/v1/customers/{CUSTOMER}/consents",
                           headers={"Authorization": f"Bearer {credential}"})
    assert r.status_code == 401


def test_store_cannot_write_for_another_store(gateway):
    r = gateway.client.post(f"/v1/stores/store-b/customers/{CUSTOMER}/events", json=_events(),
                            headers={**gateway.credential("store-a"), "Idempotency-Key": "k" * 16})
    assert r.status_code == 403 and _error(r)["code"] == "FORBIDDEN"


def test_only_admin_issues_store_credentials_and_they_work(gateway):
    r = gateway.client.post("/v1/admin/stores/store-c/credentials",
                            headers=gateway.credential("store-a"))
    assert r.status_code == 403
    r = gateway.client.post("/v1/admin/stores/store-c/credentials",
                            headers=gateway.credential("hq", Role.ADMIN))
    assert r.status_code == 201
    issued = r.json()
    assert issued["store_id"] == "store-c" and issued["role"] == "store"
    # Authenticated now: the request reaches the ledger, whose peer is down.
    r = gateway.client.get(f"/v1/customers/{CUSTOMER}/consents",
                           headers={"Authorization": f"Bearer {issued['credential']}"})
    assert r.status_code == 503 and _error(r)["code"] == "PEER_UNAVAILABLE"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"public_key": MARKER + "!"}, ["body", "public_key"]),
        ({"public_key": "A" * 64, "name": MARKER}, ["body", "name"]),
        ({"public_key": 12345}, ["body", "public_key"]),
    ],
)
def test_invalid_bodies_are_422_naming_the_field_without_echoing_it(gateway, body, where):
    r = gateway.client.post("/v1/customers", json=body, headers={"Idempotency-Key": "k" * 16})
    assert r.status_code == 422
    error = _error(r)
    assert error["code"] == "VALIDATION_FAILED"
    assert [d["loc"] for d in error["details"]] == [where]
    assert MARKER not in r.text


def test_malformed_json_is_422(gateway):
    r = gateway.client.post("/v1/consents", content=b"{not json",
                            headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and _error(r)["code"] == "VALIDATION_FAILED"


def test_oversized_body_is_413(gateway):
    r = gateway.client.post("/v1/customers", content=b"x" * (65 * 1024),
                            headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and _error(r)["code"] == "PAYLOAD_TOO_LARGE"


def test_batch_over_500_events_is_refused(gateway):
    r = gateway.client.post(f"/v1/stores/store-a/customers/{CUSTOMER}/events",
                            json=_events(501),
                            headers={**gateway.credential("store-a"), "Idempotency-Key": "k" * 16})
    assert r.status_code in (413, 422)


def test_writes_need_an_idempotency_key(gateway):
    r = gateway.client.post(f"/v1/stores/store-a/customers/{CUSTOMER}/events", json=_events(),
                            headers=gateway.credential("store-a"))
    assert r.status_code == 400 and _error(r)["code"] == "IDEMPOTENCY_KEY_REQUIRED"


def test_consent_statement_breaking_chaincode_rules_is_refused_before_the_ledger(gateway):
    statement = {
        "action": "grant", "consent_id": "k-1", "customer_id": CUSTOMER,
        "given_at": "2026-11-21T10:00:00.000Z", "nonce": "n" * 20,
        "collection_method": "kiosk", "policy_version": "2026-11", "jurisdiction": "DE",
        "recipients": ["SouthgateMSP"], "purposes": ["personalisation"],
        "data_categories": ["purchases"], "expires_at": "2026-11-20T10:00:00.000Z",
        "signature": "A" * 86,
    }
    r = gateway.client.post("/v1/consents", json=statement, headers={"Idempotency-Key": "k" * 16})
    assert r.status_code == 400
    assert _error(r)["code"] == "EXPIRY_BEFORE_GIVEN"


def test_write_while_peer_down_is_503_and_the_retry_really_retries(gateway):
    headers = {**gateway.credential("store-a"), "Idempotency-Key": "retry-key-0001"}
    url = f"/v1/stores/store-a/customers/{CUSTOMER}/events"
    first = gateway.client.post(url, json=_events(), headers=headers)
    assert first.status_code == 503 and _error(first)["code"] == "PEER_UNAVAILABLE"
    second = gateway.client.post(url, json=_events(), headers=headers)
    assert second.status_code == 503
    assert "Idempotent-Replay" not in second.headers


def test_refused_request_is_replayed_for_its_key_and_a_changed_body_is_refused(gateway):
    headers = {**gateway.credential("store-a"), "Idempotency-Key": "replay-key-0001"}
    url = f"/v1/stores/store-a/customers/{CUSTOMER}/events"
    bad = _events(2, event_id="same-id")  # the chaincode's rule: ids unique in a batch
    first = gateway.client.post(url, json=bad, headers=headers)
    assert first.status_code == 400 and _error(first)["code"] == "DUPLICATE_EVENT_ID"
    again = gateway.client.post(url, json=bad, headers=headers)
    assert again.status_code == first.status_code and again.json() == first.json()
    changed = gateway.client.post(url, json=_events(1), headers=headers)
    assert changed.status_code == 422
    assert _error(changed)["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_metrics_count_requests_by_route_template_without_customer_ids(gateway):
    gateway.client.get(f"/v1/customers/{CUSTOMER}/consents")
    text = gateway.client.get("/metrics").text
    assert 'route="/v1/customers/{customer_id}/consents"' in text
    assert "prefshare_http_requests_total" in text
    assert CUSTOMER not in text


def test_cli_issues_a_credential_for_the_consortium_gateway(gateway, ca_network, consortium,
                                                            tmp_path):
    env_file = write_gateway_env(consortium, "northwind", ca_network.layout,
                                 tmp_path / "northwind.env")
    run = [sys.executable, "-m", "gateway", "--env-file"]
    done = subprocess.run([*run, str(env_file), "issue-credential", "--store", "store-z"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    credential = done.stdout.strip()
    # The CLI wrote into the consortium gateway's own database, which now accepts it.
    data_dir = gateway_settings(consortium, "northwind", ca_network.layout).data_dir
    principal = CredentialStore(data_dir / "gateway.sqlite3").authenticate(credential)
    assert principal is not None and principal.store_id == "store-z"
    missing = tmp_path / "nowhere.env"
    bad = subprocess.run([*run, str(missing), "issue-credential", "--store", "s"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and str(missing) in bad.stderr
    invalid = tmp_path / "invalid.env"
    invalid.write_text(env_file.read_text().replace("PREFSHARE_GATEWAY_HTTP_PORT='",
                                                    "PREFSHARE_GATEWAY_HTTP_PORT='x"))
    bad = subprocess.run([*run, str(invalid), "issue-credential", "--store", "s"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0 and "PREFSHARE_GATEWAY_HTTP_PORT" in bad.stderr


def test_suggestions_while_ledger_unreachable_use_none_of_her_data(gateway, catalogue):
    store = catalogue.stores("NorthwindMSP")[0]
    r = gateway.client.get(f"/v1/stores/{store}/customers/{CUSTOMER}/suggestions?n=7",
                           headers=gateway.credential(store))
    assert r.status_code == 200
    body = r.json()
    assert body["strategy"] == "popularity" and body["notice"] == NOTICE_LEDGER_UNAVAILABLE
    assert body["data_sources"] == []
    assert len(body["items"]) == 7
    stocked = set(catalogue.items_in_store(store))
    assert all(item["item_id"] in stocked for item in body["items"])


@pytest.mark.parametrize("n", [0, 51, "ten"])
def test_suggestions_n_out_of_range_is_422(gateway, catalogue, n):
    store = catalogue.stores("NorthwindMSP")[0]
    r = gateway.client.get(f"/v1/stores/{store}/customers/{CUSTOMER}/suggestions?n={n}",
                           headers=gateway.credential(store))
    assert r.status_code == 422 and _error(r)["code"] == "VALIDATION_FAILED"


def test_suggestions_for_a_store_of_another_retailer_is_404(gateway, catalogue):
    store = catalogue.stores("SouthgateMSP")[0]
    r = gateway.client.get(f"/v1/stores/{store}/customers/{CUSTOMER}/suggestions",
                           headers=gateway.credential(store))
    assert r.status_code == 404 and _error(r)["code"] == "UNKNOWN_STORE"


def test_suggestions_for_another_store_are_403(gateway, catalogue):
    mine, other = catalogue.stores("NorthwindMSP")[:2]
    r = gateway.client.get(f"/v1/stores/{other}/customers/{CUSTOMER}/suggestions",
                           headers=gateway.credential(mine))
    assert r.status_code == 403


def test_cli_train_with_the_peer_down_fails_in_one_line_and_writes_nothing(
        gateway, ca_network, consortium, catalogue, tmp_path):
    data_dir = gateway_settings(consortium, "northwind", ca_network.layout).data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    placed = data_dir / "catalogue.json"
    placed.write_text(catalogue.to_json())
    output = tmp_path / "model"
    try:
        env_file = write_gateway_env(consortium, "northwind", ca_network.layout,
                                     tmp_path / "northwind.env")
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "--env-file", str(env_file),
             "train", "--output", str(output)],
            capture_output=True, text=True, cwd=ROOT, timeout=120)
    finally:
        placed.unlink()  # the run folder is shared by the session's other gateways
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "ledger could not be read" in done.stderr
    assert not output.exists()
