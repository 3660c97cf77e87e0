"""A gateway started from its env file alone, as a retailer runs one against its own peer.

The env file is the one the test network generates (``prefshare-network gateway-env``); the
gateway runs as a process of its own (``prefshare-gateway --env-file F serve``) in a folder
outside the checkout, with no ``PREFSHARE_*`` nor ``PYTHON*`` variable in its environment, under
``python -X importtime``, which logs every module the process imports: the gateway serves
the whole network through it and never imports ``network``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from demo.wallet import DemoCustomer
from network.control import Network
from network.gateway_env import gateway_environment, render_env_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: A port of northwind's block that no other module's gateway uses.
PORT_IN_BLOCK = 188
#: A line of ``-X importtime``'s log: ``import time: self | cumulative | <indent>module``.
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)\s*$", re.MULTILINE)


def _env_file(net: Network, tmp: Path) -> Path:
    env = gateway_environment(net.consortium, "northwind", net.layout)
    env["PREFSHARE_GATEWAY_HTTP_PORT"] = str(net.consortium.port_base + PORT_IN_BLOCK)
    env["PREFSHARE_GATEWAY_DATA_DIR"] = str(tmp / "data")  # a data folder of its own
    path = tmp / "northwind.env"
    path.write_text(render_env_file(env, heading="northwind, generated for this test"))
    return path


def test_a_gateway_serves_the_network_from_its_env_file_without_importing_network(
        fabric_network: Network, gateway_process: Any, tmp_path: Path) -> None:
    env_file = _env_file(fabric_network, tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    log = tmp_path / "gateway.log"
    argv = [sys.executable, "-X", "importtime", "-m", "gateway", "--env-file", str(env_file),
            "serve"]
    with gateway_process(argv, port=fabric_network.consortium.port_base + PORT_IN_BLOCK,
                         root_ca=fabric_network.layout.ca_root_cert("northwind"), log=log,
                         cwd=outside) as client:
        health = client.get("/healthz")
        assert health.status_code == 200, health.text
        assert health.json() == {"status": "ok", "peer": "reachable"}
        # A write: endorsed by the peers and ordered by the orderers the file names.
        customer = DemoCustomer.new()
        r = client.post("/v1/customers", json={"public_key": customer.public_key},
                        headers={"Idempotency-Key": "env-file-" + "k" * 8})
        assert r.status_code in (200, 201), r.text
    imported = IMPORTED.findall(log.read_text(encoding="utf-8", errors="replace"))
    assert "gateway.app" in imported and "gateway.fabric.client" in imported
    from_network = [m for m in imported if m == "network" or m.startswith("network.")]
    assert from_network == [], f"the gateway imported {from_network}"
