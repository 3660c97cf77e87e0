"""A retailer's gateway settings for this network, generated as an env file.

The gateway reads its settings from ``PREFSHARE_GATEWAY_*`` variables or an env file
(``prefshare-gateway --env-file F serve``; docs/operations.md lists each one) and knows
nothing of this network. For the test network the values all follow from the consortium
description and the run folder, so they are generated here rather than written by hand::

    prefshare-network gateway-env northwind > northwind.env

Lists and endpoints are JSON, the form the gateway's settings read for such values; every
value is single-quoted, so a path with spaces reads back as written. Nothing secret is
written: the file names the MSP folder and the TLS key, it does not hold them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from network.description import PORT_OFFSETS, Consortium, Retailer
from network.errors import UnknownRetailer
from network.layout import RunLayout
from network.plan import make_plan

#: The gateway's settings' environment prefix.
PREFIX = "PREFSHARE_GATEWAY_"


def gateway_environment(consortium: Consortium, retailer: str, layout: RunLayout, *,
                        policy_orgs: Sequence[str] = ()) -> dict[str, str]:
    """``retailer``'s gateway settings as environment variables (name -> value).

    ``policy_orgs``: the organisations whose majority must endorse a write, when not the
    retailers of ``consortium`` (while a member joins or leaves, the gateways endorse for
    the larger of the two memberships: network/membership.py).

    The catalogue is named only when ``<data dir>/catalogue.json`` exists when this runs
    (without one the gateway answers suggestions with 503 SUGGESTIONS_NOT_CONFIGURED).

    Raises:
        UnknownRetailer: no retailer of that name.
        ValueError: the gateway identity's TLS keystore holds no key or several (it has not
            been enrolled: ``prefshare-network up --layer ca`` first).
    """
    match = [r for r in consortium.retailers if r.name == retailer]
    if not match:
        raise UnknownRetailer(f"no retailer named {retailer!r} in the consortium")
    plan = make_plan(consortium)
    peer = next(p for p in plan.peers if p.org == retailer)
    block = consortium.block_of(consortium.retailer_index(match[0]))
    endorsing_peers = [
        {"address": f"{p.host}:{p.port}", "msp_id": p.msp_id,
         "tls_root": str(layout.ca_root_cert(p.org))}
        for p in plan.peers if p.org != retailer]
    orderers = [
        {"address": f"{o.host}:{o.port}", "msp_id": consortium.orderer_org.msp_id,
         "tls_root": str(layout.ca_root_cert(o.org))}
        for o in plan.orderers]
    # The other members' gateways, which serve this one the data they own under her consent.
    def gateway_port(other: Retailer) -> int:
        return consortium.block_of(consortium.retailer_index(other)) + PORT_OFFSETS[
            "gateway_http"]

    members = [
        {"msp_id": r.msp_id, "url": f"https://{r.host}:{gateway_port(r)}",
         "tls_root": str(layout.ca_root_cert(r.name)),
         "msp_root": str(layout.ca_root_cert(r.name))}
        for r in consortium.retailers if r.name != retailer]
    # Every node's operations endpoint (plain HTTP on the test network: its /metrics hold
    # no secret), for the gateway's node watch.
    node_metrics = (
        [{"name": p.process, "kind": "peer", "url": f"http://{p.host}:{p.operations_port}"}
         for p in plan.peers]
        + [{"name": o.process, "kind": "orderer",
            "url": f"http://{o.host}:{o.operations_port}"} for o in plan.orderers])
    data_dir = layout.gateway_data(retailer)
    values: dict[str, object] = {
        "retailer": retailer,
        "msp_id": peer.msp_id,
        "channel": consortium.channel,
        "chaincode": consortium.chaincode.name,
        "endorsing_orgs": [r.msp_id for r in consortium.retailers],
        "peer_endpoint": f"{peer.host}:{peer.port}",
        "peer_tls_root": layout.ca_root_cert(retailer),
        "msp_dir": layout.msp(retailer, "gateway"),
        "endorsing_peers": endorsing_peers,
        "orderers": orderers,
        "members": members,
        "node_metrics": node_metrics,
        "data_dir": data_dir,
        "http_host": peer.host,
        "http_port": block + PORT_OFFSETS["gateway_http"],
        "tls_cert": layout.tls_cert(retailer, "gateway"),
        "tls_key": layout.tls_key(retailer, "gateway"),
        "write_budget_per_hour": consortium.cost_guard.budget_of(match[0]),
    }
    if policy_orgs:
        values["policy_orgs"] = list(policy_orgs)
    if (data_dir / "catalogue.json").is_file():
        values["catalogue_path"] = data_dir / "catalogue.json"
    return {PREFIX + name.upper(): _text(value) for name, value in values.items()}


def _text(value: object) -> str:
    if isinstance(value, list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def render_env_file(environment: Mapping[str, str], *, heading: str = "") -> str:
    """``NAME='value'`` lines (dotenv syntax), after ``heading`` as ``#`` comment lines.

    Raises ValueError for a value holding a single quote or a line break, which this form
    cannot carry.
    """
    lines = [f"# {line}".rstrip() for line in heading.splitlines()]
    for name, value in environment.items():
        if "'" in value or "\n" in value:
            raise ValueError(f"{name}: a value with a quote or a line break cannot be written")
        lines.append(f"{name}='{value}'")
    return "\n".join(lines) + "\n"


def write_gateway_env(consortium: Consortium, retailer: str, layout: RunLayout,
                      path: Path | None = None, *, policy_orgs: Sequence[str] = ()) -> Path:
    """Generate ``retailer``'s env file at ``path`` (default
    :meth:`RunLayout.gateway_env <network.layout.RunLayout.gateway_env>`), mode 0600, and
    return where it is. Raises as :func:`gateway_environment` does, and OSError."""
    target = path or layout.gateway_env(retailer)
    text = render_env_file(gateway_environment(consortium, retailer, layout,
                                               policy_orgs=policy_orgs),
                           heading=f"{retailer}'s gateway on the network of {layout.root}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside, then renamed: a gateway starting meanwhile reads the old file or the
    # new one, never half of one.
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(name, target)
    return target


def gateway_process(retailer: str) -> str:
    """The supervised process name of ``retailer``'s gateway in the run folder."""
    return f"gateway-{retailer}"


def gateway_command(env_file: Path) -> list[str]:
    """The command that serves a gateway from its env file (``prefshare-gateway``); named
    here, not imported, so the network knows nothing of the gateway's code."""
    return [sys.executable, "-m", "gateway", "--env-file", str(env_file), "serve"]


def gateway_process_env() -> dict[str, str]:
    """The environment a supervised gateway runs with (one BLAS thread: two cores serve
    several processes)."""
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
