"""Partitions under load, each organisation on a host of its own (``make test-faults``).

The hosts are network namespaces wired to one bridge (tests/conftest.py ``netns_hosts``); the
whole network runs across them, and each retailer's gateway runs on its retailer's host. While
the load goes through northwind's and southgate's gateways, eastmarket's cable is unplugged
at the bridge for ``CUT_S`` seconds: the two others must keep committing (MAJORITY of three),
and after the link returns eastmarket's peer must reach the same height and hold every
acknowledged write (the audit reads on every peer), and its gateway must serve again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from demo.wallet import DemoCustomer
from network.control import Network
from network.description import load_consortium
from network.layout import RunLayout

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = ROOT / ".fabric" / "bin"
BUILDER_DIR = ROOT / ".fabric" / "builders" / "ccaas"
#: Every organisation gets this block on its own host (the loopback campaign's block: the
#: addresses differ, so they never meet).
PORT_BLOCK = 14000
VICTIM = "eastmarket"
LOADED = ("northwind", "southgate")
CUT_S = 12.0


@pytest.fixture(scope="module")
def description_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text())
    return data


@pytest.fixture(scope="module")
def hosts(description_data: dict[str, Any], netns_hosts: Any) -> Iterator[Any]:
    orgs = [description_data["orderer_org"]["name"],
            *(r["name"] for r in description_data["retailers"])]
    with netns_hosts(orgs) as built:
        yield built


@pytest.fixture(scope="module")
def placed(hosts: Any, description_data: dict[str, Any],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Network, Path]]:
    """The network across the hosts, and the description it was started from."""
    data = dict(description_data)
    data["orderer_org"] = {**data["orderer_org"], "port_block": PORT_BLOCK,
                           "host": hosts.address(data["orderer_org"]["name"])}
    data["retailers"] = [{**r, "port_block": PORT_BLOCK, "host": hosts.address(r["name"])}
                         for r in data["retailers"]]
    tmp = tmp_path_factory.mktemp("partitions")
    description = tmp / "consortium.yaml"
    description.write_text(yaml.safe_dump(data))
    net = Network(load_consortium(description), RunLayout(tmp / "run"), BIN_DIR,
                  hosts.placement(), builder_dir=BUILDER_DIR)
    try:
        net.up()
        yield net, description
    finally:
        net.clean()


@pytest.fixture(scope="module")
def partition_campaign(placed: tuple[Network, Path], hosts: Any, campaign_on: Any,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    net, description = placed
    with campaign_on(net, description, tmp_path_factory.mktemp("partition-auditor"),
                     retailers=(*LOADED, VICTIM),
                     prefix=lambda org: hosts.command(org, [])) as c:
        yield c


def test_a_retailer_cut_off_under_load_catches_up_and_its_gateway_serves_again(
        placed, hosts, partition_campaign):
    net, _ = placed
    victim_gw = partition_campaign.gateways[VICTIM]
    moments: dict[str, float] = {}
    probes: list[str] = []

    victim_peer = next(p for p in net.plan.peers if p.org == VICTIM)
    others = [p for p in net.plan.peers if p.org != VICTIM]

    def inject() -> dict[str, Any]:
        hosts.cut(VICTIM)
        moments["cut"] = time.monotonic()
        time.sleep(CUT_S)
        behind = max(net.channel.height(p) for p in others)
        hosts.restore(VICTIM)
        moments["restored"] = time.monotonic()
        # Its peer reaches the height the others had when the link returned (the load goes
        # on, so the others keep moving).
        while (net.channel.heights()[victim_peer.process] or 0) < behind:
            assert time.monotonic() - moments["restored"] < 120, "the cut peer never caught up"
            time.sleep(0.2)
        caught_up = round(time.monotonic() - moments["restored"], 1)
        # Its gateway serves again: a new customer registered through it.
        customer = DemoCustomer.new()
        key = f"partition-probe-{customer.customer_id[2:14]}"
        with victim_gw.client(timeout=40) as client:
            while True:
                try:
                    r = client.post("/v1/customers", json={"public_key": customer.public_key},
                                    headers={"Idempotency-Key": key})
                    if r.status_code == 201:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() - moments["restored"] < 120, "its gateway never served"
                time.sleep(0.5)
        serves = round(time.monotonic() - moments["restored"], 1)
        probes.append(customer.customer_id)
        return {"cut peer back at the height of the others at restore after s": caught_up,
                "its gateway acknowledged a write after s": serves}

    def after(writes: list[Any]) -> dict[str, Any]:
        # The others kept committing while it was cut off.
        during = [w for w in writes if w.acknowledged and moments["cut"] <= w.started
                  and w.finished <= moments["restored"]]
        return {"acknowledged while cut": len(during)}

    run = partition_campaign.run_fault(
        f"{VICTIM} cut off (own namespace host)",
        f"its link to the bridge down for {CUT_S:.0f} s; load through the two others",
        inject, LOADED, after=after, load_on=LOADED)
    r = run.result
    assert not run.audit.lost, run.audit.lost[:5]
    assert not run.audit.duplicated, run.audit.duplicated[:5]
    assert r.found == r.acknowledged > 0
    assert r.extra["acknowledged while cut"] > 0, "the others stopped committing"
    assert r.recovery_s is not None and r.recovery_s <= 15
    # The write through the cut retailer's gateway is on every peer.
    for msp, connection in partition_campaign.auditor.connections.items():
        assert connection.ledger.list_consents(probes[0]) == (), msp
