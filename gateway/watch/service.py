"""The running watch of one owner's gateway: member reads in, alerts out, brakes applied,
alerts and clearances recorded on the ledger, metrics for Prometheus.

One thread steps the :class:`~gateway.watch.monitor.Monitor` every ``watch_step_s``. An
alert brakes the reader at once (locally, :class:`~gateway.watch.brake.BrakeBook`) and is
queued durably for the ledger (``RecordWatchEvent``, public, MAJORITY); a record the ledger
refuses or cannot take now (peer down, write budget spent) stays queued and is sent again.
A clearance is written on the ledger before the brake is lifted, so every member sees it.
The history of normal windows is kept in the gateway's SQLite file (features only, no
customer), so a restart neither forgets it nor learns again from scratch.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.errors import ApiError, NotFound
from gateway.fabric.errors import GatewayError
from gateway.ledger import ConsortiumLedger
from gateway.ledger_records import MalformedLedgerAnswer
from gateway.settings import GatewaySettings
from gateway.watch.brake import BrakeBook
from gateway.watch.features import FEATURES, KINDS, Hours, Read, customer_digest
from gateway.watch.monitor import Alert, Monitor, WatchConfig

log = logging.getLogger(__name__)


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def watch_config(settings: GatewaySettings) -> WatchConfig:
    return WatchConfig(window_s=settings.watch_window_s, step_s=settings.watch_step_s,
                       learn_s=settings.watch_learn_s, min_history=settings.watch_min_history,
                       learn_every_s=settings.watch_learn_every_s,
                       consecutive=settings.watch_consecutive, margin=settings.watch_margin,
                       sequential=settings.watch_sequential,
                       cusum_threshold=settings.watch_cusum_threshold,
                       cusum_ratio=settings.watch_cusum_ratio,
                       cusum_shifts_per_hour=settings.watch_cusum_shifts_per_hour,
                       open_hours=Hours(*settings.watch_open_hours),
                       training_hours=Hours(*settings.watch_training_hours))


#: Steps that learned something between two prunings of the stored history.
PRUNE_EVERY = 100

class WatchMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.alerts = Counter("prefshare_watch_alerts_total",
                              "Alerts raised on a reading member's reads", ["reader"],
                              registry=registry)
        self.clearances = Counter("prefshare_watch_clearances_total",
                                  "Brakes cleared by this owner's admin", ["reader"],
                                  registry=registry)
        self.braked = Gauge("prefshare_watch_braked", "1 while a reading member is braked",
                            ["reader"], registry=registry)
        self.refused = Counter("prefshare_watch_braked_reads_total",
                               "Member reads refused by the brake", ["reader"],
                               registry=registry)
        self.score = Gauge("prefshare_watch_score",
                           "A reading member's latest anomaly score (alert above threshold)",
                           ["reader"], registry=registry)
        self.cusum = Gauge("prefshare_watch_cusum",
                           "A reading member's sequential statistic on a count, in nats "
                           "(alert above prefshare_watch_cusum_threshold)",
                           ["reader", "count"], registry=registry)
        self.cusum_threshold = Gauge("prefshare_watch_cusum_threshold",
                                     "The nats above which a member's CUSUM alerts",
                                     registry=registry)
        self.threshold = Gauge("prefshare_watch_threshold",
                               "The score above which a reading member's window is anomalous",
                               ["reader"], registry=registry)
        self.unrecorded = Gauge("prefshare_watch_records_pending",
                                "Alerts and clearances not yet on the ledger",
                                registry=registry)


class WatchService:
    def __init__(self, settings: GatewaySettings, ledger: ConsortiumLedger, database: Path,
                 registry: CollectorRegistry, *, start: bool = True) -> None:
        self.owner = settings.msp_id
        self.config = watch_config(settings)
        self._ledger = ledger
        self._db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS watch_history (reader TEXT NOT NULL, "
                         "at REAL NOT NULL, features TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS watch_pending (record_id TEXT PRIMARY "
                         "KEY, record TEXT NOT NULL)")
        self.brakes = BrakeBook(database, settings.watch_brake_per_minute)
        self.metrics = WatchMetrics(registry)
        self.metrics.cusum_threshold.set(self.config.cusum_threshold)
        self.monitor = Monitor(self.config)
        # Her id is digested with a key of this process: the digests name no one elsewhere.
        self._key = os.urandom(16)
        self._lock = threading.Lock()
        self._learned_steps = 0
        self.alerts: list[dict[str, Any]] = []
        self._load_history()
        for reader in self.brakes.braked():
            self.monitor.flagged.add(reader)
            self.metrics.braked.labels(reader).set(1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watch", daemon=True)
        if start:
            self._thread.start()

    def _prune(self, readers: set[str]) -> None:
        """Keep each reader's newest ``max_history`` windows on disk, as in memory: a quiet
        window is learned every step, so the table would otherwise grow without bound."""
        for reader in readers:
            self._db.execute(
                "DELETE FROM watch_history WHERE rowid IN (SELECT rowid FROM watch_history "
                "WHERE reader = ? ORDER BY at DESC LIMIT -1 OFFSET ?)",
                (reader, self.config.max_history))

    def _load_history(self) -> None:
        rows = self._db.execute("SELECT reader, at, features FROM watch_history "
                                "ORDER BY at").fetchall()
        by_reader: dict[str, list[list[float]]] = {}
        first = None
        for reader, at, features in rows:
            by_reader.setdefault(reader, []).append(json.loads(features))
            first = at if first is None else first
        for reader, history in by_reader.items():
            self.monitor.learn(reader, history[-self.config.max_history:], since=first)

    # -- the member routes ---------------------------------------------------------------

    def admit(self, reader: str, kind: str, customer_id: str = "") -> None:
        """A member read about to be served: braked (MemberBraked, 429) or observed."""
        if kind not in KINDS:
            raise ValueError(f"unknown read kind {kind!r}")
        try:
            self.brakes.admit(reader)
        except ApiError:
            self.metrics.refused.labels(reader).inc()
            raise
        digest = customer_digest(customer_id, self._key) if customer_id else b""
        with self._lock:
            self.monitor.observe(Read(time.time(), reader, kind, digest))

    # -- the thread ------------------------------------------------------------------------

    def step(self, now: float | None = None) -> list[Alert]:
        """Score every reader now; brake and queue the alerts. Returns them."""
        now = time.time() if now is None else now
        with self._lock:
            alerts, learned = self.monitor.step(now)
            scores = dict(self.monitor.scores)
            cusums = {(r, name): c.value for r, by_count in self.monitor.cusums.items()
                      for name, c in by_count.items()}
        if learned:
            self._db.executemany("INSERT INTO watch_history VALUES (?, ?, ?)",
                                 [(r, now, json.dumps(row)) for r, row in learned])
            self._learned_steps += 1
            if self._learned_steps % PRUNE_EVERY == 0:
                self._prune({r for r, _ in learned})
        for reader, score in scores.items():
            self.metrics.score.labels(reader).set(score.value)
            self.metrics.threshold.labels(reader).set(score.threshold)
        for (reader, name), value in cusums.items():
            self.metrics.cusum.labels(reader, name).set(value)
        for alert in alerts:
            record = self._alert_record(alert)
            self.brakes.brake(alert.reader, now, record["record_id"])
            self._queue(record)
            self.metrics.alerts.labels(alert.reader).inc()
            self.metrics.braked.labels(alert.reader).set(1)
            self.alerts.append({**record, "features": alert.features,
                                "threshold": alert.threshold, "test": alert.test})
            del self.alerts[:-100]
            log.warning("watch alert: member reads braked",
                        extra={"reader": alert.reader, "drivers": alert.drivers,
                               "window_to": record["window_to"]})
        return alerts

    def _alert_record(self, alert: Alert) -> dict[str, Any]:
        return {"record_id": f"alert-{alert.reader}-{int(alert.window_end)}-"
                             f"{os.urandom(3).hex()}",
                "owner": self.owner, "reader": alert.reader, "kind": "alert",
                "at": _stamp(alert.window_end), "window_from": _stamp(alert.window_start),
                "window_to": _stamp(alert.window_end), "score": alert.score,
                "drivers": alert.drivers}

    def _queue(self, record: dict[str, Any]) -> None:
        self._db.execute("INSERT OR REPLACE INTO watch_pending VALUES (?, ?)",
                         (record["record_id"], json.dumps(record)))

    def send_pending(self) -> int:
        """Send queued records to the ledger; how many are left. Raises nothing: a record
        not sent stays queued."""
        rows = self._db.execute("SELECT record_id, record FROM watch_pending "
                                "ORDER BY rowid").fetchall()
        for record_id, record in rows:
            try:
                self._ledger.record_watch_event(json.loads(record))
            except (GatewayError, ApiError, MalformedLedgerAnswer) as exc:
                if getattr(exc, "code", "") == "WATCH_RECORD_EXISTS":
                    pass  # an earlier attempt landed
                else:
                    log.warning("watch record not on the ledger yet; kept to send again",
                                extra={"cause": type(exc).__name__})
                    break
            self._db.execute("DELETE FROM watch_pending WHERE record_id = ?", (record_id,))
        left = int(self._db.execute("SELECT COUNT(*) FROM watch_pending").fetchone()[0])
        self.metrics.unrecorded.set(left)
        return left

    def _run(self) -> None:
        while not self._stop.wait(self.config.step_s):
            self.step()
            self.send_pending()

    # -- the admin -------------------------------------------------------------------------

    def clear(self, reader: str) -> dict[str, Any]:
        """Record the clearance on the ledger, then lift the brake. Raises NotFound
        (NOT_BRAKED) for a reader with no brake, and the ledger's errors."""
        if reader not in self.brakes.braked():
            raise NotFound("this member's reads are not braked here", code="NOT_BRAKED")
        self.send_pending()  # the alert goes on the ledger before its clearance
        now = time.time()
        record = {"record_id": f"clear-{reader}-{int(now)}-{os.urandom(3).hex()}",
                  "owner": self.owner, "reader": reader, "kind": "clearance",
                  "at": _stamp(now)}
        self._ledger.record_watch_event(record)
        self.brakes.release(reader)
        with self._lock:
            self.monitor.clear(reader)
        self.metrics.clearances.labels(reader).inc()
        self.metrics.braked.labels(reader).set(0)
        return record

    def status(self) -> dict[str, Any]:
        with self._lock:
            scores = {r: {"score": round(s.value, 3), "threshold": round(s.threshold, 3),
                          "drivers": s.drivers()} for r, s in self.monitor.scores.items()}
            # A reader shows from its first read, not from the step that first learns it
            # (up to ``step_s`` later): the owner's operator sees who reads at once.
            learning = {r: len(self.monitor.history.get(r, ()))
                        for r in set(self.monitor.history) | set(self.monitor.logs)}
            sequential = {r: {f"{name}_cusum": round(c.value, 3) for name, c in by.items()}
                          for r, by in self.monitor.cusums.items()}
            warming = sorted(r for r in set(learning) | set(scores)
                             if self.monitor.warming_up(r))
        braked = {r: {"since": _stamp(since), "record_id": rid}
                  for r, (since, rid) in self.brakes.braked().items()}
        pending = int(self._db.execute("SELECT COUNT(*) FROM watch_pending").fetchone()[0])
        return {"features": list(FEATURES), "window_s": self.config.window_s,
                "step_s": self.config.step_s, "scores": scores, "braked": braked,
                "sequential": sequential, "cusum_threshold": self.config.cusum_threshold,
                "history_windows": learning, "learning": warming,
                "recent_alerts": list(self.alerts), "records_pending": pending}

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.brakes.close()
        self._db.close()
