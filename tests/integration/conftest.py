"""Session fixtures that start real processes on 127.0.0.1 and stop them afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from network.control import Layer, Network
from network.description import Consortium, load_consortium
from network.layout import RunLayout
from network.plan import make_plan

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = ROOT / ".fabric" / "bin"
#: Integration tests use their own port block so they never meet a network started by `make`.
TEST_PORT_BASE = 27000


def _test_description(tmp: Path) -> Path:
    data = yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text())
    data["port_base"] = TEST_PORT_BASE
    path = tmp / "consortium.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="session")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> Consortium:
    """The default consortium description, moved to the tests' port block."""
    return load_consortium(_test_description(tmp_path_factory.mktemp("description")))


@pytest.fixture(scope="session")
def ca_network(tmp_path_factory: pytest.TempPathFactory,
               consortium: Consortium) -> Iterator[Network]:
    """The consortium's CAs, started, with every identity enrolled."""
    if not (BIN_DIR / "fabric-ca-server").exists():
        pytest.fail("Fabric CA is not built: run `make fabric-ca-bins`")
    tmp = tmp_path_factory.mktemp("network")
    net = Network(make_plan(consortium), RunLayout(tmp / "run"), BIN_DIR)
    net.up(Layer.CA)
    try:
        yield net
    finally:
        net.clean()
