"""Idempotency keys across a gateway restart (the SQLite store, no server)."""

from __future__ import annotations

import pytest

from gateway.errors import Conflict
from gateway.idempotency import IdempotencyStore

SCOPE, KEY, FP = "principal:k1", "key-00000001", "f" * 64


def test_a_claim_of_a_crashed_process_blocks_retries_until_released(tmp_path):
    db = tmp_path / "gateway.sqlite3"
    assert IdempotencyStore(db).claim(SCOPE, KEY, FP) is None  # then the process dies
    restarted = IdempotencyStore(db)
    with pytest.raises(Conflict):
        restarted.claim(SCOPE, KEY, FP)
    assert restarted.release_unanswered() == 1
    assert restarted.claim(SCOPE, KEY, FP) is None  # the retry really runs


def test_release_keeps_finished_answers_for_replay(tmp_path):
    db = tmp_path / "gateway.sqlite3"
    first = IdempotencyStore(db)
    assert first.claim(SCOPE, KEY, FP) is None
    first.finish(SCOPE, KEY, 201, b'{"recorded": 3}')
    assert first.claim(SCOPE, "key-00000002", FP) is None  # unanswered
    restarted = IdempotencyStore(db)
    assert restarted.release_unanswered() == 1
    replay = restarted.claim(SCOPE, KEY, FP)
    assert replay is not None and (replay.status, replay.body) == (201, b'{"recorded": 3}')
