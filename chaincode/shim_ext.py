"""What the PyPI shim (``fabric-chaincode-python`` 2.5.4) lacks, added beside it.

The shim's ``ChaincodeStub`` has no private data, purge, private data hash, transient map
or event delivery, and its handler resolves every request with whatever the peer answers,
``ERROR`` included (``MsgQueueHandler.handle_msg_response`` calls ``success`` for both, so
``stub.get_state`` would hand back a peer's error text as if it were the value). Its
``Handler.handle_stub_interaction`` builds the ``COMPLETED`` message without the
``chaincode_event`` field, so ``stub.set_event`` never reaches the peer. This module keeps
the shim's stream handling (registration, the created/established/ready states, the
per-transaction request queue) and replaces the rest:

- **message builders** (pure, unit-tested): one function per request the contract makes,
  each returning the ``peer.ChaincodeMessage`` a Fabric peer expects;
- :func:`answer_payload`: reads the peer's answer, raising :class:`PeerError` on ``ERROR``;
- :class:`ShimLedger`: :class:`chaincode.ledger.Ledger` over those messages;
- :class:`ShimHandler`: the shim's ``Handler`` with its transaction step replaced, so the
  contract is called with a ``ShimLedger`` and the ``COMPLETED`` message carries the event;
- :class:`ChaincodeService`: the ``protos.Chaincode`` gRPC service (chaincode as a server).

Assumptions about the peer protocol (Fabric v2.5/v3.x ``core/chaincode/handler.go`` and
``fabric-chaincode-go`` ``shim/handler.go``, protos ``peer/chaincode_shim.proto``), each
naming the message it relies on. 1 and 3 to 6 hold on a Fabric 2.1.1 peer (the integration
tests on the real network use every one); 2 is not used there: Fabric 2.1 has no purge, so
erasure deletes (``DelPrivateData``, docs/chaincode.md):

1. Private data uses the public-state messages with the ``collection`` field set:
   ``GET_STATE``/``GetState``, ``PUT_STATE``/``PutState``, ``DEL_STATE``/``DelState``,
   ``GET_STATE_BY_RANGE``/``GetStateByRange`` (no pagination metadata for private data).
2. ``PURGE_PRIVATE_DATA`` carries a ``DelState`` payload (not the ``PurgePrivateState``
   message the protos also define; both encode ``key`` = 1 and ``collection`` = 2, so the
   bytes are identical either way). The peer answers ``ERROR`` unless the channel has the
   ``V2_5`` application capability, and for an empty collection.
3. ``GET_PRIVATE_DATA_HASH`` carries a ``GetState`` payload; the answer's payload is the
   SHA-256 of the current value, empty when absent.
4. Every answer is a ``ChaincodeMessage`` of type ``RESPONSE`` (payload as above; range
   and history answers are a ``QueryResponse`` whose ``results[].resultBytes`` are
   ``queryresult.KV`` or ``queryresult.KeyModification``, paged with ``QUERY_STATE_NEXT``
   while ``has_more``, closed with ``QUERY_STATE_CLOSE``) or ``ERROR`` with the peer's
   message as UTF-8 payload. The peer handles one request per transaction at a time, which
   the shim's per-transaction queue respects.
5. The ``TRANSACTION`` message's ``proposal`` field is the client's ``SignedProposal``; the
   creator, transient map and timestamp are decoded from it (:mod:`chaincode.identity`).
6. ``COMPLETED`` carries the serialised ``peer.Response`` and at most one
   ``ChaincodeEvent`` in ``chaincode_event``; the peer fills in its ``chaincode_id`` and
   ``tx_id`` (``processChaincodeExecutionResult``). A response status of 400 or more fails
   the endorsement and the peer drops the event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from fabric_chaincode_python.fabric_shim.handler import Handler as _ShimHandlerBase
from fabric_chaincode_python.fabric_shim.msg_queue_handler import QueueMessage
from fabric_protos.ledger.queryresult import kv_query_result_pb2 as _kv_pb2
from fabric_protos.peer import chaincode_event_pb2 as _event_pb2
from fabric_protos.peer import chaincode_pb2 as _chaincode_pb2
from fabric_protos.peer import chaincode_shim_pb2 as _shim_pb2
from fabric_protos.peer import chaincode_shim_pb2_grpc as _shim_grpc
from fabric_protos.peer import proposal_response_pb2 as _response_pb2
from google.protobuf.message import DecodeError

from chaincode.contract import PrefshareContract
from chaincode.errors import ChaincodeError, InvalidValue
from chaincode.fields import from_proto_timestamp
from chaincode.identity import ProposalFacts, decode_signed_proposal
from chaincode.ledger import Creator, Event, KeyModification, PeerError
from chaincode.statekeys import CompositeKey

# Generated protobuf modules ship without type stubs; bind them as Any once, here.
kv_pb2: Any = _kv_pb2
event_pb2: Any = _event_pb2
chaincode_pb2: Any = _chaincode_pb2
shim_pb2: Any = _shim_pb2
shim_grpc: Any = _shim_grpc
response_pb2: Any = _response_pb2

Msg = shim_pb2.ChaincodeMessage
_MAX_RUNE = "\U0010ffff"

log = logging.getLogger(__name__)

#: HTTP-like status of a refusal, by kind (the peer fails endorsement at 400 and above).
STATUS_BY_KIND = {
    "invalid": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
}
STATUS_OK = 200
STATUS_INTERNAL = 500


# --- message builders (pure) ----------------------------------------------------------------


def _message(kind: int, payload: Any, channel_id: str, txid: str) -> Any:
    return Msg(type=kind, payload=payload.SerializeToString(), txid=txid, channel_id=channel_id)


def get_state_message(channel_id: str, txid: str, key: str, collection: str = "") -> Any:
    """``GET_STATE`` with ``GetState{key, collection}`` (public when collection is "")."""
    return _message(
        Msg.GET_STATE, shim_pb2.GetState(key=key, collection=collection), channel_id, txid
    )


def put_state_message(
    channel_id: str, txid: str, key: str, value: bytes, collection: str = ""
) -> Any:
    """``PUT_STATE`` with ``PutState{key, value, collection}``."""
    payload = shim_pb2.PutState(key=key, value=value, collection=collection)
    return _message(Msg.PUT_STATE, payload, channel_id, txid)


def del_state_message(channel_id: str, txid: str, key: str, collection: str = "") -> Any:
    """``DEL_STATE`` with ``DelState{key, collection}``."""
    return _message(
        Msg.DEL_STATE, shim_pb2.DelState(key=key, collection=collection), channel_id, txid
    )


def purge_private_data_message(channel_id: str, txid: str, collection: str, key: str) -> Any:
    """``PURGE_PRIVATE_DATA`` with a ``DelState{key, collection}`` payload (assumption 2)."""
    _require_collection(collection)
    return _message(
        Msg.PURGE_PRIVATE_DATA, shim_pb2.DelState(key=key, collection=collection), channel_id, txid
    )


def get_private_data_hash_message(channel_id: str, txid: str, collection: str, key: str) -> Any:
    """``GET_PRIVATE_DATA_HASH`` with a ``GetState{key, collection}`` payload."""
    _require_collection(collection)
    return _message(
        Msg.GET_PRIVATE_DATA_HASH,
        shim_pb2.GetState(key=key, collection=collection),
        channel_id,
        txid,
    )


def get_state_by_range_message(
    channel_id: str, txid: str, start_key: str, end_key: str, collection: str = ""
) -> Any:
    """``GET_STATE_BY_RANGE`` with ``GetStateByRange{startKey, endKey, collection}``."""
    payload = shim_pb2.GetStateByRange(startKey=start_key, endKey=end_key, collection=collection)
    return _message(Msg.GET_STATE_BY_RANGE, payload, channel_id, txid)


def partial_key_range(prefix: CompositeKey) -> tuple[str, str]:
    """Start and end key of a partial composite key query, as the Go shim forms them."""
    start = prefix.render()
    return start, start + _MAX_RUNE


def get_history_message(channel_id: str, txid: str, key: str) -> Any:
    return _message(Msg.GET_HISTORY_FOR_KEY, shim_pb2.GetHistoryForKey(key=key), channel_id, txid)


def query_state_next_message(channel_id: str, txid: str, query_id: str) -> Any:
    return _message(Msg.QUERY_STATE_NEXT, shim_pb2.QueryStateNext(id=query_id), channel_id, txid)


def query_state_close_message(channel_id: str, txid: str, query_id: str) -> Any:
    return _message(Msg.QUERY_STATE_CLOSE, shim_pb2.QueryStateClose(id=query_id), channel_id, txid)


def completed_message(channel_id: str, txid: str, response: Any, event: Event | None = None) -> Any:
    """``COMPLETED`` with the serialised ``peer.Response`` and the transaction's event."""
    msg = Msg(
        type=Msg.COMPLETED,
        payload=response.SerializeToString(),
        txid=txid,
        channel_id=channel_id,
    )
    if event is not None:
        msg.chaincode_event.CopyFrom(
            event_pb2.ChaincodeEvent(event_name=event.name, payload=event.payload, tx_id=txid)
        )
    return msg


def _require_collection(collection: str) -> None:
    if not collection:
        raise ValueError("private data needs a collection name")


def request_name(msg: Any) -> str:
    return str(Msg.Type.Name(msg.type))


def answer_payload(request: Any, answer: Any) -> bytes:
    """The payload of the peer's ``RESPONSE`` to ``request``.

    Raises PeerError for ``ERROR`` (the peer's text), any other type, or an answer for
    another transaction.
    """
    name = request_name(request)
    if answer.txid != request.txid or answer.channel_id != request.channel_id:
        raise PeerError(name, "answer is for another transaction")
    if answer.type == Msg.RESPONSE:
        return bytes(answer.payload)
    if answer.type == Msg.ERROR:
        raise PeerError(name, bytes(answer.payload).decode("utf-8", "replace"))
    raise PeerError(name, f"unexpected answer of type {request_name(answer)}")


def _query_response(name: str, payload: bytes) -> Any:
    try:
        return shim_pb2.QueryResponse.FromString(payload)
    except DecodeError as exc:
        raise PeerError(name, "answer is not a QueryResponse") from exc


# --- the ledger over a peer stream ------------------------------------------------------------


class PeerLink(Protocol):
    """Sends one request of a transaction to the peer and returns its answer."""

    async def ask(self, msg: Any) -> Any: ...


class ShimLedger:
    """:class:`chaincode.ledger.Ledger` for one transaction, over the shim stream."""

    def __init__(self, link: PeerLink, channel_id: str, txid: str, facts: ProposalFacts) -> None:
        self._link = link
        self._channel = channel_id
        self._txid = txid
        self._facts = facts
        self.event: Event | None = None

    async def _call(self, msg: Any) -> bytes:
        return answer_payload(msg, await self._link.ask(msg))

    async def _query(self, first: Any) -> AsyncIterator[bytes]:
        """``resultBytes`` of every result of a paged query, closing it at the end."""
        name = request_name(first)
        response = _query_response(name, await self._call(first))
        try:
            while True:
                for result in response.results:
                    yield bytes(result.resultBytes)
                if not response.has_more:
                    break
                next_msg = query_state_next_message(self._channel, self._txid, response.id)
                response = _query_response(name, await self._call(next_msg))
        finally:
            if response.id:
                await self._call(query_state_close_message(self._channel, self._txid, response.id))

    async def _range(self, collection: str, prefix: CompositeKey) -> list[tuple[str, bytes]]:
        start, end = partial_key_range(prefix)
        msg = get_state_by_range_message(self._channel, self._txid, start, end, collection)
        rows = []
        async for raw in self._query(msg):
            kv = kv_pb2.KV.FromString(raw)
            rows.append((str(kv.key), bytes(kv.value)))
        return rows

    # public state
    async def get_state(self, key: str) -> bytes | None:
        return await self._call(get_state_message(self._channel, self._txid, key)) or None

    async def put_state(self, key: str, value: bytes) -> None:
        await self._call(put_state_message(self._channel, self._txid, key, value))

    async def delete_state(self, key: str) -> None:
        await self._call(del_state_message(self._channel, self._txid, key))

    async def get_state_by_partial_key(self, prefix: CompositeKey) -> list[tuple[str, bytes]]:
        return await self._range("", prefix)

    async def get_history(self, key: str) -> list[KeyModification]:
        out = []
        async for raw in self._query(get_history_message(self._channel, self._txid, key)):
            mod = kv_pb2.KeyModification.FromString(raw)
            out.append(
                KeyModification(
                    tx_id=str(mod.tx_id),
                    value=bytes(mod.value),
                    timestamp=from_proto_timestamp(mod.timestamp.seconds, mod.timestamp.nanos),
                    is_delete=bool(mod.is_delete),
                )
            )
        return out

    # private data
    async def get_private(self, collection: str, key: str) -> bytes | None:
        _require_collection(collection)
        msg = get_state_message(self._channel, self._txid, key, collection)
        return await self._call(msg) or None

    async def put_private(self, collection: str, key: str, value: bytes) -> None:
        _require_collection(collection)
        await self._call(put_state_message(self._channel, self._txid, key, value, collection))

    async def delete_private(self, collection: str, key: str) -> None:
        _require_collection(collection)
        await self._call(del_state_message(self._channel, self._txid, key, collection))

    async def purge_private(self, collection: str, key: str) -> None:
        await self._call(purge_private_data_message(self._channel, self._txid, collection, key))

    async def get_private_hash(self, collection: str, key: str) -> bytes | None:
        msg = get_private_data_hash_message(self._channel, self._txid, collection, key)
        return await self._call(msg) or None

    async def get_private_by_partial_key(
        self, collection: str, prefix: CompositeKey
    ) -> list[tuple[str, bytes]]:
        _require_collection(collection)
        return await self._range(collection, prefix)

    # the proposal
    def transient(self) -> Mapping[str, bytes]:
        return dict(self._facts.transient)

    def creator(self) -> Creator:
        return Creator(self._facts.creator.msp_id, self._facts.creator.certificate_pem)

    def tx_timestamp(self) -> datetime:
        return self._facts.timestamp

    def tx_id(self) -> str:
        return self._txid

    def set_event(self, name: str, payload: bytes) -> None:
        if not name:
            raise ValueError("event name must not be empty")
        self.event = Event(name, bytes(payload))


# --- running a transaction ------------------------------------------------------------------


def success_response(payload: bytes) -> Any:
    return response_pb2.Response(status=STATUS_OK, payload=payload)


def error_response(status: int, message: str) -> Any:
    return response_pb2.Response(status=status, message=message)


def decode_input(payload: bytes) -> tuple[str, list[str]]:
    """Function name and string arguments of a ``TRANSACTION`` payload (``ChaincodeInput``).

    Raises InvalidValue for an undecodable input, no function name, or non-UTF-8 args.
    """
    try:
        spec = chaincode_pb2.ChaincodeInput.FromString(payload)
    except DecodeError as exc:
        raise InvalidValue("transaction input is not a ChaincodeInput", field="args") from exc
    if not spec.args:
        raise InvalidValue("transaction names no function", field="function")
    texts = []
    for index, arg in enumerate(spec.args):
        try:
            texts.append(bytes(arg).decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidValue("argument is not UTF-8", field=f"args[{index}]") from exc
    return texts[0], texts[1:]


async def run_transaction(
    contract: PrefshareContract, link: PeerLink, msg: Any
) -> tuple[Any, Event | None]:
    """Run the ``TRANSACTION`` (or ``INIT``) ``msg``: the ``peer.Response`` and the event.

    A refusal becomes its kind's status with the error's JSON as message; a peer refusal
    500 with the peer's text; anything else 500 naming only the exception type (its text
    might hold values).
    """
    try:
        function, args = decode_input(msg.payload)
        facts = decode_signed_proposal(msg.proposal)
        ledger = ShimLedger(link, msg.channel_id, msg.txid, facts)
        payload = await contract.invoke(ledger, function, args)
    except ChaincodeError as err:
        return error_response(STATUS_BY_KIND[err.kind], err.to_json()), None
    except PeerError as err:
        return error_response(STATUS_INTERNAL, str(err)), None
    except Exception as exc:  # the peer must get an answer whatever went wrong
        log.error("transaction %s failed: %s", msg.txid, type(exc).__name__)
        return error_response(STATUS_INTERNAL, f"internal error ({type(exc).__name__})"), None
    return success_response(payload), ledger.event


class _SerialWriter:
    """Serialises writes to the gRPC stream: transactions run concurrently."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self._lock = asyncio.Lock()

    async def write(self, msg: Any) -> None:
        async with self._lock:
            await self._context.write(msg)


class ShimHandler(_ShimHandlerBase):
    """The shim's stream handler, running :class:`PrefshareContract` transactions."""

    def __init__(self, chaincode_id: str, contract: PrefshareContract) -> None:
        super().__init__(chaincode_id, None)
        self.contract = contract

    async def ask(self, msg: Any) -> Any:
        """Send a request through the shim's per-transaction queue; await the answer."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.msg_queue_handler.queue_msg(QueueMessage(msg, request_name(msg), future))
        return await future

    async def handle_stub_interaction(self, msg: Any, action: str = "Invoke") -> None:
        response, event = await run_transaction(self.contract, self, msg)
        await self.context.write(completed_message(msg.channel_id, msg.txid, response, event))

    async def chat_with_peer(self, stream: Any, context: Any) -> Any:
        return await super().chat_with_peer(stream, _SerialWriter(context))


class ChaincodeService(shim_grpc.ChaincodeServicer):
    """``protos.Chaincode/Connect``: the peer opens one stream per connection."""

    def __init__(self, chaincode_id: str, contract: PrefshareContract) -> None:
        self.chaincode_id = chaincode_id
        self.contract = contract

    async def Connect(self, request_iterator: Any, context: Any) -> None:
        handler = ShimHandler(self.chaincode_id, self.contract)
        await handler.chat_with_peer(request_iterator, context)


def add_to_server(server: Any, chaincode_id: str, contract: PrefshareContract) -> None:
    shim_grpc.add_ChaincodeServicer_to_server(ChaincodeService(chaincode_id, contract), server)


__all__: Sequence[str] = (
    "ChaincodeService",
    "PeerError",
    "ShimHandler",
    "ShimLedger",
    "add_to_server",
    "answer_payload",
    "completed_message",
    "del_state_message",
    "get_history_message",
    "get_private_data_hash_message",
    "get_state_by_range_message",
    "get_state_message",
    "purge_private_data_message",
    "put_state_message",
    "query_state_close_message",
    "query_state_next_message",
    "run_transaction",
)
