from pathlib import Path

import yaml

from network.cli import main


def test_invalid_description_exits_one_with_one_line_naming_the_field(tmp_path, capsys):
    data = yaml.safe_load(Path("network/consortium.yaml").read_text())
    data["retailers"][0]["msp_id"] = "no spaces allowed"
    bad = tmp_path / "c.yaml"
    bad.write_text(yaml.safe_dump(data))
    assert main(["--description", str(bad), "--run-dir", str(tmp_path / "run"), "up"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "retailers.0.msp_id" in err[0]
    assert not (tmp_path / "run").exists()


def test_up_without_binaries_starts_nothing(tmp_path, capsys):
    code = main(["--run-dir", str(tmp_path / "run"), "--bin-dir", str(tmp_path / "bin"),
                 "up", "--layer", "ca"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fabric-ca-server is missing" in err[0]
    assert not (tmp_path / "run").exists()


def test_status_and_down_are_harmless_when_nothing_runs(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["--run-dir", run, "down"]) == 0
    assert main(["--run-dir", run, "status"]) == 0
    out = capsys.readouterr().out
    assert "ca-northwind" in out and "stopped" in out
