"""Smoke run of `make bench-ledger` on the session network: it runs and its table is
well-formed. The figures themselves come from `make bench-ledger` (docs/performance.md)."""

from __future__ import annotations

import json
import re

import pytest

from benchmarks.ledger.cli import main as bench_main

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROW = re.compile(r"^\| (?P<call>[^|]+) \| (?P<inflight>\d+) \| (?P<n>\d+) \|"
                 r"(?: [0-9.]+ \|){5}$")


def test_bench_ledger_prints_well_formed_positive_figures(fabric_network, capsys):
    net = fabric_network
    description = net.layout.root.parent / "bench-consortium.yaml"
    description.write_text(json.dumps(net.consortium.model_dump()))
    code = bench_main(["--description", str(description), "--run-dir", str(net.layout.root),
                       "--bin-dir", str(net.bin_dir), "--grants", "6", "--in-flight", "1,3",
                       "--batch", "5", "--batches", "2", "--batches-in-flight", "1",
                       "--reads", "4", "--customers", "4"])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = [ROW.match(line) for line in out.splitlines() if line.startswith("| ")
            and not line.startswith(("| call", "| ---", "| process", "| total"))
            and "peer0" not in line and "orderer" not in line and "ca-" not in line
            and "chaincode-" not in line and "load generator" not in line]
    assert all(rows), out
    calls = [(r["call"].strip(), int(r["inflight"]), int(r["n"])) for r in rows if r]
    assert ("submit consent grant", 3, 6) in calls
    assert ("record 5-event batch", 1, 2) in calls
    assert ("evaluate ReadSharedEvents", 8, 4) in calls
    numbers = [float(x) for line in out.splitlines() if line.startswith("| submit")
               for x in line.strip("| ").split(" | ")[3:]]
    assert numbers and all(x > 0 for x in numbers)
    assert re.search(r"^\| peer0-\w+ \| [0-9.]+ \| \d+% \| [0-9.]+ \|$", out, re.M)


def test_bench_ledger_refuses_without_a_healthy_network(tmp_path, capsys):
    code = bench_main(["--run-dir", str(tmp_path / "none"), "--grants", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "not healthy" in err[0]
