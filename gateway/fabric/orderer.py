"""``AtomicBroadcast.Broadcast``: hand a signed transaction to an orderer, failing over.

One short stream per transaction: send the envelope, read the one ``BroadcastResponse``.
An orderer that cannot be reached (gRPC UNAVAILABLE or a deadline) or answers
``SERVICE_UNAVAILABLE`` (a Raft node without a leader) is skipped for the next one; any
other answer (BAD_REQUEST, FORBIDDEN, ...) is the transaction's fault and is final.

A deadline does not prove the orderer lost the transaction; sending it again elsewhere
is still safe, because a second copy of a transaction id is marked ``DUPLICATE_TXID``
when committed and the first copy's code is the one the submitter sees.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import grpc

from gateway.fabric._protos import ab_pb2_grpc, common_pb2
from gateway.fabric.deliver import grpc_code_for_status, status_name
from gateway.fabric.errors import ErrorDetail, SubmitError, rpc_code, rpc_detail
from gateway.fabric.nodes import Node

_TRY_NEXT = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


class Broadcaster:
    """The orderers in preference order; remembers the last one that accepted, so a dead
    first orderer costs one failed attempt rather than one per transaction."""

    def __init__(self, orderers: Sequence[Node]) -> None:
        self._orderers = tuple(orderers)
        self._stubs: tuple[Any, ...] = tuple(
            ab_pb2_grpc.AtomicBroadcastStub(o.channel) for o in self._orderers)
        self._lock = threading.Lock()
        self._preferred = 0

    @property
    def orderers(self) -> tuple[Node, ...]:
        return self._orderers

    @property
    def preferred(self) -> Node | None:
        """The orderer tried first: the last one that accepted (the first at the start)."""
        with self._lock:
            return self._orderers[self._preferred] if self._orderers else None

    def broadcast(self, envelope: Any, transaction_id: str, timeout: float | None) -> Node:
        """Send ``envelope``; the orderer that accepted it.

        Raises SubmitError naming every orderer tried: UNAVAILABLE when none could take
        it, or the refusing orderer's status as a gRPC code.
        """
        if not self._orderers:
            raise SubmitError("no orderer is configured", code=grpc.StatusCode.FAILED_PRECONDITION,
                              transaction_id=transaction_id)
        with self._lock:
            first = self._preferred
        tried: list[ErrorDetail] = []
        count = len(self._orderers)
        for step in range(count):
            index = (first + step) % count
            node, stub = self._orderers[index], self._stubs[index]
            try:
                status, info = self._send(stub, envelope, timeout)
            except grpc.RpcError as exc:
                tried.append(rpc_detail(exc, node.address, node.msp_id))
                if rpc_code(exc) in _TRY_NEXT:
                    continue
                raise SubmitError("the orderer refused the transaction", code=rpc_code(exc),
                                  transaction_id=transaction_id, details=tried) from exc
            if status == common_pb2.SUCCESS:
                with self._lock:
                    self._preferred = index
                return node
            tried.append(ErrorDetail(node.address, node.msp_id,
                                     f"{status_name(status)}: {info}", status))
            if status != common_pb2.SERVICE_UNAVAILABLE:
                raise SubmitError("the orderer refused the transaction",
                                  code=grpc_code_for_status(status),
                                  transaction_id=transaction_id, details=tried)
        raise SubmitError("no orderer accepted the transaction",
                          code=grpc.StatusCode.UNAVAILABLE, transaction_id=transaction_id,
                          details=tried)

    @staticmethod
    def _send(stub: Any, envelope: Any, timeout: float | None) -> tuple[int, str]:
        # The request iterator ends after the envelope, so the orderer closes the stream
        # itself once it has answered; nothing to cancel.
        for response in stub.Broadcast(iter([envelope]), timeout=timeout):
            return int(response.status), str(response.info)
        return common_pb2.SERVICE_UNAVAILABLE, "the orderer closed the stream without an answer"
