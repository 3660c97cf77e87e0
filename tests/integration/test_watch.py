"""The consortium watch and the cost guard on the real network.

Southgate reads northwind's data through northwind's gateway (signed member reads, as its
kiosks do). Northwind's watch learns southgate's normal traffic (a few regular shoppers, a
couple of reads a second), raises no alert on it, then flags southgate when it starts
walking through customer ids it never read: southgate's reads are braked (429
MEMBER_BRAKED), the alert is on the ledger for every member to read, and northwind's admin
clears it, on the ledger too. A member whose writes pass its hourly budget gets the
documented refusal (429 WRITE_BUDGET_EXCEEDED). Windows are seconds long here so the module
takes about a minute; the benchmark (``python -m benchmarks.watch``) measures the defaults.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from demo.wallet import DemoCustomer
from gateway.members import MemberUnavailable
from gateway.stores import Role

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PORTS = {"northwind": 24185, "southgate": 24285}
SHARED = "/v1/members/shared-events"
#: Seconds-long windows, learning for 12 s, every hour open (the test runs at any time).
WATCH = {"watch_window_s": 4.0, "watch_step_s": 0.5, "watch_learn_s": 12.0,
         "watch_min_history": 12, "watch_learn_every_s": 0.5, "watch_consecutive": 2,
         "watch_open_hours": (0, 24), "watch_brake_per_minute": 6.0}
def _customer_id() -> str:
    """A well-formed customer id no one registered (the owner answers 404; the read counts)."""
    return "c_" + secrets.token_urlsafe(32)[:43]


REGULARS = [_customer_id() for _ in range(6)]


@pytest.fixture(scope="module")
def gateways(start_ledger_gateways) -> Iterator[dict[str, Any]]:
    with start_ledger_gateways(PORTS, **WATCH) as running:
        yield running


def _read(reader: Any, customer_id: str) -> str:
    """One member read of northwind's data by ``reader``; '' when served, else the code."""
    try:
        reader.services.sharing.members.post("NorthwindMSP", SHARED, {
            "customer_id": customer_id, "purpose": "personalisation"})
    except MemberUnavailable as exc:
        return str(exc)
    return ""


def _normal_traffic(reader: Any, seconds: float) -> None:
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        outcome = _read(reader, REGULARS[n % len(REGULARS)])
        assert "MEMBER_BRAKED" not in outcome, outcome
        n += 1
        time.sleep(0.4)


def _admin(gateway: Any) -> dict[str, str]:
    return gateway.credential("admin", Role.ADMIN)


def test_normal_member_reads_raise_no_alert(gateways):
    owner, reader = gateways["northwind"], gateways["southgate"]
    _normal_traffic(reader, WATCH["watch_learn_s"] + 3)
    status = owner.client.get("/v1/admin/watch", headers=_admin(owner)).json()
    assert "SouthgateMSP" not in status["learning"], status  # it judges southgate now
    _normal_traffic(reader, 8)
    status = owner.client.get("/v1/admin/watch", headers=_admin(owner)).json()
    assert status["braked"] == {} and status["recent_alerts"] == []
    assert status["scores"]["SouthgateMSP"]["score"] <= \
        status["scores"]["SouthgateMSP"]["threshold"]
    assert set(status["sequential"]["SouthgateMSP"]) == {"off_hours_reads_cusum",
                                                       "new_customers_cusum"}
    assert max(status["sequential"]["SouthgateMSP"].values()) <= status["cusum_threshold"]


def test_a_scraping_member_is_flagged_braked_and_the_brake_is_on_the_ledger(gateways):
    owner, reader = gateways["northwind"], gateways["southgate"]
    started = time.monotonic()
    outcome = ""
    while "MEMBER_BRAKED" not in outcome:
        assert time.monotonic() - started < 30, "the scraping member was not braked"
        outcome = _read(reader, _customer_id())  # an id it never read
        time.sleep(0.05)
    detected_in = time.monotonic() - started
    status = owner.client.get("/v1/admin/watch", headers=_admin(owner)).json()
    alert = status["recent_alerts"][0]
    assert alert["reader"] == "SouthgateMSP" and "SouthgateMSP" in status["braked"]
    assert alert["drivers"], alert  # the features that drove it
    if alert["test"] == "sequential":  # the CUSUM crossed first: its statistic is named
        assert any(name.endswith("_cusum") for name in alert["drivers"]), alert
    assert detected_in < 20
    assert outcome.endswith("HTTP 429 MEMBER_BRAKED")

    deadline = time.monotonic() + 30
    while True:  # the alert on the ledger, read through another member's gateway
        records = reader.client.get("/v1/admin/watch/records",
                                    headers=_admin(reader)).json()["records"]
        if any(r["record_id"] == alert["record_id"] for r in records):
            break
        assert time.monotonic() < deadline, "the alert did not reach the ledger"
        time.sleep(0.5)
    on_ledger = next(r for r in records if r["record_id"] == alert["record_id"])
    assert (on_ledger["owner"], on_ledger["kind"]) == ("NorthwindMSP", "alert")
    assert set(on_ledger) == {"record_id", "owner", "reader", "kind", "at", "window_from",
                              "window_to", "score", "drivers"}  # no customer in it
    metrics = owner.client.get("/metrics").text
    assert 'prefshare_watch_alerts_total{reader="SouthgateMSP"} 1.0' in metrics
    assert 'prefshare_watch_braked{reader="SouthgateMSP"} 1.0' in metrics

    cleared = owner.client.post("/v1/admin/watch/readers/SouthgateMSP/clear",
                                headers=_admin(owner))
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["kind"] == "clearance"
    again = owner.client.post("/v1/admin/watch/readers/SouthgateMSP/clear",
                              headers=_admin(owner))
    assert (again.status_code, again.json()["error"]["code"]) == (404, "NOT_BRAKED")
    assert "MEMBER_BRAKED" not in _read(reader, REGULARS[0])
    records = reader.client.get("/v1/admin/watch/records",
                                headers=_admin(reader)).json()["records"]
    assert any(r["kind"] == "clearance" and r["reader"] == "SouthgateMSP" for r in records)


def test_only_the_admin_sees_and_clears_the_watch(gateways):
    owner = gateways["northwind"]
    store = owner.credential("nw-store-1")
    assert owner.client.get("/v1/admin/watch", headers=store).status_code == 403
    assert owner.client.post("/v1/admin/watch/readers/SouthgateMSP/clear",
                             headers=store).status_code == 403
    bad = owner.client.post("/v1/admin/watch/readers/not-a-member/clear",
                            headers=_admin(owner))
    assert bad.status_code == 422


def test_a_member_over_its_write_budget_is_refused_with_the_documented_code(
        start_ledger_gateway):
    with start_ledger_gateway("eastmarket", http_port=24385, write_budget_per_hour=2,
                              watch_enabled=False) as gateway:
        for _ in range(2):
            r = gateway.write("/v1/customers", {"public_key": DemoCustomer.new().public_key})
            assert r.status_code == 201, r.text
        refused = gateway.write("/v1/customers",
                                {"public_key": DemoCustomer.new().public_key})
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "WRITE_BUDGET_EXCEEDED"
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        assert refused.json()["error"]["details"]["budget_per_hour"] == 2
        metrics = gateway.client.get("/metrics").text
        assert "prefshare_ledger_writes_refused_total 1.0" in metrics
