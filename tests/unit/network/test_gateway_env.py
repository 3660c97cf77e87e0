"""The gateway env file the test network generates, read back by the gateway's settings."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gateway.settings import read_settings
from network.cli import main
from network.description import PORT_OFFSETS, load_consortium
from network.errors import UnknownRetailer
from network.gateway_env import gateway_environment, render_env_file, write_gateway_env
from network.layout import RunLayout

DESCRIPTION = Path("network/consortium.yaml")


def _enrolled(root: Path, retailer: str) -> RunLayout:
    """A run folder (with a space in its path) whose gateway identity holds one TLS key."""
    layout = RunLayout(root / "run folder")
    keystore = layout.tls(retailer, "gateway") / "keystore"
    keystore.mkdir(parents=True)
    (keystore / "abc_sk").write_text("not a real key")
    return layout


def test_the_generated_file_reads_back_as_the_networks_settings(tmp_path):
    consortium = load_consortium(DESCRIPTION)
    layout = _enrolled(tmp_path, "northwind")
    path = write_gateway_env(consortium, "northwind", layout)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = read_settings(path)
    assert settings.retailer == "northwind" and settings.msp_id == "NorthwindMSP"
    assert settings.endorsing_orgs == tuple(r.msp_id for r in consortium.retailers)
    assert settings.data_dir == layout.org("northwind") / "gateway"
    assert settings.model_dir == settings.data_dir / "model"
    northwind = consortium.retailers[0]
    assert settings.http_port == (consortium.block_of(consortium.retailer_index(northwind))
                                  + PORT_OFFSETS["gateway_http"]) == 7180  # as README says
    assert settings.tls_key == layout.tls(
        "northwind", "gateway") / "keystore" / "abc_sk"
    assert {p.msp_id for p in settings.endorsing_peers} == {
        r.msp_id for r in consortium.retailers if r.name != "northwind"}
    assert len(settings.orderers) >= 1 and settings.catalogue_path is None


def test_a_catalogue_in_the_data_folder_is_named(tmp_path):
    consortium = load_consortium(DESCRIPTION)
    layout = _enrolled(tmp_path, "southgate")
    (layout.gateway_data("southgate")).mkdir(parents=True)
    (layout.gateway_data("southgate") / "catalogue.json").write_text("{}")
    env = gateway_environment(consortium, "southgate", layout)
    assert env["PREFSHARE_GATEWAY_CATALOGUE_PATH"].endswith("gateway/catalogue.json")


def test_an_explicit_value_beats_the_file(tmp_path):
    layout = _enrolled(tmp_path, "northwind")
    path = write_gateway_env(load_consortium(DESCRIPTION), "northwind", layout)
    assert read_settings(path, http_port=9999).http_port == 9999


def test_an_unknown_retailer_or_an_unwritable_value_is_refused(tmp_path):
    with pytest.raises(UnknownRetailer):
        gateway_environment(load_consortium(DESCRIPTION), "nowhere", RunLayout(tmp_path))
    with pytest.raises(ValueError, match="quote"):
        render_env_file({"PREFSHARE_GATEWAY_DATA_DIR": "/it's"})


def test_the_cli_prints_the_env_file(tmp_path, capsys):
    layout = _enrolled(tmp_path, "northwind")
    assert main(["--run-dir", str(layout.root), "gateway-env", "northwind"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# northwind's gateway")
    assert "PREFSHARE_GATEWAY_MSP_ID='NorthwindMSP'" in out
    assert main(["--run-dir", str(layout.root), "gateway-env", "nowhere"]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_each_gateway_gets_its_write_budget_from_the_cost_guard(tmp_path):
    consortium = load_consortium(DESCRIPTION)
    own = consortium.model_copy(update={"retailers": [
        r.model_copy(update={"ledger_writes_per_hour": 50}) if r.name == "southgate" else r
        for r in consortium.retailers]})
    for retailer, budget in (("northwind", consortium.cost_guard.ledger_writes_per_hour),
                             ("southgate", 50)):
        env = gateway_environment(own, retailer, _enrolled(tmp_path / retailer, retailer))
        assert env["PREFSHARE_GATEWAY_WRITE_BUDGET_PER_HOUR"] == str(budget)


def test_every_peers_and_orderers_metrics_endpoint_is_named(tmp_path):
    consortium = load_consortium(DESCRIPTION)
    layout = _enrolled(tmp_path, "northwind")
    settings = read_settings(write_gateway_env(consortium, "northwind", layout))
    kinds = [e.kind for e in settings.node_metrics]
    assert kinds.count("peer") == len(consortium.retailers) and "orderer" in kinds
    assert all(e.url.startswith("http://127.0.0.1:") for e in settings.node_metrics)
    assert "peer0-northwind" in {e.name for e in settings.node_metrics}
