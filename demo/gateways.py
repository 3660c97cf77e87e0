"""The three retailers' gateways as supervised processes of the run folder.

Each runs ``prefshare-gateway --env-file .run/orgs/R/gateway.env serve``, the env file
generated from the network (``prefshare-network gateway-env R``: HTTPS on the plan's gateway
port, its TLS certificate from the retailer's CA), logging to ``.run/logs/gateway-R.log``
with its pid in ``.run/pids/gateway-R.pid``, under the network's own
:class:`~network.supervisor.Supervisor`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from demo.api import GatewayClient
from demo.gateway_settings import gateway_settings
from gateway.settings import GatewaySettings
from gateway.stores import CredentialStore, Role
from network.description import Consortium
from network.errors import NotReady
from network.gateway_env import (
    gateway_command,
    gateway_process,
    gateway_process_env,
    write_gateway_env,
)
from network.layout import RunLayout
from network.supervisor import ProcessState, Supervisor
from recommender.catalogue import Catalogue


@dataclass(frozen=True)
class Gateways:
    consortium: Consortium
    layout: RunLayout

    @property
    def retailers(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.consortium.retailers)

    def settings(self, retailer: str) -> GatewaySettings:
        return gateway_settings(self.consortium, retailer, self.layout)

    def process(self, retailer: str) -> str:
        return gateway_process(retailer)

    def base_url(self, retailer: str) -> str:
        s = self.settings(retailer)
        return f"https://{s.http_host}:{s.http_port}"

    def client(self, retailer: str, credential: str | None = None) -> GatewayClient:
        return GatewayClient(self.base_url(retailer), self.layout.ca_root_cert(retailer),
                             credential)

    def write_catalogues(self, catalogue: Catalogue) -> list[Path]:
        """``catalogue`` as each retailer's ``<data_dir>/catalogue.json``, where its gateway
        reads it at start; an existing file is left alone (an operator's own).

        Every retailer gets the whole consortium's catalogue: the demo's members share their
        product data, so a model learns from the brand and price band of the items a customer
        chose at another member (with its own items only, an item of another member is known
        by its retailer and category alone). Serving uses only the retailer's own stores.
        """
        written = []
        for retailer in self.consortium.retailers:
            path = self.layout.org(retailer.name) / "gateway" / "catalogue.json"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(catalogue.to_json(), encoding="utf-8")
                written.append(path)
        return written

    def admin_credential(self, retailer: str, store: str = "hq") -> str:
        """A new admin credential of ``retailer``'s gateway, issued in its database as
        ``prefshare-gateway issue-credential --admin`` does."""
        return CredentialStore(self.settings(retailer).data_dir / "gateway.sqlite3").issue(
            store, Role.ADMIN)

    def start(self, *, timeout_s: float = 90.0) -> list[str]:
        """Start every gateway not running and wait until each answers healthy; return the
        processes started. Raises NotReady naming the log of one that did not come up."""
        sup = Supervisor(self.layout)
        started = []
        env = {**gateway_process_env(),
               # The demo registers its 200 customers through the gateways from this one
               # address in seconds: far over the default throttle of anonymous
               # registrations, which is for strangers, not the operator's own seeding.
               "PREFSHARE_GATEWAY_RATE_REGISTRATIONS_PER_ADDRESS": "6000/minute",
               "PREFSHARE_GATEWAY_RATE_REGISTRATIONS": "6000/minute",
               "PREFSHARE_GATEWAY_MAX_IN_FLIGHT_PER_CREDENTIAL": "32"}
        for retailer in self.retailers:
            name = self.process(retailer)
            if sup.state(name) is ProcessState.RUNNING:
                continue
            sup.stop(name)  # clears a crashed one's pid file
            env_file = write_gateway_env(self.consortium, retailer, self.layout)
            sup.start(name, gateway_command(env_file), env=env)
            started.append(name)
        deadline = time.monotonic() + timeout_s
        for retailer in self.retailers:
            client = self.client(retailer)
            while not client.healthy():
                if sup.state(self.process(retailer)) is not ProcessState.RUNNING:
                    raise NotReady(f"{self.process(retailer)} exited; see "
                                   f"{self.layout.log(self.process(retailer))}")
                if time.monotonic() > deadline:
                    raise NotReady(f"{self.process(retailer)} not healthy after {timeout_s:.0f} "
                                   f"s; see {self.layout.log(self.process(retailer))}")
                time.sleep(0.3)
        return started

    def running(self) -> list[str]:
        sup = Supervisor(self.layout)
        return [self.process(r) for r in self.retailers
                if sup.state(self.process(r)) is ProcessState.RUNNING]

    def stop(self) -> list[str]:
        """Stop every gateway; return the processes that were running."""
        sup = Supervisor(self.layout)
        stopped = self.running()
        for retailer in self.retailers:
            sup.stop(self.process(retailer))
        return stopped
