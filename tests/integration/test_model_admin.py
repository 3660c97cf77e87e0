"""Model management on a real HTTPS gateway: which model serves, and installing a new one.

The northwind gateway here (its own port, 27187) starts with a small model trained on the
demo world in its ``data_dir/model``. The operator's steps are played for real: an artifact
is trained into a staging folder, copied into the model directory, and installed with
``POST /v1/admin/model``; corrupt, foreign and missing artifacts are refused while the
previous model keeps serving. Its peer is down on purpose (the install is the gateway's own
affair), so the kiosk's suggestions fall back to popular items and name the model that serves
them; a model trained from the real ledger and installed there is test_ledger_kiosk.py.
"""

from __future__ import annotations

import json
import shutil
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.stores import Role
from gateway.suggestions import NOTICE_LEDGER_UNAVAILABLE

pytestmark = pytest.mark.integration

RETAILER, MSP_ID = "northwind", "NorthwindMSP"
#: Ports of northwind's block that its plan leaves free (test_gateway_http.py uses 27180).
HTTP_PORT, UNCONFIGURED_PORT = 27187, 27186
CUSTOMER = "c_" + "M" * 43
#: Block heights recorded in the two models, which makes their ids differ.
FIRST, SECOND = 1, 2


@pytest.fixture(scope="module")
def staged(train_model, tmp_path_factory) -> dict[int, tuple[Path, str]]:
    """Two northwind models trained into staging folders: block height -> (folder, id)."""
    staging = tmp_path_factory.mktemp("northwind-staging")
    out = {}
    for height in (FIRST, SECOND):
        record = train_model(MSP_ID, staging / f"model-{height}", block_height=height)
        out[height] = (staging / f"model-{height}", record["model_id"])
    assert out[FIRST][1] != out[SECOND][1]
    return out


@pytest.fixture(scope="module")
def gateway(start_gateway, catalogue, staged, tmp_path_factory) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("northwind-model-admin")
    shutil.copytree(staged[FIRST][0], data_dir / "model")
    with start_gateway(RETAILER, catalogue=catalogue, http_port=HTTP_PORT,
                       data_dir=data_dir) as running:
        yield running


@pytest.fixture
def admin(gateway) -> dict[str, str]:
    return gateway.credential("hq", Role.ADMIN)


@pytest.fixture
def serving_first(gateway, staged, admin) -> str:
    """Each test starts with the first model in the model directory and serving."""
    _put(gateway, staged[FIRST][0])
    r = gateway.client.post("/v1/admin/model", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["model_id"] == staged[FIRST][1]
    return staged[FIRST][1]


def _put(gateway: Any, artifact: Path) -> None:
    """What the operator does: replace the model directory with a trained artifact."""
    shutil.rmtree(gateway.settings.model_dir, ignore_errors=True)
    shutil.copytree(artifact, gateway.settings.model_dir)


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def _served(gateway: Any, admin: dict[str, str]) -> str | None:
    r = gateway.client.get("/v1/admin/model", headers=admin)
    assert r.status_code == 200, r.text
    return r.json()["model_id"]


def _suggested_by(gateway: Any, client: httpx.Client | None = None) -> str | None:
    """The model id a kiosk's suggestion answer names (the peer is down: popular items)."""
    store = gateway.services.suggestions.service.catalogue.stores(MSP_ID)[0]
    r = (client or gateway.client).get(f"/v1/stores/{store}/customers/{CUSTOMER}/suggestions",
                                       params={"n": 5}, headers=gateway.credential(store))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["notice"] == NOTICE_LEDGER_UNAVAILABLE and len(body["items"]) == 5
    return body["model_id"]


def test_the_model_in_the_data_dir_serves_from_the_start(gateway, staged, admin):
    assert gateway.settings.model_dir == gateway.settings.data_dir / "model"
    r = gateway.client.get("/v1/admin/model", headers=admin)
    assert r.status_code == 200
    body = r.json()
    assert body["model_id"] == staged[FIRST][1] == _suggested_by(gateway)
    assert body["retailer"] == MSP_ID
    assert body["training"]["block_height"] == FIRST
    assert body["training"]["purpose"] == "personalisation"
    assert body["training"]["record_count"] > 0
    assert len(body["training"]["consent_set_hash"]) == 64
    assert body["created_at"].endswith("Z")
    assert {"precision@10", "recall@10", "ndcg@10", "auc"} <= set(body["metrics"])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_model_routes_refuse_stores_and_anonymous_callers(gateway, staged, serving_first,
                                                          method):
    # The directory holds another model: a refused install that ran would serve it.
    _put(gateway, staged[SECOND][0])
    store = gateway.client.request(method, "/v1/admin/model",
                                   headers=gateway.credential("store-a"))
    assert store.status_code == 403 and _error(store)["code"] == "FORBIDDEN"
    anonymous = gateway.client.request(method, "/v1/admin/model")
    assert anonymous.status_code == 401 and _error(anonymous)["code"] == "UNAUTHENTICATED"
    assert gateway.services.suggestions.service.model_id == serving_first
    assert _suggested_by(gateway) == serving_first


def test_installing_a_new_model_serves_it_from_the_next_suggestion(gateway, staged, admin,
                                                                   serving_first):
    _put(gateway, staged[SECOND][0])
    r = gateway.client.post("/v1/admin/model", headers=admin)
    assert r.status_code == 200
    body = r.json()
    assert body["model_id"] == staged[SECOND][1]
    assert body["previous_model_id"] == serving_first
    assert body["training"]["block_height"] == SECOND
    assert _served(gateway, admin) == staged[SECOND][1] == _suggested_by(gateway)


def test_installing_the_serving_model_again_changes_nothing(gateway, admin, serving_first):
    r = gateway.client.post("/v1/admin/model", headers=admin)
    assert r.status_code == 200
    assert r.json()["model_id"] == r.json()["previous_model_id"] == serving_first
    assert _suggested_by(gateway) == serving_first


@pytest.mark.parametrize("damaged", ["arrays.npz", "manifest.json"])
def test_a_corrupt_artifact_is_refused_and_the_previous_model_keeps_serving(
        gateway, staged, admin, serving_first, damaged):
    _put(gateway, staged[SECOND][0])
    target = gateway.settings.model_dir / damaged
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))

    r = gateway.client.post("/v1/admin/model", headers=admin)
    assert r.status_code == 409
    error = _error(r)
    assert error["code"] == "MODEL_REJECTED" and error["details"] == {"reason": "corrupt"}
    assert "previous model keeps serving" in error["message"]
    assert str(gateway.settings.data_dir) not in r.text and "/" not in error["message"]
    assert _served(gateway, admin) == serving_first == _suggested_by(gateway)


def test_an_artifact_of_another_format_version_is_refused(gateway, staged, admin,
                                                          serving_first):
    _put(gateway, staged[SECOND][0])
    manifest_file = gateway.settings.model_dir / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["format_version"] += 1
    manifest_file.write_text(json.dumps(manifest))
    r = gateway.client.post("/v1/admin/model", headers=admin)
    assert r.status_code == 409
    error = _error(r)
    assert error["code"] == "MODEL_REJECTED"
    assert error["details"] == {"reason": "format_version"}
    assert _served(gateway, admin) == serving_first == _suggested_by(gateway)


def test_a_model_of_another_retailer_is_refused(gateway, train_model, admin, serving_first):
    shutil.rmtree(gateway.settings.model_dir)
    train_model("SouthgateMSP", gateway.settings.model_dir, block_height=SECOND)
    r = gateway.client.post("/v1/admin/model", headers=admin)
    assert r.status_code == 409
    error = _error(r)
    assert error["code"] == "MODEL_REJECTED" and error["details"] == {"reason": "incompatible"}
    assert _served(gateway, admin) == serving_first == _suggested_by(gateway)


@pytest.mark.parametrize("state", ["removed", "empty"])
def test_without_an_artifact_in_the_model_directory_the_install_is_404(
        gateway, admin, serving_first, state):
    shutil.rmtree(gateway.settings.model_dir)
    if state == "empty":  # e.g. while the operator is still copying
        gateway.settings.model_dir.mkdir()
    r = gateway.client.post("/v1/admin/model", headers=admin)
    assert r.status_code == 404 and _error(r)["code"] == "NO_MODEL"
    assert str(gateway.settings.data_dir) not in r.text
    assert _served(gateway, admin) == serving_first == _suggested_by(gateway)


def test_installs_do_not_disturb_suggestions_under_way(gateway, staged, admin, serving_first):
    """Kiosk requests in four threads while the two models are installed in turn: every
    answer is whole (200, five items) and names one of them, both serve in turn, and the
    last installed serves afterwards."""
    seen: list[str | None] = []
    failures: list[BaseException] = []
    stop = threading.Event()
    trust = ssl.create_default_context(cafile=str(gateway.root_ca))

    def kiosk() -> None:
        with httpx.Client(base_url=gateway.base_url, verify=trust, timeout=20) as client:
            while not stop.is_set():
                try:
                    seen.append(_suggested_by(gateway, client))
                except BaseException as exc:  # reported by the main thread
                    failures.append(exc)
                    return

    threads = [threading.Thread(target=kiosk) for _ in range(4)]
    for thread in threads:
        thread.start()
    ids = {staged[FIRST][1], staged[SECOND][1]}
    try:
        # At least six installs, more until the kiosks have been answered by both models.
        for turn in range(60):
            if turn >= 6 and turn % 2 == 0 and set(seen) == ids:
                break
            height = SECOND if turn % 2 == 0 else FIRST
            _put(gateway, staged[height][0])
            r = gateway.client.post("/v1/admin/model", headers=admin)
            assert r.status_code == 200 and r.json()["model_id"] == staged[height][1]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not failures, failures[0]
    assert set(seen) == ids
    assert _suggested_by(gateway) == staged[FIRST][1] == _served(gateway, admin)


def test_openapi_documents_the_model_routes_and_their_errors(gateway):
    paths = gateway.client.get("/openapi.json").json()["paths"]
    operations = paths["/v1/admin/model"]
    assert set(operations["get"]["responses"]) == {"200", "401", "403", "404", "422"}
    assert set(operations["post"]["responses"]) == {"200", "401", "403", "404", "409", "422"}
    for operation in operations.values():
        for status, response in operation["responses"].items():
            schema = response["content"]["application/json"]["schema"]["$ref"]
            assert schema.endswith("/ErrorBody") or status == "200", (status, schema)
    assert "Idempotency-Key" not in {p["name"] for p in operations["post"].get("parameters", [])}
    assert "NO_MODEL" in operations["post"]["responses"]["404"]["description"]
    assert "MODEL_REJECTED" in operations["post"]["responses"]["409"]["description"]


def test_a_gateway_without_a_catalogue_answers_404_not_configured(start_gateway):
    with start_gateway(RETAILER, http_port=UNCONFIGURED_PORT) as bare:
        assert bare.services.suggestions is None
        admin = bare.credential("hq", Role.ADMIN)
        for method in ("GET", "POST"):
            r = bare.client.request(method, "/v1/admin/model", headers=admin)
            assert r.status_code == 404
            assert _error(r)["code"] == "SUGGESTIONS_NOT_CONFIGURED"
