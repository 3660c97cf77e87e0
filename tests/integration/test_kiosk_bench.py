"""The kiosk benchmark runs on the session network and prints a well-formed table.

A smoke run with tiny numbers (one rate, 2 s): it checks that the command works end to end
(world written through the client library, both servers started in processes of their own,
the open-loop load, the table), not how fast anything is. Ports 24292-24293.
"""

from __future__ import annotations

import re

import pytest

from benchmarks.kiosk.cli import parser, run
from benchmarks.kiosk.load import TABLE_HEADER

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NUMBER = r"(\d+(?:\.\d+)?)"


def test_the_kiosk_bench_prints_a_row_per_endpoint_with_positive_figures(
        fabric_network, postgres_url):
    shift = fabric_network.consortium.port_base - 24000
    args = parser().parse_args([
        "--rates", "40", "--duration", "2", "--warmup", "0.5", "--customers", "4",
        "--events", "2", "--gateway-port", str(24292 + shift),
        "--bare-port", str(24293 + shift), "--workers", "1,2", "--database-url", postgres_url])
    lines = run(args, fabric_network.consortium, fabric_network.layout)
    assert TABLE_HEADER in lines
    rows = [line for line in lines if line.startswith(("| bare endpoint", "| kiosk"))]
    assert [r.split(" | ")[0] for r in rows] == [
        "| bare endpoint", "| kiosk suggestions (1 worker, SQLite)",
        "| kiosk suggestions (2 workers, PostgreSQL)"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        offered, achieved, p50, p99, errors = (float(c) for c in cells[1:6])
        assert offered == 40 and achieved > 0 and 0 < p50 <= p99
        assert errors < 40 * 2
    kiosk_hits = rows[1].strip("|").split("|")[-1].strip()
    assert re.fullmatch(r"\d+%", kiosk_hits)  # the gateway reports its cache
    ratio = re.search(rf"= {NUMBER}$", lines[-1])
    assert ratio is not None and float(ratio.group(1)) > 0


def test_the_hostile_run_prints_the_kiosk_alone_and_under_attack(fabric_network):
    """The attack process runs and reports (its figures are the benchmark's to show, not this
    smoke run's: ``make bench-kiosk`` runs it for 10 s at 100/s)."""
    shift = fabric_network.consortium.port_base - 24000
    args = parser().parse_args([
        "--rates", "20", "--duration", "2", "--warmup", "0.5", "--customers", "4",
        "--events", "2", "--gateway-port", str(24292 + shift),
        "--bare-port", str(24293 + shift), "--hostile", "--hostile-rate", "20",
        "--slow-connections", "4", "--flood-connections", "2"])
    lines = run(args, fabric_network.consortium, fabric_network.layout)
    rows = {line.split(" | ")[0]: line for line in lines if line.startswith("| kiosk,")}
    assert list(rows) == ["| kiosk, default limits, alone",
                          "| kiosk, default limits, under attack"]
    for row in rows.values():
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[2]) > 0 and 0 < float(cells[3]) <= float(cells[4])
    attack = re.search(r"a flooding credential sent (\d+) requests .* and (\d+) slow "
                       r"connections were opened", lines[-1])
    assert attack is not None, lines[-1]
    assert int(attack.group(1)) > 0 and int(attack.group(2)) >= 4
