"""The kiosk benchmark's table (a pure function of its runs)."""

from __future__ import annotations

from benchmarks.kiosk.load import TABLE_HEADER, RunResult, table


def _result(endpoint: str, achieved: float) -> RunResult:
    return RunResult(endpoint, 100, 2, 200, 200, 0, achieved, 1.5, 9.25, 0.3, 0.2, None)


def test_the_table_has_a_row_per_run_and_the_ratio_of_the_best_rates():
    lines = table([_result("bare endpoint", 100), _result("kiosk suggestions", 60),
                   _result("bare endpoint", 200), _result("kiosk suggestions", 90)])
    assert lines[0] == TABLE_HEADER
    assert lines[2] == "| bare endpoint | 100 | 100 | 1.5 | 9.2 | 0 | 0.30 | 0.20 | - |"
    assert lines[-1].endswith("90 / 200 = 0.45")
