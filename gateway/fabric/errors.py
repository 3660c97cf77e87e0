"""Errors as types, after fabric-gateway's ``errors.go`` and the Node client's classes.

::

    GatewayError                 a gRPC call to the gateway failed: .code (grpc.StatusCode),
    │                            .status_message, .details (one ErrorDetail per peer/orderer)
    ├ ChaincodeEventsError       the event stream failed
    └ TransactionError           ... for one transaction: + .transaction_id
      ├ EvaluateError            Evaluate failed (Go returns the bare gRPC error here; a
      │                          named type lets the REST layer map every failure in one place)
      ├ EndorseError             Endorse failed: the transaction was not endorsed
      ├ SubmitError              Submit failed: the orderer may not have the transaction
      └ CommitStatusError        CommitStatus failed (e.g. timed out): outcome unknown
    CommitError                  committed but invalid: .code / .code_name (TxValidationCode)
    ResponseDecodeError          the gateway answered with bytes this client cannot decode

Per-peer details travel in the ``grpc-status-details-bin`` trailer as a serialized
``google.rpc.Status`` whose ``details`` are ``google.protobuf.Any`` holding
``gateway.ErrorDetail``. Neither ``grpcio-status`` nor ``googleapis-common-protos``
is a dependency of this project, so :func:`decode_status_details` decodes the
trailer with a ``google.rpc.Status`` message class built from its three-field
descriptor (``code``, ``message``, ``details``) in a private descriptor pool, on
protobuf's own ``Any``; the private pool cannot clash with a later install of
``googleapis-common-protos``.

When the chaincode refused a transaction, the peer's message is the chaincode's
error text, prefixed by the gateway with ``"chaincode response <status>, "``; our
chaincode writes that text as JSON (``chaincode.errors.ChaincodeError.to_json``),
and :meth:`GatewayError.chaincode_error` rebuilds the typed error.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from chaincode.errors import ChaincodeError, error_from_json
from gateway.fabric._protos import gateway_pb2

#: Trailing-metadata key of the serialized google.rpc.Status (gRPC's convention).
STATUS_DETAILS_KEY = "grpc-status-details-bin"

_ERROR_DETAIL_TYPE = "gateway.ErrorDetail"

# Fabric's gateway (internal/pkg/gateway/api.go, responseStatus) wraps a chaincode's
# error message as "chaincode response <status>, <message>".
_CHAINCODE_RESPONSE_PREFIX = re.compile(r"chaincode response \d+, ")


@dataclass(frozen=True)
class ErrorDetail:
    """One peer's or orderer's part of a failure (``gateway.ErrorDetail``)."""

    address: str
    msp_id: str
    message: str

    def chaincode_error(self) -> ChaincodeError | None:
        return chaincode_error_from_message(self.message)


def chaincode_error_from_message(message: str) -> ChaincodeError | None:
    """The chaincode's typed error in a peer message, or None if it holds none.

    Accepts the bare JSON and the gateway's ``"chaincode response 500, {json}"``.
    """
    found = error_from_json(message)
    if found is not None:
        return found
    prefix = _CHAINCODE_RESPONSE_PREFIX.match(message)
    return error_from_json(message[prefix.end() :]) if prefix else None


@functools.cache
def _rpc_status_class() -> Any:
    any_file = descriptor_pb2.FileDescriptorProto()
    any_pb2.DESCRIPTOR.CopyToProto(any_file)
    status_file = descriptor_pb2.FileDescriptorProto(
        name="google/rpc/status.proto",
        package="google.rpc",
        dependency=[any_file.name],
        syntax="proto3",
    )
    field = descriptor_pb2.FieldDescriptorProto
    status = status_file.message_type.add(name="Status")
    status.field.add(name="code", number=1, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL)
    status.field.add(name="message", number=2, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    status.field.add(
        name="details",
        number=3,
        type=field.TYPE_MESSAGE,
        label=field.LABEL_REPEATED,
        type_name=".google.protobuf.Any",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(any_file)
    pool.Add(status_file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status"))


def encode_status_details(code: int, message: str, details: Iterable[ErrorDetail]) -> bytes:
    """A serialized ``google.rpc.Status`` carrying ``gateway.ErrorDetail`` entries.

    The inverse of :func:`decode_status_details`; the peer gateway writes the same.
    """
    status = _rpc_status_class()(code=code, message=message)
    for detail in details:
        entry = status.details.add()
        entry.type_url = f"type.googleapis.com/{_ERROR_DETAIL_TYPE}"
        entry.value = gateway_pb2.ErrorDetail(
            address=detail.address, msp_id=detail.msp_id, message=detail.message
        ).SerializeToString()
    data: bytes = status.SerializeToString()
    return data


def decode_status_details(data: bytes) -> tuple[ErrorDetail, ...]:
    """The ``gateway.ErrorDetail`` entries of a serialized ``google.rpc.Status``.

    Entries of other types are skipped; undecodable bytes give ``()`` (the call
    still failed with its status code and message, only the details are lost).
    """
    try:
        status = _rpc_status_class().FromString(data)
    except DecodeError:
        return ()
    found: list[ErrorDetail] = []
    for entry in status.details:
        if entry.type_url.rsplit("/", 1)[-1] != _ERROR_DETAIL_TYPE:
            continue
        try:
            detail = gateway_pb2.ErrorDetail.FromString(entry.value)
        except DecodeError:
            continue
        found.append(ErrorDetail(detail.address, detail.msp_id, detail.message))
    return tuple(found)


def _trailing_metadata(error: grpc.RpcError) -> Sequence[Any]:
    trailing = getattr(error, "trailing_metadata", None)
    if not callable(trailing):
        return ()
    return trailing() or ()


def _details_of(error: grpc.RpcError) -> tuple[ErrorDetail, ...]:
    for key, value in _trailing_metadata(error):
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            return decode_status_details(value)
    return ()


def _call_value(error: grpc.RpcError, name: str, default: Any) -> Any:
    method = getattr(error, name, None)
    return method() if callable(method) else default


class GatewayError(Exception):
    """A gRPC call to the Fabric Gateway failed."""

    def __init__(
        self,
        status_message: str,
        *,
        code: grpc.StatusCode,
        details: Sequence[ErrorDetail] = (),
    ) -> None:
        super().__init__(status_message)
        self.status_message = status_message
        self.code = code
        self.details: tuple[ErrorDetail, ...] = tuple(details)

    @classmethod
    def _fields_from_rpc(cls, error: grpc.RpcError) -> dict[str, Any]:
        return {
            "status_message": _call_value(error, "details", None) or str(error),
            "code": _call_value(error, "code", grpc.StatusCode.UNKNOWN),
            "details": _details_of(error),
        }

    def chaincode_error(self) -> ChaincodeError | None:
        """The first chaincode error any peer reported, or None."""
        for detail in self.details:
            found = detail.chaincode_error()
            if found is not None:
                return found
        return None

    def _describe(self) -> str:
        lines = [f"{self.code.name}: {self.status_message}"]
        lines += [f"  - {d.address} ({d.msp_id}): {d.message}" for d in self.details]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._describe()


class ChaincodeEventsError(GatewayError):
    """The chaincode event stream failed or could not start."""

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> ChaincodeEventsError:
        return cls(**cls._fields_from_rpc(error))


_T = TypeVar("_T", bound="TransactionError")


class TransactionError(GatewayError):
    """A gateway call about one transaction failed."""

    def __init__(
        self,
        status_message: str,
        *,
        code: grpc.StatusCode,
        transaction_id: str,
        details: Sequence[ErrorDetail] = (),
    ) -> None:
        super().__init__(status_message, code=code, details=details)
        self.transaction_id = transaction_id

    @classmethod
    def from_rpc_error(cls: type[_T], error: grpc.RpcError, transaction_id: str) -> _T:
        return cls(transaction_id=transaction_id, **cls._fields_from_rpc(error))

    def __str__(self) -> str:
        return f"transaction {self.transaction_id}: {self._describe()}"


class EvaluateError(TransactionError):
    """Evaluate failed; nothing was written."""


class EndorseError(TransactionError):
    """Endorse failed; the transaction was not endorsed and nothing was written."""


class SubmitError(TransactionError):
    """Submit failed; the orderer may or may not have received the transaction."""


class CommitStatusError(TransactionError):
    """CommitStatus failed (e.g. timed out); whether the transaction committed is unknown."""


class CommitError(Exception):
    """The transaction was ordered and committed but marked invalid (not ``VALID``)."""

    def __init__(self, transaction_id: str, code: int, code_name: str, block_number: int) -> None:
        super().__init__(
            f"transaction {transaction_id} failed to commit with status code {code} ({code_name})"
        )
        self.transaction_id = transaction_id
        self.code = code
        self.code_name = code_name
        self.block_number = block_number


class ResponseDecodeError(Exception):
    """The gateway's answer about a transaction could not be decoded."""

    def __init__(self, message: str, transaction_id: str) -> None:
        super().__init__(f"transaction {transaction_id}: {message}")
        self.transaction_id = transaction_id
