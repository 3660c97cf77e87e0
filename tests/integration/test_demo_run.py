"""`make run`'s program (`prefshare-demo run`) on the whole test network, as a user runs it.

Real components: the Fabric network of the session, the three gateways as the supervised
processes `demo run` starts, the seeding through their HTTPS API, the training job reading
the ledger, the admin route installing each model. A small world (20 customers) keeps it
short. The second run reuses the seeding and the models; `demo down` stops what it started
(the session's network is started again afterwards for the tests that follow).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from demo.api import GatewayClient
from network.control import Network

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RETAILERS = ("northwind", "southgate", "eastmarket")


def _demo(description: Path, net: Network, *args: str, timeout: float = 600
          ) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "demo", "--description", str(description),
            "--run-dir", str(net.layout.root), "--bin-dir", str(net.bin_dir),
            "--builder-dir", str(net.builder_dir), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def demo(fabric_network, tmp_path_factory) -> Iterator[tuple[Path, Network]]:
    data = yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text())
    data["port_base"] = fabric_network.consortium.port_base
    description = tmp_path_factory.mktemp("demo-description") / "consortium.yaml"
    description.write_text(yaml.safe_dump(data))
    try:
        yield description, fabric_network
    finally:
        _demo(description, fabric_network, "down")
        fabric_network.up()  # the session's network, for the modules that follow


def _printed(out: str) -> dict[str, dict[str, str]]:
    """Per retailer, what `demo run` printed: portal, kiosk, store, the credential's file,
    customer."""
    found: dict[str, dict[str, str]] = {}
    current = ""
    for line in out.splitlines():
        if line in RETAILERS:
            current = line
            found[current] = {}
        elif current and (m := re.match(r"  kiosk store\s+(\S+)\s+credential in (\S+)", line)):
            found[current].update(store=m.group(1), credentials_file=m.group(2))
        elif current and (m := re.match(r"  (consent portal|kiosk|operator page|API docs)"
                                        r"\s+(\S+)", line)):
            found[current][m.group(1)] = m.group(2)
        elif current and (m := re.match(r"  demo customer\s+(c_\S+)", line)):
            found[current]["customer"] = m.group(1)
    return found


def test_demo_run_seeds_through_the_gateways_trains_from_the_ledger_and_a_rerun_reuses_it(demo):
    description, net = demo
    first = _demo(description, net, "run", "--customers", "20", "--no-wait")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "ledger seeded through the gateways: 20 key" in first.stdout
    assert first.stdout.count(" installed in ") == 3, first.stdout[-3000:]
    printed = _printed(first.stdout)
    assert set(printed) == set(RETAILERS)
    seeded = json.loads((net.layout.root / "demo" / "seeded.json").read_text())
    assert seeded["calls"]["key"] == 20 and seeded["world"]["customers"] == 20
    for retailer, shown in printed.items():
        base = shown["kiosk"].removesuffix("/kiosk/")
        assert shown["consent portal"] == f"{base}/portal/"
        assert shown["operator page"] == f"{base}/operator/"
        # The credential is in a file of the run folder only its owner reads, never printed.
        credentials_file = Path(shown["credentials_file"])
        assert credentials_file == net.layout.root / "demo" / "credentials.json"
        assert credentials_file.stat().st_mode & 0o777 == 0o600
        credential = json.loads(credentials_file.read_text())[retailer]["store"]
        assert credential not in first.stdout and credential not in first.stderr
        kiosk = GatewayClient(base, net.layout.ca_root_cert(retailer), credential)
        answer = kiosk.get(f"/v1/stores/{shown['store']}/customers/{shown['customer']}"
                           "/suggestions?n=10")
        # Her printed retailer's kiosk knows her from the ledger, with its installed model.
        assert answer["strategy"] == "personalised", (retailer, answer["notice"])
        assert answer["model_id"] and answer["model_id"].startswith("lightfm-")
        assert (net.layout.root / "demo" / f"{shown['customer']}-key-backup.json").exists()

    again = _demo(description, net, "run", "--no-wait")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "gateways: 0 started, 3 already running" in again.stdout
    assert "reused" in again.stdout and "seeding" not in again.stderr
    assert "models: each retailer's installed model reused" in again.stdout
    assert _printed(again.stdout) == printed  # the same credentials and customers

    status = _demo(description, net, "status")
    assert status.returncode == 0, status.stderr[-2000:]
    assert [line.split()[:2] for line in status.stdout.splitlines()[:3]] == [
        [f"gateway-{r}", "running"] for r in RETAILERS]
    assert "ledger seeded at " in status.stdout and "{" not in status.stdout
    assert _printed(status.stdout) == printed  # reprinted, not only at `run`

    down = _demo(description, net, "down")
    assert down.returncode == 0
    stopped = down.stdout.splitlines()
    assert stopped[:3] == [f"stopped gateway-{r}" for r in RETAILERS]
    assert any(line.startswith("stopped peer0-") for line in stopped)
