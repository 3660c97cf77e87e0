"""The running node watch of a gateway: every ``node_watch_interval_s`` it reads each
configured peer's and orderer's ``/metrics`` (all at once, each bounded by
``node_watch_timeout_s``, so a frozen node delays no other), feeds the round to the
:class:`~gateway.watch.nodes.NodeJudge`, logs and counts the alerts for Prometheus, and
keeps the last alerts for the admin's ``GET /v1/admin/watch/nodes``.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.settings import GatewaySettings, MetricsEndpoint
from gateway.watch.nodes import FEATURES, NodeAlert, NodeConfig, NodeJudge, Scrape, parse_metrics

log = logging.getLogger(__name__)
#: The largest /metrics body read (a peer's is about 100 kB): a bound, not a expectation.
MAX_BODY = 4 * 2**20


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def node_config(settings: GatewaySettings) -> NodeConfig:
    return NodeConfig(consecutive=settings.node_watch_consecutive,
                      lag_blocks=settings.node_watch_lag_blocks)


class NodeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.alerts = Counter("prefshare_watch_node_alerts_total",
                              "Alerts raised on a slow, lagging or unreachable node",
                              ["node"], registry=registry)
        self.flagged = Gauge("prefshare_watch_node_flagged", "1 while a node is flagged",
                             ["node"], registry=registry)
        self.scrape_failures = Counter("prefshare_watch_node_scrape_failures_total",
                                       "Reads of a node's /metrics that failed or timed out",
                                       ["node"], registry=registry)
        self.height_lag = Gauge("prefshare_watch_node_height_lag",
                                "Blocks a node is behind the highest node of its kind",
                                ["node"], registry=registry)


def scrape(endpoint: MetricsEndpoint, timeout_s: float) -> Scrape:
    """One read of ``endpoint``'s /metrics; a Scrape without totals when it failed."""
    started = time.monotonic()
    context = None
    if endpoint.url.startswith("https://"):
        context = ssl.create_default_context(
            cafile=str(endpoint.tls_root) if endpoint.tls_root else None)
    try:
        with urllib.request.urlopen(f"{endpoint.url}/metrics", timeout=timeout_s,
                                    context=context) as answer:
            text = answer.read(MAX_BODY).decode("utf-8", "replace")
        totals: dict[str, float] | None = parse_metrics(text)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        log.info("node metrics not read", extra={"node": endpoint.name,
                                                 "cause": type(exc).__name__})
        totals = None
    return Scrape(time.time(), time.monotonic() - started, totals)


class NodeWatch:
    def __init__(self, settings: GatewaySettings, registry: CollectorRegistry, *,
                 start: bool = True) -> None:
        self.endpoints = settings.node_metrics
        self.interval_s = settings.node_watch_interval_s
        self.timeout_s = settings.node_watch_timeout_s
        self.judge = NodeJudge({e.name: e.kind for e in self.endpoints},
                               node_config(settings))
        self.metrics = NodeMetrics(registry)
        self.alerts: list[dict[str, Any]] = []
        self.rounds = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=min(len(self.endpoints), 8) or 1,
                                        thread_name_prefix="node-watch")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="node-watch", daemon=True)
        if start:
            self._thread.start()

    def step(self) -> list[NodeAlert]:
        """Read every node once and judge the round; returns the new alerts."""
        futures = {e.name: self._pool.submit(scrape, e, self.timeout_s)
                   for e in self.endpoints}
        scrapes = {name: future.result() for name, future in futures.items()}
        for name, one in scrapes.items():
            if one.totals is None:
                self.metrics.scrape_failures.labels(name).inc()
        with self._lock:
            alerts = self.judge.step(scrapes)
            self.rounds += 1
            for name, state in self.judge.nodes.items():
                self.metrics.flagged.labels(name).set(1 if state.flagged else 0)
                lag = state.latest.get("height_lag", float("nan"))
                if lag == lag:  # not NaN
                    self.metrics.height_lag.labels(name).set(lag)
            for alert in alerts:
                self.metrics.alerts.labels(alert.node).inc()
                self.alerts.append({"node": alert.node, "kind": alert.kind,
                                    "at": _stamp(alert.at), "drivers": list(alert.drivers),
                                    "features": _clean(alert.features)})
                del self.alerts[:-100]
                log.warning("node watch alert", extra={"node": alert.node,
                                                       "drivers": list(alert.drivers)})
        return alerts

    def status(self) -> dict[str, Any]:
        with self._lock:
            nodes = {name: {"kind": s.kind, "flagged": s.flagged, "drivers": list(s.drivers),
                            "features": _clean(s.latest), "history": len(s.samples)}
                     for name, s in self.judge.nodes.items()}
            return {"features": list(FEATURES), "interval_s": self.interval_s,
                    "timeout_s": self.timeout_s, "rounds": self.rounds, "nodes": nodes,
                    "recent_alerts": list(self.alerts)}

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.step()
            except Exception:  # the watch must outlive any one bad round
                log.exception("node watch round failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s + 5)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _clean(features: Any) -> dict[str, float | None]:
    """Features for JSON: NaN (not measured this round) as null, values rounded."""
    return {k: (None if v != v else round(float(v), 3)) for k, v in dict(features).items()}
