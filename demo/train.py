"""One model per retailer, trained from the ledger by the gateway's own training job and
installed through the gateway's admin route, as docs/gateway.md "Installing a model" does it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from typing import Any

from demo.api import GatewayClient
from gateway.ledger import open_ledger
from gateway.settings import GatewaySettings
from gateway.sharing import reader_sharing
from gateway.training import train_from_ledger
from recommender.artifacts import MANIFEST_FILE
from recommender.catalogue import Catalogue


@dataclass(frozen=True)
class Trained:
    retailer: str
    model_id: str
    records: int
    seconds: float


def has_model(settings: GatewaySettings) -> bool:
    return (settings.model_dir / MANIFEST_FILE).is_file()


def train_and_install(settings: GatewaySettings, admin: GatewayClient) -> Trained:
    """Train ``settings.retailer``'s model on what it may read from the ledger, record its
    provenance there, move it into the model directory (the previous one kept as
    ``model.prev``) and install it with ``POST /v1/admin/model``.

    Raises the Fabric client's errors, ValueError (no catalogue, or no readable event) and
    demo.api.ApiError when the gateway refuses the model.
    """
    if settings.catalogue_path is None:
        raise ValueError(f"{settings.retailer} has no catalogue")
    started = time.monotonic()
    catalogue = Catalogue.from_json(settings.catalogue_path.read_text(encoding="utf-8"))
    staging = settings.model_dir.with_name("model.next")
    shutil.rmtree(staging, ignore_errors=True)
    connection = open_ledger(settings)
    try:
        provenance: dict[str, Any] = train_from_ledger(
            connection.ledger, reader_sharing(settings, connection), settings.channel,
            catalogue, staging)
    finally:
        connection.close()
    previous = settings.model_dir.with_name("model.prev")
    if settings.model_dir.exists():
        shutil.rmtree(previous, ignore_errors=True)
        settings.model_dir.rename(previous)
    staging.rename(settings.model_dir)
    installed = admin.post("/v1/admin/model", idempotent=False)
    return Trained(settings.retailer, str(installed["model_id"]),
                   int(provenance["training"]["record_count"]), time.monotonic() - started)
