"""The cross-retailer story in Debian's Chromium, on the real Fabric network, end to end.

Nothing is routed or canned: the pages talk to three real gateways (HTTPS, TLS from each
retailer's Fabric CA), which endorse on the peers, order through the Raft orderers and read
back from the ledger. The consortium is first seeded through the gateways' API with the tests'
small demo world (so a retailer's training has other customers to learn from), then:

1. a customer creates her key in Northwind's portal, registers it and consents to share her
   purchases with Southgate for personal suggestions; she brings the same key to Southgate's
   portal with a transfer code (Northwind's link and the passphrase), creating no second one;
2. Northwind's kiosk identifies her and records three purchases, and a fourth of an item the
   clerk finds by its code;
3. Southgate's kiosk identifies her and its suggestions cite her Northwind purchases, with
   no training step: Southgate's model was trained (from what it may read on the ledger) and
   installed before she existed, and folds her consented purchases in at the request;
4. she withdraws in the portal, and Southgate's next suggestions cite none of Northwind's data;
5. she exports her data: every consent, with its history (given, withdrawn);
6. she erases her data, and every member's kiosk then has nothing of hers to use: popular
   items, no reason resting on her data, no button to record anything for her id, and not a
   word about an erasure on its screen.

Each step is captured in docs/img/story-*.png (the README shows two of them). Also here: the
API documentation page works with every request outside the gateway blocked.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.api import GatewayClient
from demo.seed import calls_in_order, run_calls
from demo.train import train_and_install
from demo.wallet import DemoCustomer
from gateway.stores import Role

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "img"
A, B, C = "northwind", "southgate", "eastmarket"
MSP = {A: "NorthwindMSP", B: "SouthgateMSP", C: "EastmarketMSP"}
NAMES = {v: k for k, v in MSP.items()}
#: Ports of this module's gateways, inside the whole network's test block (base + 390..392).
PORT_OFFSET = {A: 390, B: 391, C: 392}
PHONE = {"width": 390, "height": 844}
KIOSK = {"width": 1280, "height": 1000}
#: The kiosk sends her choices after 150 ms (default 2 s); nothing else is shortened.
FROM_NORTHWIND = "From what you shared from Northwind."
FAST = {"kiosk": {"flushMs": 150, "idleMs": 600000, "backgroundRetryMs": 600000}}


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


@dataclass
class Member:
    """A retailer's running gateway, its admin and one store's credential."""

    running: Any
    admin: str
    store: str
    store_credential: str

    @property
    def base(self) -> str:
        return str(self.running.base_url)

    def client(self, credential: str | None = None) -> GatewayClient:
        return GatewayClient(self.base, self.running.root_ca, credential)


@pytest.fixture(scope="module")
def members(fabric_network, start_ledger_gateway, world, catalogue) -> Iterator[dict[str, Member]]:
    if not (ROOT / "gateway" / "static" / "vendor" / "swagger-ui" / "swagger-ui.css").exists():
        pytest.fail("the pages' browser files are not vendored: run `make web`")
    base = 24000  # the default block; the starter moves it with the network's block
    ports = {name: base + offset for name, offset in PORT_OFFSET.items()}
    # The world's customers register from this one address, as `make run` seeds them:
    # more than the default 10 a minute an address.
    seeding = {"rate_registrations_per_address": "600/minute"}
    with start_ledger_gateway(A, catalogue=catalogue, http_port=ports[A],
                              member_ports=ports, **seeding) as a, \
            start_ledger_gateway(B, catalogue=catalogue, http_port=ports[B],
                                 member_ports=ports, **seeding) as b, \
            start_ledger_gateway(C, catalogue=catalogue, http_port=ports[C],
                                 member_ports=ports, **seeding) as c:
        out = {}
        for name, running in ((A, a), (B, b), (C, c)):
            store = catalogue.stores(MSP[name])[0]
            out[name] = Member(running, running.services.credentials.issue("hq", Role.ADMIN),
                               store, running.services.credentials.issue(store))
        # The other customers, through the gateways' API as `make run` seeds them.
        keys = {cust.customer_id: DemoCustomer.new() for cust in world.customers}
        run_calls(calls_in_order(world, keys, NAMES),
                  lambda r, admin: out[r].client(out[r].admin if admin else None),
                  workers=8, progress=False)
        # Southgate's nightly model, trained before the story's customer exists: the story
        # runs no training step after her purchases.
        trained = train_and_install(b.settings, out[B].client(out[B].admin))
        assert trained.installed, trained.refused
        yield out


def _page(browser: Any, url: str, viewport: dict[str, int]) -> Any:
    # Each gateway's certificate comes from its retailer's own CA, which Chromium does not know.
    context = browser.new_context(viewport=viewport, ignore_https_errors=True,
                                  accept_downloads=True)
    context.add_init_script(f"globalThis.prefshareConfig = {json.dumps(FAST)};")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=15000)
    assert errors == [], errors
    return page


def _shoot(page: Any, name: str, part: str | None = None) -> None:
    """The page (or the section holding ``part``, a selector) as docs/img/story-NAME.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = str(SHOTS / f"story-{name}.png")
    if part is None:
        page.screenshot(path=path, full_page=True)
    else:
        page.locator("section", has=page.locator(part)).screenshot(path=path)


def _sign(page: Any) -> None:
    _expect()(page.locator("#sign-dialog")).to_be_visible()
    page.click("#sign-confirm")


@dataclass
class Kiosk:
    page: Any
    answers: list[dict[str, Any]]

    def identify(self, customer_id: str) -> None:
        self.page.fill("#customer-id-input", customer_id)
        self.page.press("#customer-id-input", "Enter")
        _expect()(self.page.locator("#customer-view")).to_be_visible()

    def next_answer(self, customer_id: str, before: int, timeout_s: float = 20
                    ) -> dict[str, Any]:
        """The first suggestions answer for her after the first ``before`` answers (the
        setup's credential check asks for a placeholder customer's)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            hers = [a for a in self.answers[before:] if a["customer_id"] == customer_id]
            if hers:
                return hers[0]
            self.page.wait_for_timeout(50)
        raise AssertionError(f"no suggestions answer for her in {timeout_s} s")


def _kiosk(browser: Any, member: Member, retailer: str) -> Kiosk:
    page = _page(browser, f"{member.base}/kiosk/", KIOSK)
    answers: list[dict[str, Any]] = []

    def seen(response: Any) -> None:
        if re.search(r"/suggestions\?", response.url) and response.status == 200:
            answers.append(response.json())

    page.on("response", seen)
    _expect()(page.locator("#setup-retailer")).to_have_text(retailer.capitalize())
    page.fill("#setup-store", member.store)
    page.fill("#setup-credential", member.store_credential)
    page.click("#setup-save")
    _expect()(page.locator("#identify-view")).to_be_visible()
    return Kiosk(page, answers)


def _cited(answer: dict[str, Any], msp: str) -> list[dict[str, Any]]:
    """The reasons in ``answer`` that rest on her data held by ``msp``."""
    return [r for item in answer["items"] for r in item["reasons"]
            if r["retailer"] == msp and r["category"] is not None]


def test_her_consent_carries_her_purchases_to_another_member_until_she_withdraws_then_erases(
        browser, members, catalogue, tmp_path):
    north, south = members[A], members[B]

    # 1. Her key and her consent, in Northwind's portal.
    portal = _page(browser, f"{north.base}/portal/", PHONE)
    portal.click("#create-key")
    # Key generation runs in the page (WebCrypto); wait for its id rather than read at once.
    _expect()(portal.locator("#customer-id")).to_have_text(re.compile(r"^c_"), timeout=20000)
    customer_id = str(portal.text_content("#customer-id"))
    assert re.fullmatch(r"c_[A-Za-z0-9_-]{43}", customer_id)
    portal.click("#register")
    _expect()(portal.locator("#register-status")).to_contain_text(
        "Your key is registered with the consortium.", timeout=20000)
    portal.check("#recipient-SouthgateMSP")
    portal.check("#category-purchases")
    portal.click("#review-grant")
    _expect()(portal.locator("#sign-dialog")).to_contain_text("Southgate")
    _sign(portal)
    _expect()(portal.locator("#grant-status")).to_contain_text(
        "Your consent was recorded on the ledger.", timeout=20000)
    _shoot(portal, "1-portal-consent", "#grant-status")

    # 1b. The same key at Southgate's portal (another origin, its own key store), brought by
    # a transfer code: Northwind's portal links to Southgate's with the code in the fragment.
    portal.click("#make-transfer")
    _expect()(portal.locator("#transfer-qr svg")).to_be_visible(timeout=20000)
    passphrase = str(portal.text_content("#transfer-passphrase-shown"))
    link = portal.locator("#member-portals a", has_text="Southgate")
    portal_b = _page(browser, str(link.get_attribute("href")), PHONE)
    _expect()(portal_b.locator("#key-elsewhere")).to_contain_text("Already made a key")
    portal_b.fill("#transfer-passphrase", passphrase)
    portal_b.click("#transfer-in")
    _expect()(portal_b.locator("#customer-id")).to_have_text(customer_id, timeout=20000)
    portal_b.click("#register")  # already registered: the ledger says so, nothing is created
    _expect()(portal_b.locator("#register-status")).to_contain_text(
        "Your key is registered with the consortium.", timeout=20000)
    _shoot(portal_b, "1b-portal-b-same-key", "#customer-id")
    portal_b.context.close()

    # 2. Northwind's kiosk records three purchases.
    kiosk_a = _kiosk(browser, north, A)
    kiosk_a.identify(customer_id)
    first = kiosk_a.next_answer(customer_id, 0)
    assert _cited(first, "NorthwindMSP") == []  # nothing of hers on the ledger yet
    cards = kiosk_a.page.locator("#cards > li")
    _expect()(cards.first).to_be_visible()
    bought = [cards.nth(i).get_attribute("data-item") for i in range(3)]
    for i in range(3):
        cards.nth(i).get_by_role("button", name="I bought this").click()
    _expect()(kiosk_a.page.locator("#events-status")).to_contain_text(
        "Your 3 choices were saved.", timeout=20000)
    # An item that is not among her suggestions, found by the code on its label.
    suggested = set(cards.evaluate_all("(els) => els.map((e) => e.dataset.item)"))
    code = next(i for i in catalogue.items_in_store(north.store) if i not in suggested)
    kiosk_a.page.fill("#find-input", code)
    kiosk_a.page.press("#find-input", "Enter")
    found = kiosk_a.page.locator("#found > li")
    _expect()(found).to_have_count(1)
    found.first.get_by_role("button", name="I bought this").click()
    _expect()(kiosk_a.page.locator("#find-status")).to_contain_text(
        "Your choice was saved.", timeout=20000)
    bought.append(code)
    _shoot(kiosk_a.page, "2-kiosk-a-purchases")
    held = north.client(north.admin).get(f"/v1/customers/{customer_id}/preferences")
    assert sorted(e["item_id"] for e in held["events"]) == sorted(bought)

    # 3. No training: Southgate's kiosk folds her Northwind purchases into the model it was
    # serving before she registered, and cites them.
    serving = south.client(south.admin).get("/v1/admin/model")
    kiosk_b = _kiosk(browser, south, B)
    kiosk_b.identify(customer_id)
    answer = kiosk_b.next_answer(customer_id, 0)
    assert answer["strategy"] == "personalised", answer["notice"]
    assert answer["model_id"] == serving["model_id"]
    assert answer["model_id"].startswith("lightfm-")
    assert "NorthwindMSP" in answer["data_sources"]
    cited = _cited(answer, "NorthwindMSP")
    assert cited and {r["category"] for r in cited} == {"purchases"}
    assert not set(bought) & {i["item_id"] for i in answer["items"]}  # bought: not suggested
    _expect()(kiosk_b.page.locator("#data-sources")).to_contain_text("Northwind")
    _expect()(kiosk_b.page.locator("#cards")).to_contain_text(FROM_NORTHWIND)
    _shoot(kiosk_b.page, "3-kiosk-b-cites-a")

    # 4. She withdraws in the portal (from her consents as the ledger holds them).
    portal.click("#ledger-load")
    _sign(portal)
    _expect()(portal.locator("#ledger-status")).to_contain_text("1 consent read", timeout=20000)
    portal.locator("#ledger-list > li").first.get_by_role("button", name="Withdraw").click()
    _sign(portal)
    # Said beside the button she pressed.
    _expect()(portal.locator("#ledger-list > li").first.locator(".status")).to_contain_text(
        "withdrawn on the ledger", timeout=20000)
    _shoot(portal, "4-portal-withdrawn", "#ledger-list")
    before = len(kiosk_b.answers)
    kiosk_b.page.click("#refresh")
    after = kiosk_b.next_answer(customer_id, before)
    assert _cited(after, "NorthwindMSP") == []
    assert "NorthwindMSP" not in after["data_sources"]
    _expect()(kiosk_b.page.locator("#cards")).not_to_contain_text(FROM_NORTHWIND)
    _shoot(kiosk_b.page, "5-kiosk-b-after-withdrawal")

    # 5. Her export: every consent, with its history, and Northwind's log of Southgate's
    # reads (the owner logs them in batches: wait for its queue to reach the ledger).
    read_log = north.running.services.sharing.read_log
    deadline = time.monotonic() + 30
    while read_log.pending():
        assert time.monotonic() < deadline, "northwind's read log did not reach the ledger"
        time.sleep(0.2)
    # 5. Her export: every consent, with its history, in words, then as a file.
    portal.click("#export")
    _sign(portal)
    _expect()(portal.locator("#export-view")).to_be_visible(timeout=30000)
    _expect()(portal.locator("#export-holdings")).to_contain_text(
        "Northwind holds 4 shopping records of yours")
    _shoot(portal, "5b-portal-export-view", "#export-view")
    with portal.expect_download() as download:
        portal.click("#export-download")
    exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    consents = exported["consents"]
    assert len(consents) == 1
    actions = [v["record"]["statement"]["action"] for v in consents[0]["versions"]]
    assert actions == ["grant", "withdraw"]
    reads = [(e["owner"], e["reader"], e["purpose"]) for e in exported["access_log"]
             if e["kind"] == "kiosk"]
    assert reads and set(reads) == {("NorthwindMSP", "SouthgateMSP", "personalisation")}
    portal.click("#ledger-load")
    _sign(portal)
    history = portal.locator("#ledger-list > li").first.locator("ol.history > li")
    _expect()(history).to_have_count(2, timeout=20000)
    # Her access log, in words, as the owner recorded it.
    _expect()(portal.locator("#ledger-reads")).to_contain_text(
        re.compile(r"Southgate read \d+ of your Northwind shopping records for personal "
                   r"suggestions on \d+ \w+"))
    _shoot(portal, "6-portal-export-history", "#ledger-list")

    # 6. Erasure, then every kiosk treats her as unknown.
    portal.fill("#erase-word", "ERASE")
    portal.click("#erase")
    _sign(portal)
    _expect()(portal.locator("#erase-status")).to_contain_text("Your data was erased",
                                                               timeout=30000)
    _expect()(portal.locator("#erase-status")).to_contain_text("it starts afresh")
    _shoot(portal, "7-portal-erased", "#erase-status")
    kiosk_c = _kiosk(browser, members[C], C)
    for name, kiosk in ((A, kiosk_a), (B, kiosk_b), (C, kiosk_c)):
        kiosk.page.click("#finish") if kiosk.page.locator("#finish").is_visible() else None
        before = len(kiosk.answers)
        kiosk.identify(customer_id)
        unknown = kiosk.next_answer(customer_id, before)
        # Nothing about her is left to use: popular items, none of her data, no reason
        # resting on any member's data about her; the chaincode closed her id
        # (CUSTOMER_ERASED), so the kiosk treats her as unknown.
        assert unknown["strategy"] == "popularity", name
        assert "not known here" in (unknown.get("notice") or ""), name
        assert unknown["data_sources"] == [], name
        assert all(_cited(unknown, msp) == [] for msp in MSP.values()), name
        _expect()(kiosk.page.locator("#consent-status")).to_contain_text(
            "This customer id is not known at")
        _expect()(kiosk.page.locator("#cards")).not_to_contain_text("your data from")
        # Nothing offered that would fail, and nothing said about an erasure on the screen.
        _expect()(kiosk.page.locator("#cards button[data-event]")).to_have_count(0)
        _expect()(kiosk.page.locator("#find-panel")).to_be_hidden()
        assert "erase" not in kiosk.page.inner_text("body").lower(), name
    _shoot(kiosk_b.page, "8-kiosk-b-unknown")
    for page in (portal, kiosk_a.page, kiosk_b.page, kiosk_c.page):
        page.context.close()


def test_api_documentation_page_works_with_no_request_leaving_the_gateway(browser, members):
    north = members[A]
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    outside: list[str] = []

    def only_the_gateway(route: Any) -> None:
        if route.request.url.startswith(north.base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_gateway)
    page.goto(f"{north.base}/docs")
    _expect()(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20000)
    _expect()(page.locator(".swagger-ui")).to_contain_text("/v1/consents")
    assert outside == []
    context.close()


def test_the_operator_page_shows_the_model_card_and_other_members_reads(browser, members):
    """After the story: Southgate's operator sees its model's card; Northwind's sees that
    Southgate read its customers' data, plotted, and its ledger writes. A store credential is
    refused in words."""
    south, north = members[B], members[A]
    page = _page(browser, f"{south.base}/operator/", KIOSK)
    _expect()(page.locator("#retailer-name")).to_contain_text("Southgate")
    page.fill("#admin-credential", south.store_credential)
    page.click("#signin")
    _expect()(page.locator("#signin-status")).to_contain_text("a store's")
    page.fill("#admin-credential", south.admin)
    page.click("#signin")
    _expect()(page.locator("#operator-view")).to_be_visible(timeout=20000)
    _expect()(page.locator("#model-line")).to_contain_text("Serving lightfm-", timeout=20000)
    _expect()(page.locator("#segments tbody tr").first).to_be_visible()
    _expect()(page.locator("#records tbody")).to_contain_text("Northwind")
    _expect()(page.locator("#lifecycle-line")).to_contain_text("new records since")
    _shoot(page, "9-operator-model")
    page.context.close()

    page = _page(browser, f"{north.base}/operator/", KIOSK)
    page.fill("#admin-credential", north.admin)
    page.click("#signin")
    # Southgate read her Northwind data in the story: the watch is learning its usual reads
    # (it scores, and plots, once it has a few windows of history).
    reader = page.locator('#readers li[data-reader="SouthgateMSP"]')
    _expect()(reader).to_contain_text(re.compile(r"Southgate.*(learning its usual reads|"
                                                 r"threshold)"), timeout=20000)
    _expect()(page.locator("#writes-line")).to_contain_text("writes in the last hour")
    # Every peer and orderer it reaches, read from its metrics (3 peers, 3 orderers).
    _expect()(page.locator("#nodes-line")).to_contain_text(re.compile(r"^6 nodes read every"))
    _expect()(page.locator("#nodes tbody tr")).to_have_count(6)
    page.reload()  # the credential stays for the tab, until it signs out
    page.wait_for_selector("body[data-ready=true]")
    _expect()(page.locator("#operator-view")).to_be_visible()
    page.click("#signout")
    _expect()(page.locator("#signin-view")).to_be_visible()
    page.context.close()
