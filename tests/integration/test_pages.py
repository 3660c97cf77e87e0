"""The consent portal and the kiosk page in Debian's Chromium, against a real gateway.

Real components: the gateway (eastmarket's, HTTPS with its TLS certificate from the real Fabric
CA, a small catalogue), Chromium driven by Playwright, the pages and customer-crypto.js as
served by the gateway, and the chaincode's own parsers and signature checks on what the pages
sign. No Fabric peer can run here (docs/blockers.md), so every call that reaches the ledger
answers 503 PEER_UNAVAILABLE: the tests check that the pages say so in words and retry with
the same Idempotency-Key, and that what a customer signs would pass the chaincode's checks.
Only a peer could make the gateway list a customer's consents or give a personalised answer,
so the tests that show those states feed the kiosk the documented response shapes through
Playwright's router (`page.route`); every other request reaches the real gateway. The
portal's view of her consents on the ledger is a page-rendering test of the same kind: the
export request the page signs is answered by the real contract on the in-memory ledger double
(chaincode/memory_ledger.py), which checks her browser signature; no peer takes part.

The QR codes need the vendored encoder: `make web` (bash gateway/static/build.sh) first.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ec

from chaincode.canonical import b64url_encode
from chaincode.consent import apply_statement
from chaincode.consent_statement import parse_signed_statement
from chaincode.contract import PrefshareContract
from chaincode.errors import ChaincodeError
from chaincode.fields import format_timestamp
from chaincode.holdings import OwnerKeys
from chaincode.keys import CustomerKey, export_public_key, sign_document
from chaincode.ledger import Creator
from chaincode.memory_ledger import MemoryLedger
from chaincode.rights import RightsRequest
from chaincode.transactions.table import TRANSACTIONS
from gateway.fabric.identity import load_msp_folder
from recommender.catalogue import Catalogue, CatalogueEntry

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "pages"
STORE = "east-1"
PHONE = {"width": 390, "height": 844}
KIOSK_PORTRAIT = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1920, "height": 1080}
#: Short backoff so the tests see every retry; the pages default to 1 s doubling, 5 tries.
FAST = {"retry": {"baseMs": 40, "maxMs": 120, "attempts": 3},
        "kiosk": {"flushMs": 150, "idleMs": 600000, "backgroundRetryMs": 600000}}
LEDGER_DOWN = "The consortium ledger cannot be reached right now."
ITEMS = [("shoes", "Kalu", "mid", "Trail running shoe"),
         ("knitwear", "Fjell", "premium", "Merino crew jumper"),
         ("bags", "Oro", "budget", "Canvas tote bag"),
         ("home", "Lumen", "mid", "Stoneware mug set")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Gateway:
    base: str
    services: Any
    credential: str


@contextmanager
def pages_gateway(start_gateway: Any) -> Iterator[Gateway]:
    """Eastmarket's gateway (peer down) with the small catalogue of ITEMS in store east-1,
    and that store's credential."""
    if not (ROOT / "gateway" / "static" / "vendor" / "qrcode-generator.mjs").exists():
        pytest.fail("the pages' QR encoder is not vendored: run `make web`")
    catalogue = Catalogue(
        [CatalogueEntry(f"east-{i}", "EastmarketMSP", c, b, p, (STORE,), t)
         for i, (c, b, p, t) in enumerate(ITEMS)], {STORE: "EastmarketMSP"})
    with start_gateway("eastmarket", catalogue=catalogue, http_port=_free_port()) as running:
        yield Gateway(running.base_url, running.services,
                      running.services.credentials.issue(STORE))


@pytest.fixture(scope="module")
def gateway(start_gateway) -> Iterator[Gateway]:
    with pages_gateway(start_gateway) as running:
        yield running


@dataclass
class Seen:
    """Requests the page sent to the gateway's API."""

    requests: list[Any] = field(default_factory=list)

    def to(self, method: str, pattern: str) -> list[Any]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.url)]


def open_page(browser: Any, gateway: Gateway, path: str, viewport: dict[str, int] = PHONE
              ) -> tuple[Any, Seen]:
    # The gateway's certificate comes from eastmarket's own CA, which Chromium does not know.
    context = browser.new_context(viewport=viewport, ignore_https_errors=True,
                                  accept_downloads=True)
    context.add_init_script(f"globalThis.prefshareConfig = {json.dumps(FAST)};")
    page = context.new_page()
    seen = Seen()
    page.on("request", lambda r: seen.requests.append(r) if "/v1/" in r.url else None)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{gateway.base}{path}")
    page.wait_for_selector("body[data-ready=true]", timeout=10000)
    assert errors == [], errors
    return page, seen


@pytest.fixture
def portal(browser, gateway) -> Iterator[tuple[Any, Seen]]:
    page, seen = open_page(browser, gateway, "/portal/")
    yield page, seen
    page.context.close()


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _create_key(page: Any) -> str:
    page.click("#create-key")
    _expect()(page.locator("#customer-id")).to_have_text(re.compile(r"^c_[A-Za-z0-9_-]{43}$"),
                                                       timeout=20000)
    return str(page.text_content("#customer-id"))


def _public_key(page: Any) -> CustomerKey:
    spki = page.evaluate("""async () => {
        const store = await import('/static/js/keystore.js');
        const crypto = await import('/static/js/customer-crypto.js');
        return crypto.exportPublicKey((await store.loadKept()).publicKey);
    }""")
    return CustomerKey.from_b64url(spki)


def _no_raw_errors(page: Any) -> None:
    text = page.inner_text("body")
    assert "PEER_UNAVAILABLE" not in text and '{"error"' not in text


def _eventually(page: Any, seen: Seen, method: str, pattern: str, n: int) -> list[Any]:
    """The requests matching, once there are at least ``n`` (events arrive while waiting)."""
    deadline = time.monotonic() + 10
    while len(seen.to(method, pattern)) < n and time.monotonic() < deadline:
        page.wait_for_timeout(25)
    return seen.to(method, pattern)


def _same_key_and_body(requests: list[Any], n: int) -> str:
    assert len(requests) >= n, len(requests)
    keys = {r.headers.get("idempotency-key") for r in requests}
    bodies = {r.post_data for r in requests}
    assert len(keys) == 1 and None not in keys, keys
    assert len(bodies) == 1
    return str(keys.pop())


# -- portal ----------------------------------------------------------------------------------


def test_portal_key_shows_id_as_text_and_qr_and_registration_retries_with_one_key(portal):
    page, seen = portal
    customer_id = _create_key(page)
    qr = page.locator("#customer-qr svg[role=img]")
    _expect()(qr).to_have_attribute("aria-label", re.compile(customer_id))
    assert len(page.get_attribute("#customer-qr svg path", "d") or "") > 200
    page.click("#register")
    status = page.locator("#register-status")
    _expect()(status).to_contain_text(LEDGER_DOWN)
    _expect()(status).to_contain_text("not registered yet")
    posts = seen.to("POST", r"/v1/customers$")
    first_key = _same_key_and_body(posts, 3)  # FAST: three tries, then the button
    # The registered key is the one whose hash is the id shown to her.
    body = json.loads(posts[0].post_data)
    assert CustomerKey.from_b64url(body["public_key"]).customer_id == customer_id
    status.get_by_role("button", name="Try again").click()
    again = _eventually(page, seen, "POST", r"/v1/customers$", 6)
    assert _same_key_and_body(again, 6) == first_key
    _no_raw_errors(page)


def test_grant_is_shown_before_signing_and_the_signed_statement_passes_the_chaincode(portal):
    page, seen = portal
    customer_id = _create_key(page)
    page.check("#recipient-SouthgateMSP")
    page.check("#category-purchases")
    page.check("#category-views")
    page.click("#review-grant")
    dialog = page.locator("#sign-dialog")
    _expect()(dialog).to_be_visible()
    _expect()(dialog).to_contain_text("Southgate")
    _expect()(dialog).to_contain_text("What you buy")
    shown = page.text_content("#sign-canonical") or ""
    assert seen.to("POST", r"/v1/consents") == []  # nothing leaves before she confirms
    page.click("#sign-confirm")
    status = page.locator("#grant-status")
    _expect()(status).to_contain_text(LEDGER_DOWN)
    _expect()(status).to_contain_text("nothing was recorded yet")
    posts = seen.to("POST", r"/v1/consents$")
    _same_key_and_body(posts, 3)
    sent = json.loads(posts[0].post_data)
    unsigned = {k: v for k, v in sent.items() if k != "signature"}
    assert rfc8785.dumps(unsigned) == shown.encode("utf-8")  # what she saw is what she signed
    assert sent["customer_id"] == customer_id and sent["recipients"] == ["SouthgateMSP"]
    signed = parse_signed_statement(posts[0].post_data)
    now = datetime.now(UTC) + timedelta(seconds=1)
    record = apply_statement(None, signed, _public_key(page), now=now, used_nonces=set())
    assert record.status(now) == "active"
    assert record.data_categories == ("purchases", "views")
    # Kept on her device as not sent; "Send again" resends the same statement, same key.
    entry = page.locator("#journal li").first
    _expect()(entry).to_contain_text("Not sent yet")
    entry.get_by_role("button", name="Send again").click()
    _expect()(page.locator("#consents-status")).to_contain_text(LEDGER_DOWN)
    _same_key_and_body(_eventually(page, seen, "POST", r"/v1/consents$", 6), 6)
    _no_raw_errors(page)


def test_cancelled_signing_sends_nothing_and_withdrawal_and_export_are_signed(portal):
    page, seen = portal
    customer_id = _create_key(page)
    key = _public_key(page)
    page.check("#recipient-all")
    page.check("#category-views")
    page.click("#review-grant")
    _expect()(page.locator("#sign-canonical")).to_contain_text('"recipients":["*"]')
    page.keyboard.press("Escape")
    _expect()(page.locator("#grant-status")).to_have_text(re.compile("Nothing was signed"))
    assert seen.to("POST", r"/v1/consents") == []

    page.fill("#withdraw-id", "k-20261121-abc")
    page.click("#withdraw-form button[type=submit]")
    _expect()(page.locator("#sign-canonical")).to_contain_text('"action":"withdraw"')
    page.click("#sign-confirm")
    _expect()(page.locator("#withdraw-status")).to_contain_text(LEDGER_DOWN)
    withdrawal = parse_signed_statement(seen.to("POST", r"/v1/consents$")[0].post_data)
    withdrawal.verify(key)
    assert withdrawal.statement.action == "withdraw"

    page.click("#export")
    _expect()(page.locator("#sign-canonical")).to_contain_text('"action":"export"')
    page.click("#sign-confirm")
    _expect()(page.locator("#export-status")).to_contain_text(LEDGER_DOWN)
    exports = _eventually(page, seen, "POST", rf"/v1/customers/{customer_id}/export$", 3)
    assert len(exports) == 3 and len({r.post_data for r in exports}) == 1
    request = RightsRequest.from_json(exports[0].post_data)
    request.verify(key, now=datetime.now(UTC) + timedelta(seconds=1), used_nonces=set())
    _no_raw_errors(page)


def test_backup_download_and_restore_give_the_same_customer_id(portal, tmp_path):
    page, _ = portal
    customer_id = _create_key(page)
    with page.expect_download() as download:
        page.click("#download-backup")
    backup = tmp_path / "backup.json"
    download.value.save_as(backup)
    assert json.loads(backup.read_text())["d"]  # the private key, for her to keep
    # Kept on the device non-extractable: a later visit cannot write a new backup.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    _expect()(page.locator("#customer-id")).to_have_text(customer_id)
    _expect()(page.locator("#download-backup")).to_be_disabled()
    assert page.evaluate("""async () => (await (await import('/static/js/keystore.js'))
        .loadKept()).privateKey.extractable""") is False
    page.click("#forget-key")
    page.get_by_role("button", name="Yes, remove it").click()
    _expect()(page.locator("#create-key")).to_be_visible()
    page.set_input_files("#restore-file", str(backup))
    _expect()(page.locator("#customer-id")).to_have_text(customer_id)
    page.click("#forget-key")
    page.get_by_role("button", name="Yes, remove it").click()
    # The removal finishes (and redraws the key section) before the next file is chosen.
    _expect()(page.locator("#create-key")).to_be_visible()
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"kty": "oct"}')
    page.set_input_files("#restore-file", str(wrong))
    # Reading the file and checking the key runs in the page; under a loaded CI run it took
    # over Playwright's default 5 s once.
    _expect()(page.locator("#key-status")).to_contain_text("not a prefshare key backup",
                                                           timeout=20000)


def test_erasure_needs_the_typed_word_then_a_signed_request_retried_with_one_key(portal):
    page, seen = portal
    customer_id = _create_key(page)
    erase = page.locator("#erase")
    _expect()(erase).to_be_disabled()
    page.fill("#erase-word", "delete")
    _expect()(erase).to_be_disabled()
    page.fill("#erase-word", "ERASE")
    _expect()(erase).to_be_enabled()
    erase.click()
    _expect()(page.locator("#sign-dialog")).to_contain_text("cannot be undone")
    _expect()(page.locator("#sign-canonical")).to_contain_text('"action":"erase"')
    assert seen.to("POST", r"/erasure") == []
    page.click("#sign-confirm")
    status = page.locator("#erase-status")
    _expect()(status).to_contain_text("Nothing was erased yet")
    posts = seen.to("POST", rf"/v1/customers/{customer_id}/erasure$")
    key = _same_key_and_body(posts, 3)
    RightsRequest.from_json(posts[0].post_data).verify(
        _public_key(page), now=datetime.now(UTC) + timedelta(seconds=1), used_nonces=set())
    status.get_by_role("button", name="Try again").click()
    assert _same_key_and_body(_eventually(page, seen, "POST", r"/erasure$", 6), 6) == key
    _no_raw_errors(page)


# -- portal: her consents on the ledger -------------------------------------------------------


def test_ledger_view_shows_the_request_before_signing_then_says_the_ledger_is_down(portal):
    page, seen = portal
    customer_id = _create_key(page)
    page.click("#ledger-load")
    _expect()(page.locator("#sign-dialog")).to_be_visible()
    _expect()(page.locator("#sign-summary")).to_contain_text("Show my consents and their history")
    _expect()(page.locator("#sign-canonical")).to_contain_text('"action":"export"')
    assert seen.to("POST", r"/export$") == []  # nothing leaves before she confirms
    page.click("#sign-confirm")
    status = page.locator("#ledger-status")
    _expect()(status).to_contain_text(LEDGER_DOWN)
    exports = _eventually(page, seen, "POST", rf"/v1/customers/{customer_id}/export$", 3)
    request = RightsRequest.from_json(exports[0].post_data)
    request.verify(_public_key(page), now=datetime.now(UTC) + timedelta(seconds=1),
                   used_nonces=set())
    # An export spends no nonce: "Try again" resends the same signed request.
    status.get_by_role("button", name="Try again").click()
    again = _eventually(page, seen, "POST", r"/export$", 6)
    assert len(again) == 6 and len({r.post_data for r in again}) == 1
    _expect()(status).to_contain_text(LEDGER_DOWN)
    _expect()(page.locator("#ledger-view")).to_be_hidden()
    _no_raw_errors(page)


class LedgerDouble:
    """The real contract (``chaincode.contract``) on the in-memory ledger double
    (``chaincode/memory_ledger.py``), called as eastmarket's gateway with the enrolment
    certificate the test network's Fabric CA issued to it. A double: no peer, no endorsement,
    no ordering; it gives the answers the contract computes, nothing more."""

    def __init__(self, creator: Creator) -> None:
        self.ledger = MemoryLedger()
        self.contract = PrefshareContract(
            creator.msp_id, OwnerKeys(secrets.token_bytes(32)),
            ("NorthwindMSP", "SouthgateMSP", "EastmarketMSP"))
        self.creator = creator

    def run(self, function: str, *args: str, at: datetime,
            transient: dict[str, bytes] | None = None) -> Any:
        tx = self.ledger.begin(self.creator, timestamp=at, transient=transient)
        # Playwright's sync API keeps an event loop on this thread; the contract gets its own.
        with ThreadPoolExecutor(max_workers=1) as worker:
            response = worker.submit(
                asyncio.run, self.contract.invoke(tx, function, list(args))).result()
        if TRANSACTIONS[function].kind == "submit":
            self.ledger.commit(tx, response)
        return json.loads(response)


@dataclass
class PythonCustomer:
    """A customer whose key the test holds too: it signs as customer-crypto.js does and is
    handed to the portal as the backup file she would restore."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key(self) -> str:
        return export_public_key(self.private_key)

    @property
    def id(self) -> str:
        return CustomerKey.from_b64url(self.public_key).customer_id

    def backup(self) -> bytes:
        def part(n: int) -> str:
            return b64url_encode(n.to_bytes(32, "big"))
        numbers = self.private_key.private_numbers()
        return json.dumps({"kty": "EC", "crv": "P-256", "x": part(numbers.public_numbers.x),
                           "y": part(numbers.public_numbers.y),
                           "d": part(numbers.private_value)}).encode()

    def signed(self, document: dict[str, Any]) -> str:
        return json.dumps({**document, "signature": sign_document(self.private_key, document)})

    def statement(self, action: str, consent_id: str, at: datetime, method: str,
                  **scope: Any) -> str:
        document = {"action": action, "consent_id": consent_id, "customer_id": self.id,
                    "given_at": format_timestamp(at - timedelta(minutes=1)),
                    "nonce": secrets.token_urlsafe(18), "collection_method": method,
                    "policy_version": "2026-11", "jurisdiction": "DE", **scope}
        if "expires_at" in document:
            document["expires_at"] = format_timestamp(document["expires_at"])
        return self.signed(document)

    def erase_request(self, at: datetime, gateway: str) -> bytes:
        return self.signed({"action": "erase", "customer_id": self.id,
                            "requested_at": format_timestamp(at - timedelta(minutes=1)),
                            "nonce": secrets.token_urlsafe(18), "gateway": gateway}).encode()


def _her_history(double: LedgerDouble, her: PythonCustomer, now: datetime) -> None:
    """Four consents: erased, withdrawn, narrowed and still in force, expired; one event."""
    def days(n: float) -> datetime:
        return now - timedelta(days=n)

    def consent(action: str, consent_id: str, at: datetime, method: str, **scope: Any) -> None:
        double.run("SubmitConsentStatement",
                   her.statement(action, consent_id, at, method, **scope), at=at)

    year = now + timedelta(days=365)
    double.run("RegisterCustomer", her.public_key, at=days(10))
    consent("grant", "k-coat", days(9), "kiosk", recipients=["SouthgateMSP", "NorthwindMSP"],
            purposes=["personalisation"], data_categories=["purchases", "views"],
            expires_at=year)
    consent("grant", "k-all", days(8), "app", recipients=["*"], purposes=["analytics"],
            data_categories=["stated_preferences"], expires_at=year)
    consent("withdraw", "k-all", days(7), "kiosk")
    double.run("EraseCustomer", at=days(6),
               transient={"request": her.erase_request(days(6), double.creator.msp_id)})
    consent("grant", "k-shoes", days(5), "kiosk",
            recipients=["SouthgateMSP", "NorthwindMSP", "EastmarketMSP"],
            purposes=["personalisation", "analytics"], data_categories=["purchases", "views"],
            expires_at=year)
    consent("grant", "k-winter", days(4), "web", recipients=["NorthwindMSP"],
            purposes=["personalisation"], data_categories=["views"], expires_at=days(1))
    consent("narrow", "k-shoes", days(3), "web", recipients=["SouthgateMSP", "EastmarketMSP"],
            purposes=["personalisation"], data_categories=["purchases"], expires_at=year)
    event = {"event_id": "e-000001", "customer_id": her.id, "retailer": "EastmarketMSP",
             "item_id": "east-0", "item_category": "shoes", "event_type": "purchase",
             "value": 1, "store_id": STORE, "timestamp": format_timestamp(days(2)),
             "salt": secrets.token_urlsafe(16)}
    double.run("RecordPreferenceEvents", at=days(2),
               transient={"events": json.dumps([event]).encode()})
    # Eastmarket served Southgate her purchase under k-shoes; its gateway logs the read.
    read = {"customer_id": her.id, "owner": "EastmarketMSP", "reader": "SouthgateMSP",
            "purpose": "personalisation", "kind": "kiosk",
            "at": format_timestamp(days(1)), "count": 1, "consent_ids": ["k-shoes"]}
    double.run("LogReads", at=days(1), transient={"entries": json.dumps([read]).encode()})


def restored_with_history(page: Any, services: Any) -> tuple[LedgerDouble, PythonCustomer]:
    """A customer with a history on a ledger double (as eastmarket's gateway), her key
    restored in the portal ``page`` from its backup file."""
    settings = services.settings
    identity = load_msp_folder(settings.msp_dir, settings.msp_id).identity
    double = LedgerDouble(Creator(identity.msp_id, identity.certificate))
    her = PythonCustomer()
    _her_history(double, her, datetime.now(UTC))
    page.set_input_files("#restore-file", files=[{
        "name": "backup.json", "mimeType": "application/json", "buffer": her.backup()}])
    _expect()(page.locator("#customer-id")).to_have_text(her.id)
    return double, her


def _export(double: LedgerDouble, request: bytes) -> dict[str, Any]:
    """Her export as the gateway composes it (gateway/sharing.py): the public part, then the
    owner's own part; eastmarket is the only owner here, and the only member answering."""
    at = datetime.now(UTC)
    document = double.run("ExportCustomer", at=at, transient={"request": request})
    own = double.run("ExportOwnData", double.creator.msp_id, at=at,
                     transient={"request": request})
    part = {"events": own["events"], "access_log": own["access_log"]}
    return {**document, "holdings": {own["owner"]: part}, "access_log": own["access_log"],
            "unanswered": []}


PAGE_BOX = """(el) => { const r = el.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}; }"""


def test_page_rendering_of_a_ledger_double_export_shows_every_consent_and_its_history(
        portal, gateway):
    """PAGE-RENDERING test, not end-to-end: no peer runs here, so the export request the page
    signs is answered through Playwright's router by the real contract on the ledger double
    (its ExportCustomer checks her browser signature). Every other request, the withdrawal
    included, reaches the real gateway, whose ledger is down."""
    page, seen = portal
    double, her = restored_with_history(page, gateway.services)

    refused: list[Exception] = []

    def export(route: Any) -> None:
        try:
            document = _export(double, route.request.post_data_buffer)
        except ChaincodeError as exc:
            refused.append(exc)
            route.fulfill(status=500, json={"error": {"code": "INTERNAL", "message": ""}})
            return
        route.fulfill(status=200, content_type="application/json",
                      body=json.dumps(document, ensure_ascii=False, indent=2))

    page.route(f"**/v1/customers/{her.id}/export", export)
    page.click("#ledger-load")
    _expect()(page.locator("#sign-canonical")).to_contain_text('"action":"export"')
    page.click("#sign-confirm")
    _expect()(page.locator("#ledger-status")).to_contain_text("4 consents read from the ledger")
    assert refused == []
    items = page.locator("#ledger-list > li")
    _expect()(items).to_have_count(4)
    assert [items.nth(i).get_attribute("data-consent-id") for i in range(4)] == [
        "k-winter", "k-shoes", "k-all", "k-coat"]  # newest grant first

    def consent(consent_id: str) -> tuple[Any, Any]:
        item = page.locator(f'#ledger-list > li[data-consent-id="{consent_id}"]')
        return item, item.locator("ol.history > li")

    shoes, history = consent("k-shoes")
    _expect()(shoes.locator(".badge")).to_have_text("In force")
    _expect()(shoes.locator(".summary")).to_contain_text("Shops: Southgate and Eastmarket")
    _expect()(shoes.locator(".summary")).to_contain_text("For: Personal suggestions")
    _expect()(shoes.locator(".summary")).to_contain_text("Your data: What you buy")
    _expect()(history).to_have_count(2)
    _expect()(history.nth(0)).to_contain_text(
        "Given at a store kiosk. Shops: Southgate, Northwind and Eastmarket; "
        "For: Personal suggestions and Shop improvement; "
        "Your data: What you buy and What you look at and like")
    _expect()(history.nth(1)).to_contain_text(
        "Narrowed on the web portal, to: Shops: Southgate and Eastmarket; "
        "For: Personal suggestions; Your data: What you buy")

    every, history = consent("k-all")
    _expect()(every.locator(".badge")).to_have_text("Withdrawn")
    _expect()(every.locator(".summary")).to_contain_text("every member of the consortium")
    _expect()(every).to_contain_text("No member may use your data under it since then.")
    _expect()(history).to_have_count(2)
    _expect()(history.nth(0)).to_contain_text("Given in the app.")
    _expect()(history.nth(1)).to_contain_text("Withdrawn at a store kiosk.")

    coat, history = consent("k-coat")
    _expect()(coat.locator(".badge")).to_have_text("Withdrawn")
    _expect()(history).to_have_count(2)
    _expect()(history.nth(1)).to_contain_text("Withdrawn by your request to erase your data")

    winter, history = consent("k-winter")
    _expect()(winter.locator(".badge")).to_have_text("Expired")
    _expect()(winter).to_contain_text("so no member may use your data under it")
    _expect()(history).to_have_count(1)
    for item in (every, coat, winter):
        _expect()(item.get_by_role("button", name="Withdraw")).to_have_count(0)
    _expect()(page.locator("#ledger-more")).to_contain_text(
        "1 shopping record of yours and 1 logged read of your data")
    # Her access log, in words: who read what of whose, for what, when.
    reads = page.locator("#ledger-reads > li")
    _expect()(reads).to_have_count(1)
    when = (datetime.now(UTC) - timedelta(days=1))
    _expect()(reads.nth(0)).to_contain_text(
        f"Southgate read 1 of your Eastmarket shopping records for personal suggestions on "
        f"{when.day} {when.strftime('%B')}")
    text = page.inner_text("#consents-section")
    assert '"consent_id"' not in text and "versions" not in text  # words, not the document
    _check_and_shoot(page, "portal-ledger-phone")
    page.locator("#consents-section").screenshot(path=str(SHOTS / "portal-ledger-view-phone.png"))
    # docs/img/portal-ledger-phone.png: from the button to the narrowed consent in force.
    top, end = page.locator("#consents-section").evaluate(PAGE_BOX), shoes.evaluate(PAGE_BOX)
    page.screenshot(path=str(SHOTS / "portal-ledger-excerpt-phone.png"), full_page=True,
                    clip={**top, "height": end["y"] + end["height"] - top["y"] + 8})
    page.set_viewport_size(KIOSK_PORTRAIT)
    _check_and_shoot(page, "portal-ledger-kiosk-portrait")
    page.locator("#consents-section").screenshot(
        path=str(SHOTS / "portal-ledger-view-kiosk-portrait.png"))

    # A consent this device never saw is withdrawn with her key; the contract accepts it.
    shoes.get_by_role("button", name="Withdraw").click()
    _expect()(page.locator("#sign-summary")).to_contain_text("Shops: Southgate and Eastmarket")
    _expect()(page.locator("#sign-canonical")).to_contain_text('"consent_id":"k-shoes"')
    page.click("#sign-confirm")
    # Said beside the button she pressed, not at the end of the section.
    _expect()(shoes.locator(".status")).to_contain_text(LEDGER_DOWN)
    _expect()(page.locator("#consents-status")).to_be_hidden()
    posted = _eventually(page, seen, "POST", r"/v1/consents$", 1)[0].post_data
    record = double.run("SubmitConsentStatement", posted, at=datetime.now(UTC))
    assert record["withdrawn_at"] is not None and record["version"] == 3
    _expect()(page.locator("#journal li").first).to_contain_text("Withdrawal of consent k-shoes")
    _no_raw_errors(page)


# -- kiosk -----------------------------------------------------------------------------------


@pytest.fixture
def kiosk(browser, gateway) -> Iterator[tuple[Any, Seen]]:
    page, seen = open_page(browser, gateway, "/kiosk/")
    yield page, seen
    page.context.close()


def _set_up(page: Any, credential: str, store: str = STORE) -> None:
    page.fill("#setup-store", store)
    page.fill("#setup-credential", credential)
    page.click("#setup-save")


def _identify(page: Any, customer_id: str) -> None:
    page.fill("#customer-id-input", customer_id)
    page.press("#customer-id-input", "Enter")
    _expect()(page.locator("#customer-view")).to_be_visible()


def test_kiosk_setup_checks_the_credential_with_the_gateway(kiosk, gateway):
    page, _ = kiosk
    _expect()(page.locator("#setup-view")).to_be_visible()
    _set_up(page, "psk_0123456789abcdef." + "x" * 43)
    _expect()(page.locator("#setup-status")).to_contain_text("did not accept this credential")
    other = gateway.services.credentials.issue("west-9")
    _set_up(page, other)
    _expect()(page.locator("#setup-status")).to_contain_text("belongs to another store")
    # A store the retailer's catalogue does not have is refused, even with its own credential.
    _set_up(page, gateway.services.credentials.issue("west-9"), store="west-9")
    _expect()(page.locator("#setup-status")).to_contain_text(
        "Eastmarket has no store with this id in its catalogue")
    assert page.evaluate("localStorage.getItem('prefshare.kiosk.config')") is None
    _set_up(page, gateway.credential)
    _expect()(page.locator("#identify-view")).to_be_visible()
    _expect()(page.locator("#device-line")).to_have_text("Eastmarket, store east-1.")
    saved = json.loads(page.evaluate("localStorage.getItem('prefshare.kiosk.config')"))
    assert saved == {"store_id": STORE, "credential": gateway.credential}
    page.fill("#customer-id-input", "c_tooshort")
    page.click("#identify")
    _expect()(page.locator("#identify-status")).to_contain_text("not a customer id")


FAKE_DETECTOR = """
    // Chromium on Linux has no BarcodeDetector; this stand-in "reads" a fixed code, so the test
    // covers the kiosk's wiring (feature check, picture path, identify), not QR decoding.
    globalThis.BarcodeDetector = class {
        static async getSupportedFormats() { return ['qr_code']; }
        async detect() { return [{ rawValue: '%s' }]; }
    };
"""


def test_kiosk_takes_the_id_from_a_qr_picture_and_explains_a_missing_camera(browser, gateway):
    customer = "c_" + "S" * 43
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True)
    context.add_init_script(f"globalThis.prefshareConfig = {json.dumps(FAST)};")
    context.add_init_script(FAKE_DETECTOR % customer)
    page = context.new_page()
    try:
        page.goto(f"{gateway.base}/kiosk/")
        page.wait_for_selector("body[data-ready=true]")
        _set_up(page, gateway.credential)
        _expect()(page.locator("#scan-start")).to_be_visible()
        page.click("#scan-start")  # headless Chromium has no camera
        _expect()(page.locator("#identify-status")).to_contain_text("camera cannot be used")
        picture = {"name": "code.png", "mimeType": "image/png", "buffer": page.screenshot()}
        page.set_input_files("#scan-picture", picture)
        _expect()(page.locator("#customer-view")).to_be_visible()
        _expect()(page.locator("#consent-status")).to_contain_text("cannot be checked")
    finally:
        context.close()


def test_kiosk_shows_popular_items_and_says_why_when_the_ledger_is_down(kiosk, gateway):
    page, seen = kiosk
    _set_up(page, gateway.credential)
    _identify(page, "c_" + "K" * 43)
    consent = page.locator("#consent-status")
    _expect()(consent).to_contain_text("cannot be checked right now")
    _expect()(consent).to_contain_text(LEDGER_DOWN)
    assert len(seen.to("GET", r"/consents\?limit=100$")) == 3
    strategy = page.locator("#strategy")
    _expect()(strategy).to_contain_text("Popular in this store")
    _expect()(page.locator("#suggestions-notice")).to_contain_text(
        "could not be checked just now")
    cards = page.locator("#cards > li")
    _expect()(cards).to_have_count(len(ITEMS))
    first = cards.first
    _expect()(first.locator("h4")).to_have_text(re.compile("|".join(t for *_, t in ITEMS)))
    _expect()(first).to_contain_text("nobody has chosen it there yet")
    _expect()(first).to_contain_text("From Eastmarket's sales, not from your data.")
    _no_raw_errors(page)


def test_kiosk_likes_and_purchases_go_in_one_batch_retried_with_its_key(kiosk, gateway):
    page, seen = kiosk
    _set_up(page, gateway.credential)
    customer = "c_" + "L" * 43
    _identify(page, customer)
    card = page.locator("#cards > li").first
    card.get_by_role("button", name="I like this").click()
    card.get_by_role("button", name="I bought this").click()
    _expect()(card.get_by_role("button", name="✓ Liked")).to_have_attribute("aria-pressed", "true")
    status = page.locator("#events-status")
    _expect()(status).to_contain_text("They will be sent again.")
    _expect()(status).to_contain_text(LEDGER_DOWN)
    posts = seen.to("POST", rf"/v1/stores/{STORE}/customers/{customer}/events$")
    key = _same_key_and_body(posts, 3)
    events = json.loads(posts[0].post_data)["events"]
    assert [e["event_type"] for e in events] == ["like", "purchase"]
    assert len({e["event_id"] for e in events}) == 2
    assert posts[0].headers["authorization"] == f"Bearer {gateway.credential}"
    status.get_by_role("button", name="Try again").click()
    assert _same_key_and_body(_eventually(page, seen, "POST", r"/events$", 6), 6) == key
    # The next customer starts clean: nothing of hers stays on screen.
    page.click("#finish")
    _expect()(page.locator("#identify-view")).to_be_visible()
    assert page.locator("#cards > li").count() == 0
    _no_raw_errors(page)


PERSONALISED = {
    "model_id": "m-2026-11-21", "strategy": "personalised", "notice": None,
    "data_sources": ["SouthgateMSP"],
    "items": [{"item_id": "east-1", "name": "Merino crew jumper", "category": "knitwear",
               "brand": "Fjell", "price_band": "premium", "score": 0.91, "reasons": [
                   {"kind": "activity", "retailer": "SouthgateMSP", "detail": "purchases",
                    "weight": 0.6, "category": "purchases"},
                   {"kind": "item_feature", "retailer": "EastmarketMSP",
                    "detail": "brand:Fjell", "weight": 0.2, "category": None}],
               "why": "Picked from your purchases at Southgate.",
               "source": "From what you shared from Southgate."}],
}


def test_kiosk_renders_a_personalised_answer_in_words_fed_by_the_router(kiosk, gateway):
    page, _ = kiosk
    _set_up(page, gateway.credential)
    customer = "c_" + "P" * 43
    consent = {"consent_id": "k-1", "customer_id": customer, "status": "active",
               "recipients": ["EastmarketMSP"], "purposes": ["personalisation"],
               "data_categories": ["purchases"], "expires_at": "2027-11-21T00:00:00.000Z"}
    page.route("**/consents?limit=100",
               lambda route: route.fulfill(json={"items": [consent], "next_cursor": None}))
    page.route("**/suggestions?n=10", lambda route: route.fulfill(
        json={**PERSONALISED, "customer_id": customer, "store_id": STORE}))
    _identify(page, customer)
    _expect()(page.locator("#consent-status")).to_contain_text(
        "You share what you bought with Eastmarket for personal suggestions, until")
    _expect()(page.locator("#invitation")).to_be_hidden()
    _expect()(page.locator("#strategy")).to_have_text(
        re.compile("Picked for you from the preferences you shared"))
    _expect()(page.locator("#data-sources")).to_have_text("Based on your data from Southgate.")
    card = page.locator("#cards > li").first
    _expect()(card).to_contain_text("knitwear · Fjell · Premium")
    _expect()(card).to_contain_text("Why: Picked from your purchases at Southgate.")
    _expect()(card.locator(".source")).to_have_count(1)
    _expect()(card.locator(".source")).to_have_text("From what you shared from Southgate.")


def test_kiosk_invites_a_customer_without_consent_to_the_portal(kiosk, gateway):
    page, _ = kiosk
    _set_up(page, gateway.credential)
    page.route("**/consents?limit=100",
               lambda route: route.fulfill(json={"items": [], "next_cursor": None}))
    _identify(page, "c_" + "N" * 43)
    _expect()(page.locator("#consent-status")).to_contain_text("You have not shared")
    _expect()(page.locator("#portal-link")).to_have_text(f"{gateway.base}/portal/")
    _expect()(page.locator("#portal-qr svg[role=img]")).to_be_visible()


# -- both pages: keyboard, accessibility basics, viewports -----------------------------------


def _tab_through(page: Any, presses: int) -> list[str]:
    page.locator("body").focus()
    reached = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("""() => {
            const el = document.activeElement;
            if (el === document.body) return '(past the end)';
            const style = getComputedStyle(el);
            const ring = style.outlineStyle !== 'none' || style.boxShadow !== 'none';
            if (!ring) return '!no-focus-ring';
            return el.id || el.getAttribute('href') || el.textContent.trim().slice(0, 20);
        }"""))
    return reached


def test_keyboard_alone_reaches_and_operates_the_main_controls(browser, gateway):
    page, _ = open_page(browser, gateway, "/portal/")
    try:
        reached = _tab_through(page, 6)
        # Bringing the key she already has comes before making a new one.
        assert reached == ["#main", "restore-file", "transfer-code", "transfer-passphrase",
                           "transfer-in", "create-key"], reached
        page.keyboard.press("Enter")  # create the key from the keyboard
        _expect()(page.locator("#customer-id")).to_have_text(re.compile("^c_"))
        _expect()(page.locator("#download-backup")).to_be_focused()
        page.reload()  # start again from the top, now with a key
        page.wait_for_selector("body[data-ready=true]")
        reached = _tab_through(page, 50)
        assert "!no-focus-ring" not in reached
        for control in ("copy-id", "forget-key", "register", "recipient-SouthgateMSP",
                        "purpose-personalisation", "category-purchases", "duration",
                        "review-grant", "ledger-load", "withdraw-id", "export", "erase-word"):
            assert control in reached, (control, reached)
    finally:
        page.context.close()
    page, _ = open_page(browser, gateway, "/kiosk/")
    try:
        _set_up(page, gateway.credential)
        _expect()(page.locator("#customer-id-input")).to_be_focused()
        page.keyboard.type("c_" + "Q" * 43)
        page.keyboard.press("Enter")
        _expect()(page.locator("#customer-heading")).to_be_focused()
        reached = _tab_through(page, 14)
        assert "!no-focus-ring" not in reached
        assert "finish" in reached and "settings" in reached, reached
        if page.locator("#cards button").count():
            assert "I like this" in reached, reached
    finally:
        page.context.close()


CONTRAST_AND_LABELS = """() => {
    const lum = (rgb) => {
        const [r, g, b] = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92
                                                            : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const background = (el) => {
        for (; el; el = el.parentElement) {
            const c = parse(getComputedStyle(el).backgroundColor);
            if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
        }
        return [255, 255, 255];
    };
    const problems = [];
    for (const el of document.querySelectorAll('body *')) {
        const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        if (!own || !el.checkVisibility() || el.closest('[inert], .visually-hidden, .needs-key')) {
            continue;
        }
        const style = getComputedStyle(el);
        const fg = parse(style.color).slice(0, 3);
        const [a, b] = [lum(fg), lum(background(el))];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        const large = parseFloat(style.fontSize) >= 24
            || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
        if (ratio < (large ? 3 : 4.5)) problems.push(`${el.tagName}#${el.id}: ${ratio.toFixed(2)}`);
    }
    for (const input of document.querySelectorAll('input, select, textarea')) {
        if (input.type !== 'hidden' && !input.labels.length && !input.getAttribute('aria-label')) {
            problems.push(`unlabelled ${input.id}`);
        }
    }
    return {problems, lang: document.documentElement.lang,
            landmarks: ['header', 'main', 'footer'].filter((t) => document.querySelector(t)),
            overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth};
}"""


def _check_and_shoot(page: Any, name: str) -> None:
    found = page.evaluate(CONTRAST_AND_LABELS)
    assert found["problems"] == [], (name, found["problems"])
    assert found["lang"] == "en" and found["landmarks"] == ["header", "main", "footer"]
    assert found["overflow"] <= 0, (name, "scrolls sideways", found["overflow"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize(("label", "viewport"),
                         [("phone", PHONE), ("kiosk-portrait", KIOSK_PORTRAIT),
                          ("landscape", LANDSCAPE)])
def test_pages_fit_the_viewport_meet_basic_accessibility_and_are_captured(
        browser, gateway, label, viewport):
    page, _ = open_page(browser, gateway, "/portal/", viewport)
    try:
        _check_and_shoot(page, f"portal-start-{label}")
        _create_key(page)
        page.check("#recipient-SouthgateMSP")
        page.check("#recipient-NorthwindMSP")
        page.check("#category-purchases")
        page.click("#register")
        _expect()(page.locator("#register-status")).to_contain_text("not registered yet")
        _check_and_shoot(page, f"portal-{label}")
        page.click("#review-grant")
        _expect()(page.locator("#sign-dialog")).to_be_visible()
        page.screenshot(path=str(SHOTS / f"portal-sign-{label}.png"))
    finally:
        page.context.close()
    page, _ = open_page(browser, gateway, "/kiosk/", viewport)
    try:
        _check_and_shoot(page, f"kiosk-setup-{label}")
        _set_up(page, gateway.credential)
        _expect()(page.locator("#identify-view")).to_be_visible()
        _check_and_shoot(page, f"kiosk-welcome-{label}")
        page.route("**/consents?limit=100",
                   lambda route: route.fulfill(json={"items": [], "next_cursor": None}))
        _identify(page, "c_" + "V" * 43)
        _expect()(page.locator("#strategy")).not_to_contain_text("Finding")
        _expect()(page.locator("#portal-qr svg")).to_be_visible()
        _check_and_shoot(page, f"kiosk-{label}")
    finally:
        page.context.close()


# -- the retailer, one key at every member, any item, after erasure ----------------------------


def missing_from(missing: list[str]) -> Any:
    return lambda response: missing.append(response.url) if response.status == 404 else None


def test_headers_name_the_retailer_and_the_favicon_is_served(browser, gateway):
    for path, title in (("/portal/", "Eastmarket: Your consent portal"),
                        ("/kiosk/", "Eastmarket: Suggestions for you")):
        page, _ = open_page(browser, gateway, path)
        missing: list[str] = []
        page.on("response", missing_from(missing))
        try:
            _expect()(page.locator("h1")).to_have_text(title)
            assert page.title().startswith("Eastmarket")
            icon = page.get_attribute("link[rel=icon]", "href")
            assert page.request.get(f"{gateway.base}/static/favicon.svg").ok, icon
            assert page.request.get(f"{gateway.base}/favicon.ico").ok
            page.reload()
            page.wait_for_selector("body[data-ready=true]")
            assert missing == [], missing
        finally:
            page.context.close()


def test_kiosk_serves_its_gateways_retailer_whatever_an_older_page_saved(browser, gateway):
    context = browser.new_context(viewport=PHONE, ignore_https_errors=True)
    context.add_init_script(f"globalThis.prefshareConfig = {json.dumps(FAST)};")
    # A device set up by the older page, which let staff pick any retailer.
    context.add_init_script("localStorage.setItem('prefshare.kiosk.config', JSON.stringify("
                            f"{{msp_id: 'NorthwindMSP', store_id: '{STORE}', "
                            f"credential: '{gateway.credential}'}}));")
    page = context.new_page()
    try:
        page.goto(f"{gateway.base}/kiosk/")
        page.wait_for_selector("body[data-ready=true]")
        _expect()(page.locator("#device-line")).to_have_text("Eastmarket, store east-1.")
        page.route("**/consents?limit=100", lambda route: route.fulfill(json={"items": [{
            "consent_id": "k-1", "status": "active", "recipients": ["NorthwindMSP"],
            "purposes": ["personalisation"], "data_categories": ["purchases"],
            "expires_at": "2027-11-21T00:00:00.000Z"}], "next_cursor": None}))
        _identify(page, "c_" + "W" * 43)
        # Her consent names Northwind only: this Eastmarket kiosk says she shares nothing here.
        _expect()(page.locator("#consent-status")).to_contain_text(
            "You have not shared your preferences with Eastmarket")
        page.click("#settings")
        _expect()(page.locator("#setup-retailer")).to_have_text("Eastmarket")
        assert page.locator("select#setup-retailer").count() == 0
    finally:
        context.close()


def test_kiosk_finds_any_item_by_name_or_code_and_records_it(kiosk, gateway):
    page, seen = kiosk
    _set_up(page, gateway.credential)
    customer = "c_" + "F" * 43
    page.route("**/consents?limit=100",
               lambda route: route.fulfill(json={"items": [], "next_cursor": None}))
    _identify(page, customer)
    page.fill("#find-input", "   ")
    page.press("#find-input", "Enter")
    _expect()(page.locator("#find-status")).to_contain_text("Type part of the item's name")
    page.fill("#find-input", "sandals")
    page.press("#find-input", "Enter")
    _expect()(page.locator("#find-status")).to_contain_text('No item of this store matches')
    page.fill("#find-input", "fjell merino")  # brand and a word of the name
    page.press("#find-input", "Enter")
    found = page.locator("#found > li")
    _expect()(found).to_have_count(1)
    _expect()(found.first).to_contain_text("Merino crew jumper")
    _expect()(found.first).to_contain_text("Item code east-1")
    page.fill("#find-input", "east-3")  # the code on its label
    page.press("#find-input", "Enter")
    _expect()(found).to_have_count(1)
    _expect()(found.first.locator("h4")).to_have_text("Stoneware mug set")
    found.first.get_by_role("button", name="I looked at this").click()
    found.first.get_by_role("button", name="I bought this").click()
    # Reported beside the item she chose (the ledger is down here).
    _expect()(page.locator("#find-status")).to_contain_text("They will be sent again.")
    posts = seen.to("POST", rf"/v1/stores/{STORE}/customers/{customer}/events$")
    events = json.loads(posts[0].post_data)["events"]
    assert [(e["item_id"], e["event_type"]) for e in events] == [
        ("east-3", "view"), ("east-3", "purchase")]
    assert events[0]["item_category"] == "home"
    searches = seen.to("GET", rf"/v1/stores/{STORE}/items\?")
    assert searches and all(r.headers["authorization"] == f"Bearer {gateway.credential}"
                            for r in searches)
    _no_raw_errors(page)


@pytest.mark.parametrize("code", ["UNKNOWN_CUSTOMER", "CUSTOMER_ERASED"])
def test_kiosk_treats_an_unknown_or_erased_id_alike_and_offers_nothing_that_would_fail(
        kiosk, gateway, code):
    page, seen = kiosk
    _set_up(page, gateway.credential)
    page.route("**/consents?limit=100", lambda route: route.fulfill(
        status=404, json={"error": {"code": code, "message": "refused"}}))
    customer = "c_" + "E" * 43
    _identify(page, customer)
    _expect()(page.locator("#consent-status")).to_contain_text(
        "This customer id is not known at Eastmarket")
    _expect()(page.locator("#cards > li")).to_have_count(len(ITEMS))
    _expect()(page.locator("#cards button[data-event]")).to_have_count(0)
    _expect()(page.locator("#find-panel")).to_be_hidden()
    assert "erase" not in page.inner_text("body").lower()
    assert seen.to("POST", r"/events$") == []


def test_pressed_button_stays_readable_when_hovered(kiosk, gateway):
    page, _ = kiosk
    _set_up(page, gateway.credential)
    _identify(page, "c_" + "H" * 43)
    button = page.locator("#cards > li").first.get_by_role("button", name="I like this")
    button.click()
    pressed = page.locator("#cards > li").first.get_by_role("button", name="✓ Liked")
    pressed.hover()
    colours = pressed.evaluate("""(el) => { const s = getComputedStyle(el);
        return [s.color, s.backgroundColor]; }""")
    assert colours == ["rgb(255, 255, 255)", "rgb(30, 107, 52)"], colours  # 6.6:1


def test_portal_copies_her_id_and_checks_a_consent_id_before_any_signing(portal):
    page, seen = portal
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    customer_id = _create_key(page)
    page.click("#copy-id")
    _expect()(page.locator("#copy-status")).to_contain_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == customer_id
    for typed in ("xyz", "", "k-has space"):
        page.fill("#withdraw-id", typed)
        page.click("#withdraw-form button[type=submit]")
        _expect()(page.locator("#withdraw-status")).to_have_attribute("data-kind", "error")
        _expect()(page.locator("#sign-dialog")).to_be_hidden()
        _expect()(page.locator("#withdraw-id")).to_be_focused()
    assert seen.to("POST", r"/v1/consents") == []


def test_her_key_from_one_members_portal_is_brought_to_another_without_a_second_key(
        browser, gateway, tmp_path):
    """Two origins of one gateway stand for two members' portals: 127.0.0.1 and localhost
    keep separate key stores, as two members' domains do."""
    first, _ = open_page(browser, gateway, "/portal/")
    try:
        customer_id = _create_key(first)
        with first.expect_download() as download:
            first.click("#download-backup")
        backup = tmp_path / "key.json"
        download.value.save_as(backup)
        # The other members' portals, where the same key works, are named on the page.
        links = first.locator("#member-portals a")
        _expect()(links).to_have_count(2)
        _expect()(links.first).to_have_text(re.compile("(Northwind|Southgate)'s consent portal"))
    finally:
        first.context.close()
    other = Gateway(gateway.base.replace("127.0.0.1", "localhost"), gateway.services,
                    gateway.credential)
    second, seen = open_page(browser, other, "/portal/")
    try:
        # Before "Create my key", she is asked whether she already has one, and how to bring it.
        elsewhere = second.locator("#key-elsewhere")
        _expect()(elsewhere).to_contain_text("Already made a key at another shop")
        assert elsewhere.evaluate_handle("e => e.compareDocumentPosition("
                                         "document.getElementById('create-key'))"
                                         ).json_value() & 4  # the restore path comes first
        second.set_input_files("#restore-file", str(backup))
        _expect()(second.locator("#customer-id")).to_have_text(customer_id)
        assert seen.to("POST", r"/v1/customers$") == []  # nothing about her key was sent
    finally:
        second.context.close()


def test_a_transfer_code_brings_her_key_to_another_origin_only_with_its_passphrase(
        browser, gateway):
    first, _ = open_page(browser, gateway, "/portal/")
    try:
        customer_id = _create_key(first)
        first.click("#make-transfer")
        _expect()(first.locator("#transfer-made")).to_be_visible()
        code = first.input_value("#transfer-code-out")
        passphrase = str(first.text_content("#transfer-passphrase-shown"))
        assert re.fullmatch(r"pskey1\.[A-Za-z0-9_-]{300,}", code), code
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", passphrase)
        assert passphrase.replace("-", "") not in code
        _expect()(first.locator("#transfer-qr svg[role=img]")).to_be_visible()
        for link in first.locator("#member-portals a").all():
            assert str(link.get_attribute("href")).endswith(f"/portal/#key={code}")
    finally:
        first.context.close()
    other = Gateway(gateway.base.replace("127.0.0.1", "localhost"), gateway.services,
                    gateway.credential)
    second, seen = open_page(browser, other, f"/portal/#key={code}")
    try:
        _expect()(second.locator("#transfer-code")).to_have_value(code)
        assert "#key" not in second.url  # taken off the address bar at once
        _expect()(second.locator("#transfer-passphrase")).to_be_focused()
        second.fill("#transfer-passphrase", "aaaa-bbbb-cccc")
        second.click("#transfer-in")
        _expect()(second.locator("#transfer-in-status")).to_contain_text(
            "passphrase does not open this code", timeout=20000)
        _expect()(second.locator("#no-key")).to_be_visible()
        second.fill("#transfer-passphrase", passphrase.upper().replace("-", " "))
        second.click("#transfer-in")
        _expect()(second.locator("#customer-id")).to_have_text(customer_id, timeout=20000)
        # The code went nowhere: no request of the page carried it.
        assert all(code not in (r.url + (r.post_data or "")) for r in seen.requests)
    finally:
        second.context.close()


def test_readable_export_view_then_erasure_says_what_it_did_and_leaves_no_failing_action(
        portal, gateway):
    """PAGE-RENDERING test (the ledger double answers her signed export, as above)."""
    page, seen = portal
    double, her = restored_with_history(page, gateway.services)
    page.route(f"**/v1/customers/{her.id}/export", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body=json.dumps(_export(double, route.request.post_data_buffer))))
    page.click("#export")
    _expect()(page.locator("#sign-summary")).to_contain_text("A copy of my data")
    page.click("#sign-confirm")
    view = page.locator("#export-view")
    _expect()(view).to_be_visible()
    _expect()(view.locator("#export-consents > li")).to_have_count(4)
    _expect()(view.get_by_role("button", name="Withdraw")).to_have_count(0)
    _expect()(view.locator("#export-holdings")).to_contain_text(
        "Eastmarket holds 1 shopping record of yours")
    _expect()(view.locator("#export-holdings")).to_contain_text(
        "Bought item east-0 (shoes) at store east-1")
    _expect()(view.locator("#export-reads")).to_contain_text(
        "Southgate read 1 of your Eastmarket shopping records for personal suggestions")
    assert '"consent_id"' not in view.inner_text()
    with page.expect_download() as download:
        page.click("#export-download")  # the same answer as a file: no second signature
    assert json.loads(Path(download.value.path()).read_text())["customer"]["customer_id"] \
        == her.id
    assert len(seen.to("POST", r"/export$")) == 1
    _check_and_shoot(page, "portal-export-view-phone")

    # She gave a consent on this device, then erases.
    page.check("#recipient-SouthgateMSP")
    page.check("#category-purchases")
    page.click("#review-grant")
    page.click("#sign-confirm")
    # The ledger is down here: kept as not sent, then marked recorded as if it had gone.
    _expect()(page.locator("#grant-status")).to_contain_text("nothing was recorded yet")
    page.evaluate("""(id) => { const key = `prefshare.portal.journal.${id}`;
        const entries = JSON.parse(localStorage.getItem(key));
        entries[0].state = 'recorded';
        localStorage.setItem(key, JSON.stringify(entries)); }""", her.id)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    _expect()(page.locator("#journal").get_by_role("button", name="Withdraw")).to_have_count(1)
    page.route(f"**/v1/customers/{her.id}/erasure", lambda route: route.fulfill(
        status=200, json={"events_purged": 1, "consents_withdrawn": 2}))
    page.fill("#erase-word", "ERASE")
    page.click("#erase")
    page.click("#sign-confirm")
    status = page.locator("#erase-status")
    _expect()(status).to_contain_text("1 records deleted and 2 consents withdrawn")
    _expect()(status).to_contain_text("if you give a consent again, it starts afresh")
    # The consent she gave before the erasure is withdrawn: no button that would fail.
    _expect()(page.locator("#journal").get_by_role("button", name="Withdraw")).to_have_count(0)
    _expect()(page.locator("#export-view")).to_be_hidden()


def test_keyboard_alone_finds_an_item_at_the_kiosk_and_records_it(kiosk, gateway):
    page, seen = kiosk
    _set_up(page, gateway.credential)
    page.route("**/consents?limit=100",
               lambda route: route.fulfill(json={"items": [], "next_cursor": None}))
    customer = "c_" + "T" * 43
    # The kiosk checks the store with the gateway, then puts the focus in the id box: a
    # shopper types once it is there (keys before it would go to the setup form).
    _expect()(page.locator("#customer-id-input")).to_be_focused()
    page.keyboard.type(customer)
    page.keyboard.press("Enter")
    _expect()(page.locator("#customer-heading")).to_be_focused()
    _expect()(page.locator("#cards > li")).to_have_count(len(ITEMS))
    for _ in range(60):  # Tab on to the search box
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "find-input":
            break
    assert page.evaluate("document.activeElement.id") == "find-input"
    page.keyboard.type("canvas")
    page.keyboard.press("Enter")
    _expect()(page.locator("#found > li")).to_have_count(1)
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "I bought this":
            break
    page.keyboard.press("Enter")
    _expect()(page.locator("#found").get_by_role("button", name="✓ Bought")).to_be_focused()
    posts = _eventually(page, seen, "POST", rf"/customers/{customer}/events$", 1)
    assert [e["item_id"] for e in json.loads(posts[0].post_data)["events"]] == ["east-2"]
