"""What a running gateway holds: built once by the app factory, reached through dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from gateway.idempotency import IdempotencyStore
from gateway.ledger import LedgerConnection, open_ledger
from gateway.settings import GatewaySettings
from gateway.stores import CredentialStore
from gateway.suggestions import KioskSuggestions, open_suggestions


@dataclass(frozen=True)
class Metrics:
    """Prometheus metrics in a registry of the app's own (no process-global state)."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        return cls(
            registry,
            Counter("prefshare_http_requests_total", "HTTP requests by route and status",
                    ["method", "route", "status"], registry=registry),
            Histogram("prefshare_http_request_seconds", "HTTP request latency by route",
                      ["method", "route"], registry=registry),
        )


@dataclass(frozen=True)
class Services:
    settings: GatewaySettings
    credentials: CredentialStore
    idempotency: IdempotencyStore
    connection: LedgerConnection
    metrics: Metrics
    suggestions: KioskSuggestions | None

    @classmethod
    def create(cls, settings: GatewaySettings) -> Services:
        database = settings.data_dir / "gateway.sqlite3"
        connection = open_ledger(settings)
        suggestions = None
        if settings.catalogue_path is not None:
            suggestions = open_suggestions(settings.catalogue_path, settings.model_dir,
                                           settings.msp_id, connection.ledger,
                                           settings.endorsing_orgs)
        idempotency = IdempotencyStore(database)
        # One gateway process serves a data folder: claims with no answer are those of a
        # process that died mid-request, and must not hold its clients' retries back.
        idempotency.release_unanswered()
        return cls(settings, CredentialStore(database), idempotency, connection,
                   Metrics.create(), suggestions)
