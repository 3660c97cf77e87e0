"""What a running gateway holds: built once by the app factory, reached through dependencies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.erasures import ErasureWorker
from gateway.health import HealthProbe
from gateway.idempotency import Idempotency, IdempotencyStore
from gateway.ledger import LedgerConnection, open_ledger
from gateway.lifecycle import LifecycleCollector, ModelLifecycle, RetrainSchedule, thresholds_of
from gateway.members import MemberAuthenticator, MemberGateway
from gateway.notices import EventNotices
from gateway.read_log import ReadLogWriter
from gateway.settings import GatewaySettings
from gateway.shared_state import SharedState, open_shared_state, sqlite_path
from gateway.sharing import Sharing, member_client
from gateway.store_scope import StoreScope
from gateway.stores import Credentials
from gateway.suggestion_cache import ConsentEventWatcher, CustomerCache
from gateway.suggestions import KioskSuggestions, open_suggestions
from gateway.watch.node_service import NodeWatch
from gateway.watch.service import WatchService
from gateway.write_budget import WriteBudget


class BudgetCollector(Collector):
    """``prefshare_ledger_writes_last_hour``, ``prefshare_ledger_write_budget_per_hour`` and
    ``prefshare_ledger_writes_refused_total`` of the cost guard, read at scrape time."""

    def __init__(self, budget: WriteBudget) -> None:
        self._budget = budget

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily("prefshare_ledger_writes_last_hour",
                                "Ledger writes this member submitted in the last hour",
                                value=self._budget.used())
        yield GaugeMetricFamily("prefshare_ledger_write_budget_per_hour",
                                "This member's ledger write budget an hour",
                                value=self._budget.per_hour)
        yield CounterMetricFamily("prefshare_ledger_writes_refused",
                                  "Ledger writes refused by the cost guard",
                                  value=self._budget.refused)


class CountsCollector(Collector):
    """One counter family with a ``result`` label, read at scrape time from ``counts``
    (result -> a callable giving its count)."""

    def __init__(self, name: str, documentation: str,
                 counts: dict[str, Callable[[], int]]) -> None:
        self._name, self._documentation, self._counts = name, documentation, counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._documentation, labels=["result"])
        for result, count in self._counts.items():
            family.add_metric([result], count())
        yield family


def cache_collector(cache: CustomerCache) -> CountsCollector:
    """``prefshare_consent_cache_lookups_total{result="hit"|"miss"}``."""
    return CountsCollector("prefshare_consent_cache_lookups",
                           "Kiosk suggestion cache lookups by result",
                           {"hit": lambda: cache.hits, "miss": lambda: cache.misses})


def notice_collector(notices: EventNotices) -> CountsCollector:
    """``prefshare_event_notices_total{result="sent"|"failed"|"dropped"}``: notices to the
    members her new events are open to (gateway/notices.py)."""
    return CountsCollector("prefshare_event_notices", "Event notices to other members by result",
                           {"sent": lambda: notices.sent, "failed": lambda: notices.failed,
                            "dropped": lambda: notices.dropped})


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
    credentials: Credentials
    idempotency: Idempotency
    connection: LedgerConnection
    metrics: Metrics
    suggestions: KioskSuggestions | None
    sharing: Sharing
    #: Checks other members' signed reads of this retailer's data.
    member_auth: MemberAuthenticator
    erasures: ErasureWorker
    #: Empties the suggestion cache on the chaincode's consent events (None without one).
    consent_watcher: ConsentEventWatcher | None = None
    #: /healthz's probe of the peer, on a thread of its own (gateway/health.py).
    health: HealthProbe | None = None
    #: The stores and items this gateway may act for (gateway/store_scope.py).
    scope: StoreScope = field(default_factory=lambda: StoreScope("", None))
    #: Tells the members her consents open her new events to (None in a consortium of one).
    notices: EventNotices | None = None
    #: The consortium watch over other members' reads (None when disabled).
    watch: WatchService | None = None
    #: Retrains, judges, installs and rolls back the model (None without a catalogue).
    lifecycle: ModelLifecycle | None = None
    #: Retrains when due (None without a catalogue, or with neither trigger set).
    schedule: RetrainSchedule | None = None
    #: Where credentials and idempotency keys live (its PostgreSQL pool closed last).
    shared: SharedState | None = None
    #: Node health from the peers' and orderers' metrics (None without endpoints).
    nodes: NodeWatch | None = None

    def close(self) -> None:
        if self.nodes is not None:
            self.nodes.close()
        if self.schedule is not None:
            self.schedule.close()
        if self.notices is not None:
            self.notices.close()
        if self.watch is not None:
            self.watch.close()
        if self.consent_watcher is not None:
            self.consent_watcher.close()
        if self.health is not None:
            self.health.close()
        self.erasures.close()
        if self.sharing.read_log is not None:
            self.sharing.read_log.close()
        if self.sharing.members is not None:
            self.sharing.members.close()
        self.connection.close()
        if self.shared is not None:
            self.shared.close()

    @classmethod
    def create(cls, settings: GatewaySettings) -> Services:
        # The stores below live here (on PostgreSQL, those of each replica's own: the
        # read-log queue, the watch); a fresh folder is made private to the gateway's user.
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        database = sqlite_path(settings)
        shared = open_shared_state(settings)
        connection = open_ledger(settings)
        metrics = Metrics.create()
        if connection.ledger.budget is not None:
            metrics.registry.register(BudgetCollector(connection.ledger.budget))
        watch = (WatchService(settings, connection.ledger, database, metrics.registry)
                 if settings.watch_enabled else None)
        members = tuple(MemberGateway(m.msp_id, m.url, m.tls_root, m.msp_root)
                        for m in settings.members)
        sharing = Sharing(connection.ledger, member_client(settings, connection),
                          ReadLogWriter(connection.ledger, database,
                                        interval_s=settings.read_log_interval_s))
        notices = None
        if sharing.members is not None:
            notices = EventNotices(settings.msp_id, connection.ledger.list_consents,
                                   sharing.members)
            connection.ledger.on_events_recorded(notices.queue)
            metrics.registry.register(notice_collector(notices))
        suggestions, watcher = None, None
        if settings.catalogue_path is not None:
            cache = None
            if settings.suggestion_cache_ttl_s > 0:
                cache = CustomerCache(settings.suggestion_cache_ttl_s,
                                      shared=shared.generations)
                connection.ledger.on_customer_write(cache.invalidate)
                metrics.registry.register(cache_collector(cache))
                watcher = ConsentEventWatcher(cache, connection.ledger, connection.network,
                                              settings.chaincode)
            suggestions = open_suggestions(settings.catalogue_path, settings.model_dir,
                                           settings.msp_id, connection.ledger, sharing,
                                           settings.endorsing_orgs, cache)
            if watcher is not None:
                watcher.start()
        lifecycle, schedule = None, None
        if suggestions is not None:
            kiosk = suggestions
            lifecycle = ModelLifecycle(settings, connection.ledger, sharing,
                                       kiosk.service.catalogue,
                                       lambda d: kiosk.install_model(d)[0].model_id,
                                       thresholds_of(settings))
            connection.ledger.on_events_recorded(
                lambda events: lifecycle.note_new_records(len(events)))
            metrics.registry.register(LifecycleCollector(lifecycle))
            if settings.retrain_interval_s is not None or \
                    settings.retrain_min_new_records is not None:
                schedule = RetrainSchedule(lifecycle)
                schedule.start()
        if isinstance(shared.idempotency, IdempotencyStore):
            # On SQLite one gateway process serves a data folder: claims with no answer are
            # those of a process that died mid-request, and must not hold its clients'
            # retries back. (On PostgreSQL they may be another worker's: they time out.)
            shared.idempotency.release_unanswered()
        return cls(settings, shared.credentials, shared.idempotency, connection,
                   metrics, suggestions, sharing, MemberAuthenticator(members),
                   ErasureWorker(connection.ledger, interval_s=settings.erasure_poll_s),
                   watcher, HealthProbe(connection.peer_reachable),
                   StoreScope.from_settings(settings), notices, watch, lifecycle,
                   schedule, shared,
                   NodeWatch(settings, metrics.registry) if settings.node_metrics else None)
