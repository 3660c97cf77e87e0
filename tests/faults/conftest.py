"""The fault campaign's network, gateways, load and audit (``make test-faults``).

The campaign starts its own whole network on its own port block (``FAULT_PORT_BASE``, below
the kernel's ephemeral range and clear of the integration tests' blocks), runs two retailers'
gateways as real ``python -m gateway serve`` subprocesses (so one can be SIGKILLed and started
again), and drives a bounded load through them over HTTPS on 127.0.0.1 while a fault happens.
Afterwards every write is looked up on every peer.

These tests only run when ``PREFSHARE_FAULTS=1`` (the Makefile target sets it): they take
minutes and kill processes on purpose, so ``pytest tests`` leaves them out.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chaincode.fields import format_timestamp
from demo.gateway_settings import gateway_settings
from demo.wallet import DemoCustomer
from gateway.fabric.errors import GatewayError
from gateway.ledger import LedgerConnection, open_ledger
from gateway.settings import GatewaySettings
from gateway.stores import CredentialStore
from network.control import Network
from network.description import Consortium, load_consortium

ROOT = Path(__file__).resolve().parents[2]
#: The campaign's port block: organisation i owns FAULT_PORT_BASE + 100*i .. +99.
FAULT_PORT_BASE = 14000
#: Where each run leaves its figures; the report in docs/reliability.md is rendered from it.
RESULTS = ROOT / "artifacts" / "faults" / "results.json"
REPORT = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- faults:begin -->", "<!-- faults:end -->"
COMMAND = "make test-faults"

if os.environ.get("PREFSHARE_FAULTS") != "1":
    collect_ignore_glob = ["test_*.py"]


# -- the network ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fault_description(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text())
    data["port_base"] = FAULT_PORT_BASE
    path = tmp_path_factory.mktemp("faults-description") / "consortium.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="session")
def fault_consortium(fault_description: Path) -> Consortium:
    return load_consortium(fault_description)


@pytest.fixture(scope="module")
def fault_network(tmp_path_factory: pytest.TempPathFactory, fault_consortium: Consortium,
                  whole_network: Callable[..., AbstractContextManager[Network]]
                  ) -> Iterator[Network]:
    """The whole network, as `make network-up` starts it, on the campaign's port block."""
    with whole_network(fault_consortium, tmp_path_factory.mktemp("faults") / "run") as net:
        yield net


# -- gateways as processes ------------------------------------------------------------------


class GatewayProcess:
    """One retailer's gateway, ``prefshare-gateway --env-file F serve``, as an operator runs
    it: settings from the env file the network generates, its data folder in the run folder (so
    its idempotency keys and store credentials outlive a restart)."""

    def __init__(self, net: Network, description: Path, retailer: str,
                 prefix: Sequence[str] = ()) -> None:
        #: ``prefix`` runs the gateway on its organisation's host (e.g. ``ip netns exec``,
        #: which execs, so the process started is the gateway itself).
        self.net, self.description, self.retailer = net, description, retailer
        self.prefix = list(prefix)
        self.settings: GatewaySettings = gateway_settings(net.consortium, retailer,
                                                               net.layout)
        self.log = net.layout.log(f"gateway-{retailer}")
        self.proc: subprocess.Popen[bytes] | None = None
        self.root_ca = net.layout.ca_root_cert(retailer)
        self.credential = CredentialStore(
            self.settings.data_dir / "gateway.sqlite3").issue("fault-store")

    @property
    def base_url(self) -> str:
        return f"https://{self.settings.http_host}:{self.settings.http_port}"

    def client(self, timeout: float) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout,
                            verify=ssl.create_default_context(cafile=str(self.root_ca)))

    def start(self, *, within: float = 60.0) -> None:
        """Start the process and wait until it answers ``/healthz`` (200 or 503)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "gateway", "--env-file",
                 str(self.net.layout.gateway_env(self.retailer)), "serve"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
                start_new_session=True)
        deadline = time.monotonic() + within
        with self.client(timeout=2) as probe:
            while True:
                assert self.proc.poll() is None, f"gateway exited; see {self.log}"
                try:
                    probe.get("/healthz")
                    return
                except httpx.TransportError:
                    assert time.monotonic() < deadline, f"gateway not answering; see {self.log}"
                    time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL, as a crash: no answer is finished, nothing is cleaned up."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


#: The gateways under load: writes go through two retailers (the third only endorses).
LOADED_RETAILERS = ("northwind", "southgate")


# -- the load -------------------------------------------------------------------------------


@dataclass
class Write:
    """One write as the client saw it, after its retries under the same Idempotency-Key."""

    kind: str  # register | grant | events | probe (a registration, see Load._probes)
    gateway: str
    key: str
    customer_id: str
    started: float
    #: The consent id of a grant, the event ids of a batch.
    ids: tuple[str, ...] = ()
    finished: float = 0.0
    status: int | None = None
    code: str | None = None
    attempts: int = 0
    replayed: bool = False
    #: Each attempt's answer: the status and error code, or "no answer"; and its seconds.
    answers: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def refused_as_duplicate(self) -> bool:
        """A retry the ledger refused because the first attempt had landed."""
        return self.code in {"CUSTOMER_EXISTS", "CONSENT_EXISTS", "REPLAYED_NONCE",
                             "EVENT_EXISTS"} and self.attempts > 1


#: Statuses after which the client retries with the same key: the outcome is unknown
#: (5xx, no answer) or the first attempt is still running (409 in flight).
_RETRY_CODES = {"IDEMPOTENCY_KEY_IN_FLIGHT"}


@dataclass
class Load:
    """A bounded load: ``threads`` client threads per gateway, each registering a new
    customer, sending her signed grant (to every member) and then a batch of three events,
    until ``seconds`` have passed or ``max_customers`` were started; and a probe
    registration per gateway every ``probe_every`` seconds. Every write is retried
    under its key on a timeout, a connection error, a 5xx or 409 in flight, until
    ``retry_for`` seconds after the load's end."""

    gateways: dict[str, GatewayProcess]
    recipients: tuple[str, ...]
    threads: int = 2
    seconds: float = 30.0
    max_customers: int = 400
    retry_for: float = 90.0
    request_timeout: float = 40.0
    probe_every: float = 1.0
    probe_workers: int = 8
    writes: list[Write] = field(default_factory=list)
    began: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _customers: int = 0

    def run(self, fault: Callable[[float], None]) -> list[Write]:
        """Run the load while ``fault(began)`` runs on this thread; return every write."""
        self.began = time.monotonic()
        end = self.began + self.seconds
        names = [name for name in self.gateways for _ in range(self.threads)]
        with ThreadPoolExecutor(max_workers=len(names) + 1) as pool:
            futures = [pool.submit(self._client, name, end) for name in names]
            futures.append(pool.submit(self._probes, end))
            try:
                fault(self.began)
            finally:
                for f in futures:
                    f.result()
        return self.writes

    def _probes(self, end: float) -> None:
        """Every ``probe_every`` seconds, one registration of a new customer through each
        gateway, not waiting for the last: the load's threads can be held by a write whose
        transaction died with a node (until the commit timeout), so these show when a write
        *sent* after the fault is acknowledged again."""
        with ThreadPoolExecutor(max_workers=self.probe_workers) as pool:
            while time.monotonic() < end:
                for name in self.gateways:
                    pool.submit(self._probe, name, end)
                time.sleep(self.probe_every)

    def _probe(self, name: str, end: float) -> None:
        customer = DemoCustomer.new()
        with self.gateways[name].client(self.request_timeout) as client:
            self._write(client, name, "probe", customer.customer_id, "/v1/customers",
                        {"public_key": customer.public_key}, {}, end)

    def _take_customer(self) -> bool:
        with self._lock:
            if self._customers >= self.max_customers:
                return False
            self._customers += 1
            return True

    def _client(self, name: str, end: float) -> None:
        gw = self.gateways[name]
        store = {"Authorization": f"Bearer {gw.credential}"}
        with gw.client(self.request_timeout) as client:
            while time.monotonic() < end and self._take_customer():
                customer = DemoCustomer.new()
                cid = customer.customer_id
                reg = self._write(client, name, "register", cid, "/v1/customers",
                                  {"public_key": customer.public_key}, {}, end)
                if not (reg.acknowledged or reg.code == "CUSTOMER_EXISTS"):
                    continue
                consent_id = f"k-{uuid.uuid4().hex[:12]}"
                grant = customer.grant(list(self.recipients), consent_id=consent_id,
                                       categories=("purchases", "views"))
                g = self._write(client, name, "grant", cid, "/v1/consents", grant, {}, end,
                                ids=(consent_id,))
                if not (g.acknowledged or g.refused_as_duplicate):
                    continue  # her events would be unreadable: no consent to read them by
                when = format_timestamp(datetime.now(UTC) - timedelta(minutes=1))
                events: list[dict[str, Any]] = [
                    {"event_id": f"e-{uuid.uuid4().hex[:12]}", "item_id": f"sku-{i}",
                     "item_category": "shoes", "event_type": ("purchase", "view")[i % 2],
                     "value": 1.0, "timestamp": when} for i in range(3)]
                self._write(client, name, "events", cid,
                            f"/v1/stores/fault-store/customers/{cid}/events",
                            {"events": events}, store, end,
                            ids=tuple(str(e["event_id"]) for e in events))

    def _write(self, client: httpx.Client, name: str, kind: str, cid: str, path: str,
               body: dict[str, Any], headers: dict[str, str], end: float,
               ids: tuple[str, ...] = ()) -> Write:
        w = Write(kind, name, f"fault-{kind}-{uuid.uuid4().hex}", cid, time.monotonic(), ids)
        give_up = end + self.retry_for
        while True:
            w.attempts += 1
            sent = time.monotonic()
            try:
                r = client.post(path, json=body,
                                headers={**headers, "Idempotency-Key": w.key})
            except httpx.TransportError as exc:
                w.status, w.code = None, "NO_ANSWER"
                w.answers.append(f"no answer ({type(exc).__name__})")
                w.durations.append(time.monotonic() - sent)
            else:
                w.status = r.status_code
                try:
                    w.code = r.json().get("error", {}).get("code")
                except (ValueError, AttributeError):
                    w.code = None
                w.replayed = r.headers.get("Idempotent-Replay") == "true"
                w.answers.append(f"{r.status_code} {w.code or ''}".strip())
                w.durations.append(time.monotonic() - sent)
                if r.status_code < 500 and w.code not in _RETRY_CODES:
                    break
            if time.monotonic() > give_up:
                break
            time.sleep(0.5)
        w.finished = time.monotonic()
        with self._lock:
            self.writes.append(w)
        return w


# -- the audit ------------------------------------------------------------------------------


@dataclass
class Audit:
    """What every peer holds of a load's writes."""

    acknowledged: int
    #: Acknowledged writes found on every peer.
    found: int
    #: Acknowledged writes missing on at least one peer after ``settle`` seconds.
    lost: list[str]
    #: Writes applied more than once on some peer (a consent with more than one version, an
    #: event id twice).
    duplicated: list[str]
    #: Writes the client never got a 2xx for that are on the ledger anyway (answer lost in a
    #: crash, or a retry refused as a duplicate).
    landed_unacknowledged: int
    #: Seconds from the end of the load until every peer held every acknowledged write.
    converged_s: float


class Auditor:
    """Reads on each retailer's own peer as that retailer's gateway identity, with the
    project's client (evaluate only: no reads are logged on the ledger)."""

    def __init__(self, net: Network, tmp: Path) -> None:
        self.net = net
        self.connections: dict[str, LedgerConnection] = {}
        for r in net.consortium.retailers:
            settings = gateway_settings(net.consortium, r.name, net.layout,
                                             data_dir=tmp / r.name)
            self.connections[r.msp_id] = open_ledger(settings)

    def close(self) -> None:
        for c in self.connections.values():
            c.close()

    def _held(self, msp_id: str, customer_id: str, consent_ids: set[str]) -> dict[str, Any]:
        """What ``msp_id``'s peer holds for one customer: registered, consent versions by
        id (ConsentHistory), event ids (with repeats) readable by ``msp_id``."""
        ledger = self.connections[msp_id].ledger
        try:
            consents = ledger.list_consents(customer_id)
        except GatewayError as exc:
            refusal = exc.chaincode_error()
            if refusal is not None and refusal.code == "UNKNOWN_CUSTOMER":
                return {"registered": False, "versions": {}, "events": []}
            raise
        versions = {}
        listed = {c.record.consent_id: c.record for c in consents}
        for kid in consent_ids & set(listed):
            history = ledger.consent_history(customer_id, kid)
            versions[kid] = max(len(history), listed[kid].version)
        # Only the recording retailer's peers hold its events (one collection per owner).
        found = ledger.read_own_events(customer_id)
        return {"registered": True, "versions": versions,
                "events": [e.event_id for e in found]}

    def _check(self, writes: list[Write]) -> tuple[set[str], set[str], set[str]]:
        """(lost keys, duplicated keys, keys of unacknowledged writes found on every peer)."""
        by_customer: dict[str, list[Write]] = {}
        for w in writes:
            by_customer.setdefault(w.customer_id, []).append(w)
        lost: set[str] = set()
        dup: set[str] = set()
        unacked_everywhere = {w.key for w in writes if not w.acknowledged}

        def one(args: tuple[str, str]) -> tuple[str, str, dict[str, Any]]:
            msp, cid = args
            kids = {w.ids[0] for w in by_customer[cid] if w.kind == "grant"}
            return msp, cid, self._held(msp, cid, kids)

        jobs = [(msp, cid) for msp in self.connections for cid in by_customer]
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(one, jobs))
        msp_of = {r.name: r.msp_id for r in self.net.consortium.retailers}
        for msp, cid, held in results:
            for w in by_customer[cid]:
                if w.kind == "events" and msp_of[w.gateway] != msp:
                    continue  # another owner's events: never on this peer
                if w.kind in ("register", "probe"):
                    present = held["registered"]
                elif w.kind == "grant":
                    present = w.ids[0] in held["versions"]
                    if held["versions"].get(w.ids[0], 0) > 1:
                        dup.add(w.key)
                else:
                    present = all(e in held["events"] for e in w.ids)
                    if any(held["events"].count(e) > 1 for e in w.ids):
                        dup.add(w.key)
                if w.acknowledged and not present:
                    lost.add(w.key)
                if not present:
                    unacked_everywhere.discard(w.key)
        return lost, dup, unacked_everywhere

    def audit(self, writes: list[Write], *, settle: float = 120.0) -> Audit:
        """Wait for the peers to agree on a height, then look every write up on every peer,
        again until nothing acknowledged is missing or ``settle`` seconds have passed (a
        restarted peer fetches the private data of blocks it missed from the others)."""
        started = time.monotonic()
        self.net.channel.wait_same_height(seconds=settle)
        while True:
            lost, dup, landed = self._check(writes)
            if not lost or time.monotonic() - started > settle:
                break
            time.sleep(2)
        acked = [w for w in writes if w.acknowledged]
        return Audit(len(acked), len(acked) - len(lost), sorted(lost), sorted(dup),
                     len(landed), round(time.monotonic() - started, 1))


# -- figures and the report -----------------------------------------------------------------


def recovery_seconds(writes: list[Write], fault_at: float,
                     gateways: tuple[str, ...] | None = None) -> float | None:
    """Seconds from ``fault_at`` until the first write *sent after it* was acknowledged,
    through each of ``gateways`` (all when None); the slowest gateway's figure. None when a
    gateway acknowledged nothing sent after the fault."""
    names = gateways or tuple({w.gateway for w in writes})
    worst = 0.0
    for name in names:
        after = [w.finished for w in writes
                 if w.gateway == name and w.started >= fault_at and w.acknowledged]
        if not after:
            return None
        worst = max(worst, min(after) - fault_at)
    return round(worst, 1)


@dataclass
class FaultResult:
    fault: str
    how: str
    threads: int
    seconds: float
    sent: int
    acknowledged: int
    found: int
    lost: int
    duplicated: int
    landed_unacknowledged: int
    retried: int
    recovery_s: float | None
    converged_s: float
    #: The final answers of the writes never acknowledged: "kind status code" -> count.
    unacknowledged: dict[str, int] = field(default_factory=dict)
    #: What the first attempt of each retried write got -> count.
    retried_after: dict[str, int] = field(default_factory=dict)
    #: The longest a client waited for one answer, in seconds.
    longest_wait_s: float = 0.0
    #: Figures of the fault's own (e.g. a cut peer's catch-up seconds).
    extra: dict[str, Any] = field(default_factory=dict)
    date: str = ""
    #: The pytest node that measured it (``-k`` runs it alone under the same command).
    test: str = ""


def record_result(result: FaultResult) -> None:
    """Keep ``result`` in the results file (one entry per fault, the newest run's) and render
    the table into docs/reliability.md between the markers."""
    result.date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    result.test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    known[result.fault] = asdict(result)
    RESULTS.write_text(json.dumps(known, indent=1))
    render_report(known)


def render_report(known: dict[str, dict[str, Any]]) -> None:
    rows = [
        "| fault | load held | sent | acknowledged (2xx) | found on every peer | lost "
        "| duplicated | landed, not acknowledged | retried | recovery s | peers agree s | run "
        "| test |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in known.values():
        recovery = "-" if r["recovery_s"] is None else f"{r['recovery_s']}"
        rows.append(
            f"| {r['fault']}: {r['how']} | {r['threads']} threads x {r['seconds']:.0f} s "
            f"| {r['sent']} | {r['acknowledged']} | {r['found']} | {r['lost']} "
            f"| {r['duplicated']} | {r['landed_unacknowledged']} | {r['retried']} "
            f"| {recovery} | {r['converged_s']} | {r['date']} "
            f"| `{r.get('test', '').rsplit('::', 1)[-1]}` |")
    notes = []
    for r in known.values():
        parts = []
        if r.get("retried_after"):
            parts.append("retried after " + ", ".join(
                f"{k} x{v}" for k, v in sorted(r["retried_after"].items())))
        if r.get("unacknowledged"):
            parts.append("never acknowledged: " + ", ".join(
                f"{k} x{v}" for k, v in sorted(r["unacknowledged"].items())))
        if r.get("longest_wait_s"):
            parts.append(f"longest wait for one answer {r['longest_wait_s']} s")
        if r.get("extra"):
            parts.append(", ".join(f"{k} {v}" for k, v in r["extra"].items()))
        if parts:
            notes.append(f"- {r['fault']}: " + "; ".join(parts) + ".")
    intro = (f"Written by `{COMMAND}`; each row is that fault's newest run (one test alone: "
             f"`{COMMAND} FAULTS=-k<test>`).")
    block = "\n".join([BEGIN, intro,
                       "", *rows, "", *notes, END])
    text = REPORT.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    REPORT.write_text(text)


#: When the fault strikes after the load starts.
FAULT_AT_S = 8.0


@dataclass
class FaultRun:
    result: FaultResult
    audit: Audit
    writes: list[Write]
    #: When the fault was injected (time.monotonic()).
    fault_at: float


class Campaign:
    """Gateways as processes on ``net``, the load through them, the audit, and
    :meth:`run_fault`. ``prefix(org)`` places a gateway on its organisation's host."""

    def __init__(self, net: Network, description: Path, tmp: Path,
                 retailers: Sequence[str] = LOADED_RETAILERS,
                 prefix: Callable[[str], Sequence[str]] = lambda org: ()) -> None:
        self.net = net
        self.recipients = tuple(r.msp_id for r in net.consortium.retailers)
        self.gateways = {r: GatewayProcess(net, description, r, prefix(r)) for r in retailers}
        self.auditor = Auditor(net, tmp)

    def start(self) -> None:
        for gw in self.gateways.values():
            gw.start()

    def close(self) -> None:
        for gw in self.gateways.values():
            gw.stop()
        self.auditor.close()

    def load(self, only: Sequence[str] | None = None, **kw: Any) -> Load:
        chosen = {n: g for n, g in self.gateways.items() if only is None or n in only}
        return Load(chosen, self.recipients, **kw)

    def run_fault(self, name: str, how: str, inject: Callable[[], dict[str, Any] | None],
                  watched: tuple[str, ...] | None = None, *, threads: int = 2,
                  seconds: float = 30.0,
                  after: Callable[[list[Write]], dict[str, Any]] | None = None,
                  load_on: tuple[str, ...] | None = None) -> FaultRun:
        """Run the load (through ``load_on``, default every gateway); ``FAULT_AT_S`` into it
        call ``inject()`` (which kills or cuts something, restarts or restores it or not, and
        may return figures of its own), then ``after(writes)`` (more figures); audit every
        write on every peer, record the figures and return them. Recovery is measured on
        the ``watched`` gateways (all loaded ones when None)."""
        load = self.load(load_on, threads=threads, seconds=seconds)
        at: dict[str, float] = {}
        extra: dict[str, Any] = {}

        def fault(began: float) -> None:
            time.sleep(max(0.0, began + FAULT_AT_S - time.monotonic()))
            at["t"] = time.monotonic()
            extra.update(inject() or {})

        writes = load.run(fault)
        if after is not None:
            extra.update(after(writes))
        audit = self.auditor.audit(writes)
        result = FaultResult(
            fault=name, how=how, threads=threads * len(load.gateways), seconds=seconds,
            sent=len(writes), acknowledged=audit.acknowledged, found=audit.found,
            lost=len(audit.lost), duplicated=len(audit.duplicated),
            landed_unacknowledged=audit.landed_unacknowledged,
            retried=sum(1 for w in writes if w.attempts > 1),
            recovery_s=recovery_seconds(writes, at["t"], watched),
            converged_s=audit.converged_s,
            unacknowledged=dict(Counter(f"{w.kind} {w.status or 'no answer'} {w.code or ''}"
                                        .strip() for w in writes if not w.acknowledged)),
            retried_after=dict(Counter(w.answers[0] for w in writes if w.attempts > 1)),
            longest_wait_s=round(max((d for w in writes for d in w.durations), default=0.0), 1),
            extra=extra)
        record_result(result)
        return FaultRun(result, audit, writes, at["t"])


@pytest.fixture(scope="session")
def campaign_on() -> Callable[..., AbstractContextManager[Campaign]]:
    """``with campaign_on(net, description, tmp, ...) as c``: :class:`Campaign`'s gateways
    started, and stopped on leaving."""

    @contextmanager
    def make(*args: Any, **kw: Any) -> Iterator[Campaign]:
        c = Campaign(*args, **kw)
        try:
            c.start()
            yield c
        finally:
            c.close()

    return make


@pytest.fixture(scope="module")
def campaign(fault_network: Network, fault_description: Path,
             tmp_path_factory: pytest.TempPathFactory,
             campaign_on: Callable[..., AbstractContextManager[Campaign]]) -> Iterator[Campaign]:
    """The campaign on the loopback network: gateways of northwind and southgate."""
    with campaign_on(fault_network, fault_description,
                     tmp_path_factory.mktemp("auditor")) as c:
        yield c
