"""`pip install prefshare[gateway]` alone serves a retailer's gateway.

`make venv` installs every extra, which would hide an extra that misses what its package
imports. This test builds an empty environment, installs the checkout with the gateway's
extra only (from the package index through pip's cache, as a retailer would), imports every
module of the gateway package there, then starts ``prefshare-gateway --env-file F serve``
from that environment with an env file the test network generated, and asks it for its
health and its schema. About two minutes with pip's cache warm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from network.control import Network
from network.gateway_env import gateway_environment, render_env_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
#: A port of northwind's block that no other module's gateway uses.
PORT_IN_BLOCK = 189
#: What the copy of the checkout leaves out: environments, run and build output, caches.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", ".fabric", ".run", "node_modules",
                                    "__pycache__", "*.egg-info", "build", "artifacts",
                                    ".*_cache", "img")
IMPORT_EVERY_MODULE = """
import importlib, pkgutil, gateway
names = [m.name for m in pkgutil.walk_packages(gateway.__path__, "gateway.")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def _run(args: list[str], timeout: float, **kwargs: object) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert done.returncode == 0, f"{args[:3]}: {done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def gateway_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An environment with ``prefshare[gateway]`` and nothing else; its ``bin`` folder."""
    tmp = tmp_path_factory.mktemp("gateway-extra")
    source = tmp / "prefshare"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    # The environment's own pip, from the warm cache; the build backend from the index.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_TARGET"))}
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
          "--disable-pip-version-check", f"{source}[gateway]"], timeout=900, env=env)
    return venv / "bin"


def test_the_gateway_extra_installs_what_every_gateway_module_imports(
        gateway_only: Path, tmp_path: Path) -> None:
    installed = _run([str(gateway_only / "python"), "-m", "pip", "list", "--format=freeze"],
                     timeout=60).lower()
    # What other extras bring is absent, so nothing but the gateway's own extra is relied on.
    assert "fabric-chaincode-python" not in installed and "implicit" not in installed
    assert "pytest" not in installed
    count = _run([str(gateway_only / "python"), "-c", IMPORT_EVERY_MODULE], timeout=120,
                 cwd=tmp_path)
    assert int(count) >= 30


def test_the_gateway_extra_serves_a_gateway_from_a_generated_env_file(
        gateway_only: Path, ca_network: Network, gateway_process: Any, tmp_path: Path) -> None:
    env = gateway_environment(ca_network.consortium, "northwind", ca_network.layout)
    port = ca_network.consortium.port_base + PORT_IN_BLOCK
    env["PREFSHARE_GATEWAY_HTTP_PORT"] = str(port)
    env["PREFSHARE_GATEWAY_DATA_DIR"] = str(tmp_path / "data")
    env_file = tmp_path / "northwind.env"
    env_file.write_text(render_env_file(env))
    argv = [str(gateway_only / "prefshare-gateway"), "--env-file", str(env_file), "serve"]
    with gateway_process(argv, port=port, root_ca=ca_network.layout.ca_root_cert("northwind"),
                         log=tmp_path / "gateway.log", cwd=tmp_path) as client:
        # The CA-only network: its peer is down, which the gateway reports as it should.
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json() == {"status": "degraded", "peer": "unreachable"}
        schema = client.get("/openapi.json")
        assert schema.status_code == 200 and "/v1/consents" in schema.json()["paths"]
        assert client.get("/portal/").status_code == 200  # the pages are installed too
