"""The owner's access-log writer: entries queue durably and reach the ledger in batches, at
most one batch per interval however many reads arrive."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc

from gateway.fabric.errors import GatewayError
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


def test_two_writers_on_one_file_send_each_entry_once(tmp_path: Path):
    # Two worker processes of one replica share its SQLite file: each batch is claimed by one.
    ledger = RecordingLedger()
    database = tmp_path / "g.sqlite3"
    writers = [ReadLogWriter(ledger, database, interval_s=0.05)  # type: ignore[arg-type]
               for _ in range(2)]
    try:
        for n in range(200):
            writers[n % 2].log([{"n": n}])
        for writer in writers:
            _wait_sent(writer)
    finally:
        for writer in writers:
            writer.close()
    sent = sorted(e["n"] for batch in ledger.batches for e in batch)
    assert sent == list(range(200))


class FailingLedger(RecordingLedger):
    def log_reads(self, entries: list[dict[str, Any]],
                  served_nonces: dict[str, str] | None = None) -> None:
        raise GatewayError("peer down", code=grpc.StatusCode.UNAVAILABLE)


def test_a_batch_that_fails_is_released_for_the_next_writer(tmp_path: Path):
    database = tmp_path / "g.sqlite3"
    failing = ReadLogWriter(FailingLedger(), database, interval_s=60)  # type: ignore[arg-type]
    failing.log([{"n": 1}])
    time.sleep(0.2)  # its thread tried once and failed
    failing.close()  # tries once more, leaves the entry queued
    ledger = RecordingLedger()
    writer = ReadLogWriter(ledger, database, interval_s=0.05)  # type: ignore[arg-type]
    try:
        _wait_sent(writer)
    finally:
        writer.close()
    assert [e["n"] for batch in ledger.batches for e in batch] == [1]
