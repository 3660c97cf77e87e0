"""axe-core, in Debian's Chromium, on every state of the consent portal and the kiosk.

Real components: eastmarket's gateway (HTTPS, TLS from its Fabric CA, a small catalogue; its
peer is down, as in tests/integration/test_pages.py), the pages as it serves them, and axe-core
as `make web` vendors it (gateway/static/vendor/axe-core, injected into each page by the test;
no page loads it). The states that need the ledger to answer (registered, her consents listed,
her copy, after erasure, an unknown id) get their answers through Playwright's router: the
portal's export from the real contract on the in-memory ledger double, which checks her browser
signature (as in test_pages.py); the kiosk's consent answer in the gateway's documented error
shape. Every other request reaches the real gateway.

Every state must have no serious or critical violation. Each state's findings (every impact)
are written to artifacts/accessibility/<state>.json, and a table of counts printed with -s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_pages import (
    PHONE,
    STORE,
    Gateway,
    _export,
    open_page,
    pages_gateway,
    restored_with_history,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "gateway" / "static" / "vendor" / "axe-core" / "axe.min.js"
REPORTS = ROOT / "artifacts" / "accessibility"
BLOCKING = ("serious", "critical")
KIOSK = {"width": 1080, "height": 1920}


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


@pytest.fixture(scope="module")
def gateway(start_gateway) -> Iterator[Gateway]:
    if not AXE.exists():
        pytest.fail("axe-core is not vendored: run `make web`")
    with pages_gateway(start_gateway) as running:
        yield running


@pytest.fixture(scope="module")
def findings() -> Iterator[dict[str, dict[str, int]]]:
    found: dict[str, dict[str, int]] = {}
    yield found
    print("\naxe-core violations per state (impact: count of rules)")
    for state, counts in found.items():
        print(f"  {state:28} " + (", ".join(f"{k} {v}" for k, v in counts.items())
                                  or "none"))


def _axe(page: Any, state: str, findings: dict[str, dict[str, int]]) -> None:
    """Run axe-core on the page as it is; fail on a serious or critical violation."""
    # The pages' CSP refuses inline scripts (issue 21), so a script tag cannot carry axe-core
    # in; the DevTools protocol's own evaluation is outside the page's CSP, which stays on.
    cdp = page.context.new_cdp_session(page)
    try:
        loaded = cdp.send("Runtime.evaluate", {"expression": AXE.read_text(encoding="utf-8")})
        assert "exceptionDetails" not in loaded, loaded.get("exceptionDetails")
    finally:
        cdp.detach()
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}));
    }""")
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{state}.json").write_text(json.dumps(result, indent=2))
    counts: dict[str, int] = {}
    for violation in result:
        counts[violation["impact"]] = counts.get(violation["impact"], 0) + 1
    findings[state] = counts
    blocking = [v for v in result if v["impact"] in BLOCKING]
    assert blocking == [], (state, blocking)


def _refuse(code: str, status: int = 404) -> Any:
    """A route handler answering with the gateway's error shape."""
    return lambda route: route.fulfill(
        status=status, json={"error": {"code": code, "message": "refused"}})


# -- portal ----------------------------------------------------------------------------------


def test_portal_states_have_no_serious_accessibility_violation(browser, gateway, findings):
    page, _ = open_page(browser, gateway, "/portal/", PHONE)
    try:
        _axe(page, "portal-new", findings)
        double, her = restored_with_history(page, gateway.services)
        page.route("**/v1/customers", lambda route: route.fulfill(
            status=201, json={"customer_id": her.id}))
        page.route(f"**/v1/customers/{her.id}/export", lambda route: route.fulfill(
            status=200, content_type="application/json",
            body=json.dumps(_export(double, route.request.post_data_buffer))))
        page.route(f"**/v1/customers/{her.id}/erasure", lambda route: route.fulfill(
            status=200, json={"events_purged": 1, "consents_withdrawn": 1}))
        page.click("#register")
        _expect()(page.locator("#register-status")).to_contain_text("is registered")
        _axe(page, "portal-registered", findings)
        page.click("#make-transfer")
        _expect()(page.locator("#transfer-qr svg")).to_be_visible()
        _axe(page, "portal-transfer-code", findings)

        page.check("#recipient-SouthgateMSP")
        page.check("#category-purchases")
        page.click("#review-grant")
        _expect()(page.locator("#sign-dialog")).to_be_visible()
        _axe(page, "portal-consent-review", findings)
        page.click("#sign-cancel")

        page.click("#ledger-load")
        page.click("#sign-confirm")
        _expect()(page.locator("#ledger-list > li")).to_have_count(4)
        _axe(page, "portal-consents-listed", findings)

        page.click("#export")
        page.click("#sign-confirm")
        _expect()(page.locator("#export-view")).to_be_visible()
        _axe(page, "portal-export-view", findings)

        page.fill("#erase-word", "ERASE")
        page.click("#erase")
        page.click("#sign-confirm")
        _expect()(page.locator("#erase-status")).to_contain_text("starts afresh")
        _axe(page, "portal-after-erasure", findings)
    finally:
        page.context.close()


# -- kiosk -----------------------------------------------------------------------------------


def _set_up(page: Any, credential: str) -> None:
    page.fill("#setup-store", STORE)
    page.fill("#setup-credential", credential)
    page.click("#setup-save")
    _expect()(page.locator("#identify-view")).to_be_visible()


def _identify(page: Any, customer_id: str) -> None:
    page.fill("#customer-id-input", customer_id)
    page.press("#customer-id-input", "Enter")
    _expect()(page.locator("#strategy")).not_to_contain_text("Finding", timeout=15000)


def test_kiosk_states_have_no_serious_accessibility_violation(browser, gateway, findings):
    page, _ = open_page(browser, gateway, "/kiosk/", KIOSK)
    try:
        _axe(page, "kiosk-setup", findings)
        _set_up(page, gateway.credential)
        _axe(page, "kiosk-welcome", findings)

        # Registered, no consent: popular items, the invitation, the item search.
        page.route("**/consents?limit=100",
                   lambda route: route.fulfill(json={"items": [], "next_cursor": None}))
        _identify(page, "c_" + "A" * 43)
        _expect()(page.locator("#portal-qr svg")).to_be_visible()
        _axe(page, "kiosk-suggestions", findings)
        page.fill("#find-input", "merino")
        page.press("#find-input", "Enter")
        _expect()(page.locator("#found > li")).to_have_count(1)
        _axe(page, "kiosk-search-results", findings)
        page.click("#finish")

        for state, code in (("kiosk-unknown-id", "UNKNOWN_CUSTOMER"),
                            ("kiosk-after-erasure", "CUSTOMER_ERASED")):
            page.unroute("**/consents?limit=100")
            page.route("**/consents?limit=100", _refuse(code))
            _identify(page, "c_" + code[0] * 43)
            _expect()(page.locator("#consent-status")).to_contain_text("not known")
            _axe(page, state, findings)
            page.click("#finish")
    finally:
        page.context.close()



# -- operator --------------------------------------------------------------------------------


def test_operator_states_have_no_serious_accessibility_violation(browser, gateway, findings):
    from gateway.stores import Role

    admin = gateway.services.credentials.issue("hq", Role.ADMIN)
    page, _ = open_page(browser, gateway, "/operator/", KIOSK)
    try:
        _axe(page, "operator-sign-in", findings)
        page.fill("#admin-credential", gateway.credential)  # a store's: refused in words
        page.click("#signin")
        _expect()(page.locator("#signin-status")).to_contain_text("a store's")
        _axe(page, "operator-refused", findings)
        # Its peer is down: the ledger's records are the one answer given here.
        page.route("**/v1/admin/watch/records",
                   lambda route: route.fulfill(json={"records": []}))
        page.fill("#admin-credential", admin)
        page.click("#signin")
        _expect()(page.locator("#lifecycle-line")).to_contain_text("new records since")
        _axe(page, "operator-signed-in", findings)
    finally:
        page.context.close()
