"""A retailer joins or leaves the running consortium: ``prefshare-network add-retailer NAME``
and ``remove-retailer NAME``, natively, while traffic flows.

Joining, in order (each step idempotent, so a failure half-way is resumed by running the same
command again; the description changes last, so until then the consortium is the one it
names):

1. the newcomer's CA, its identities and its chaincode server (``up --layer chaincode`` of
   the grown description: running nodes are left alone);
2. the running gateways switch to endorsing for the grown membership: a majority of the
   grown membership among the members already in the channel (for three members joined by a
   fourth: all three), which the channel accepts before the update and after it;
3. the channel config update (:mod:`network.config_update`): the newcomer's organisation,
   anchor peer and admin added, signed by a majority of the current members' admins, each
   with its own admin identity, and submitted; the channel's ``MAJORITY`` policies
   (Admins, Endorsement, LifecycleEndorsement) count the newcomer from that block on;
4. its peer started, joined from the channel's genesis block and caught up;
5. the chaincode definition's next sequence, with the newcomer's collection, approved by
   every member, committed; the package installed on its peer; every existing chaincode
   server restarted, one at a time, with the grown member list (``PREFSHARE_MEMBERS``);
6. every member's gateway env file regenerated (the grown ``members``, endorsing peers) and
   the supervised gateways restarted, the newcomer's started;
7. the description written with the newcomer.

Leaving is the mirror: the gateways endorse without the leaver (still a majority of the
current membership), the config update removes its organisation (signed by a majority of the
current members, the remaining ones first), its gateway, chaincode server, peer and CA stop,
the remaining chaincode servers restart without it, and the description lists it under
``former_members`` (its collection stays in the definition: Fabric cannot drop one).
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from network.chaincode_servers import current_package_id, start_server, wait_registered
from network.config_update import (
    ConfigUpdater,
    application_members,
    majority,
    with_member,
    without_member,
)
from network.configtx import ChannelArtifacts
from network.control import Layer, Network
from network.description import PORT_OFFSETS, Consortium, Retailer, save_consortium
from network.errors import MembershipError, NotReady, UnknownRetailer
from network.gateway_env import (
    gateway_command,
    gateway_process,
    gateway_process_env,
    write_gateway_env,
)
from network.nodes import start_peers
from network.placement import Placement
from network.plan import Peer, make_plan
from network.supervisor import ProcessState

#: How long a restarted gateway may take to answer /healthz.
GATEWAY_READY_S = 90.0


@dataclass
class Progress:
    """Reports each step with the seconds since the change began."""

    report: Callable[[str], None] = lambda line: None
    started: float = field(default_factory=time.monotonic)

    def __call__(self, what: str) -> None:
        self.report(f"[{time.monotonic() - self.started:6.1f} s] {what}")


def grown(consortium: Consortium, retailer: Retailer) -> Consortium:
    """``consortium`` with ``retailer`` joined (validated: names, MSP ids, port blocks).

    Raises:
        MembershipError: the name or MSP id is taken, or was a former member's.
        pydantic.ValidationError: the grown description is invalid (e.g. ports overlap).
    """
    if consortium.retailer(retailer.name) is not None:
        raise MembershipError(f"{retailer.name} is a member already")
    if retailer.msp_id in consortium.former_members:
        raise MembershipError(f"{retailer.msp_id} was a member; rejoin under a new MSP id")
    data = consortium.model_dump()
    entry = retailer.model_dump()
    if retailer.port_block is None:
        # The next block by position, unless a member that stayed after another left has
        # pinned it (shrunk): then the block after the highest in use.
        position = consortium.port_base + 100 * (len(consortium.retailers) + 1)
        used = [consortium.block_of(i) for i in range(len(consortium.retailers) + 1)]
        if any(abs(position - b) < 100 for b in used):
            entry["port_block"] = max(used) + 100
    data["retailers"] = [*data["retailers"], entry]
    return Consortium.model_validate(data)


def shrunk(consortium: Consortium, name: str) -> Consortium:
    """``consortium`` without retailer ``name``, which becomes a former member.

    Raises:
        UnknownRetailer: no member of that name.
        MembershipError: it is the last member.
    """
    leaver = consortium.retailer(name)
    if leaver is None:
        raise UnknownRetailer(f"no retailer named {name!r} in the consortium")
    if len(consortium.retailers) == 1:
        raise MembershipError(f"{name} is the consortium's last member")
    data = consortium.model_dump()
    # Those listed after the leaver keep their ports (running nodes listen on them): their
    # block by position would move down by one.
    after = consortium.retailers.index(leaver)
    data["retailers"] = [
        {**r.model_dump(), "port_block": consortium.block_of(consortium.retailer_index(r))}
        if i > after else r.model_dump()
        for i, r in enumerate(consortium.retailers) if r.name != name]
    data["former_members"] = [*consortium.former_members, leaver.msp_id]
    return Consortium.model_validate(data)


def signers_for(members: Sequence[Peer], *, leaving: str | None = None) -> list[Peer]:
    """The peers whose organisations' admins sign a config update: a majority of
    ``members`` (the current ones), preferring those that stay."""
    ordered = [p for p in members if p.msp_id != leaving] + [
        p for p in members if p.msp_id == leaving]
    return ordered[:majority(len(members))]


class Membership:
    """Changes the membership of the running network ``net`` described by ``description``.

    ``progress`` receives one line per step (the CLI prints them).
    """

    def __init__(self, net: Network, description: Path,
                 progress: Callable[[str], None] | None = None,
                 placement: Placement | None = None) -> None:
        self.net = net
        self.description = description
        self._progress = Progress(progress or (lambda line: None))
        #: How to run a command on each host, a newcomer's too (default: the network's).
        self._placement = placement if placement is not None else net.placement

    def _network(self, consortium: Consortium) -> Network:
        """The network of ``consortium``, placed on the hosts its nodes run on (a leaver's
        host is dropped, a newcomer's taken from the placement given)."""
        n = self.net
        hosts = {host for _, host, _ in make_plan(consortium).ports()}
        return Network(consortium, n.layout, n.bin_dir, self._placement.only(hosts),
                       n.builder_dir)

    def _updater(self, net: Network) -> ConfigUpdater:
        return ConfigUpdater(net.consortium.channel, net.tools, net.plan.orderers[0])

    # -- joining -----------------------------------------------------------------------

    def add(self, retailer: Retailer) -> Network:
        """Add ``retailer``; returns the grown network.

        Raises:
            MembershipError, NetworkError: a step failed (the message names it); running
                the same command again resumes.
        """
        old = self.net
        new = self._network(grown(old.consortium, retailer))
        step = self._progress
        step(f"{retailer.name}: its CA, identities and chaincode server")
        new.up(Layer.CHAINCODE)
        step("running gateways endorse for a majority of the grown membership")
        self._switch_gateways(old, policy=new.consortium, stop=())
        step(f"channel config update adding {retailer.msp_id}")
        self.update_config(old, lambda config: with_member(
            config, retailer.msp_id,
            ChannelArtifacts(new.consortium, new.plan, new.tools).org_group(retailer.name),
            (self._peer(new, retailer.name).host, self._peer(new, retailer.name).port)),
            signers=signers_for(old.plan.peers), wanted=lambda m: retailer.msp_id in m)
        peer = self._peer(new, retailer.name)
        step(f"{peer.process}: started, joining {new.consortium.channel}")
        assert new.builder_dir is not None  # set by Network
        start_peers(new.plan, new.layout, new.supervisor, new.bin_dir, new.builder_dir)
        channel = new.channel
        channel.create()  # the channel's genesis block, kept in the run folder
        channel.join(peer)
        height = channel.wait_same_height(seconds=120)
        step(f"{peer.process} caught up at height {height}")
        step("chaincode definition: the next sequence with "
             f"events-{retailer.msp_id}, approved and committed")
        ids = self._package_ids(new)
        sequence = new.lifecycle.deploy(ids)
        step(f"sequence {sequence} committed; chaincode servers learn the member list")
        self._restart_chaincode_servers(new, ids, keep=retailer.name)
        new.lifecycle.wait_answering()
        step("gateways: env files regenerated, running ones restarted")
        self._switch_gateways(new, policy=None, stop=(), start_new=retailer.name)
        save_consortium(new.consortium, self.description)
        step(f"{retailer.name} joined at height {new.channel.wait_same_height()}")
        return new

    # -- leaving -----------------------------------------------------------------------

    def remove(self, name: str) -> Network:
        """Remove retailer ``name``; returns the shrunk network.

        Raises:
            UnknownRetailer, MembershipError, NetworkError: as :meth:`add`.
        """
        old = self.net
        new = self._network(shrunk(old.consortium, name))
        leaver = self._peer(old, name)
        step = self._progress
        step(f"gateways endorse without {leaver.msp_id}; its gateway stops")
        self._switch_gateways(new, policy=old.consortium, stop=(name,))
        step(f"channel config update removing {leaver.msp_id}")
        self.update_config(old, lambda config: without_member(config, leaver.msp_id),
                           signers=signers_for(old.plan.peers, leaving=leaver.msp_id),
                           wanted=lambda m: leaver.msp_id not in m)
        step(f"{name}: its chaincode server, peer and CA stop")
        sup = old.supervisor
        for process in (f"chaincode-{name}", leaver.process, f"ca-{name}"):
            sup.stop(process)
        step("chaincode servers learn the member list")
        ids = self._package_ids(new)
        self._restart_chaincode_servers(new, ids, keep=None)
        new.lifecycle.wait_answering()
        # Its collection stays (Fabric cannot drop one) but may not name an organisation
        # outside the channel, or no later definition is approved: the orderer organisation,
        # which runs no peer, holds it from now on.
        step(f"chaincode definition: the next sequence, events-{leaver.msp_id} held by "
             f"{new.consortium.orderer_org.msp_id} (no peer)")
        sequence = new.lifecycle.deploy(ids)
        step(f"sequence {sequence} committed")
        step("gateways: env files regenerated, running ones restarted")
        self._switch_gateways(new, policy=None, stop=())
        save_consortium(new.consortium, self.description)
        step(f"{name} left at height {new.channel.wait_same_height()}")
        return new

    # -- steps -------------------------------------------------------------------------

    @staticmethod
    def _peer(net: Network, org: str) -> Peer:
        return next(p for p in net.plan.peers if p.org == org)

    def update_config(self, net: Network, change: Callable[[dict[str, Any]], dict[str, Any]],
                      *, signers: Sequence[Peer], wanted: Callable[[list[str]], bool]) -> bool:
        """Apply ``change`` to the channel config of ``net`` unless the config's members
        already satisfy ``wanted``; returns whether an update was submitted.

        Raises:
            CommandFailed: fetching, computing, signing or submitting failed (too few
                signatures: the orderer's refusal).
        """
        updater = self._updater(net)
        reader = signers[0]
        config = updater.current(reader)
        if wanted(application_members(config)):
            return False
        folder = net.layout.channel_dir / f"update-{int(time.time() * 1000)}"
        envelope = updater.envelope(config, change(config), folder)
        updater.sign_and_submit(envelope, signers)
        deadline = time.monotonic() + 30
        while not wanted(application_members(updater.current(reader))):
            if time.monotonic() > deadline:
                raise NotReady("the config update was accepted but its block is not on "
                               f"{reader.process} after 30 s")
            time.sleep(0.3)
        return True

    def _package_ids(self, net: Network) -> dict[str, str]:
        out = {}
        for server in net.plan.chaincode_servers:
            pid = current_package_id(server, net.layout)
            if pid is None:
                raise NotReady(f"{server.process} has no package: run `prefshare-network up`")
            out[server.org] = pid
        return out

    def _restart_chaincode_servers(self, net: Network, ids: dict[str, str],
                                   keep: str | None) -> None:
        """Restart every chaincode server but ``keep``'s (started with the new list already)
        with ``net``'s member list, one at a time, so a majority keeps endorsing."""
        sup = net.supervisor
        members = net.plan.retailer_msp_ids
        for server in net.plan.chaincode_servers:
            if server.org == keep:
                continue
            sup.stop(server.process)
            start_server(server, net.layout, sup, ids[server.org], members)
            wait_registered(server, net.layout, sup, ids[server.org])

    def _switch_gateways(self, net: Network, *, policy: Consortium | None,
                         stop: Sequence[str], start_new: str | None = None) -> None:
        """Regenerate the env file of every retailer of ``net`` (endorsing for a majority of
        ``policy``'s retailers when given) and restart the supervised gateways whose file
        changed; stop the gateways of ``stop``; start ``start_new``'s when others run."""
        sup = net.supervisor
        layout = net.layout
        policy_orgs = [r.msp_id for r in policy.retailers] if policy is not None else []
        for name in stop:
            sup.stop(gateway_process(name))
        running = [r.name for r in net.consortium.retailers
                   if sup.state(gateway_process(r.name)) is ProcessState.RUNNING]
        restart = []
        for retailer in net.consortium.retailers:
            path = layout.gateway_env(retailer.name)
            before = path.read_text() if path.exists() else None
            write_gateway_env(net.consortium, retailer.name, layout, policy_orgs=policy_orgs)
            if retailer.name in running and path.read_text() != before:
                restart.append(retailer.name)
        if start_new is not None and running and start_new not in running:
            restart.append(start_new)
        for name in restart:
            layout.gateway_data(name).mkdir(parents=True, exist_ok=True)  # a newcomer's
            sup.stop(gateway_process(name))
            sup.start(gateway_process(name), gateway_command(layout.gateway_env(name)),
                      env=gateway_process_env())
            self._wait_gateway(net, name)

    @staticmethod
    def _wait_gateway(net: Network, name: str) -> None:
        retailer = net.consortium.retailer(name)
        assert retailer is not None
        port = net.consortium.block_of(net.consortium.retailer_index(retailer)) + \
            PORT_OFFSETS["gateway_http"]
        trust = ssl.create_default_context(cafile=str(net.layout.ca_root_cert(name)))
        process = gateway_process(name)
        deadline = time.monotonic() + GATEWAY_READY_S
        while True:
            if net.supervisor.state(process) is not ProcessState.RUNNING:
                raise NotReady(f"{process} exited; see {net.layout.log(process)}")
            try:
                with urllib.request.urlopen(f"https://{retailer.host}:{port}/healthz",
                                            context=trust, timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise NotReady(f"{process} not answering after {GATEWAY_READY_S:.0f} s; "
                               f"see {net.layout.log(process)}")
            time.sleep(0.3)
