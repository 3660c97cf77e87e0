"""Node health: the consortium's peers and orderers judged from their Prometheus metrics.

Pure logic (time and scrape text are arguments), so unit tests drive it without a network;
:mod:`gateway.watch.node_service` scrapes the operations endpoints and feeds it.

Each scrape of a node becomes one :class:`Sample` of features over the interval since the
previous scrape (counters and histograms are differenced). A node is judged on each step by

* hard signs of a node about to fail: its scrapes failing or timing out over the recent
  scrapes (``scrape_failed``: the share of them), its chain height behind the highest node's
  of its kind (``height_lag``, in blocks), Raft leader changes seen by an orderer, a peer
  knowing fewer gossip members than the other peers do (``gossip_peers``);
* soft signs of a slow node: a latency, CPU or memory feature far above the node's own
  recent history (a median/MAD robust z-score) *and* far above the other nodes of its kind
  now. Asking both keeps a machine-wide slowdown (every node slower at once, as on a shared
  machine under load) from flagging any one node.

A node anomalous on ``consecutive`` steps in a row is flagged and one alert is raised naming
it and the features that drove it; it is healthy again after as many normal steps.
Per-feature robust scores (not a multivariate model) so that an alert can name its drivers
and so that a few minutes of one node's history suffice. Memory is bounded: each node keeps
``history`` samples, and the nodes are those of the settings.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

#: The features of a node's sample, in the order the status lists them.
FEATURES = ("scrape_failed", "scrape_s", "height_lag", "endorse_ms", "commit_ms",
            "leader_changes", "gossip_peers", "cpu", "rss_mb")
#: Soft features: judged against the node's own history and its kind's other nodes, and
#: only when at least this much above both (units of the feature: a jitter of a few ms or a
#: few percent of a core is no anomaly however many MADs it is).
SOFT_FLOORS = {"scrape_s": 0.5, "endorse_ms": 250.0, "commit_ms": 250.0, "cpu": 0.5,
               "rss_mb": 300.0}


@dataclass(frozen=True)
class NodeConfig:
    """How nodes are judged (gateway settings ``node_watch_*``)."""

    #: A node is anomalous when at least this share of its recent scrapes failed...
    failed_share: float = 0.5
    #: ... counted over this many scrapes.
    failed_over: int = 6
    #: Blocks behind the highest node of its kind.
    lag_blocks: int = 3
    #: Raft leader changes seen by an orderer within the recent scrapes.
    leader_changes: int = 2
    #: Robust z-score above the node's own history (and above the others now).
    z: float = 6.0
    #: Samples of its own history before a node's soft features are judged.
    min_history: int = 10
    #: Samples kept per node.
    history: int = 120
    #: Anomalous steps in a row that make an alert (and normal steps that end it).
    consecutive: int = 2


@dataclass(frozen=True)
class Scrape:
    """What one scrape of a node's ``/metrics`` read: the totals, or None when it failed."""

    at: float
    duration_s: float
    totals: Mapping[str, float] | None


@dataclass(frozen=True)
class Sample:
    at: float
    features: Mapping[str, float]


#: The metric families the features are made of.
WANTED = ("endorser_proposal_duration", "ledger_block_processing_time",
          "ledger_blockchain_height", "consensus_etcdraft_committed_block_number",
          "consensus_etcdraft_leader_changes", "gossip_membership_total_peers_known",
          "process_cpu_seconds_total", "process_resident_memory_bytes")
WANTED_PREFIXES = frozenset(WANTED)


def _family_of(line: str) -> str:
    """The family a line of exposition text belongs to ('' for other comments)."""
    if line.startswith("#"):
        parts = line.split(maxsplit=3)
        return parts[2] if len(parts) > 2 and parts[1] in ("HELP", "TYPE") else ""
    name = line.split("{", 1)[0].split(" ", 1)[0]
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in WANTED_PREFIXES:
            return name.removesuffix(suffix)
    return name


def parse_metrics(text: str) -> dict[str, float]:
    """The totals the features need from Prometheus text: counters and gauges summed over
    their labels, histograms as ``<name>_sum`` and ``<name>_count``. Raises ValueError on
    text that is not Prometheus' exposition format."""
    wanted = set(WANTED)
    # Only the wanted families' lines are parsed: a peer's page is ~100 kB of which the
    # watch needs a few lines, and every gateway reads every node every few seconds.
    kept = "\n".join(line for line in text.splitlines() if _family_of(line) in WANTED_PREFIXES)
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(kept + "\n"):
        # The parser names a counter's family without its ``_total``.
        if family.name not in wanted and f"{family.name}_total" not in wanted:
            continue
        for sample in family.samples:
            # A counter's samples are named ``<family>_total`` whether or not the text said
            # so (Fabric's leader changes do not).
            name = f"{family.name}_total" if family.type == "counter" else sample.name
            if family.type == "histogram" and not name.endswith(("_sum", "_count")):
                continue
            if name in ("ledger_blockchain_height", "consensus_etcdraft_committed_block_number"):
                # One value per channel; the watch follows the highest (one channel here).
                out[name] = max(out.get(name, 0.0), sample.value)
            else:
                out[name] = out.get(name, 0.0) + sample.value
    return out


def _mean_ms(now: Mapping[str, float], before: Mapping[str, float], name: str) -> float:
    count = now.get(f"{name}_count", 0.0) - before.get(f"{name}_count", 0.0)
    total = now.get(f"{name}_sum", 0.0) - before.get(f"{name}_sum", 0.0)
    return 1000.0 * total / count if count > 0 else math.nan


def height(totals: Mapping[str, float]) -> float | None:
    for name in ("ledger_blockchain_height", "consensus_etcdraft_committed_block_number"):
        if name in totals:
            return totals[name]
    return None


def robust_z(value: float, history: Iterable[float]) -> float:
    """How many (MAD-scaled) deviations ``value`` is above the median of ``history``."""
    values = sorted(v for v in history if not math.isnan(v))
    if not values or math.isnan(value):
        return 0.0
    median = _median(values)
    mad = 1.4826 * _median(sorted(abs(v - median) for v in values))
    # A flat history (MAD 0) is scaled by a small share of its level, not by zero.
    scale = max(mad, 0.05 * abs(median), 1e-9)
    return (value - median) / scale


def _median(values: list[float]) -> float:
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


@dataclass
class NodeState:
    name: str
    kind: str
    samples: deque[Sample]
    failures: deque[bool]
    leaders: deque[float]
    last: Scrape | None = None
    abnormal: int = 0
    normal: int = 0
    flagged: bool = False
    drivers: tuple[str, ...] = ()
    latest: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeAlert:
    node: str
    kind: str
    at: float
    drivers: tuple[str, ...]
    features: Mapping[str, float]


class NodeJudge:
    """Every watched node's recent samples and its verdict; fed one round of scrapes per step."""

    def __init__(self, nodes: Mapping[str, str], config: NodeConfig) -> None:
        """``nodes``: name -> kind (``peer`` or ``orderer``)."""
        self.config = config
        self.nodes = {name: NodeState(name, kind, deque(maxlen=config.history),
                                      deque(maxlen=config.failed_over),
                                      deque(maxlen=config.failed_over))
                      for name, kind in nodes.items()}

    def step(self, scrapes: Mapping[str, Scrape]) -> list[NodeAlert]:
        """Take one round of scrapes (name -> scrape; a node missing counts as failed) and
        return the alerts of nodes flagged on this step."""
        current: dict[str, dict[str, float]] = {}
        for name, state in self.nodes.items():
            scrape = scrapes.get(name)
            ok = scrape is not None and scrape.totals is not None
            state.failures.append(not ok)
            features = {f: math.nan for f in FEATURES}
            features["scrape_failed"] = sum(state.failures) / len(state.failures)
            if scrape is not None:
                features["scrape_s"] = scrape.duration_s
            if ok:
                assert scrape is not None and scrape.totals is not None
                totals = scrape.totals
                prior = state.last.totals if state.last is not None else None
                if prior is not None and state.last is not None:
                    dt = max(scrape.at - state.last.at, 1e-3)
                    features["endorse_ms"] = _mean_ms(totals, prior,
                                                      "endorser_proposal_duration")
                    features["commit_ms"] = _mean_ms(totals, prior,
                                                     "ledger_block_processing_time")
                    cpu = "process_cpu_seconds_total"
                    if cpu in totals and cpu in prior:
                        features["cpu"] = (totals[cpu] - prior[cpu]) / dt
                    changes = "consensus_etcdraft_leader_changes_total"
                    if changes in totals and changes in prior:
                        state.leaders.append(max(totals[changes] - prior[changes], 0.0))
                if "process_resident_memory_bytes" in totals:
                    features["rss_mb"] = totals["process_resident_memory_bytes"] / 2**20
                if "gossip_membership_total_peers_known" in totals:
                    features["gossip_peers"] = totals["gossip_membership_total_peers_known"]
                features["leader_changes"] = sum(state.leaders)
                state.last = scrape
            current[name] = features
        # Height lag against the highest node of the same kind (peers' and orderers' block
        # numbers count alike here, but a kind's nodes are compared among themselves).
        tops: dict[str, float] = {}
        heights: dict[str, float] = {}
        for name, state in self.nodes.items():
            if state.last is not None and state.last.totals is not None:
                h = height(state.last.totals)
                if h is not None:
                    heights[name] = h
                    tops[state.kind] = max(tops.get(state.kind, 0.0), h)
        for name, h in heights.items():
            current[name]["height_lag"] = tops[self.nodes[name].kind] - h
        alerts: list[NodeAlert] = []
        for name, state in self.nodes.items():
            features = current[name]
            drivers = self._drivers(state, features, current)
            state.latest = features
            if not drivers:
                state.samples.append(Sample(scrapes[name].at if name in scrapes else 0.0,
                                            features))
            alert = self._verdict(state, drivers, features)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _drivers(self, state: NodeState, features: Mapping[str, float],
                 current: Mapping[str, Mapping[str, float]]) -> tuple[str, ...]:
        c = self.config
        drivers = []
        if len(state.failures) >= min(c.failed_over, 2) and \
                features["scrape_failed"] >= c.failed_share:
            drivers.append("scrape_failed")
        lag = features["height_lag"]
        if not math.isnan(lag) and lag >= c.lag_blocks:
            drivers.append("height_lag")
        if state.kind == "orderer" and features["leader_changes"] >= c.leader_changes:
            drivers.append("leader_changes")
        gossip = features["gossip_peers"]
        if state.kind == "peer" and not math.isnan(gossip):
            known = sorted(f["gossip_peers"] for n, f in current.items()
                           if n != state.name and self.nodes[n].kind == "peer"
                           and not math.isnan(f["gossip_peers"]))
            # Cut off from gossip: it knows fewer peers than the other peers do.
            if known and gossip < _median(known) - 0.5:
                drivers.append("gossip_peers")
        if len(state.samples) >= c.min_history:
            others = [f for n, f in current.items()
                      if n != state.name and self.nodes[n].kind == state.kind]
            # A node alone of its kind is compared with every other node.
            others = others or [f for n, f in current.items() if n != state.name]
            for feature, floor in SOFT_FLOORS.items():
                value = features[feature]
                if math.isnan(value):
                    continue
                own = [s.features[feature] for s in state.samples]
                if robust_z(value, own) < c.z or value - _median_or(own, value) < floor:
                    continue
                now = [o[feature] for o in others if not math.isnan(o[feature])]
                if now and value - _median(sorted(now)) < floor:
                    continue  # the others are as slow now: the machine, not this node
                drivers.append(feature)
        return tuple(drivers)

    def _verdict(self, state: NodeState, drivers: tuple[str, ...],
                 features: Mapping[str, float]) -> NodeAlert | None:
        c = self.config
        if drivers:
            state.abnormal += 1
            state.normal = 0
            state.drivers = tuple(dict.fromkeys(state.drivers + drivers)) if state.flagged \
                else drivers
        else:
            state.normal += 1
            state.abnormal = 0
            if state.flagged and state.normal >= c.consecutive:
                state.flagged = False
                state.drivers = ()
        if drivers and not state.flagged and state.abnormal >= c.consecutive:
            state.flagged = True
            return NodeAlert(state.name, state.kind, state.last.at if state.last else 0.0,
                             drivers, dict(features))
        return None


def _median_or(values: list[float], default: float) -> float:
    clean = sorted(v for v in values if not math.isnan(v))
    return _median(clean) if clean else default
