"""Idempotency keys: a retried write returns the first answer instead of writing twice.

A key is scoped to its caller. The first request with a key claims it; its final answer is
stored with a hash of the request, and a retry with the same key and the same request gets
that answer back. The same key with a different request is refused (422). A request still in
flight under the key gets 409. An answer that says the outcome is unknown, or that the peer
was unreachable (5xx), is not stored: the claim is released so the retry really retries, and
the chaincode's own duplicate checks (event ids, consent ids, nonces) keep a write that did
land from applying twice.

A gateway killed mid-request leaves its claims without an answer. On embedded SQLite one
gateway process serves a data folder, so the service releases them when it starts
(:meth:`IdempotencyStore.release_unanswered`): a client retrying such a key after the
restart runs the request again at once instead of getting 409 for ``CLAIM_TIMEOUT_S``, and a
first attempt that did land is refused by the chaincode's duplicate checks (or fails the MVCC
check if it is still being ordered). On PostgreSQL (gateway/postgres/idempotency.py) the
keys are shared by workers and replicas, a retry may reach any of them, and a claim at start
may be a live worker's: a dead one's claims end after ``CLAIM_TIMEOUT_S``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastapi.responses import JSONResponse, Response

from gateway.errors import MAPPED, ApiError, Conflict, Unprocessable, to_response
from gateway.secret_files import make_private

KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
#: How long a claimed key that never got an answer (a crashed request) blocks retries.
CLAIM_TIMEOUT_S = 120.0


class MissingIdempotencyKey(ApiError):
    status, code = 400, "IDEMPOTENCY_KEY_REQUIRED"


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


def check_key(key: str | None) -> str:
    """``key`` if well formed. Raises MissingIdempotencyKey or Unprocessable."""
    if key is None:
        raise MissingIdempotencyKey("writes need an Idempotency-Key header")
    if not KEY.fullmatch(key):
        raise Unprocessable("Idempotency-Key must be 8-128 of A-Z a-z 0-9 _ . : -",
                            code="IDEMPOTENCY_KEY_MALFORMED")
    return key


def replay(fingerprint: str, stored_fingerprint: str, status: int | None,
           body: bytes | None) -> StoredAnswer:
    """The stored answer of an earlier claim of the key. Raises Unprocessable (reused for
    another request) or Conflict (still running)."""
    if stored_fingerprint != fingerprint:
        raise Unprocessable("this Idempotency-Key was used for a different request",
                            code="IDEMPOTENCY_KEY_REUSED")
    if status is None:
        raise Conflict("a request with this Idempotency-Key is still running",
                       code="IDEMPOTENCY_KEY_IN_FLIGHT")
    return StoredAnswer(int(status), bytes(body or b""))


class Idempotency(Protocol):
    """Claims and stored answers, whichever database holds them: :class:`IdempotencyStore`
    (embedded SQLite) or :class:`gateway.postgres.idempotency.PostgresIdempotencyStore`."""

    def claim(self, scope: str, key: str | None, fingerprint: str) -> StoredAnswer | None: ...

    def finish(self, scope: str, key: str, status: int, body: bytes) -> None: ...


class IdempotencyStore:
    """The ``idempotency`` table in the gateway's SQLite file (one process;
    :class:`Idempotency`)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        make_private(path)  # stored answers may hold personal data
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS idempotency ("
                " scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,"
                " claimed_at REAL NOT NULL, status INTEGER, body BLOB,"
                " PRIMARY KEY (scope, key))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=10, isolation_level=None)

    def claim(self, scope: str, key: str | None, fingerprint: str) -> StoredAnswer | None:
        """Claim ``key`` for this request, or return the stored answer of its first run.

        Raises:
            MissingIdempotencyKey, Unprocessable (malformed key, or reused for another
            request), Conflict (the first request with this key is still running).
        """
        key = check_key(key)
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT fingerprint, claimed_at, status, body FROM idempotency"
                " WHERE scope = ? AND key = ?", (scope, key),
            ).fetchone()
            if row is None or (row[2] is None and now - row[1] > CLAIM_TIMEOUT_S):
                db.execute(
                    "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, NULL, NULL)",
                    (scope, key, fingerprint, now),
                )
                db.execute("COMMIT")
                return None
            db.execute("COMMIT")
        stored_fp, _, status, body = row
        return replay(fingerprint, stored_fp, status, body)

    def release_unanswered(self) -> int:
        """Release every claim that has no answer; returns how many. Call it only when no
        request of this store is running: at start, the claims left are a dead process's."""
        with self._connect() as db:
            return db.execute("DELETE FROM idempotency WHERE status IS NULL").rowcount

    def finish(self, scope: str, key: str, status: int, body: bytes) -> None:
        """Store the final answer, or release the claim when the answer was a 5xx."""
        with self._connect() as db:
            if status >= 500:
                db.execute("DELETE FROM idempotency WHERE scope = ? AND key = ?", (scope, key))
            else:
                db.execute("UPDATE idempotency SET status = ?, body = ?"
                           " WHERE scope = ? AND key = ?", (status, body, scope, key))


def canonical_body(payload: object) -> bytes:
    """The request body as the fingerprint sees it (key order does not matter)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def run_idempotent(store: Idempotency, *, scope: str, key: str | None, method: str,
                   path: str, payload: object,
                   action: Callable[[], tuple[int, Any]]) -> Response:
    """Run ``action`` once per (scope, key); a retry gets the first answer back.

    ``action`` returns (status, JSON-able body) or raises an error the gateway maps
    (errors.MAPPED); both outcomes are stored unless the status is 5xx.
    """
    fingerprint = request_fingerprint(method, path, canonical_body(payload))
    stored = store.claim(scope, key, fingerprint)
    if stored is not None:
        return Response(stored.body, status_code=stored.status, media_type="application/json",
                        headers={"Idempotent-Replay": "true"})
    assert key is not None  # claim() refuses a missing key
    try:
        status, body = action()
        response: Response = JSONResponse(body, status_code=status)
    except MAPPED as exc:
        response = to_response(exc)
    except BaseException:
        store.finish(scope, key, 500, b"")
        raise
    store.finish(scope, key, response.status_code, bytes(response.body))
    return response
