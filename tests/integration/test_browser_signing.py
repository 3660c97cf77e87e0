"""The browser's customer keys and signatures, checked by the chaincode's own verification.

Real components: Debian's Chromium (driven by Playwright) runs gateway/static/js/
customer-crypto.js with WebCrypto; the statements it signs go through chaincode/consent.py and
chaincode/keys.py unchanged. Nothing here needs the Fabric network.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from chaincode.consent import apply_statement
from chaincode.consent_statement import parse_signed_statement
from chaincode.errors import BadSignature
from chaincode.keys import CustomerKey

pytestmark = pytest.mark.integration

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "static"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def _chromium() -> str:
    for candidate in ("/usr/lib/chromium/chromium", shutil.which("chromium") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("Chromium is not installed (apt-get install chromium; .ci/run does it)")


@pytest.fixture(scope="module")
def static_server() -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(STATIC))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page(static_server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page()
            pg.goto(f"{static_server}/js/")
            yield pg
        finally:
            browser.close()


def _in_browser(page: Any, body: str, arg: Any = None) -> Any:
    """Run ``body`` (an async function body with ``m`` = the module and ``arg``) in the page."""
    script = f"async (arg) => {{ const m = await import('/js/customer-crypto.js'); {body} }}"
    return page.evaluate(script, arg)


def _statement(customer_id: str, given_at: str, **extra: Any) -> dict[str, Any]:
    return {
        "action": "grant", "consent_id": "k-browser-1", "customer_id": customer_id,
        "given_at": given_at, "nonce": "nonce-browser-0001-abcdef",
        "collection_method": "web", "policy_version": "2026-11", "jurisdiction": "DE",
        "recipients": ["SouthgateMSP"], "purposes": ["personalisation"],
        "data_categories": ["purchases", "views"],
        "expires_at": "2027-11-21T00:00:00.000Z", **extra,
    }


SIGN_IN_BROWSER = """
    const keys = await m.createKeyPair();
    const customerId = await m.customerIdFor(keys.publicKey);
    const statement = arg.template;
    statement.customer_id = customerId;
    statement.given_at = new Date().toISOString();
    const signed = await m.signStatement(keys.privateKey, statement);
    return { publicKey: await m.exportPublicKey(keys.publicKey), customerId, signed };
"""


def test_browser_signed_grant_is_accepted_by_the_chaincode(page):
    out = _in_browser(page, SIGN_IN_BROWSER, {"template": _statement("x", "x")})
    key = CustomerKey.from_b64url(out["publicKey"])
    assert key.customer_id == out["customerId"]
    signed = parse_signed_statement(json.dumps(out["signed"]))
    now = datetime.now(UTC) + timedelta(seconds=1)
    record = apply_statement(None, signed, key, now=now, used_nonces=set())
    assert record.customer_id == out["customerId"]
    assert record.status(now) == "active"


def test_statement_changed_after_browser_signing_is_refused(page):
    out = _in_browser(page, SIGN_IN_BROWSER, {"template": _statement("x", "x")})
    tampered = {**out["signed"], "recipients": ["SouthgateMSP", "EastmarketMSP"]}
    signed = parse_signed_statement(json.dumps(tampered))
    with pytest.raises(BadSignature):
        signed.verify(CustomerKey.from_b64url(out["publicKey"]))


def test_browser_canonical_form_equals_rfc8785_reference(page):
    tricky = {
        "z": [3, 1.5, -0.0, 1e21, 1e-7, True, None],
        "a": {"é": "caf\u00e9", "\U0001f600": "\u2028 line sep", "b\"q": "tab\tctl\u0001"},
        "A": "", "10": "numeric-looking key", "\u20ac": ["\ud7ff", "\ue000"],
    }
    in_browser = _in_browser(page, "return m.canonicalize(arg);", tricky)
    assert in_browser.encode("utf-8") == rfc8785.dumps(tricky)


def test_key_backup_restores_a_key_that_signs_for_the_same_customer(page):
    body = """
        const keys = await m.createKeyPair();
        const id = await m.customerIdFor(keys.publicKey);
        const restored = await m.importKeyBackup(await m.exportKeyBackup(keys));
        const statement = arg.template;
        statement.customer_id = id;
        statement.given_at = new Date().toISOString();
        const signed = await m.signStatement(restored.privateKey, statement);
        return { id, restoredId: await m.customerIdFor(restored.publicKey),
                 publicKey: await m.exportPublicKey(keys.publicKey), signed };
    """
    out = _in_browser(page, body, {"template": _statement("x", "x")})
    assert out["restoredId"] == out["id"]
    parse_signed_statement(json.dumps(out["signed"])).verify(
        CustomerKey.from_b64url(out["publicKey"]))
