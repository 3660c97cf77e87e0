"""The model life cycle of one gateway: retrain, judge, install or refuse, roll back.

A retrain (:meth:`ModelLifecycle.retrain`) reads what the retailer may train on
(gateway/training.py), trains a candidate into ``<model_dir>.candidate``, measures its card
and the install gate (recommender/candidate.py), records its provenance and card on the
ledger, and then

* installs it when the gate passes: the serving model moves to ``<model_dir>.prev``, the
  candidate to ``<model_dir>``, and the ``install`` callable serves it (the gateway's own
  :meth:`gateway.suggestions.KioskSuggestions.install_model`, or the admin route of a
  running gateway for the console command);
* refuses it otherwise (:class:`ModelRefused`, each refusal naming its figure): it is kept in
  ``<model_dir>.refused`` for the operator, and the serving model is untouched.

:meth:`ModelLifecycle.rollback` swaps ``<model_dir>`` and ``<model_dir>.prev`` and installs
what is then in ``<model_dir>``. One retrain or rollback at a time per model directory, across
processes (an exclusive lock on ``<model_dir>.lock``): the gateway's schedule and an
operator's console command never interleave.

:class:`RetrainSchedule` is the gateway's thread that retrains when ``retrain_interval_s`` has
passed since the serving model was trained, or when ``retrain_min_new_records`` new records
(events this gateway recorded, and notices of other members' new events about customers who
share them with it) arrived since the last retrain. Progress is in the log (one line per
step, no personal data), in :meth:`ModelLifecycle.status` (GET /v1/admin/model/lifecycle) and
in the metrics (:class:`LifecycleCollector`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.errors import ApiError, Conflict, NotFound
from gateway.ledger import ConsortiumLedger
from gateway.settings import GatewaySettings
from gateway.sharing import Sharing
from gateway.training import read_training, train_read
from recommender.artifacts import MANIFEST_FILE, model_id_for
from recommender.candidate import CARD_PREFIX, Prepare
from recommender.catalogue import Catalogue
from recommender.gate import Refusal, Thresholds

log = logging.getLogger(__name__)

#: Installs the artifact in a directory and returns the id now serving.
Installer = Callable[[Path], str | None]


class RetrainBusy(Conflict):
    """Another retrain or rollback of this model directory is under way."""

    code = "RETRAIN_IN_PROGRESS"


class NoPreviousModel(NotFound):
    """Nothing to roll back to: ``<model_dir>.prev`` holds no artifact."""

    code = "NO_PREVIOUS_MODEL"


class ModelRefused(ApiError):
    """The candidate failed the install gate; ``details`` names each figure."""

    status, code = 409, "MODEL_REFUSED"

    def __init__(self, model_id: str, refusals: tuple[Refusal, ...]) -> None:
        figures = ", ".join(r.figure for r in refusals)
        super().__init__(f"the new model was not installed: {figures} past the limit; the "
                         "previous model keeps serving",
                         details={"model_id": model_id,
                                  "refusals": [r.to_dict() for r in refusals]})
        self.model_id, self.refusals = model_id, refusals


def thresholds_of(settings: GatewaySettings) -> Thresholds:
    return Thresholds(
        max_drop=settings.gate_max_drop, confidence_z=settings.gate_confidence_z,
        min_customers=settings.gate_min_customers,
        max_popular_share=settings.bias_max_popular_share,
        max_category_share=settings.bias_max_category_share,
        max_brand_share=settings.bias_max_brand_share,
        min_coverage=settings.bias_min_coverage,
        min_segment_ratio=settings.bias_min_segment_ratio)


def card_of(metadata: Any) -> dict[str, float]:
    """The card and gate figures among an artifact's (or a provenance record's) metrics."""
    metrics = metadata.get("metrics") if hasattr(metadata, "get") else None
    if not isinstance(metrics, dict):
        return {}
    return {k: float(v) for k, v in sorted(metrics.items())
            if k.startswith((CARD_PREFIX, "gate.")) and isinstance(v, int | float)
            and not isinstance(v, bool)}


def artifact_id(directory: Path) -> str | None:
    """The model id an artifact's manifest declares (not verified: installing verifies), or
    None when the directory holds no readable manifest."""
    try:
        digest = json.loads((directory / MANIFEST_FILE).read_bytes()).get("content_sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return model_id_for(digest) if isinstance(digest, str) else None


def _created(metadata: Any) -> float | None:
    stamp = metadata.get("created_at") if hasattr(metadata, "get") else None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() \
            if isinstance(stamp, str) else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Outcome:
    """How one retrain ended."""

    model_id: str
    installed: bool
    previous_model_id: str | None
    refusals: tuple[Refusal, ...]
    card: dict[str, float]
    records: int
    seconds: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "installed": self.installed,
                "previous_model_id": self.previous_model_id,
                "refusals": [r.to_dict() for r in self.refusals], "card": self.card,
                "records": self.records, "seconds": round(self.seconds, 2),
                "reason": self.reason}


@dataclass
class ModelLifecycle:
    settings: GatewaySettings
    ledger: ConsortiumLedger
    sharing: Sharing
    catalogue: Catalogue
    install: Installer
    thresholds: Thresholds = field(default_factory=Thresholds)
    #: Progress and results (read by :meth:`status`); guarded by ``_state``.
    step: str = "idle"
    last: Outcome | None = None
    last_error: str | None = None
    new_records: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {"installed": 0, "refused": 0, "failed": 0})
    _state: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def model_dir(self) -> Path:
        return self.settings.model_dir

    def sibling(self, suffix: str) -> Path:
        return self.model_dir.with_name(self.model_dir.name + suffix)

    # -- progress ----------------------------------------------------------------------------

    def note_new_records(self, count: int) -> None:
        """``count`` new records this retailer may train on arrived (no personal data)."""
        with self._state:
            self.new_records += count

    def _at(self, step: str, **extra: Any) -> None:
        with self._state:
            self.step = step
        log.info("model retrain: %s", step, extra={"retailer": self.settings.msp_id, **extra})

    def status(self) -> dict[str, Any]:
        with self._state:
            return {"step": self.step, "new_records": self.new_records,
                    "retrains": dict(self.counts),
                    "last": None if self.last is None else self.last.to_dict(),
                    "last_error": self.last_error,
                    "previous_model_id": self.previous_model_id()}

    def previous_model_id(self) -> str | None:
        return artifact_id(self.sibling(".prev"))

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.model_dir.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.sibling(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RetrainBusy("a retrain or rollback of this model is under way") from None
            yield
        finally:
            os.close(fd)

    # -- retrain -----------------------------------------------------------------------------

    def retrain(self, *, reason: str = "operator", prepare: Prepare | None = None) -> Outcome:
        """Retrain now (module docstring). Returns the outcome when installed.

        Raises ModelRefused (the gate refused; recorded on the ledger all the same),
        RetrainBusy, ValueError (nothing to train on) and the errors of the training read
        and of ``install``. ``prepare`` (tests) changes what the model is fitted on.
        """
        started = time.monotonic()
        try:
            with self._exclusive():
                outcome = self._retrain(reason, prepare, started)
        except ModelRefused:
            with self._state:
                self.counts["refused"] += 1
                self.step = "idle"
            raise
        except RetrainBusy:
            raise
        except Exception as exc:
            with self._state:
                self.counts["failed"] += 1
                self.last_error = type(exc).__name__
                self.step = "idle"
            log.warning("model retrain failed", extra={"retailer": self.settings.msp_id,
                                                      "cause": type(exc).__name__})
            raise
        with self._state:
            self.counts["installed"] += 1
            self.step = "idle"
        return outcome

    def _retrain(self, reason: str, prepare: Prepare | None, started: float) -> Outcome:
        with self._state:
            arrived, self.new_records = self.new_records, 0
        self._at("reading the ledger", reason=reason, new_records=arrived)
        read = read_training(self.ledger, self.sharing, self.settings.channel, self.catalogue)
        candidate_dir = self.sibling(".candidate")
        shutil.rmtree(candidate_dir, ignore_errors=True)
        self._at("training, measuring the card and the gate", records=len(read.events))
        serving = self.model_dir if (self.model_dir / MANIFEST_FILE).is_file() else None
        candidate = train_read(self.ledger, read, self.catalogue, candidate_dir,
                               serving_dir=serving, thresholds=self.thresholds,
                               holdout_customers=self.settings.gate_holdout_customers,
                               prepare=prepare)
        model_id = str(candidate.provenance["model_id"])
        card = card_of(candidate.provenance)
        self._at("provenance and card recorded on the ledger", model_id=model_id)
        records = int(candidate.provenance["training"]["record_count"])
        if not candidate.decision.install:
            refused = self.sibling(".refused")
            shutil.rmtree(refused, ignore_errors=True)
            candidate_dir.rename(refused)
            outcome = Outcome(model_id, False, None, candidate.decision.refusals, card,
                              records, time.monotonic() - started, reason)
            with self._state:
                self.last = outcome
            log.warning("model retrain: refused", extra={
                "retailer": self.settings.msp_id, "model_id": model_id,
                "figures": [r.figure for r in candidate.decision.refusals]})
            raise ModelRefused(model_id, candidate.decision.refusals)
        self._at("installing", model_id=model_id)
        previous = self._swap_in(candidate_dir)
        outcome = Outcome(model_id, True, previous, (), card, records,
                          time.monotonic() - started, reason)
        with self._state:
            self.last = outcome
            self.last_error = None
        log.info("model retrain: installed", extra={
            "retailer": self.settings.msp_id, "model_id": model_id,
            "previous_model_id": previous, "seconds": round(outcome.seconds, 1)})
        return outcome

    def _swap_in(self, new_dir: Path) -> str | None:
        """Move ``new_dir`` into the model directory (the serving one to ``.prev``) and
        install it; on a failed install put everything back and re-raise."""
        prev = self.sibling(".prev")
        previous = None
        if (self.model_dir / MANIFEST_FILE).is_file():
            previous = artifact_id(self.model_dir)
            shutil.rmtree(prev, ignore_errors=True)
            self.model_dir.rename(prev)
        else:
            shutil.rmtree(self.model_dir, ignore_errors=True)
        new_dir.rename(self.model_dir)
        try:
            self.install(self.model_dir)
        except Exception:
            self.model_dir.rename(new_dir)
            if previous is not None:
                prev.rename(self.model_dir)
            raise
        return previous

    # -- rollback ----------------------------------------------------------------------------

    def rollback(self) -> tuple[str | None, str | None]:
        """Serve the previous model again; the one serving becomes the previous one (a
        second rollback undoes the first). Returns (now serving, replaced).

        Raises NoPreviousModel, RetrainBusy and the errors of ``install``.
        """
        with self._exclusive():
            prev = self.sibling(".prev")
            if not (prev / MANIFEST_FILE).is_file():
                raise NoPreviousModel("there is no previous model to roll back to")
            self._at("rolling back")
            aside = self.sibling(".rollback")
            shutil.rmtree(aside, ignore_errors=True)
            replaced = None
            if self.model_dir.exists():
                replaced = artifact_id(self.model_dir)
                self.model_dir.rename(aside)
            prev.rename(self.model_dir)
            try:
                serving = self.install(self.model_dir)
            except Exception:
                self.model_dir.rename(prev)
                if aside.exists():
                    aside.rename(self.model_dir)
                with self._state:
                    self.step = "idle"
                raise
            if aside.exists():
                aside.rename(prev)
            with self._state:
                self.step = "idle"
            log.info("model rolled back", extra={"retailer": self.settings.msp_id,
                                                 "model_id": serving,
                                                 "previous_model_id": replaced})
            return serving, replaced

    # -- schedule ----------------------------------------------------------------------------

    def due(self, now: float, last_trained: float | None) -> str | None:
        """Why a retrain is due at ``now`` (Unix seconds), or None."""
        s = self.settings
        with self._state:
            arrived = self.new_records
        if s.retrain_min_new_records is not None and arrived >= s.retrain_min_new_records:
            return "new data"
        if s.retrain_interval_s is not None and last_trained is not None \
                and now - last_trained >= s.retrain_interval_s:
            return "schedule"
        return None

    def serving_created(self) -> float | None:
        """When the serving model was trained (Unix seconds), from its manifest."""
        try:
            manifest = json.loads((self.model_dir / MANIFEST_FILE).read_bytes())
        except (OSError, ValueError):
            return None
        return _created(manifest.get("metadata", {})) if isinstance(manifest, dict) else None


class RetrainSchedule:
    """The gateway's thread that calls :meth:`ModelLifecycle.retrain` when it is due."""

    def __init__(self, lifecycle: ModelLifecycle, started: float | None = None) -> None:
        self._lifecycle = lifecycle
        self._stop = threading.Event()
        #: The reference for the interval: the serving model's training, else the start.
        self._last = lifecycle.serving_created() or (started or time.time())
        self._thread = threading.Thread(target=self._run, name="retrain-schedule",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        check = self._lifecycle.settings.retrain_check_s
        while not self._stop.wait(check):
            reason = self._lifecycle.due(time.time(), self._last)
            if reason is None:
                continue
            self._last = time.time()
            try:
                self._lifecycle.retrain(reason=reason)
            except ApiError as exc:  # refused or busy: said in the log and the status
                log.info("scheduled retrain ended without install",
                         extra={"code": exc.code})
            except Exception as exc:  # the schedule goes on; the failure is logged and counted
                log.warning("scheduled retrain failed", extra={"cause": type(exc).__name__})


class LifecycleCollector(Collector):
    """``prefshare_model_retrains_total{result}``, ``prefshare_model_new_records``,
    ``prefshare_model_retrain_running`` and ``prefshare_model_last_retrain_seconds``."""

    def __init__(self, lifecycle: ModelLifecycle) -> None:
        self._lifecycle = lifecycle

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        status = self._lifecycle.status()
        family = CounterMetricFamily("prefshare_model_retrains", "Model retrains by result",
                                     labels=["result"])
        for result, count in status["retrains"].items():
            family.add_metric([result], count)
        yield family
        yield GaugeMetricFamily("prefshare_model_new_records",
                                "New records since the last retrain",
                                value=status["new_records"])
        yield GaugeMetricFamily("prefshare_model_retrain_running", "1 while a retrain runs",
                                value=0 if status["step"] == "idle" else 1)
        last = status["last"]
        yield GaugeMetricFamily("prefshare_model_last_retrain_seconds",
                                "Duration of the last retrain that ended",
                                value=last["seconds"] if last else 0)
