"""The owner's access-log writer: entries queue durably and reach the ledger in batches, at
most one batch per interval however many reads arrive."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gateway.read_log import ReadLogWriter


class RecordingLedger:
    """Stands in for ConsortiumLedger.log_reads: records each batch it is sent."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    def log_reads(self, entries: list[dict[str, Any]],
                  served_nonces: dict[str, str] | None = None) -> None:
        self.batches.append(entries)


def _wait_sent(writer: ReadLogWriter, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while writer.pending():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_reads_logged_one_by_one_reach_the_ledger_in_few_batches(tmp_path: Path):
    ledger = RecordingLedger()
    writer = ReadLogWriter(ledger, tmp_path / "g.sqlite3", interval_s=0.3)  # type: ignore[arg-type]
    try:
        started = time.monotonic()
        for n in range(40):
            writer.log([{"n": n}])
            time.sleep(0.005)
        _wait_sent(writer)
        elapsed = time.monotonic() - started
    finally:
        writer.close()
    assert [e["n"] for batch in ledger.batches for e in batch] == list(range(40))
    # One batch per interval at most (the first goes at once).
    assert len(ledger.batches) <= elapsed / 0.3 + 2, (len(ledger.batches), elapsed)


def test_entries_left_at_close_are_sent_then(tmp_path: Path):
    ledger = RecordingLedger()
    writer = ReadLogWriter(ledger, tmp_path / "g.sqlite3", interval_s=30)  # type: ignore[arg-type]
    writer.log([{"n": 1}])
    _wait_sent(writer)
    writer.log([{"n": 2}, {"n": 3}])
    writer.close()
    assert [[e["n"] for e in b] for b in ledger.batches] == [[1], [2, 3]]
