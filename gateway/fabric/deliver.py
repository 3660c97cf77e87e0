"""Filtered blocks from a peer's ``Deliver.DeliverFiltered`` stream.

The client opens the stream with one signed ``common.Envelope`` (Fabric's
``protoutil.CreateSignedEnvelopeWithTLSBinding``, as the Node SDK's ``EventService``
builds it)::

    Envelope { payload, signature }
    └ Payload { header: { ChannelHeader { type DELIVER_SEEK_INFO, channel_id, tx_id,
                                          timestamp, epoch 0, tls_cert_hash },
                          SignatureHeader { creator, nonce } },
                data: SeekInfo { start, stop: specified(2^64-1), BLOCK_UNTIL_READY } }

The peer checks the signature, the ``event/FilteredBlock`` ACL and that the timestamp is
within its time window (15 min by default), then streams ``DeliverResponse`` messages
(``filtered_block`` each, or one ``status`` when it stops). A filtered block names each
transaction's id and validation code and its chaincode events without their payloads.
``tls_cert_hash`` is only for mutual TLS, which the peers here do not ask for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc

from gateway.fabric._protos import ab_pb2, common_pb2, events_pb2_grpc, transaction_pb2
from gateway.fabric.events import ChaincodeEvent
from gateway.fabric.nodes import Node
from gateway.fabric.proposal import new_nonce, transaction_id
from gateway.fabric.signing import Hash, Signer, sha256

#: "Never stop": the largest block number a SeekPosition can name.
MAX_BLOCK_NUMBER = 2**64 - 1

#: ``common.Status`` answers as gRPC codes, so every error type carries one.
_STATUS_CODES = {
    common_pb2.BAD_REQUEST: grpc.StatusCode.INVALID_ARGUMENT,
    common_pb2.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    common_pb2.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    common_pb2.REQUEST_ENTITY_TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    common_pb2.INTERNAL_SERVER_ERROR: grpc.StatusCode.INTERNAL,
    common_pb2.NOT_IMPLEMENTED: grpc.StatusCode.UNIMPLEMENTED,
    common_pb2.SERVICE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}


def grpc_code_for_status(status: int) -> grpc.StatusCode:
    """The gRPC code that says what a ``common.Status`` says (UNKNOWN otherwise)."""
    return _STATUS_CODES.get(status, grpc.StatusCode.UNKNOWN)


def status_name(status: int) -> str:
    try:
        name: str = common_pb2.Status.Name(status)
    except ValueError:
        return f"UNKNOWN({status})"
    return name


def seek_envelope(
    *,
    channel_id: str,
    creator: bytes,
    signer: Signer,
    start_block: int | None,
    hash: Hash = sha256,
    tls_cert_hash: bytes = b"",
    timestamp_ns: int | None = None,
) -> Any:
    """The signed request for blocks from ``start_block`` (None: the newest) onwards.

    Raises ValueError for a negative ``start_block``.
    """
    if start_block is None:
        start = ab_pb2.SeekPosition(newest=ab_pb2.SeekNewest())
    elif start_block < 0:
        raise ValueError("start_block must not be negative")
    else:
        start = ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start_block))
    seek = ab_pb2.SeekInfo(
        start=start,
        stop=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=MAX_BLOCK_NUMBER)),
        behavior=ab_pb2.SeekInfo.BLOCK_UNTIL_READY,
    )
    nonce = new_nonce()
    now_ns = time.time_ns() if timestamp_ns is None else timestamp_ns
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.DELIVER_SEEK_INFO,
        channel_id=channel_id,
        tx_id=transaction_id(nonce, creator),
        epoch=0,
        tls_cert_hash=tls_cert_hash,
    )
    channel_header.timestamp.seconds = now_ns // 1_000_000_000
    channel_header.timestamp.nanos = now_ns % 1_000_000_000
    payload = common_pb2.Payload(
        header=common_pb2.Header(
            channel_header=channel_header.SerializeToString(),
            signature_header=common_pb2.SignatureHeader(
                creator=creator, nonce=nonce
            ).SerializeToString(),
        ),
        data=seek.SerializeToString(),
    ).SerializeToString()
    return common_pb2.Envelope(payload=payload, signature=signer(hash(payload)))


class DeliverStatus(Exception):
    """The peer ended the stream with a ``common.Status`` instead of a block."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the peer ended the deliver stream: {status_name(status)}")
        self.status = status
        self.code = grpc_code_for_status(status)


def open_filtered(node: Node, envelope: Any) -> Any:
    """Start ``DeliverFiltered`` on ``node``; the call is iterable and cancellable.

    The request iterator ends after the one envelope: the peer reads the next request
    only once it has sent every block up to ``stop``, which here is never.
    """
    stub: Any = events_pb2_grpc.DeliverStub(node.channel)
    return stub.DeliverFiltered(iter([envelope]))


def filtered_blocks(call: Any) -> Iterator[Any]:
    """The ``FilteredBlock`` messages of a stream, in order.

    Raises DeliverStatus when the peer answers with a status (even SUCCESS: with a stop
    of 2^64-1 it only stops on a failure), grpc.RpcError when the stream breaks.
    """
    for response in call:
        if response.WhichOneof("Type") == "filtered_block":
            yield response.filtered_block
        elif response.WhichOneof("Type") == "status":
            raise DeliverStatus(int(response.status))


def chaincode_events_of(block: Any, chaincode: str) -> list[ChaincodeEvent]:
    """The events ``chaincode`` set in the valid transactions of one filtered block, in
    block order (invalid transactions' events never happened). Payloads are empty: a
    filtered block does not carry them."""
    found: list[ChaincodeEvent] = []
    for tx in block.filtered_transactions:
        if tx.tx_validation_code != transaction_pb2.VALID:
            continue
        for action in tx.transaction_actions.chaincode_actions:
            event = action.chaincode_event
            if event.chaincode_id != chaincode or not event.event_name:
                continue
            found.append(
                ChaincodeEvent(
                    block_number=int(block.number),
                    transaction_id=tx.txid,
                    chaincode_name=event.chaincode_id,
                    event_name=event.event_name,
                    payload=bytes(event.payload),
                )
            )
    return found
