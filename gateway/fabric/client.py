"""The Fabric client: connect → network → contract → evaluate / submit.

The shape of fabric-gateway's Go ``pkg/client`` and Node ``node/src``, on the services a
Fabric 2.1 peer and orderer serve (2.1 has no Gateway service)::

    gateway = Gateway.connect(identity, ecdsa_signer(key), own_peer,
                              endorsers=[other_peers...], orderers=[orderers...],
                              policy=EndorsementPolicy.majority(retailer_msp_ids))
    contract = gateway.network("prefshare").contract("prefshare")
    data = contract.evaluate("ListConsents", args=[customer_id])
    data = contract.submit("RecordPreferenceEvents", transient={"events": raw},
                           endorsing_orgs=members)
    with gateway.network("prefshare").chaincode_events("prefshare", start_block=5) as events:
        for event in events: ...
    gateway.close()

``submit`` is: endorse on enough organisations (:mod:`gateway.fabric.endorse`), assemble
and sign the envelope (:mod:`gateway.fabric.transaction`), register with the commit
listener, broadcast (:mod:`gateway.fabric.orderer`), wait for the validation code from
the gateway's one deliver stream (:mod:`gateway.fabric.commits`). A code other than
``VALID`` raises :class:`CommitError`. Each step has a deadline from :class:`Timeouts`
and raises its type of :mod:`gateway.fabric.errors`, never a bare ``grpc.RpcError``.

The nodes' gRPC channels belong to the caller (:func:`gateway.fabric.nodes.dial`);
:meth:`Gateway.close` stops the listener thread, not the channels.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc

from gateway.fabric.commits import CommitListener, Waiter
from gateway.fabric.deliver import (
    DeliverStatus,
    chaincode_events_of,
    filtered_blocks,
    open_filtered,
    seek_envelope,
)
from gateway.fabric.endorse import Endorsers
from gateway.fabric.endorsement import EndorsementPolicy
from gateway.fabric.errors import (
    ChaincodeEventsError,
    CommitError,
    CommitStatusError,
    RefusalDecoder,
    SubmitError,
    no_refusals,
    rpc_code,
    rpc_detail,
)
from gateway.fabric.events import ChaincodeEvent, Checkpoint, EventFilter, start_of
from gateway.fabric.identity import Identity
from gateway.fabric.nodes import Node
from gateway.fabric.orderer import Broadcaster
from gateway.fabric.proposal import Argument, Proposal, ProposalBuilder
from gateway.fabric.signing import Hash, Signer, sha256
from gateway.fabric.transaction import Status, Transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timeouts:
    """Deadline of each step, in seconds (None: no deadline).

    ``commit_status`` bounds the wait for the block; with the ordering service's batch
    timeout a lone transaction commits in that timeout plus some tens of milliseconds.

    ``resend``: while waiting, every this many seconds without the transaction's block the
    same signed envelope is broadcast again (None: never). An orderer that accepted a
    transaction can lose it (a Raft leader that dies before ordering it); without a resend
    its submitter learns that only at ``commit_status``. A second copy that is ordered too
    commits as ``DUPLICATE_TXID`` and changes nothing; the first copy's code is the one seen.
    """

    evaluate: float | None = 5.0
    endorse: float | None = 15.0
    submit: float | None = 5.0
    commit_status: float | None = 60.0
    resend: float | None = None


class _Client:
    """Everything obtained from one Gateway shares this: identity, nodes, listener."""

    def __init__(self, identity: Identity, signer: Signer, peer: Node,
                 endorsers: Sequence[Node], orderers: Sequence[Node],
                 policy: EndorsementPolicy, hash: Hash, timeouts: Timeouts,
                 refusals: RefusalDecoder) -> None:
        self.identity = identity
        self.creator = identity.creator()
        self.signer = signer
        self.hash = hash
        self.timeouts = timeouts
        self.peer = peer
        self.endorsers = Endorsers(peer, endorsers, policy, refusals)
        self.broadcaster = Broadcaster(orderers)
        self._listeners: dict[str, CommitListener] = {}
        self._lock = threading.Lock()

    def seek(self, channel_id: str, start_block: int | None) -> Any:
        return seek_envelope(channel_id=channel_id, creator=self.creator, signer=self.signer,
                             start_block=start_block, hash=self.hash)

    def listener(self, channel_id: str) -> CommitListener:
        # One stream per channel on the own peer, started when the channel is first used.
        with self._lock:
            found = self._listeners.get(channel_id)
            if found is None:
                found = CommitListener(self.peer, lambda start: self.seek(channel_id, start))
                self._listeners[channel_id] = found
                found.start()
            return found

    def close(self) -> None:
        with self._lock:
            listeners = list(self._listeners.values())
        for listener in listeners:
            listener.close()

    def endorse(self, proposal: Proposal, trusted_orgs: Sequence[str] | None,
                policy: EndorsementPolicy | None = None) -> Transaction:
        proposal.sign(self.signer)
        responses = self.endorsers.endorse(proposal, trusted_orgs, self.timeouts.endorse,
                                           policy)
        transaction = Transaction(proposal, [r for _, r in responses], hash=self.hash)
        transaction.sign(self.signer)
        return transaction

    def order(self, transaction: Transaction) -> Waiter:
        listener = self.listener(transaction.channel_id)
        listener.wait_ready(self.timeouts.submit, transaction.transaction_id)
        # Registered before the broadcast, so a commit faster than our next line is seen.
        waiter = listener.register(transaction.transaction_id)
        try:
            self.broadcaster.broadcast(transaction.envelope(), transaction.transaction_id,
                                       self.timeouts.submit)
        except BaseException:
            listener.forget(waiter)
            raise
        return waiter


class Gateway:
    """A client identity's connection to its own peer, the other endorsing peers and the
    orderers. Obtain with :meth:`connect`; :meth:`close` (or ``with``) when done."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    @classmethod
    def connect(
        cls,
        identity: Identity,
        signer: Signer,
        peer: Node,
        *,
        endorsers: Sequence[Node] = (),
        orderers: Sequence[Node] = (),
        policy: EndorsementPolicy | None = None,
        hash: Hash = sha256,
        timeouts: Timeouts | None = None,
        refusals: RefusalDecoder = no_refusals,
    ) -> Gateway:
        """``peer`` is the own organisation's peer (evaluate, events, commit status);
        ``endorsers`` other peers for writes; ``policy`` defaults to the own organisation
        alone; ``refusals`` rebuilds the chaincode's typed refusals from the peers' messages
        (:meth:`GatewayError.chaincode_error`; by default none are).
        Raises ValueError when ``peer`` is not of the identity's organisation."""
        if peer.msp_id != identity.msp_id:
            raise ValueError(f"the own peer is of {peer.msp_id}, the identity of "
                             f"{identity.msp_id}")
        chosen = policy or EndorsementPolicy((identity.msp_id,), 1)
        return cls(_Client(identity, signer, peer, endorsers, orderers, chosen, hash,
                           timeouts or Timeouts(), refusals))

    @property
    def identity(self) -> Identity:
        return self._client.identity

    @property
    def peer(self) -> Node:
        """The own peer (evaluate, commit status, events)."""
        return self._client.peer

    @property
    def broadcaster(self) -> Broadcaster:
        """The orderers, in the order they are tried."""
        return self._client.broadcaster

    def network(self, name: str) -> Network:
        if not name:
            raise ValueError("network (channel) name must not be empty")
        return Network(self._client, name)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class Network:
    """One channel, seen through the gateway."""

    def __init__(self, client: _Client, name: str) -> None:
        self._client = client
        self.name = name

    def contract(self, chaincode: str, contract_name: str | None = None) -> Contract:
        if not chaincode:
            raise ValueError("chaincode name must not be empty")
        return Contract(self._client, self.name, chaincode, contract_name)

    @property
    def commit_listener(self) -> CommitListener:
        """The channel's deliver stream that wakes submitters (started on first use)."""
        return self._client.listener(self.name)

    def chaincode_events(self, chaincode: str, *, start_block: int | None = None,
                         checkpoint: Checkpoint | None = None) -> ChaincodeEventStream:
        """Stream the chaincode's events from valid transactions (see
        :mod:`gateway.fabric.events` for where it starts). A stream of its own, apart
        from the commit listener's; close it, or use it as a context manager."""
        first, after = start_of(start_block, checkpoint)
        envelope = self._client.seek(self.name, first)
        return ChaincodeEventStream(self._client.peer, chaincode, envelope,
                                    EventFilter(after, skip_first_block=first is None))


class ChaincodeEventStream:
    """Iterator of :class:`ChaincodeEvent`; raises ChaincodeEventsError when the stream
    fails (resume from :attr:`checkpoint`), ends quietly after :meth:`close`."""

    def __init__(self, peer: Node, chaincode: str, envelope: Any, admit: EventFilter) -> None:
        self._peer = peer
        self._chaincode = chaincode
        self._admit = admit
        self._closed = False
        self._call = open_filtered(peer, envelope)
        self.checkpoint: Checkpoint | None = None

    def __iter__(self) -> Iterator[ChaincodeEvent]:
        try:
            for block in filtered_blocks(self._call):
                number = int(block.number)
                for event in self._admit.admit(chaincode_events_of(block, self._chaincode),
                                               number):
                    self.checkpoint = Checkpoint(number, event.transaction_id)
                    yield event
                self.checkpoint = Checkpoint(number + 1)
        except DeliverStatus as exc:
            raise ChaincodeEventsError(str(exc), code=exc.code) from exc
        except grpc.RpcError as exc:
            if self._closed and rpc_code(exc) == grpc.StatusCode.CANCELLED:
                return
            raise ChaincodeEventsError(
                "the event stream failed", code=rpc_code(exc),
                details=[rpc_detail(exc, self._peer.address, self._peer.msp_id)]) from exc

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    def __enter__(self) -> ChaincodeEventStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class SubmittedTransaction:
    """A transaction an orderer accepted, not yet known to be committed."""

    def __init__(self, client: _Client, transaction: Transaction, waiter: Waiter) -> None:
        self._client = client
        self._waiter = waiter
        self._transaction = transaction
        self._channel_id = transaction.channel_id
        self.transaction_id = transaction.transaction_id
        self.result = transaction.result
        #: How many times the envelope was broadcast again while waiting (Timeouts.resend).
        self.resent = 0

    def status(self, timeout: float | None = None) -> Status:
        """Wait for the block; ``timeout`` defaults to ``Timeouts.commit_status``. Every
        ``Timeouts.resend`` seconds without it, the envelope is broadcast again.

        Raises CommitStatusError when the wait times out or the gateway closed.
        """
        chosen = self._client.timeouts.commit_status if timeout is None else timeout
        listener = self._client.listener(self._channel_id)
        every = self._client.timeouts.resend
        if every is None or chosen is None:
            return listener.wait(self._waiter, chosen)
        deadline = time.monotonic() + chosen
        while True:
            left = max(0.0, deadline - time.monotonic())
            try:
                return listener.wait(self._waiter, min(every, left))
            except CommitStatusError as exc:
                if exc.code is not grpc.StatusCode.DEADLINE_EXCEEDED or left <= every:
                    raise
            try:
                self._client.broadcaster.broadcast(self._transaction.envelope(),
                                                   self.transaction_id,
                                                   self._client.timeouts.submit)
                self.resent += 1
            except SubmitError as exc:
                # No orderer took it now; the wait goes on, the next resend may succeed.
                log.warning("resending %s: %s", self.transaction_id, exc.code.name)


class Contract:
    """A chaincode (and optionally one named contract inside it) on a channel."""

    def __init__(self, client: _Client, channel_id: str, chaincode: str,
                 contract_name: str | None) -> None:
        self._client = client
        self.channel_id = channel_id
        self.chaincode = chaincode
        self.contract_name = contract_name

    def _qualified(self, transaction_name: str) -> str:
        if self.contract_name:
            return f"{self.contract_name}:{transaction_name}"
        return transaction_name

    def new_proposal(self, transaction_name: str, *, args: Sequence[Argument] = (),
                     transient: Mapping[str, bytes] | None = None,
                     endorsing_orgs: Sequence[str] | None = None) -> Proposal:
        """Build (not sign, not send) a proposal. ``str`` arguments are sent as UTF-8."""
        if isinstance(args, str | bytes):
            raise TypeError("args must be a sequence of arguments, not one str or bytes")
        return ProposalBuilder(
            identity=self._client.identity, channel_id=self.channel_id,
            chaincode=self.chaincode, transaction_name=self._qualified(transaction_name),
            args=args, transient=transient or {}, endorsing_orgs=endorsing_orgs or (),
        ).build(self._client.hash)

    def evaluate(self, transaction_name: str, *, args: Sequence[Argument] = (),
                 transient: Mapping[str, bytes] | None = None,
                 endorsing_orgs: Sequence[str] | None = None) -> bytes:
        """Run a transaction function on the own peer without ordering it; its result.

        ``endorsing_orgs``, if given, must include the own organisation (the only one
        asked). Raises ValueError, EvaluateError.
        """
        own = self._client.identity.msp_id
        if endorsing_orgs is not None and own not in endorsing_orgs:
            raise ValueError(f"evaluate runs on the own peer, and {own} is not in endorsing_orgs")
        return self.evaluate_proposal(self.new_proposal(
            transaction_name, args=args, transient=transient, endorsing_orgs=endorsing_orgs))

    def endorse(self, transaction_name: str, *, args: Sequence[Argument] = (),
                transient: Mapping[str, bytes] | None = None,
                endorsing_orgs: Sequence[str] | None = None,
                policy: EndorsementPolicy | None = None) -> Transaction:
        """Endorse on enough organisations; the signed transaction, not yet ordered.

        ``policy`` replaces the chaincode's for a transaction that writes only to a private
        data collection with a policy of its own (Fabric validates it against that one).

        Raises ValueError when ``transient`` is non-empty and ``endorsing_orgs`` is not
        given (private data goes only to organisations the caller names) or the policy
        cannot be met by the known peers; EndorseError, EndorsementMismatchError.
        """
        if transient and not endorsing_orgs:
            raise ValueError(
                "endorsing_orgs must name the organisations trusted with transient data")
        proposal = self.new_proposal(transaction_name, args=args, transient=transient,
                                     endorsing_orgs=endorsing_orgs)
        return self._client.endorse(proposal, endorsing_orgs, policy)

    def submit_endorsed(self, transaction: Transaction) -> SubmittedTransaction:
        """Order an endorsed transaction; returns once an orderer accepted it.

        Raises SubmitError, CommitStatusError (the commit listener is not connected;
        nothing was sent).
        """
        return SubmittedTransaction(self._client, transaction, self._client.order(transaction))

    def evaluate_proposal(self, proposal: Proposal) -> bytes:
        """Evaluate a proposal built with :meth:`new_proposal` (signed here unless a
        signature was set, e.g. by an offline signer). Raises EvaluateError."""
        proposal.sign(self._client.signer)
        return self._client.endorsers.evaluate(proposal, self._client.timeouts.evaluate)

    def submit_async(self, transaction_name: str, *, args: Sequence[Argument] = (),
                     transient: Mapping[str, bytes] | None = None,
                     endorsing_orgs: Sequence[str] | None = None,
                     policy: EndorsementPolicy | None = None) -> SubmittedTransaction:
        """Endorse and order; returns before the commit (see SubmittedTransaction.status).

        Raises what :meth:`endorse` and :meth:`submit_endorsed` raise.
        """
        transaction = self.endorse(transaction_name, args=args, transient=transient,
                                   endorsing_orgs=endorsing_orgs, policy=policy)
        return self.submit_endorsed(transaction)

    def submit(self, transaction_name: str, *, args: Sequence[Argument] = (),
               transient: Mapping[str, bytes] | None = None,
               endorsing_orgs: Sequence[str] | None = None,
               policy: EndorsementPolicy | None = None) -> bytes:
        """Endorse, order and wait for a valid commit; the chaincode's result.

        Raises what :meth:`submit_async` raises, and CommitStatusError, CommitError.
        """
        submitted = self.submit_async(transaction_name, args=args, transient=transient,
                                      endorsing_orgs=endorsing_orgs, policy=policy)
        status = submitted.status()
        if not status.successful:
            raise CommitError(status.transaction_id, status.code, status.code_name,
                              status.block_number)
        return submitted.result
