"""The authorisation matrix: every operation of the OpenAPI schema against every kind of caller.

Each operation is classified by who may call it (docs/gateway.md, "Endpoints"); the schema
served by the running gateway is compared with the classification, so an endpoint added
without a classification fails here. Every operation is then tried, with an otherwise valid
request, as: no credential, garbage credentials (several forms), a revoked credential,
another store's credential (store-scoped paths), a store credential on admin routes, and,
for the customer-signed endpoints (consents, export, erasure), a statement signed with
another P-256 key than the customer's, and a signed request of customer A posted to
customer B's path. The member routes (``/v1/members/*``, one retailer's gateway asking another's)
take no store credential at all: only a request signed with another member's Fabric identity
gets past them, and every credential of the matrix answers 401 MEMBER_UNAUTHENTICATED.

For every refusal: the documented status and code; nothing of the request in the answer
(each request carries a unique marker in its body or path, and the credential and customer
id are looked for too); and nothing written (the refused request's Idempotency-Key is still
free: the same caller's valid request with that key is no replay, the admin route
issued no credential, and the model routes installed nothing: the gateway's model directory
holds another model than the one serving, which a refused install that ran would serve).

The gateway runs on the real Fabric 2.1.1 network (conftest ``start_ledger_gateway``), so
every request that gets past the gateway reaches the chaincode: the valid caller's request
succeeds on the ledger (its customer registered first), and the refused request's
follow-up with the same Idempotency-Key succeeds too. The gateway cannot verify a customer's
signature; the chaincode does: a forged, replayed or retailer-widened statement is refused by
it with its own code. Every refusal leaves the ledger unchanged: the channel height and her
consents and events, compared before and after. Reads under a withdrawn, expired or narrowed
consent are refused by the owner's chaincode (the events not served, and no count of them
comes back), and a credential of another retailer's gateway authenticates no one here. The
cases tried go to artifacts/fuzz/authorisation.json.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from chaincode.fields import format_timestamp
from chaincode.keys import CustomerKey, export_public_key, sign_document
from demo.wallet import DemoCustomer
from gateway.fabric import GatewayError
from gateway.members import CERT_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIME_HEADER, signed_bytes
from gateway.stores import Role, key_id_of

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "artifacts" / "fuzz" / "authorisation.json"
RETAILER = "southgate"
#: Ports the network's plan leaves free (test_api_fuzz.py uses 24293).
HTTP_PORT, OTHER_RETAILER_PORT = 24292, 24382


class Access(StrEnum):
    ANYONE = "anyone"                  # no credential needed; one sent is ignored
    CUSTOMER_SIGNED = "customer"       # anyone may send; the customer's signature authorises
    STORE = "store"                    # any store credential of this retailer (or the admin)
    THAT_STORE = "that-store"          # the store named in the path, or the admin
    ADMIN = "admin"                    # the retailer's admin only
    MEMBER = "member"                  # another member's gateway, its Fabric identity signing


#: Who may call each operation (docs/gateway.md). Every operation of the schema must be here.
ACCESS: dict[str, Access] = {
    "POST /v1/customers": Access.ANYONE,
    "POST /v1/consents": Access.CUSTOMER_SIGNED,
    "GET /v1/customers/{customer_id}/consents": Access.STORE,
    "GET /v1/customers/{customer_id}/consents/{consent_id}/history": Access.STORE,
    "GET /v1/customers/{customer_id}/preferences": Access.STORE,
    "POST /v1/stores/{store_id}/customers/{customer_id}/events": Access.THAT_STORE,
    "GET /v1/stores/{store_id}/customers/{customer_id}/suggestions": Access.THAT_STORE,
    "GET /v1/stores/{store_id}": Access.THAT_STORE,
    "GET /v1/stores/{store_id}/items": Access.THAT_STORE,
    "POST /v1/customers/{customer_id}/export": Access.CUSTOMER_SIGNED,
    "POST /v1/customers/{customer_id}/erasure": Access.CUSTOMER_SIGNED,
    "POST /v1/admin/stores/{store_id}/credentials": Access.ADMIN,
    "GET /v1/admin/credentials": Access.ADMIN,
    "DELETE /v1/admin/credentials/{key_id}": Access.ADMIN,
    "POST /v1/admin/credentials/{key_id}/rotation": Access.ADMIN,
    "GET /v1/admin/model": Access.ADMIN,
    "GET /v1/admin/watch": Access.ADMIN,
    "GET /v1/admin/watch/nodes": Access.ADMIN,
    "GET /v1/admin/watch/records": Access.ADMIN,
    "POST /v1/admin/watch/readers/{msp_id}/clear": Access.ADMIN,
    "POST /v1/admin/model": Access.ADMIN,
    "GET /v1/admin/model/card": Access.ADMIN,
    "GET /v1/admin/model/lifecycle": Access.ADMIN,
    "POST /v1/admin/model/retrain": Access.ADMIN,
    "POST /v1/admin/model/rollback": Access.ADMIN,
    "POST /v1/members/shared-events": Access.MEMBER,
    "POST /v1/members/training-events": Access.MEMBER,
    "POST /v1/members/export": Access.MEMBER,
    "POST /v1/members/notices": Access.MEMBER,
    "GET /healthz": Access.ANYONE,
    "GET /v1/retailer": Access.ANYONE,
    "GET /metrics": Access.ANYONE,
}

#: Credentials that authenticate no one. `{marker}` makes each one unique to its request.
GARBAGE = {
    "no_credential": None,
    "garbage_token": "Bearer {marker}",
    "wrong_scheme": "Basic {marker}",
    "unknown_key_id": "Bearer psk_0123456789abcdef.{marker43}",
    "wrong_secret": "Bearer {valid_key_id}.{marker43}",
    "revoked": "Bearer {revoked}",
    "other_retailers_credential": "Bearer {other_retailer}",
}
ATTEMPTS: dict[Access, tuple[str, ...]] = {
    Access.ANYONE: tuple(GARBAGE),
    Access.CUSTOMER_SIGNED: (*GARBAGE, "forged_signature"),
    Access.STORE: tuple(GARBAGE),
    Access.THAT_STORE: (*GARBAGE, "other_store"),
    Access.ADMIN: (*GARBAGE, "store_on_admin", "same_store_on_admin"),
    # A store's or the admin's valid credential is no member's signature either.
    Access.MEMBER: (*GARBAGE, "store_on_member", "admin_on_member"),
}
CASES = [(operation, attempt) for operation, access in ACCESS.items()
         for attempt in ATTEMPTS[access]
         # A store's credential for "its own" admin resource needs a store in the path.
         if attempt != "same_store_on_admin" or "{store_id}" in operation]


@dataclass(frozen=True)
class Customer:
    key: ec.EllipticCurvePrivateKey
    public_key: str
    customer_id: str

    @classmethod
    def new(cls) -> Customer:
        key = ec.generate_private_key(ec.SECP256R1())
        public_key = export_public_key(key)
        return cls(key, public_key, CustomerKey.from_b64url(public_key).customer_id)


@dataclass
class Request:
    """One request of the matrix, and the values of it that must never come back."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    idempotency_key: str | None = None
    secrets_: list[str] = field(default_factory=list)
    #: The customer the request is about, when there is one.
    customer_id: str | None = None
    #: The member gateway's ledger connection whose Fabric identity signs the request.
    signed_by: Any = None

    def send(self, client: httpx.Client, authorization: str | None,
             key: str | None = None) -> httpx.Response:
        headers = {}
        if authorization is not None:
            headers["Authorization"] = authorization
        if key or self.idempotency_key:
            headers["Idempotency-Key"] = key or self.idempotency_key or ""
        if self.signed_by is None:
            return client.request(self.method, self.path, json=self.body, headers=headers)
        data = json.dumps(self.body, separators=(",", ":")).encode()
        stamp = datetime.now(UTC).isoformat()
        nonce = secrets.token_urlsafe(18)
        headers.update({
            "Content-Type": "application/json",
            CERT_HEADER: base64.b64encode(self.signed_by.certificate_pem).decode(),
            TIME_HEADER: stamp, NONCE_HEADER: nonce,
            SIGNATURE_HEADER: base64.b64encode(self.signed_by.sign(
                signed_bytes(self.method, self.path, stamp, nonce, data))).decode()})
        return client.request(self.method, self.path, content=data, headers=headers)


@dataclass(frozen=True)
class Models:
    """A model serving, and another one waiting in the gateway's model directory."""

    serving: Path
    serving_id: str
    waiting_id: str

    def restore(self, gateway: Any) -> None:
        """Serve the first model again; the directory keeps the other."""
        gateway.services.suggestions.install_model(self.serving)
        assert gateway.services.suggestions.service.model_id == self.serving_id


class Matrix:
    """Builds each operation's valid request, with fresh markers, and records outcomes."""

    def __init__(self, gateway: Any, other_retailer: Any, store: str, other_store: str,
                 models: Models) -> None:
        self.gateway = gateway
        self.other_retailer = other_retailer
        self.ledger = gateway.services.connection.ledger
        self.store, self.other_store = store, other_store
        self.models = models
        self._n = itertools.count()
        self.rows: list[dict[str, Any]] = []
        #: Valid requests sent after a refusal, reusing its Idempotency-Key.
        self.follow_ups = 0
        #: Customers erased here: each running member purges its part in the background.
        self.erased: list[str] = []

    def settle(self) -> None:
        """Wait until every running member has purged its part of each erasure so far (its
        own PurgeCustomer transaction, gateway/erasures.py), so the channel height measured
        next moves only for the request under test; northwind runs no gateway here."""
        running = (self.gateway.settings.msp_id, self.other_retailer.settings.msp_id)
        deadline = time.monotonic() + 30
        while self.erased:
            progress = self.ledger.erasure_progress(self.erased[0]).progress
            if all(progress.get(msp) == "done" for msp in running):
                self.erased.pop(0)
                continue
            assert time.monotonic() < deadline, progress
            time.sleep(0.2)

    def marker(self) -> str:
        return f"zzleak{next(self._n):04d}x{secrets.token_hex(4)}"

    def issue(self, store: str, role: Role = Role.STORE) -> str:
        return self.gateway.services.credentials.issue(store, role)

    def now(self) -> str:
        return format_timestamp(datetime.now(UTC) - timedelta(seconds=2))

    def request(self, operation: str, *, signer: ec.EllipticCurvePrivateKey | None = None,
                path_customer: Customer | None = None) -> Request:
        """A request to ``operation`` that only a wrong credential (or signature) spoils.

        ``signer`` signs customer statements instead of the customer's own key;
        ``path_customer`` names another customer in the path than in the signed body.
        """
        method, template = operation.split(" ", 1)
        marker = self.marker()
        customer = Customer.new()
        in_path = path_customer or customer
        about_her = "{customer_id}" in template or template in (
            "/v1/consents", "/v1/members/shared-events", "/v1/members/export")
        if about_her:
            # On the ledger, so the valid request succeeds there.
            for registered in {customer.customer_id: customer,
                               in_path.customer_id: in_path}.values():
                self.ledger.register_customer(registered.public_key)
        if template.endswith("/history"):
            self.ledger.submit_consent(self.statement(customer, marker, customer.key))
        path = template.format(customer_id=in_path.customer_id, consent_id=marker,
                               store_id=self.store, key_id="",
                               msp_id=self.other_retailer.settings.msp_id)
        body: dict[str, Any] | None = None
        signing_key = signer or customer.key
        if template == "/v1/customers":
            body = {"public_key": customer.public_key}
        elif template == "/v1/consents":
            body = self.statement(customer, marker, signing_key)
        elif template.startswith("/v1/customers/") and template.endswith(
                ("/export", "/erasure")):
            body = {"action": "export" if template.endswith("/export") else "erase",
                    "customer_id": customer.customer_id, "requested_at": self.now(),
                    "nonce": f"n{marker}", "gateway": self.gateway.settings.msp_id}
            body["signature"] = sign_document(signing_key, body)
        elif template.endswith("/events"):
            body = {"events": [{"event_id": marker, "item_id": f"item-{marker}",
                                "item_category": "shoes", "event_type": "purchase",
                                "value": 1.0, "timestamp": self.now()}]}
        elif "{key_id}" in template:
            # An active credential of the store, which the admin may revoke or rotate.
            path = template.format(key_id=key_id_of(self.issue(self.store)))
        elif template.endswith("/items"):
            path += "?q=a"
        elif template.startswith("/v1/admin/"):
            path = template.format(store_id=marker, msp_id=self.other_retailer.settings.msp_id)
        elif template == "/v1/members/shared-events":
            body = {"customer_id": customer.customer_id, "purpose": "personalisation"}
        elif template == "/v1/members/notices":
            body = {"customer_id": customer.customer_id}
        elif template == "/v1/members/training-events":
            body = {"purpose": "analytics", "after": customer.customer_id}
        elif template == "/v1/members/export":
            # Her request to the reading member's gateway, which asks this owner for its part.
            ask = {"action": "export", "customer_id": customer.customer_id,
                   "requested_at": self.now(), "nonce": f"n{marker}",
                   "gateway": self.other_retailer.settings.msp_id}
            body = {"request": {**ask, "signature": sign_document(signing_key, ask)}}
        key = f"key-{marker}" if method == "POST" and "admin" not in template \
            and "/members/" not in template else None
        leaks = [marker, customer.customer_id, in_path.customer_id]
        if template == "/v1/customers":
            leaks.append(customer.public_key)
        about = in_path.customer_id if about_her else None
        return Request(method, path, body, key, leaks, about)

    def statement(self, customer: Customer, marker: str, signing_key: ec.EllipticCurvePrivateKey
                  ) -> dict[str, Any]:
        """A grant of ``customer``'s with consent id ``marker``, signed by ``signing_key``."""
        body: dict[str, Any] = {
            "action": "grant", "consent_id": marker, "customer_id": customer.customer_id,
            "given_at": self.now(), "nonce": f"n{marker}", "collection_method": "kiosk",
            "policy_version": "2026-11", "jurisdiction": "DE", "recipients": ["NorthwindMSP"],
            "purposes": ["personalisation"], "data_categories": ["purchases"],
            "expires_at": "2030-01-01T00:00:00.000Z"}
        return {**body, "signature": sign_document(signing_key, body)}

    def garbage(self, attempt: str, secrets_: list[str]) -> tuple[str | None, str]:
        """A garbage attempt's Authorization header (its values appended to ``secrets_``),
        and a valid one of the same store (for ``wrong_secret``: the credential whose key
        id the garbage borrows)."""
        valid = f"Bearer {self.issue(self.store)}"
        template = GARBAGE[attempt]
        if template is None:
            return None, valid
        revoked = self.issue(self.store)
        assert self.gateway.services.credentials.revoke(revoked.split(".")[0][4:])
        marker = self.marker()
        other = self.other_retailer.services.credentials.issue(self.store, Role.ADMIN)
        value = template.format(marker=marker, marker43=(marker * 4)[:43],
                                valid_key_id=valid.split(".")[0][7:], revoked=revoked,
                                other_retailer=other)
        secrets_ += [value.split(" ", 1)[1], marker, valid.split(" ", 1)[1]]
        return value, valid

    def record(self, operation: str, attempt: str, response: httpx.Response, *,
               follow_up: bool = False) -> None:
        if operation.endswith("/erasure") and response.is_success:
            self.erased.append(response.json()["customer_id"])
        code = None
        if response.headers.get("content-type", "").startswith("application/json"):
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                code = body["error"].get("code")
        if follow_up:
            self.follow_ups += 1
            return
        self.rows.append({"operation": operation, "attempt": attempt,
                          "status": response.status_code, "code": code})


@pytest.fixture(scope="module")
def gateway(start_ledger_gateway, catalogue) -> Iterator[Any]:
    # Eastmarket's gateway where this module starts it: southgate reads its events there.
    with start_ledger_gateway(RETAILER, catalogue=catalogue, http_port=HTTP_PORT,
                              max_body_bytes=64 * 1024,
                              member_ports={"eastmarket": OTHER_RETAILER_PORT}) as running:
        yield running


@pytest.fixture(scope="module")
def other_retailer(start_ledger_gateway, catalogue) -> Iterator[Any]:
    """Eastmarket's gateway: its credentials authenticate no one at southgate's."""
    with start_ledger_gateway("eastmarket", catalogue=catalogue,
                              http_port=OTHER_RETAILER_PORT) as running:
        yield running


@pytest.fixture(scope="module")
def models(gateway, train_model, tmp_path_factory) -> Models:
    serving = tmp_path_factory.mktemp("southgate-staging") / "model"
    first = train_model(gateway.settings.msp_id, serving, block_height=1)
    waiting = train_model(gateway.settings.msp_id, gateway.settings.model_dir, block_height=2)
    found = Models(serving, first["model_id"], waiting["model_id"])
    assert found.serving_id != found.waiting_id
    found.restore(gateway)
    return found


@pytest.fixture(scope="module")
def matrix(gateway, other_retailer, catalogue, models) -> Iterator[Matrix]:
    store, other = catalogue.stores(gateway.settings.msp_id)[:2]
    found = Matrix(gateway, other_retailer, store, other, models)
    yield found
    by_attempt = Counter(row["attempt"] for row in found.rows)
    by_operation = Counter(row["operation"] for row in found.rows)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({
        "operations_classified": {op: access.value for op, access in ACCESS.items()},
        "requests": len(found.rows),
        "refused": sum(1 for row in found.rows if 400 <= row["status"] < 500),
        "follow_up_requests_with_the_refused_key": found.follow_ups,
        "by_status": dict(sorted(Counter(f"{row['status']} {row['code'] or ''}".strip()
                                         for row in found.rows).items())),
        "by_attempt": dict(sorted(by_attempt.items())),
        "by_operation": dict(sorted(by_operation.items())),
        "cases": found.rows,
    }, indent=2) + "\n")


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def _assert_nothing_leaked(response: httpx.Response, request: Request) -> None:
    text = response.text + json.dumps(dict(response.headers))
    for value in request.secrets_:
        assert value not in text, f"the answer carries a value of the request: {value[:12]}…"


def test_every_operation_of_the_schema_is_classified(gateway):
    schema = gateway.client.get("/openapi.json").json()
    served = {f"{method.upper()} {path}" for path, operations in schema["paths"].items()
              for method in operations}
    assert served - set(ACCESS) == set(), "operations nobody classified in ACCESS"
    assert set(ACCESS) - served == set(), "ACCESS names operations the schema lacks"


def _valid_authorization(matrix: Matrix, access: Access) -> str | None:
    if access is Access.ADMIN:
        return f"Bearer {matrix.issue('hq', Role.ADMIN)}"
    if access in (Access.STORE, Access.THAT_STORE):
        return f"Bearer {matrix.issue(matrix.store)}"
    return None


def _assert_reaches_the_handler(response: httpx.Response, operation: str) -> None:
    """What an accepted caller gets on the running ledger: a 2xx, or the handler's own
    answer where the valid request has nothing to act on."""
    if operation == "POST /v1/admin/watch/readers/{msp_id}/clear":
        # No member is braked here: the handler itself says so (no brake to lift).
        assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_BRAKED")
        return
    assert 200 <= response.status_code < 300, (operation, response.text)


def _ledger_state(matrix: Matrix, request: Request) -> tuple[Any, ...]:
    """The channel height and, for a request about a customer, her consents and the events
    this retailer holds of her (its own collection: the only events it can write)."""
    ledger = matrix.ledger
    height = ledger.block_height("prefshare")
    if request.customer_id is None:
        return (height,)
    return (height, ledger.list_consents(request.customer_id),
            ledger.read_own_events(request.customer_id))


def _assert_ledger_unchanged(matrix: Matrix, request: Request, before: tuple[Any, ...]) -> None:
    time.sleep(0.3)  # over a batch timeout: a write that got through would be committed
    assert _ledger_state(matrix, request) == before


#: Answers of a handler reached by the right caller, on this module's state: no other member
#: answers the training read here, and no model was installed before to roll back to.
HANDLER_REFUSALS = {
    "POST /v1/admin/model/retrain": {"MEMBER_UNAVAILABLE", "NO_TRAINING_DATA", "MODEL_REFUSED"},
    "POST /v1/admin/model/rollback": {"NO_PREVIOUS_MODEL"},
}


@pytest.mark.parametrize("operation", list(ACCESS))
def test_the_right_caller_gets_past_authorisation(gateway, matrix, operation):
    access = ACCESS[operation]
    request = matrix.request(operation)
    if access is Access.MEMBER:
        request.signed_by = matrix.other_retailer.services.connection
    response = request.send(gateway.client, _valid_authorization(matrix, access))
    matrix.record(operation, "valid", response)
    if operation in HANDLER_REFUSALS and not response.is_success:
        # Past authorisation: the handler's own answer on this module's state.
        assert _error(response)["code"] in HANDLER_REFUSALS[operation], response.text
        return
    _assert_reaches_the_handler(response, operation)


@pytest.mark.parametrize("operation", [o for o, a in ACCESS.items() if a is Access.THAT_STORE])
def test_the_admin_acts_for_any_store_of_the_retailer(gateway, matrix, operation):
    request = matrix.request(operation)
    response = request.send(gateway.client, f"Bearer {matrix.issue('hq', Role.ADMIN)}")
    matrix.record(operation, "admin_for_store", response)
    _assert_reaches_the_handler(response, operation)


#: What the chaincode answers a statement signed with another key than hers.
FORGED = (403, "BAD_SIGNATURE")


@pytest.mark.parametrize(("operation", "attempt"), CASES, ids=[f"{o}-{a}" for o, a in CASES])
def test_wrong_callers_are_refused_and_learn_nothing(gateway, matrix, operation, attempt):
    access = ACCESS[operation]
    forged = attempt == "forged_signature"
    request = matrix.request(operation,
                             signer=ec.generate_private_key(ec.SECP256R1()) if forged else None)
    # The caller's own valid credential, for the follow-up that shows nothing was written.
    follow_up = _valid_authorization(matrix, access)
    if attempt in GARBAGE:
        authorization, legitimate = matrix.garbage(attempt, request.secrets_)
        follow_up = legitimate if access is not Access.ADMIN else follow_up
    elif attempt == "other_store":
        authorization = follow_up = f"Bearer {matrix.issue(matrix.other_store)}"
    elif attempt == "store_on_admin":
        authorization = f"Bearer {matrix.issue(matrix.store)}"
    elif attempt == "store_on_member":
        authorization = f"Bearer {matrix.issue(matrix.store)}"
    elif attempt == "admin_on_member":
        authorization = f"Bearer {matrix.issue('hq', Role.ADMIN)}"
    elif attempt == "same_store_on_admin":
        # A store asking for a credential of its own: still only the admin may issue one.
        authorization = f"Bearer {matrix.issue(request.path.split('/')[4])}"
    else:  # forged_signature: the signature, not a credential, is what is wrong
        authorization = None
    if authorization is not None and attempt not in GARBAGE:
        request.secrets_.append(authorization.split(" ", 1)[1])
    if request.path == "/v1/admin/model":
        matrix.models.restore(gateway)
    matrix.settle()
    before = _ledger_state(matrix, request)
    response = request.send(gateway.client, authorization)
    matrix.record(operation, attempt, response)
    if access in (Access.ANYONE, Access.CUSTOMER_SIGNED) and not forged:
        # A credential decides nothing here: whatever is sent is ignored, and not echoed.
        _assert_reaches_the_handler(response, operation)
        assert authorization is None or authorization.split(" ")[-1] not in response.text
        return
    _assert_nothing_leaked(response, request)

    if forged:
        # The gateway cannot verify her signature; the chaincode, which holds her key, does.
        assert (response.status_code, _error(response)["code"]) == FORGED
    elif access is Access.MEMBER:
        # No credential of a store or admin is a member's signed identity.
        assert response.status_code == 401
        assert _error(response)["code"] == "MEMBER_UNAUTHENTICATED"
    elif attempt in GARBAGE:
        assert response.status_code == 401
        assert _error(response)["code"] == "UNAUTHENTICATED"
    else:  # another store's credential, or a store's on an admin route
        assert response.status_code == 403
        assert _error(response)["code"] == "FORBIDDEN"
    _assert_ledger_unchanged(matrix, request, before)
    if not forged:
        _assert_refusal_wrote_nothing(gateway, matrix, request, attempt, follow_up)


def _assert_refusal_wrote_nothing(gateway, matrix: Matrix, request: Request, attempt: str,
                                  follow_up: str | None) -> None:
    """The admin routes issued or installed nothing; a write's Idempotency-Key is still
    free: the caller's valid request with it is applied on the ledger, not replayed."""
    if request.path.startswith("/v1/admin/model"):  # installed, retrained, rolled back nothing
        assert gateway.services.suggestions.service.model_id == matrix.models.serving_id
        return
    if request.path == "/v1/admin/credentials":
        return  # a list: nothing to write
    if request.path.startswith("/v1/admin/credentials/"):
        key_id = request.path.split("/")[4]
        info = gateway.services.credentials.get(key_id)
        assert info is not None and info.revoked_at is None and info.replaced_by is None
        return
    if request.path.startswith("/v1/admin/watch"):
        # Reads, and a clearance: a refused one recorded none on the ledger.
        owner = gateway.settings.msp_id
        assert not [r for r in gateway.services.connection.ledger.list_watch_events()
                    if r.kind == "clearance" and r.owner == owner]
        return
    if request.path.startswith("/v1/admin/"):
        store_id = request.path.split("/")[4]
        database = gateway.settings.data_dir / "gateway.sqlite3"
        with sqlite3.connect(database) as db:
            issued = db.execute("SELECT count(*) FROM store_credentials WHERE store_id = ?",
                                (store_id,)).fetchone()[0]
        # The only credential of that store is the refused caller's own, if any.
        assert issued == (1 if attempt == "same_store_on_admin" else 0)
        return
    if request.idempotency_key is None:
        return
    # The same request and key from the caller's own valid credential (another store's, to
    # its own store): a refusal that had claimed the key would now be replayed, or the key
    # called reused.
    if attempt == "other_store":
        request.path = request.path.replace(f"/stores/{matrix.store}/",
                                            f"/stores/{matrix.other_store}/")
    again = request.send(gateway.client, follow_up)
    matrix.record(f"{request.method} {request.path}", f"{attempt}:follow_up", again,
                  follow_up=True)
    assert "Idempotent-Replay" not in again.headers
    assert 200 <= again.status_code < 300, again.text


@pytest.mark.parametrize("action", ["export", "erasure"])
def test_signed_request_of_one_customer_on_anothers_path_is_422(gateway, matrix, action):
    other = Customer.new()
    request = matrix.request(f"POST /v1/customers/{{customer_id}}/{action}",
                             path_customer=other)
    response = request.send(gateway.client, None)
    matrix.record(f"POST /v1/customers/{{customer_id}}/{action}", "customer_mismatch", response)
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "CUSTOMER_MISMATCH" and error["details"] == {"field": "customer_id"}
    _assert_nothing_leaked(response, request)
    if request.idempotency_key is not None:
        # Refused before the key was claimed: the right customer's request may use it.
        mine = matrix.request(f"POST /v1/customers/{{customer_id}}/{action}")
        again = mine.send(gateway.client, None, key=request.idempotency_key)
        matrix.record(f"POST /v1/customers/{{customer_id}}/{action}", "customer_mismatch",
                      again, follow_up=True)
        assert "Idempotent-Replay" not in again.headers
        assert again.status_code == 200, again.text


def test_suggestions_for_a_store_of_another_retailer_are_404_without_naming_it(
        gateway, matrix, catalogue):
    foreign = catalogue.stores("NorthwindMSP")[0]
    customer = Customer.new()
    operation = "GET /v1/stores/{store_id}/customers/{customer_id}/suggestions"
    response = gateway.client.get(
        f"/v1/stores/{foreign}/customers/{customer.customer_id}/suggestions",
        headers={"Authorization": f"Bearer {matrix.issue(foreign)}"})
    matrix.record(operation, "foreign_store", response)
    assert response.status_code == 404 and _error(response)["code"] == "UNKNOWN_STORE"
    assert foreign not in response.text and customer.customer_id not in response.text


def _held_by_other_retailer(matrix: Matrix) -> DemoCustomer:
    """A registered customer with one eastmarket event per data category."""
    customer = DemoCustomer.new()
    east = matrix.other_retailer.services.connection.ledger
    east.register_customer(customer.public_key)
    when = format_timestamp(datetime.now(UTC) - timedelta(minutes=1))
    east.record_events([{
        "event_id": f"x-{kind}", "customer_id": customer.customer_id,
        "retailer": "EastmarketMSP", "item_id": f"item-{kind}", "item_category": "m",
        "event_type": kind, "value": 4.0 if kind == "rating" else 1.0, "store_id": "em-1",
        "timestamp": when, "salt": secrets.token_urlsafe(16)}
        for kind in ("purchase", "view", "rating")])
    return customer


@pytest.mark.parametrize(("state", "reason"), [
    ("withdrawn", "CONSENT_WITHDRAWN"), ("expired", "CONSENT_EXPIRED"),
    ("narrowed", "CATEGORY_NOT_GRANTED"), ("replayed_narrowing", "REPLAYED_NONCE"),
    ("widened_by_retailer", "BAD_SIGNATURE")])
def test_reads_and_statements_the_consent_does_not_allow_are_refused_by_the_chaincode(
        gateway, matrix, same_height, state, reason):
    customer = _held_by_other_retailer(matrix)
    ledger = matrix.ledger
    grant = customer.grant(["SouthgateMSP"], categories=("purchases", "views"),
                           expires_in=timedelta(seconds=4) if state == "expired" else None)
    ledger.submit_consent(grant)
    narrow = customer.narrow(grant["consent_id"], ["SouthgateMSP"], ["personalisation"],
                             ["purchases"], grant["expires_at"])
    if state in ("narrowed", "replayed_narrowing"):
        ledger.submit_consent(narrow)
    elif state == "withdrawn":
        ledger.submit_consent(customer.withdraw(grant["consent_id"]))
    elif state == "expired":
        time.sleep(5)
    matrix.settle()
    same_height(gateway, matrix.other_retailer)  # eastmarket's writes, on southgate's peer
    request = Request("GET", f"/v1/customers/{customer.customer_id}/preferences",
                      customer_id=customer.customer_id)
    before = _ledger_state(matrix, request)
    if state in ("replayed_narrowing", "widened_by_retailer"):
        # A retailer re-sends her applied narrowing, or widens her signed one after signing.
        body = narrow if state == "replayed_narrowing" else {
            **narrow, "data_categories": ["purchases", "views", "stated_preferences"]}
        response = Request("POST", "/v1/consents", body, f"key-{matrix.marker()}").send(
            gateway.client, None)
        matrix.record("POST /v1/consents", state, response)
        assert _error(response)["code"] == reason and response.status_code in (403, 409)
        _assert_ledger_unchanged(matrix, request, before)
        return
    # The store's read is answered with what eastmarket's chaincode lets through; what it
    # does not is simply absent (no count by reason: that would tell where she shops), and
    # nothing about her consents or events changes.
    response = gateway.client.get(request.path, headers={
        "Authorization": f"Bearer {matrix.issue(matrix.store)}"})
    matrix.record("GET /v1/customers/{customer_id}/preferences", state, response)
    assert response.status_code == 200, response.text
    read = response.json()
    readable = {"narrowed": {"x-purchase"}}.get(state, set())
    assert {e["event_id"] for e in read["events"]} == readable
    assert "EastmarketMSP" not in read["unanswered"]  # it answered; northwind is not up
    assert "withheld" not in read
    time.sleep(0.3)
    after = _ledger_state(matrix, request)
    assert after[1:] == before[1:]  # her consents and events; eastmarket logged its read
    # The reason is the chaincode's: southgate's own check of the same read, on its peer.
    with pytest.raises(GatewayError) as caught:
        ledger.check_consent(customer.customer_id, "EastmarketMSP", "personalisation", "views")
    assert caught.value.chaincode_error().code == reason
