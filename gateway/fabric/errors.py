"""Errors as types, after fabric-gateway's ``errors.go`` and the Node client's classes.

::

    GatewayError                 a call to a Fabric node failed: .code (grpc.StatusCode),
    │                            .status_message, .details (one ErrorDetail per peer/orderer)
    ├ ChaincodeEventsError       the event stream failed
    └ TransactionError           ... for one transaction: + .transaction_id
      ├ EvaluateError            the own peer refused or could not run the proposal
      ├ EndorseError             too few organisations endorsed: nothing was written
      │ └ EndorsementMismatchError  endorsements disagree (response or read-write set)
      ├ SubmitError              no orderer accepted the transaction
      └ CommitStatusError        no validation code in time: outcome unknown
    CommitError                  committed but invalid: .code / .code_name (TxValidationCode)

Fabric 2.1 has no Gateway service, so there is no ``grpc-status-details-bin`` trailer:
the client talks to each node itself and writes one :class:`ErrorDetail` per node it
tried. A peer reports most refusals *inside* a successful gRPC answer
(``ProposalResponse.response.status`` >= 400 with the chaincode's message); the client
then raises with the code Fabric's later Gateway service uses for the same case
(``UNKNOWN`` for evaluate, ``ABORTED`` for endorse), so the REST layer maps one shape.
Our chaincode writes its error text as JSON (``chaincode.errors.ChaincodeError.to_json``),
and :meth:`GatewayError.chaincode_error` rebuilds the typed error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import grpc

from chaincode.errors import ChaincodeError, error_from_json

# Later Fabric gateways wrap a chaincode's message as "chaincode response <status>, <msg>";
# accepted too, so messages relayed by such a gateway still decode.
_CHAINCODE_RESPONSE_PREFIX = re.compile(r"chaincode response \d+, ")


@dataclass(frozen=True)
class ErrorDetail:
    """One peer's or orderer's part of a failure.

    ``status`` is the peer's ``Response.status`` (e.g. 500 for a chaincode refusal) or
    the orderer's ``common.Status``; None when the node gave no answer (gRPC failure).
    """

    address: str
    msp_id: str
    message: str
    status: int | None = None

    def chaincode_error(self) -> ChaincodeError | None:
        return chaincode_error_from_message(self.message)


def chaincode_error_from_message(message: str) -> ChaincodeError | None:
    """The chaincode's typed error in a peer message, or None if it holds none.

    Accepts the bare JSON and the ``"chaincode response 500, {json}"`` form.
    """
    found = error_from_json(message)
    if found is not None:
        return found
    prefix = _CHAINCODE_RESPONSE_PREFIX.match(message)
    return error_from_json(message[prefix.end() :]) if prefix else None


def rpc_code(error: grpc.RpcError) -> grpc.StatusCode:
    method = getattr(error, "code", None)
    code = method() if callable(method) else None
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def rpc_message(error: grpc.RpcError) -> str:
    method = getattr(error, "details", None)
    text = method() if callable(method) else None
    return str(text) if text else str(error)


def rpc_detail(error: grpc.RpcError, address: str, msp_id: str) -> ErrorDetail:
    """The detail of a node whose gRPC call failed."""
    return ErrorDetail(address, msp_id, f"{rpc_code(error).name}: {rpc_message(error)}")


class GatewayError(Exception):
    """A call to a Fabric peer or orderer failed."""

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
    """The chaincode event stream failed or could not start; resume from its checkpoint."""


_T = TypeVar("_T", bound="TransactionError")


class TransactionError(GatewayError):
    """A call about one transaction failed."""

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
    def from_rpc_error(
        cls: type[_T], error: grpc.RpcError, transaction_id: str, *, address: str, msp_id: str
    ) -> _T:
        """One node's failed gRPC call as this error type."""
        return cls(
            rpc_message(error),
            code=rpc_code(error),
            transaction_id=transaction_id,
            details=[rpc_detail(error, address, msp_id)],
        )

    def __str__(self) -> str:
        return f"transaction {self.transaction_id}: {self._describe()}"


class EvaluateError(TransactionError):
    """Evaluate failed; nothing was written."""


class EndorseError(TransactionError):
    """Too few organisations endorsed; the transaction was not sent and nothing was written."""


class EndorsementMismatchError(EndorseError):
    """Peers endorsed different results: ``what`` names the part that differs
    (``"response"``, ``"read-write set"``, ``"chaincode event"`` or ``"payload"``), and
    ``details`` hold one entry per endorsing peer."""

    def __init__(
        self,
        transaction_id: str,
        what: str,
        details: Sequence[ErrorDetail],
    ) -> None:
        super().__init__(
            f"endorsements disagree in their {what}",
            code=grpc.StatusCode.ABORTED,
            transaction_id=transaction_id,
            details=details,
        )
        self.what = what


class SubmitError(TransactionError):
    """No orderer accepted the transaction; an orderer that timed out may still have it."""


class CommitStatusError(TransactionError):
    """No validation code arrived in time; whether the transaction committed is unknown."""


class CommitError(Exception):
    """The transaction was ordered and committed but marked invalid (not ``VALID``)."""

    def __init__(self, transaction_id: str, code: int, code_name: str, block_number: int) -> None:
        super().__init__(
            f"transaction {transaction_id} failed to commit with status code {code} "
            f"({code_name}) in block {block_number}"
        )
        self.transaction_id = transaction_id
        self.code = code
        self.code_name = code_name
        self.block_number = block_number
