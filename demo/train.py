"""One model per retailer, trained from the ledger and installed through the gateway's own
model life cycle (gateway/lifecycle.py), as ``prefshare-gateway train --install`` does it:
the candidate's provenance and card are recorded on the ledger, it is installed only when it
passes the gate, and the model it replaces is kept for ``prefshare-gateway rollback``.
``make run`` trains the retailers without a model; ``make train`` (``python -m demo train``)
retrains every retailer against the running demo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from demo.api import GatewayClient
from gateway.ledger import open_ledger
from gateway.lifecycle import ModelLifecycle, ModelRefused, thresholds_of
from gateway.settings import GatewaySettings
from gateway.sharing import reader_sharing
from recommender.artifacts import MANIFEST_FILE
from recommender.catalogue import Catalogue


@dataclass(frozen=True)
class Trained:
    retailer: str
    model_id: str
    records: int
    seconds: float
    installed: bool
    #: The figures that refused it (empty when installed).
    refused: tuple[str, ...] = ()


def has_model(settings: GatewaySettings) -> bool:
    return (settings.model_dir / MANIFEST_FILE).is_file()


def train_and_install(settings: GatewaySettings, admin: GatewayClient) -> Trained:
    """Retrain ``settings.retailer``'s model on what it may read from the ledger and, when it
    passes the gate, make the running gateway serve it (``POST /v1/admin/model``).

    Raises the Fabric client's errors, ValueError (no catalogue, or no readable event),
    gateway.lifecycle.RetrainBusy and demo.api.ApiError when the gateway refuses the artifact.
    """
    if settings.catalogue_path is None:
        raise ValueError(f"{settings.retailer} has no catalogue")
    started = time.monotonic()
    catalogue = Catalogue.from_json(settings.catalogue_path.read_text(encoding="utf-8"))

    def install(model_dir: Path) -> str:
        return str(admin.post("/v1/admin/model", idempotent=False)["model_id"])

    connection = open_ledger(settings)
    try:
        lifecycle = ModelLifecycle(settings, connection.ledger,
                                   reader_sharing(settings, connection), catalogue, install,
                                   thresholds_of(settings))
        try:
            outcome = lifecycle.retrain(reason="operator")
        except ModelRefused as exc:
            return Trained(settings.retailer, exc.model_id, 0, time.monotonic() - started,
                           False, tuple(r.figure for r in exc.refusals))
    finally:
        connection.close()
    return Trained(settings.retailer, outcome.model_id, outcome.records,
                   time.monotonic() - started, True)
