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
A chaincode may write its refusals in a form of its own (ours: JSON, see
``chaincode/errors.py``); this client knows no particular chaincode, so the caller hands
:meth:`Gateway.connect <gateway.fabric.client.Gateway.connect>` a :data:`RefusalDecoder`
for it, and :meth:`GatewayError.chaincode_error` returns what it rebuilt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import grpc

# Later Fabric gateways wrap a chaincode's message as "chaincode response <status>, <msg>";
# accepted too, so messages relayed by such a gateway still decode.
_CHAINCODE_RESPONSE_PREFIX = re.compile(r"chaincode response \d+, ")


class Refusal(Protocol):
    """A chaincode's own typed refusal, as its decoder rebuilds it from a peer's message.

    ``kind`` ``"not_found"`` says the record the call needs is not on that peer's ledger,
    which a peer whose ledger is a block behind may answer too (the client asks it again).
    """

    @property
    def code(self) -> str: ...

    @property
    def kind(self) -> str: ...


#: Rebuilds a chaincode's refusal from a peer's message; None when the message holds none
#: (a peer's own failure, or a chaincode the decoder does not know).
RefusalDecoder = Callable[[str], Refusal | None]


def no_refusals(message: str) -> Refusal | None:
    """The decoder of a client told of no chaincode: every message stays the peer's text."""
    return None


def refusal_decoder(decode: RefusalDecoder) -> RefusalDecoder:
    """``decode`` (for a chaincode's bare message) extended to the
    ``"chaincode response 500, <message>"`` form later Fabric gateways relay."""

    def decoder(message: str) -> Refusal | None:
        found = decode(message)
        if found is not None:
            return found
        prefix = _CHAINCODE_RESPONSE_PREFIX.match(message)
        return decode(message[prefix.end() :]) if prefix else None

    return decoder


@dataclass(frozen=True)
class ErrorDetail:
    """One peer's or orderer's part of a failure.

    ``status`` is the peer's ``Response.status`` (e.g. 500 for a chaincode refusal) or
    the orderer's ``common.Status``; None when the node gave no answer (gRPC failure).
    ``refusal`` is the chaincode's typed refusal in ``message``, when the client's decoder
    found one.
    """

    address: str
    msp_id: str
    message: str
    status: int | None = None
    refusal: Refusal | None = field(default=None, compare=False, repr=False)

    def chaincode_error(self) -> Refusal | None:
        return self.refusal


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

    def chaincode_error(self) -> Refusal | None:
        """The first chaincode refusal any peer reported (as the client's decoder rebuilt
        it), or None."""
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
