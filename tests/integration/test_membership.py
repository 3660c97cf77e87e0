"""A retailer joins the running consortium and another member leaves it, on the real network.

The module starts a network of its own (three retailers, on the block ``FABRIC_PORT_BASE +
500``, the fourth retailer's block after them) so the session's network keeps its shape.
In order: an update signed by one admin of three is refused; a fourth retailer is added
with ``Membership.add`` (what ``prefshare-network add-retailer`` runs) while a client
registers customers and submits consent grants the way a gateway does; every acknowledged
grant is then on every peer exactly once, every peer at the same height; a customer grants the
newcomer and its kiosk serves her the events another member holds; then the newcomer leaves
again: its identities and the consents naming it open nothing, the others carry on.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chaincode.canonical import b64url_encode
from chaincode.fields import format_timestamp
from demo.gateway_settings import gateway_settings
from demo.wallet import DemoCustomer
from gateway.fabric.errors import GatewayError
from gateway.ledger import open_ledger
from network.config_update import ConfigUpdater, application_members, org_admins_policy
from network.control import Network
from network.description import Retailer, load_consortium
from network.errors import CommandFailed
from network.membership import Membership
from recommender.catalogue import Catalogue
from recommender.datasets.demo_inputs import catalogue_from_world
from recommender.datasets.demo_world import WorldConfig, generate_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NEWCOMER = Retailer(name="westfield", msp_id="WestfieldMSP", host="127.0.0.1")
GRANT = {"purposes": ("personalisation",), "categories": ("purchases",)}


@pytest.fixture(scope="module")
def description(description_at: Callable[[int], Path]) -> Path:
    # Past the session network's blocks: its three retailers and the newcomer fit below +1000.
    return description_at(int(os.environ.get("PREFSHARE_TEST_FABRIC_PORT_BASE", "24000")) + 500)


@pytest.fixture(scope="module")
def state(description: Path, whole_network: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``net``: the network as the description names it now (replaced by each change)."""
    run = tmp_path_factory.mktemp("membership-net") / "run"
    # Cleaning the first network also stops the newcomer's nodes, should a test leave them
    # running (Network.down stops nodes the description no longer names).
    with whole_network(load_consortium(description), run) as net:
        yield {"net": net}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    """A small demo world's catalogue with stores of the three members and the newcomer."""
    ids = ("NorthwindMSP", "SouthgateMSP", "EastmarketMSP", NEWCOMER.msp_id)
    return catalogue_from_world(generate_world(WorldConfig(
        seed=3, retailer_ids=ids, retailer_names=ids, items_per_retailer=20, customers=10)))


def _purchases(customer_id: str) -> list[dict[str, Any]]:
    """Two purchases of hers at a northwind store, as its till sends them."""
    when = format_timestamp(datetime.now(UTC) - timedelta(minutes=1))
    return [{"event_id": f"mt-{os.urandom(8).hex()}", "customer_id": customer_id,
             "retailer": "NorthwindMSP", "item_id": f"item-{i}", "item_category": "outerwear",
             "event_type": "purchase", "value": 1, "store_id": "NorthwindMSP-s01",
             "timestamp": when, "salt": b64url_encode(os.urandom(16))} for i in range(2)]


class GrantTraffic:
    """Customers registered and granting, one after another, through ``northwind``'s client
    endorsing for ``policy_orgs`` (as its gateway does during a change), each then with two
    purchases recorded in northwind's collection, in a thread."""

    def __init__(self, net: Network, data_dir: Path, policy_orgs: tuple[str, ...]) -> None:
        settings = gateway_settings(net.consortium, "northwind", net.layout, data_dir=data_dir,
                                    policy_orgs=policy_orgs)
        self.connection = open_ledger(settings)
        self.acknowledged: list[tuple[float, str, str]] = []
        #: customer id -> the event ids of her acknowledged batch
        self.events: dict[str, list[str]] = {}
        self.failed = 0
        self.reasons: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        ledger = self.connection.ledger
        while not self._stop.is_set():
            customer = DemoCustomer.new()
            try:
                ledger.register_customer(customer.public_key)
                grant = customer.grant(["SouthgateMSP"], **GRANT)
                ledger.submit_consent(grant)
            except GatewayError as exc:
                # Refused, not acknowledged: e.g. while a peer's chaincode server restarts.
                self.failed += 1
                self.reasons.add(type(exc).__name__ + ": " + str(exc)[:120])
                time.sleep(0.2)
                continue
            self.acknowledged.append((time.monotonic(), customer.customer_id,
                                      grant["consent_id"]))
            batch = _purchases(customer.customer_id)
            try:
                ledger.record_events(batch)
            except GatewayError as exc:
                self.failed += 1
                self.reasons.add(type(exc).__name__ + ": " + str(exc)[:120])
                continue
            self.events[customer.customer_id] = [e["event_id"] for e in batch]

    def rate(self, start: float, end: float) -> float:
        return sum(start <= t < end for t, _, _ in self.acknowledged) / (end - start)

    def __enter__(self) -> GrantTraffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self.connection.close()


def test_an_update_signed_by_a_minority_is_refused(state):
    net = state["net"]
    updater = ConfigUpdater(net.consortium.channel, net.tools, net.plan.orderers[0])
    northwind = net.plan.peers[0]
    config = updater.current(northwind)
    changed = json.loads(json.dumps(config))  # a deep copy
    changed["channel_group"]["groups"]["Application"]["policies"]["OrgAdmins"]["policy"] = \
        org_admins_policy([northwind.msp_id])
    envelope = updater.envelope(config, changed, net.layout.root / "minority")
    with pytest.raises(CommandFailed, match="policy"):
        updater.sign_and_submit(envelope, [northwind])
    assert updater.current(northwind) == config


def test_a_fourth_retailer_joins_under_traffic_and_its_kiosk_serves_shared_data(
        state, description, tmp_path, gateway_starter_for, catalogue, record_property):
    net: Network = state["net"]
    grown_orgs = (*net.plan.retailer_msp_ids, NEWCOMER.msp_id)
    lines: list[str] = []
    with GrantTraffic(net, tmp_path / "traffic", grown_orgs) as traffic:
        time.sleep(8)
        began = time.monotonic()
        heights_before = net.channel.heights()
        new = Membership(net, description, lines.append).add(NEWCOMER)
        state["net"] = new
        ended = time.monotonic()
        time.sleep(3)
    added_s = ended - began
    before, during = traffic.rate(began - 8, began), traffic.rate(began, ended)
    assert load_consortium(description).retailer(NEWCOMER.name) is not None
    height = new.channel.wait_same_height()
    assert len(new.channel.heights()) == 4

    # Every acknowledged grant is on every peer, once (version 1: applied a single time).
    for org in [r.name for r in new.consortium.retailers]:
        settings = gateway_settings(new.consortium, org, new.layout,
                                    data_dir=tmp_path / f"check-{org}")
        with_connection = open_ledger(settings)
        try:
            for _, customer_id, consent_id in traffic.acknowledged:
                consents = with_connection.ledger.list_consents(customer_id)
                assert [(c.record.consent_id, c.record.version) for c in consents] == [
                    (consent_id, 1)], org
            if org == "northwind":  # its events, in its own collection, each once
                for customer_id, event_ids in traffic.events.items():
                    held = with_connection.ledger.read_own_events(customer_id)
                    assert sorted(e.event_id for e in held) == sorted(event_ids)
        finally:
            with_connection.close()
    assert traffic.acknowledged and traffic.events and before > 0 and during > 0

    start = gateway_starter_for(new)
    with start("northwind", catalogue=catalogue) as north:
        kiosk_began = time.monotonic()
        with start(NEWCOMER.name, catalogue=catalogue) as west:
            kiosk_s = time.monotonic() - kiosk_began
            alice = DemoCustomer.new()
            assert north.write("/v1/customers", {"public_key": alice.public_key}
                               ).status_code == 201
            grant = alice.grant([NEWCOMER.msp_id], **GRANT)
            assert west.write("/v1/consents", grant).status_code == 201
            store = catalogue.stores("NorthwindMSP")[0]
            item = catalogue.items_in_store(store)[0]
            events = [{"event_id": f"e-{time.monotonic_ns()}", "item_id": item,
                       "item_category": "outerwear", "event_type": "purchase", "value": 1,
                       "timestamp": "2026-12-01T10:00:00.000Z"}]
            r = north.write(f"/v1/stores/{store}/customers/{alice.customer_id}/events",
                            {"events": events}, headers=north.credential(store))
            assert r.status_code == 201, r.text
            new.channel.wait_same_height()
            r = west.client.get(f"/v1/customers/{alice.customer_id}/preferences",
                                headers=west.credential("kiosk-1"))
            assert r.status_code == 200, r.text
            assert [e["retailer"] for e in r.json()["events"]] == ["NorthwindMSP"]
    for name, value in (("add_s", added_s), ("grants_per_s_before", before),
                        ("grants_per_s_during", during), ("kiosk_after_add_s", kiosk_s),
                        ("height_before", max(h or 0 for h in heights_before.values())),
                        ("height_after", height), ("failed_during", traffic.failed)):
        record_property(name, value)
    print(f"\nadd: {added_s:.1f} s (+ its gateway {kiosk_s:.1f} s); grants/s {before:.1f} "
          f"before, {during:.1f} during ({traffic.failed} refused); heights "
          f"{heights_before} -> {height}\n" + "\n".join(lines) + "\n"
          + "\n".join(sorted(traffic.reasons)[:5]))


def test_the_leaver_opens_nothing_and_the_others_carry_on(state, description, tmp_path,
                                                           gateway_cli_for):
    net: Network = state["net"]
    cli_before = gateway_cli_for(net)
    customer = DemoCustomer.new()
    three = ["northwind", "southgate", "eastmarket"]  # a majority of four
    cli_before.invoke("northwind", three, "RegisterCustomer", customer.public_key)
    cli_before.invoke("northwind", three, "SubmitConsentStatement",
                      _json(customer.grant([NEWCOMER.msp_id], **GRANT)))
    before = net.lifecycle.committed()
    assert before is not None
    new = Membership(net, description, None).remove(NEWCOMER.name)
    state["net"] = new
    # The next definition after the removal was approved and committed by the remaining
    # members (refused before: its collection's policy named an MSP outside the channel);
    # the leaver's collection stays, held by the orderer organisation, which runs no peer.
    after = new.lifecycle.committed()
    assert after is not None and after.sequence == before.sequence + 1
    assert f"events-{NEWCOMER.msp_id}" in after.collections
    held = json.loads(new.lifecycle.collections_file.read_text())
    assert {c["name"]: c["policy"] for c in held}[f"events-{NEWCOMER.msp_id}"] == \
        f"OR('{new.consortium.orderer_org.msp_id}.member')"
    consortium = load_consortium(description)
    assert consortium.retailer(NEWCOMER.name) is None
    assert consortium.former_members == [NEWCOMER.msp_id]
    updater = ConfigUpdater(new.consortium.channel, new.tools, new.plan.orderers[0])
    assert NEWCOMER.msp_id not in application_members(updater.current(new.plan.peers[0]))
    assert new.supervisor.state(f"peer0-{NEWCOMER.name}") == "stopped"

    # Its gateway identity is refused by the remaining peers.
    leaver_cli = gateway_cli_for(net)
    with pytest.raises(CommandFailed):
        leaver_cli.query("northwind", NEWCOMER.name, "ListConsents", customer.customer_id)
    # A consent naming it opens nothing: the owner's chaincode no longer counts it a member.
    cli = gateway_cli_for(new)
    with pytest.raises(CommandFailed, match="another member"):
        cli.query("northwind", "northwind", "ReadSharedEvents", customer.customer_id,
                  NEWCOMER.msp_id, "personalisation")
    # The others carry on: a write endorsed by two of the three commits on every peer.
    cli.invoke("southgate", ["southgate", "eastmarket"], "SubmitConsentStatement",
               _json(customer.grant(["SouthgateMSP"], **GRANT)))
    new.channel.wait_same_height()
    assert len(cli.query("eastmarket", "eastmarket", "ListConsents",
                         customer.customer_id)["consents"]) == 2


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
