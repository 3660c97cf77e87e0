"""The Fabric Gateway client: connect → network → contract → evaluate / submit.

The shape of fabric-gateway's Go ``pkg/client`` and Node ``node/src``::

    gateway = Gateway.connect(identity, ecdsa_signer(key), channel)   # caller owns channel
    contract = gateway.network("prefshare").contract("consent")
    data = contract.evaluate("ReadConsent", args=["k-0001"])
    data = contract.submit("GrantConsent", args=[doc],
                           transient={"statement": raw}, endorsing_orgs=["Org1MSP"])
    with gateway.network("prefshare").chaincode_events("consent", checkpoint=cp) as events:
        for event in events: ...

``submit`` is the three steps the peer gateway expects, each signed by the client:

1. **Endorse** the signed proposal; the gateway collects endorsements and returns the
   prepared transaction (``common.Envelope``). With transient data the endorsing
   organisations must be named, so private data reaches only peers of organisations
   the caller trusts with it (the gateway would otherwise choose them itself).
2. **Submit** the envelope with the client's signature over its payload.
3. **CommitStatus** with a signed request; it returns when the transaction is in a
   block. A validation code other than ``VALID`` raises :class:`CommitError`.

Each RPC has a deadline from :class:`Timeouts`; a failed RPC raises the matching
error type of :mod:`gateway.fabric.errors`, never a bare ``grpc.RpcError``.

This module is written against the Gateway service of Fabric v3.1 (the
``gateway.Gateway`` gRPC service, unchanged since v2.4). Its unit tests exercise it
only against an in-process protocol test double, not against a Fabric peer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc

from gateway.fabric._protos import gateway_pb2, gateway_pb2_grpc
from gateway.fabric.errors import (
    ChaincodeEventsError,
    CommitError,
    CommitStatusError,
    EndorseError,
    EvaluateError,
    SubmitError,
)
from gateway.fabric.events import ChaincodeEvent, ChaincodeEventsRequest, Checkpoint, events_of
from gateway.fabric.identity import Identity
from gateway.fabric.proposal import Argument, Proposal, ProposalBuilder
from gateway.fabric.signing import Hash, Signer, sha256
from gateway.fabric.transaction import CommitStatusRequest, Status, Transaction


@dataclass(frozen=True)
class Timeouts:
    """Deadline of each gateway RPC, in seconds (None: no deadline).

    The defaults are those of fabric-gateway's samples. ``commit_status`` bounds
    the wait for the block: with the orderer's batch timeout of 2 s a commit
    normally takes a few seconds.
    """

    evaluate: float | None = 5.0
    endorse: float | None = 15.0
    submit: float | None = 5.0
    commit_status: float | None = 60.0


class _Client:
    """The signed RPCs, shared by everything obtained from one Gateway."""

    def __init__(
        self,
        identity: Identity,
        signer: Signer,
        channel: grpc.Channel,
        hash: Hash,
        timeouts: Timeouts,
    ) -> None:
        self.identity = identity
        self.creator = identity.creator()
        self.signer = signer
        self.hash = hash
        self.timeouts = timeouts
        self.stub: Any = gateway_pb2_grpc.GatewayStub(channel)

    def evaluate(self, proposal: Proposal) -> bytes:
        proposal.sign(self.signer)
        request = gateway_pb2.EvaluateRequest(
            transaction_id=proposal.transaction_id,
            channel_id=proposal.channel_id,
            proposed_transaction=proposal.signed_proposal(),
            target_organizations=list(proposal.endorsing_orgs),
        )
        try:
            response = self.stub.Evaluate(request, timeout=self.timeouts.evaluate)
        except grpc.RpcError as exc:
            raise EvaluateError.from_rpc_error(exc, proposal.transaction_id) from exc
        result: bytes = response.result.payload
        return result

    def endorse(self, proposal: Proposal) -> Transaction:
        proposal.sign(self.signer)
        request = gateway_pb2.EndorseRequest(
            transaction_id=proposal.transaction_id,
            channel_id=proposal.channel_id,
            proposed_transaction=proposal.signed_proposal(),
            endorsing_organizations=list(proposal.endorsing_orgs),
        )
        try:
            response = self.stub.Endorse(request, timeout=self.timeouts.endorse)
        except grpc.RpcError as exc:
            raise EndorseError.from_rpc_error(exc, proposal.transaction_id) from exc
        return Transaction(proposal.transaction_id, response.prepared_transaction, hash=self.hash)

    def submit(self, transaction: Transaction) -> CommitStatusRequest:
        transaction.sign(self.signer)
        status_request = CommitStatusRequest(
            transaction_id=transaction.transaction_id,
            channel_id=transaction.channel_id,
            creator=self.creator,
            hash=self.hash,
        )
        request = gateway_pb2.SubmitRequest(
            transaction_id=transaction.transaction_id,
            channel_id=transaction.channel_id,
            prepared_transaction=transaction.envelope,
        )
        try:
            self.stub.Submit(request, timeout=self.timeouts.submit)
        except grpc.RpcError as exc:
            raise SubmitError.from_rpc_error(exc, transaction.transaction_id) from exc
        return status_request

    def commit_status(self, request: CommitStatusRequest, timeout: float | None) -> Status:
        request.sign(self.signer)
        try:
            response = self.stub.CommitStatus(request.signed_request, timeout=timeout)
        except grpc.RpcError as exc:
            raise CommitStatusError.from_rpc_error(exc, request.transaction_id) from exc
        return Status(request.transaction_id, int(response.result), int(response.block_number))

    def chaincode_events(
        self, request: ChaincodeEventsRequest, timeout: float | None
    ) -> ChaincodeEventStream:
        request.sign(self.signer)
        return ChaincodeEventStream(
            self.stub.ChaincodeEvents(request.signed_request, timeout=timeout)
        )


class Gateway:
    """A connection to one peer's Fabric Gateway as one client identity.

    Obtain with :meth:`connect`. The gRPC channel (TLS, keep-alive, target peer)
    belongs to the caller, who closes it; the Gateway holds no other resources.
    """

    def __init__(self, client: _Client) -> None:
        self._client = client

    @classmethod
    def connect(
        cls,
        identity: Identity,
        signer: Signer,
        channel: grpc.Channel,
        *,
        hash: Hash = sha256,
        timeouts: Timeouts | None = None,
    ) -> Gateway:
        return cls(_Client(identity, signer, channel, hash, timeouts or Timeouts()))

    @property
    def identity(self) -> Identity:
        return self._client.identity

    def network(self, name: str) -> Network:
        if not name:
            raise ValueError("network (channel) name must not be empty")
        return Network(self._client, name)


class Network:
    """One channel, seen through the gateway."""

    def __init__(self, client: _Client, name: str) -> None:
        self._client = client
        self.name = name

    def contract(self, chaincode: str, contract_name: str | None = None) -> Contract:
        if not chaincode:
            raise ValueError("chaincode name must not be empty")
        return Contract(self._client, self.name, chaincode, contract_name)

    def new_chaincode_events_request(
        self,
        chaincode: str,
        *,
        start_block: int | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> ChaincodeEventsRequest:
        return ChaincodeEventsRequest(
            channel_id=self.name,
            chaincode=chaincode,
            creator=self._client.creator,
            start_block=start_block,
            checkpoint=checkpoint,
            hash=self._client.hash,
        )

    def chaincode_events(
        self,
        chaincode: str,
        *,
        start_block: int | None = None,
        checkpoint: Checkpoint | None = None,
        timeout: float | None = None,
    ) -> ChaincodeEventStream:
        """Stream the chaincode's events (see :mod:`gateway.fabric.events` for where it
        starts). Close the stream, or use it as a context manager, to stop listening.
        """
        request = self.new_chaincode_events_request(
            chaincode, start_block=start_block, checkpoint=checkpoint
        )
        return self._client.chaincode_events(request, timeout)


class ChaincodeEventStream:
    """Iterator of :class:`ChaincodeEvent`; raises ChaincodeEventsError when the
    stream fails, and ends quietly after :meth:`close`."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._closed = False

    def __iter__(self) -> Iterator[ChaincodeEvent]:
        try:
            for response in self._call:
                yield from events_of(response)
        except grpc.RpcError as exc:
            if self._closed and exc.code() == grpc.StatusCode.CANCELLED:
                return
            raise ChaincodeEventsError.from_rpc_error(exc) from exc

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    def __enter__(self) -> ChaincodeEventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class SubmittedTransaction:
    """A transaction accepted by the orderer, not yet known to be committed."""

    def __init__(self, client: _Client, transaction: Transaction, request: CommitStatusRequest):
        self._client = client
        self._request = request
        self.transaction_id = transaction.transaction_id
        self.result = transaction.result

    def status(self, timeout: float | None = None) -> Status:
        """Wait for the commit; ``timeout`` defaults to ``Timeouts.commit_status``.

        Raises CommitStatusError when the wait fails or times out.
        """
        chosen = self._client.timeouts.commit_status if timeout is None else timeout
        return self._client.commit_status(self._request, chosen)


class Contract:
    """A chaincode (and optionally one named contract inside it) on a channel."""

    def __init__(
        self, client: _Client, channel_id: str, chaincode: str, contract_name: str | None
    ) -> None:
        self._client = client
        self.channel_id = channel_id
        self.chaincode = chaincode
        self.contract_name = contract_name

    def _qualified(self, transaction_name: str) -> str:
        if self.contract_name:
            return f"{self.contract_name}:{transaction_name}"
        return transaction_name

    def new_proposal(
        self,
        transaction_name: str,
        *,
        args: Sequence[Argument] = (),
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> Proposal:
        """Build (not sign, not send) a proposal. ``str`` arguments are sent as UTF-8."""
        if isinstance(args, str | bytes):
            raise TypeError("args must be a sequence of arguments, not one str or bytes")
        return ProposalBuilder(
            identity=self._client.identity,
            channel_id=self.channel_id,
            chaincode=self.chaincode,
            transaction_name=self._qualified(transaction_name),
            args=args,
            transient=transient or {},
            endorsing_orgs=endorsing_orgs or (),
        ).build(self._client.hash)

    def evaluate(
        self,
        transaction_name: str,
        *,
        args: Sequence[Argument] = (),
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> bytes:
        """Run a transaction function on one peer without ordering it; its result.

        ``endorsing_orgs`` restricts which organisations' peers may run it (without
        it, and with transient data, the gateway uses only its own organisation).
        Raises EvaluateError.
        """
        proposal = self.new_proposal(
            transaction_name, args=args, transient=transient, endorsing_orgs=endorsing_orgs
        )
        return self._client.evaluate(proposal)

    def submit_async(
        self,
        transaction_name: str,
        *,
        args: Sequence[Argument] = (),
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> SubmittedTransaction:
        """Endorse and submit; returns before the commit (see SubmittedTransaction.status).

        Raises ValueError when ``transient`` is non-empty and ``endorsing_orgs`` is
        not given; EndorseError, SubmitError, ResponseDecodeError.
        """
        if transient and not endorsing_orgs:
            raise ValueError(
                "endorsing_orgs must name the organisations trusted with transient data"
            )
        proposal = self.new_proposal(
            transaction_name, args=args, transient=transient, endorsing_orgs=endorsing_orgs
        )
        transaction = self._client.endorse(proposal)
        request = self._client.submit(transaction)
        return SubmittedTransaction(self._client, transaction, request)

    def submit(
        self,
        transaction_name: str,
        *,
        args: Sequence[Argument] = (),
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> bytes:
        """Endorse, submit and wait for a valid commit; the chaincode's result.

        Raises ValueError (transient data without endorsing_orgs), EndorseError,
        SubmitError, CommitStatusError, CommitError, ResponseDecodeError.
        """
        submitted = self.submit_async(
            transaction_name, args=args, transient=transient, endorsing_orgs=endorsing_orgs
        )
        status = submitted.status()
        if not status.successful:
            raise CommitError(
                status.transaction_id, status.code, status.code_name, status.block_number
            )
        return submitted.result
