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


def test_down_and_clean_say_what_they_stopped_and_removed(tmp_path, capsys):
    import os

    from network.layout import RunLayout
    from network.supervisor import Supervisor

    run = tmp_path / "run"
    assert main(["--run-dir", str(run), "down"]) == 0
    assert capsys.readouterr().out.strip() == "nothing was running"
    # A process under a node's name stands in for the node: down stops it and says so.
    Supervisor(RunLayout(run)).start("ca-northwind", ["sleep", "30"], env=dict(os.environ))
    assert main(["--run-dir", str(run), "down"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["stopped ca-northwind", f"1 nodes stopped, data kept in {run}"]
    assert main(["--run-dir", str(run), "clean"]) == 0
    assert capsys.readouterr().out.strip() == f"removed {run}"
    assert not run.exists()
    assert main(["--run-dir", str(run), "clean"]) == 0
    assert capsys.readouterr().out.strip() == f"{run} did not exist"


def test_membership_commands_refuse_in_one_line_before_touching_the_network(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["--run-dir", run, "add-retailer", "Bad_Name"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: name:") and "\n" not in err
    assert main(["--run-dir", run, "remove-retailer", "northwind"]) == 1
    err = capsys.readouterr().err.strip()
    assert "not healthy" in err and "\n" not in err
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").rglob("*.pid"))
