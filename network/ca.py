"""The organisations' Fabric CAs: start them (TLS on) and enrol every identity of the plan.

No ``cryptogen``: each organisation's peer, orderers, admin and gateway client are registered
with and enrolled from that organisation's own CA, once for an enrolment certificate and once
with the ``tls`` profile for a TLS certificate. Enrolment is idempotent: an identity whose
certificate exists is left alone, so a second ``network-up`` changes nothing.

Secrets (bootstrap and enrolment passwords) are random, kept in the run folder with mode 0600,
and never appear in an error message or log line of ours.

Each organisation's CA server and every ``fabric-ca-client`` call for its identities run on
the organisation's host, through a :class:`~network.placement.Placement` (the supervisor's,
for :func:`bring_up_cas`; by default every host is here).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from network.errors import CommandFailed, MissingBinary, NotReady
from network.layout import RunLayout
from network.placement import Placement
from network.plan import CAServer, Identity, Plan
from network.supervisor import Supervisor

#: NodeOU configuration: Fabric CA writes the identity type as an OU, so peers, orderers,
#: admins and clients are told apart by role without per-identity admin certificates.
_NODE_OUS = """NodeOUs:
  Enable: true
  ClientOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: client}}
  PeerOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: peer}}
  AdminOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: admin}}
  OrdererOUIdentifier: {{Certificate: cacerts/{ca}, OrganizationalUnitIdentifier: orderer}}
"""


def binary(bin_dir: Path, name: str) -> Path:
    path = bin_dir / name
    if not os.access(path, os.X_OK):
        raise MissingBinary(f"{path} is missing: run `make fabric-bins` first")
    return path


def _secret(path: Path) -> str:
    """Read the secret at ``path``, creating a random one (mode 0600) the first time."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def ca_name(org: str) -> str:
    return f"ca-{org}"


def start_ca(ca: CAServer, layout: RunLayout, supervisor: Supervisor, bin_dir: Path) -> None:
    home = layout.ca_home(ca.org)
    home.mkdir(parents=True, exist_ok=True)
    password = _secret(layout.ca_bootstrap_secret(ca.org))
    argv = [
        str(binary(bin_dir, "fabric-ca-server")), "start",
        "--home", str(home), "--address", ca.host, "--port", str(ca.port),
        "--boot", f"registrar:{password}", "--ca.name", ca_name(ca.org),
        "--csr.cn", ca_name(ca.org), "--csr.hosts", f"{ca.host},localhost",
        "--tls.enabled", "--db.type", "sqlite3",
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS": f"{ca.host}:{ca.operations_port}",
        "FABRIC_CA_SERVER_METRICS_PROVIDER": "prometheus",
    }
    supervisor.start(ca.process, argv, env=env, cwd=home, host=ca.host)


def healthz(host: str, port: int, *, timeout: float = 1.0) -> bool:
    """True when the operations endpoint at ``host:port`` answers ``/healthz`` with 200."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=timeout) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_healthy(process: str, host: str, port: int, layout: RunLayout, supervisor: Supervisor,
                 *, timeout: float = 30.0, ready_file: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.state(process) != "running":
            raise NotReady(f"{process} exited during start-up; see {layout.log(process)}")
        if healthz(host, port) and (ready_file is None or ready_file.exists()):
            return
        time.sleep(0.2)
    raise NotReady(f"{process} not healthy after {timeout:.0f} s; see {layout.log(process)}")


class Enroller:
    """Registers and enrols the plan's identities with fabric-ca-client.

    Every call for an organisation's identities runs on that organisation's host, through
    ``placement`` (by default: here).
    """

    def __init__(self, plan: Plan, layout: RunLayout, bin_dir: Path,
                 placement: Placement | None = None) -> None:
        self._cas = {ca.org: ca for ca in plan.cas}
        self._layout = layout
        self._client = binary(bin_dir, "fabric-ca-client")
        self._placement = placement or Placement()

    def _run(self, what: str, args: Sequence[str], home: Path, ca: CAServer) -> None:
        home.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                self._placement.command(ca.host, [str(self._client), *args]),
                capture_output=True, text=True, timeout=60,
                env={"PATH": os.environ.get("PATH", ""), "FABRIC_CA_CLIENT_HOME": str(home)},
            )
        except subprocess.TimeoutExpired:
            # The message of TimeoutExpired holds the command line, and so the password.
            raise CommandFailed(f"fabric-ca-client {what} did not finish in 60 s") from None
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
            last = lines[-1] if lines else f"exit {done.returncode}"
            raise CommandFailed(f"fabric-ca-client {what} failed: {last}")

    def _common(self, ca: CAServer) -> list[str]:
        return ["--caname", ca_name(ca.org),
                "--tls.certfiles", str(self._layout.ca_root_cert(ca.org).resolve())]

    def _url(self, ca: CAServer, user: str, password: str) -> str:
        return f"https://{user}:{password}@{ca.host}:{ca.port}"

    def enrol_registrar(self, org: str) -> None:
        ca = self._cas[org]
        home = self._layout.ca_admin(org)
        if (home / "msp" / "signcerts" / "cert.pem").exists():
            return
        password = _secret(self._layout.ca_bootstrap_secret(org))
        self._run(f"enroll of the {org} registrar",
                  ["enroll", "-u", self._url(ca, "registrar", password), *self._common(ca)],
                  home, ca)

    def enrol(self, ident: Identity) -> None:
        ca = self._cas[ident.org]
        msp = self._layout.msp(ident.org, ident.name)
        tls = self._layout.tls(ident.org, ident.name)
        if (msp / "signcerts" / "cert.pem").exists() and (
            not ident.tls_hosts or self._layout.tls_cert(ident.org, ident.name).exists()
        ):
            return
        secret_file = self._layout.secret(ident.org, ident.name)
        first_time = not secret_file.exists()
        password = _secret(secret_file)
        if first_time:
            args = ["register", "-u", f"https://{ca.host}:{ca.port}", *self._common(ca),
                    "--id.name", ident.name, "--id.secret", password, "--id.type", ident.kind]
            if ident.attrs:
                args += ["--id.attrs", ",".join(f"{k}={v}:ecert" for k, v in ident.attrs)]
            self._run(f"register of {ident.org}/{ident.name}", args,
                      self._layout.ca_admin(ident.org), ca)
        home = self._layout.identity(ident.org, ident.name)
        self._run(f"enroll of {ident.org}/{ident.name}",
                  ["enroll", "-u", self._url(ca, ident.name, password), *self._common(ca),
                   "-M", str(msp.resolve())], home, ca)
        _write_node_ous(msp)
        if ident.tls_hosts:
            self._run(f"TLS enroll of {ident.org}/{ident.name}",
                      ["enroll", "-u", self._url(ca, ident.name, password), *self._common(ca),
                       "--enrollment.profile", "tls", "--csr.hosts", ",".join(ident.tls_hosts),
                       "-M", str(tls.resolve())], home, ca)

    def build_org_msp(self, org: str) -> None:
        """Assemble the organisation's verifying MSP from its admin's enrolment."""
        src = self._layout.msp(org, "admin")
        dst = self._layout.org_msp(org)
        for sub in ("cacerts", "tlscacerts"):
            (dst / sub).mkdir(parents=True, exist_ok=True)
        for cert in (src / "cacerts").iterdir():
            shutil.copy(cert, dst / "cacerts" / cert.name)
            # One CA issues both enrolment and TLS certificates for the organisation.
            shutil.copy(cert, dst / "tlscacerts" / cert.name)
        _write_node_ous(dst)


def _write_node_ous(msp: Path) -> None:
    ca_cert = next((msp / "cacerts").iterdir()).name
    (msp / "config.yaml").write_text(_NODE_OUS.format(ca=ca_cert))


def bring_up_cas(plan: Plan, layout: RunLayout, supervisor: Supervisor, bin_dir: Path) -> None:
    """Start every CA, wait until healthy, then enrol every identity of the plan.

    Each CA and each organisation's enrolments run on the organisation's host, through the
    supervisor's placement (one placement for both, so they cannot disagree).
    """
    for ca in plan.cas:
        start_ca(ca, layout, supervisor, bin_dir)
    for ca in plan.cas:
        wait_healthy(ca.process, ca.host, ca.operations_port, layout, supervisor,
                     ready_file=layout.ca_root_cert(ca.org))
    enroller = Enroller(plan, layout, bin_dir, supervisor.placement)
    for ca in plan.cas:
        enroller.enrol_registrar(ca.org)
    for ident in plan.identities:
        enroller.enrol(ident)
    for ca in plan.cas:
        enroller.build_org_msp(ca.org)
