"""Session fixtures that start real processes on 127.0.0.1 and stop them afterwards."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from chaincode.provenance import hash_consent_set
from demo.gateway_settings import gateway_settings
from gateway.app import create_app
from gateway.server import server_config
from gateway.services import Services
from gateway.settings import GatewaySettings
from gateway.stores import Role
from network.control import Layer, Network
from network.description import Consortium, load_consortium
from network.layout import RunLayout
from network.plan import Peer
from network.postgres import LocalPostgres, PostgresUnavailable, find_binaries
from recommender.catalogue import Catalogue
from recommender.config import ModelConfig
from recommender.datasets.demo_inputs import catalogue_from_world
from recommender.datasets.demo_world import World, WorldConfig, generate_world
from recommender.training import train_retailer_model

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = ROOT / ".fabric" / "bin"
#: Integration tests use their own port blocks so they never meet a network started by `make`:
#: one for the CA-only network (gateways whose peer is down), one for the whole network, both
#: below the kernel's ephemeral port range (32768+), where an outgoing connection could take one.
#: ``PREFSHARE_TEST_CA_PORT_BASE`` and ``PREFSHARE_TEST_FABRIC_PORT_BASE`` move the two blocks,
#: so two test sessions on one machine (helpers working in parallel) do not meet.
TEST_PORT_BASE = int(os.environ.get("PREFSHARE_TEST_CA_PORT_BASE", "27000"))
FABRIC_PORT_BASE = int(os.environ.get("PREFSHARE_TEST_FABRIC_PORT_BASE", "24000"))
#: Debian's Chromium as the browser tests run it (no sandbox: tests run as root in CI).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: A small model: a fit on the tests' demo world takes a fraction of a second.
TEST_MODEL = ModelConfig(no_components=8, epochs=3, seed=1)


def _test_description(tmp: Path, port_base: int = TEST_PORT_BASE) -> Path:
    data = yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text())
    data["port_base"] = port_base
    path = tmp / "consortium.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="session")
def description_at(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    """``description_at(port_base)``: the default description file moved to ``port_base``,
    for a module that starts a network of its own (and may change its description)."""
    return lambda port_base: _test_description(tmp_path_factory.mktemp("description"),
                                               port_base)


@pytest.fixture(scope="session")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> Consortium:
    """The default consortium description, moved to the tests' port block."""
    return load_consortium(_test_description(tmp_path_factory.mktemp("description")))


@pytest.fixture(scope="session")
def ca_network(tmp_path_factory: pytest.TempPathFactory,
               consortium: Consortium) -> Iterator[Network]:
    """The consortium's CAs, started, with every identity enrolled."""
    if not (BIN_DIR / "fabric-ca-server").exists():
        pytest.fail("Fabric CA is not built: run `make fabric-ca-bins`")
    tmp = tmp_path_factory.mktemp("network")
    net = Network(consortium, RunLayout(tmp / "run"), BIN_DIR)
    net.up(Layer.CA)
    try:
        yield net
    finally:
        net.clean()


@pytest.fixture(scope="session")
def fabric_consortium(tmp_path_factory: pytest.TempPathFactory) -> Consortium:
    """The default consortium description, moved to the whole network's test port block."""
    return load_consortium(_test_description(tmp_path_factory.mktemp("fabric-description"),
                                             FABRIC_PORT_BASE))


@pytest.fixture(scope="session")
def fabric_network(tmp_path_factory: pytest.TempPathFactory, fabric_consortium: Consortium,
                   whole_network: Callable[..., AbstractContextManager[Network]]
                   ) -> Iterator[Network]:
    """The whole network, as `make network-up` starts it: CAs, Raft orderers, peers, the
    channel joined by every peer and the chaincode committed and answering. One per test
    session (it takes about 20 s); tests that stop a node start it again."""
    with whole_network(fabric_consortium, tmp_path_factory.mktemp("fabric") / "run") as net:
        yield net


class GatewayCli:
    """Fabric's own ``peer`` CLI acting as a retailer's gateway identity (its Fabric CA
    certificate carries the role the chaincode asks for), independent of the project's client."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.tools = net.tools
        self.channel = net.consortium.channel
        self.name = net.consortium.chaincode.name

    def peer(self, org: str) -> Peer:
        return next(p for p in self.net.plan.peers if p.org == org)

    def env(self, at: Peer, as_org: str) -> dict[str, str]:
        env = self.tools.admin_env(at)
        as_peer = self.peer(as_org)
        env["CORE_PEER_LOCALMSPID"] = as_peer.msp_id
        env["CORE_PEER_MSPCONFIGPATH"] = str(self.net.layout.msp(as_org, "gateway"))
        return env

    def invoke(self, as_org: str, endorsers: list[str], *args: str,
               transient: dict[str, bytes] | None = None) -> str:
        targets: list[str] = []
        for org in endorsers:
            targets += ["--peerAddresses", self.peer(org).address,
                        "--tlsRootCertFiles", str(self.net.layout.ca_root_cert(org))]
        extra = []
        if transient:
            extra = ["--transient", json.dumps(
                {k: base64.b64encode(v).decode() for k, v in transient.items()})]
        return self.tools.run("peer", [
            "chaincode", "invoke", "-C", self.channel, "-n", self.name,
            "-c", json.dumps({"Args": list(args)}), "--waitForEvent", *targets, *extra,
            *self.tools.orderer_args(self.net.plan.orderers[0])],
            env=self.env(self.peer(as_org), as_org), what="invoke", timeout=60)

    def query(self, at_org: str, as_org: str, *args: str,
              transient: dict[str, bytes] | None = None) -> Any:
        extra = []
        if transient:
            extra = ["--transient", json.dumps(
                {k: base64.b64encode(v).decode() for k, v in transient.items()})]
        out = self.tools.run("peer", [
            "chaincode", "query", "-C", self.channel, "-n", self.name,
            "-c", json.dumps({"Args": list(args)}), *extra],
            env=self.env(self.peer(at_org), as_org), what="query", timeout=30)
        return json.loads(out.strip().splitlines()[-1])



@pytest.fixture(scope="session")
def gateway_cli_for() -> Callable[[Network], GatewayCli]:
    """``gateway_cli_for(network)``: the CLI on a network of a test's own."""
    return GatewayCli


@pytest.fixture(scope="session")
def gateway_cli(fabric_network: Network) -> GatewayCli:
    """Fabric's ``peer`` CLI on the session network, as any retailer's gateway identity."""
    return GatewayCli(fabric_network)


@pytest.fixture(scope="session")
def world(consortium: Consortium) -> World:
    """A small demo world whose retailers are the consortium's members (by MSP id)."""
    ids = tuple(r.msp_id for r in consortium.retailers)
    return generate_world(WorldConfig(seed=3, retailer_ids=ids, retailer_names=ids,
                                      items_per_retailer=60, customers=30))


@pytest.fixture(scope="session")
def catalogue(world: World) -> Catalogue:
    """The demo world's catalogue, every member's stores and items."""
    return catalogue_from_world(world)


@pytest.fixture(scope="session")
def train_model(world: World, catalogue: Catalogue) -> Callable[..., dict[str, Any]]:
    """Train a small model of a member (MSP id) on the demo world's events into a directory,
    as the gateway's training job would, and return its provenance record::

        record = train_model("NorthwindMSP", data_dir / "model", block_height=2)

    The block height is recorded in the artifact, so different heights give different
    model ids.
    """

    def train(msp_id: str, output_dir: Path, *, block_height: int = 1) -> dict[str, Any]:
        return train_retailer_model(msp_id, world.events, catalogue, output_dir=output_dir,
                                    block_height=block_height,
                                    consent_set_hash=hash_consent_set([]), config=TEST_MODEL)

    return train


@dataclass
class RunningGateway:
    """A retailer's gateway served over HTTPS on 127.0.0.1, and a client that trusts it."""

    settings: GatewaySettings
    services: Services
    client: httpx.Client
    #: The retailer's CA root, which issued the gateway's TLS certificate.
    root_ca: Path

    @property
    def base_url(self) -> str:
        return f"https://{self.settings.http_host}:{self.settings.http_port}"

    def credential(self, store: str, role: Role = Role.STORE) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.services.credentials.issue(store, role)}"}

    def write(self, path: str, body: Any, headers: dict[str, str] | None = None
              ) -> httpx.Response:
        """POST ``body`` as JSON with a fresh Idempotency-Key (and ``headers``)."""
        key = {"Idempotency-Key": f"it-{os.urandom(12).hex()}"}
        return self.client.post(path, json=body, headers={**key, **(headers or {})})


@contextmanager
def _serve(settings: GatewaySettings, root_ca: Path) -> Iterator[RunningGateway]:
    """Run ``create_app(settings)`` under uvicorn with the settings' TLS pair, in a thread."""
    app = create_app(settings)
    # The server's own configuration (protocol, timeouts, limits), as `serve` runs it.
    server = uvicorn.Server(server_config(app, settings, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "gateway did not start"
    try:
        trust = ssl.create_default_context(cafile=str(root_ca))
        base = f"https://{settings.http_host}:{settings.http_port}"
        with httpx.Client(base_url=base, verify=trust, timeout=20) as client:
            yield RunningGateway(settings, app.state.services, client, root_ca)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


GatewayStarter = Callable[..., AbstractContextManager[RunningGateway]]


@contextmanager
def _gateway_process(argv: list[str], *, port: int, root_ca: Path, log: Path, cwd: Path,
                     within: float = 90.0) -> Iterator[httpx.Client]:
    """Run ``argv`` (a gateway's command line) in ``cwd`` with no ``PREFSHARE_*`` nor
    ``PYTHON*`` variable in its environment, output to ``log``; yield a client of
    ``https://127.0.0.1:<port>`` once it answers; stop it on leaving."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFSHARE_", "PYTHON"))}
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=cwd, env=clean)
    trust = ssl.create_default_context(cafile=str(root_ca))
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trust,
                          timeout=30) as client:
            deadline = time.monotonic() + within
            while True:
                assert process.poll() is None, f"the gateway exited: {log.read_text()[-2000:]}"
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, f"the gateway is not answering; {log}"
                    time.sleep(0.2)
            yield client
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="session")
def gateway_process() -> Callable[..., AbstractContextManager[httpx.Client]]:
    """``with gateway_process(argv, port=P, root_ca=PEM, log=F, cwd=D) as client``: a gateway
    started as its own process, as an operator starts one, answering on 127.0.0.1:P."""
    return _gateway_process


def _gateway_starter(net: Network, tmp_path_factory: pytest.TempPathFactory,
                     defaults: dict[str, Any], written_for_base: int) -> GatewayStarter:
    """Modules name gateway ports in the block of the default port base
    (``written_for_base``); a moved block moves them by the same amount."""
    shift = net.consortium.port_base - written_for_base
    # Modules written before the catalogue checks (gateway/store_scope.py) record events
    # with made-up store and item ids; a module that tests the checks sets it True, as the
    # settings' default is.
    # Tests register many customers from this one address, as the operator's seeding does
    # (demo/gateways.py); the default throttle is for strangers. test_abuse.py sets its own.
    # Modules written before the suggestions' own rate (20/second a credential) ask for
    # suggestions faster than a store's kiosks would; test_abuse.py tests the default.
    defaults = {"enforce_catalogue": False, "rate_registrations_per_address": "6000/minute",
                "rate_registrations": "6000/minute",
                "rate_suggestions_per_credential": "100/second", **defaults}
    # No retrain runs behind a module's back: a module that tests the life cycle sets them.
    defaults = {"retrain_interval_s": None, "retrain_min_new_records": None, **defaults}

    @contextmanager
    def start(retailer: str, *, catalogue: Catalogue | None = None,
              **overrides: Any) -> Iterator[RunningGateway]:
        if "http_port" in overrides:
            overrides["http_port"] += shift
        # The other members' gateways where the test starts them (default: the plan's ports).
        member_ports = {name: port + shift
                        for name, port in overrides.pop("member_ports", {}).items()}
        data_dir = tmp_path_factory.mktemp(f"{retailer}-gateway")
        if catalogue is not None:
            (data_dir / "catalogue.json").write_text(catalogue.to_json())
            overrides.setdefault("catalogue_path", data_dir / "catalogue.json")
        values: dict[str, Any] = {"data_dir": data_dir, **defaults, **overrides}
        settings = gateway_settings(net.consortium, retailer, net.layout, **values)
        if member_ports:
            msp_of = {r.msp_id: r.name for r in net.consortium.retailers}
            settings = settings.model_copy(update={"members": tuple(
                m.model_copy(update={"url": f"https://127.0.0.1:{member_ports[msp_of[m.msp_id]]}"})
                if msp_of[m.msp_id] in member_ports else m for m in settings.members)})
        with _serve(settings, net.layout.ca_root_cert(retailer)) as running:
            yield running

    return start


@pytest.fixture(scope="session")
def start_gateway(ca_network: Network,
                  tmp_path_factory: pytest.TempPathFactory) -> GatewayStarter:
    """Start a retailer's gateway whose peer is down (the CA-only network) for a module::

        with start_gateway("southgate", catalogue=catalogue, http_port=27287) as gateway: ...

    Settings come from the consortium (``gateway_settings``) with a fresh data folder,
    the catalogue written there, short ledger timeouts (its peer is down), and ``overrides``.
    Each module picks its own retailer or port, so modules never share a server's state.
    """
    return _gateway_starter(ca_network, tmp_path_factory,
                            {"evaluate_timeout_s": 2.0, "endorse_timeout_s": 2.0}, 27000)


@pytest.fixture(scope="session")
def start_ledger_gateway(fabric_network: Network,
                         tmp_path_factory: pytest.TempPathFactory) -> GatewayStarter:
    """Start a retailer's gateway on the whole network (its own peer, the orderers), as
    :func:`start_gateway` does otherwise::

        with start_ledger_gateway("northwind", catalogue=catalogue, http_port=24280) as gw: ...
    """
    return _gateway_starter(fabric_network, tmp_path_factory, {}, 24000)


@pytest.fixture(scope="session")
def gateway_starter_for(tmp_path_factory: pytest.TempPathFactory
                        ) -> Callable[[Network], GatewayStarter]:
    """``gateway_starter_for(network)``: start gateways on a network of a test's own, ports
    given as they are (``http_port=...``), as :func:`start_ledger_gateway` does otherwise."""
    return lambda net: _gateway_starter(net, tmp_path_factory, {}, net.consortium.port_base)


@pytest.fixture(scope="session")
def start_ledger_gateways(start_ledger_gateway: GatewayStarter
                          ) -> Callable[..., AbstractContextManager[dict[str, RunningGateway]]]:
    """Start several retailers' gateways on the whole network, each on its own port::

        with start_ledger_gateways({"northwind": 24280, "southgate": 24281},
                                   catalogue=catalogue) as gateways: ...
    """

    @contextmanager
    def start(ports: dict[str, int], **overrides: Any) -> Iterator[dict[str, RunningGateway]]:
        with ExitStack() as stack:
            yield {retailer: stack.enter_context(
                start_ledger_gateway(retailer, http_port=port, member_ports=dict(ports),
                                     **overrides))
                for retailer, port in ports.items()}

    return start


@pytest.fixture(scope="session")
def same_height() -> Callable[..., int]:
    """``same_height(*gateways)``: wait (up to 30 s) until every given gateway's own peer
    reports the same channel height, so a write committed on one peer is readable on the
    others; returns that height. Fast (the peers' qscc through each gateway's client)."""

    def wait(*gateways: RunningGateway) -> int:
        deadline = time.monotonic() + 30
        while True:
            heights = {g.services.connection.ledger.block_height(g.settings.channel)
                       for g in gateways}
            if len(heights) == 1:
                return heights.pop()
            assert time.monotonic() < deadline, f"peers differ in height: {sorted(heights)}"
            time.sleep(0.05)

    return wait


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL from Debian's binaries (``make postgres``) on a free loopback
    port with its own data folder, stopped after the session: its URL. Skipped, with the
    reason, only when the binaries are not installed."""
    try:
        find_binaries()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    with LocalPostgres.start() as server:
        yield server.url


def chromium_executable() -> str:
    """Debian's Chromium (``make browser`` installs it)."""
    for candidate in ("/usr/lib/chromium/chromium", "/usr/bin/chromium"):
        if Path(candidate).exists():
            return candidate
    pytest.fail("Chromium is not installed: run `make browser`")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
