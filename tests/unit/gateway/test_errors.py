import subprocess
import sys

import grpc
import pytest

from chaincode.errors import ConsentWithdrawn, UnknownField
from gateway.errors import CHAINCODE_REFUSALS
from gateway.fabric.errors import (
    CommitError,
    EndorseError,
    EndorsementMismatchError,
    ErrorDetail,
    GatewayError,
    SubmitError,
    no_refusals,
)


def _refused(address: str, msp_id: str, message: str, status: int | None = None) -> ErrorDetail:
    """A peer's refusal as the client records it, decoded with our chaincode's decoder."""
    return ErrorDetail(address, msp_id, message, status, refusal=CHAINCODE_REFUSALS(message))


class FakeRpcError(grpc.RpcError):
    """What grpcio raises from a failed call: an RpcError that is also a grpc.Call."""

    def __init__(self, code, details):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


def test_error_from_rpc_error_carries_code_tx_id_and_the_node_that_failed():
    rpc_error = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused")

    error = SubmitError.from_rpc_error(rpc_error, "tx-42", address="127.0.0.1:7001",
                                       msp_id="OrderingMSP")

    assert isinstance(error, GatewayError)
    assert error.code is grpc.StatusCode.UNAVAILABLE
    assert error.transaction_id == "tx-42"
    assert error.status_message == "connection refused"
    assert error.details == (
        ErrorDetail("127.0.0.1:7001", "OrderingMSP", "UNAVAILABLE: connection refused"),)
    assert "tx-42" in str(error)
    assert "127.0.0.1:7001 (OrderingMSP)" in str(error)


def test_rpc_error_without_code_or_details_is_unknown_with_its_text():
    error = EndorseError.from_rpc_error(grpc.RpcError("odd"), "t", address="a:1", msp_id="AMSP")

    assert error.code is grpc.StatusCode.UNKNOWN
    assert error.status_message == "odd"


def test_chaincode_error_is_rebuilt_from_a_peer_response_message():
    refusal = ConsentWithdrawn("consent was withdrawn", field="consent_id")
    error = EndorseError("the chaincode refused the proposal", code=grpc.StatusCode.ABORTED,
                         transaction_id="t",
                         details=[_refused("127.0.0.1:7151", "NorthwindMSP",
                                           refusal.to_json(), 500)])

    found = error.chaincode_error()
    assert isinstance(found, ConsentWithdrawn)
    assert (found.message, found.field) == ("consent was withdrawn", "consent_id")


def test_chaincode_error_is_rebuilt_from_gateway_wrapped_json():
    refusal = ConsentWithdrawn("consent was withdrawn")

    found = CHAINCODE_REFUSALS(f"chaincode response 500, {refusal.to_json()}")

    assert isinstance(found, ConsentWithdrawn)


def test_chaincode_error_is_rebuilt_from_bare_json():
    found = CHAINCODE_REFUSALS(UnknownField("unknown field", field="colour").to_json())

    assert isinstance(found, UnknownField)
    assert found.field == "colour"


@pytest.mark.parametrize(
    "message",
    [
        "chaincode response 500, not json",
        "failed to execute transaction: timeout expired",
        'chaincode response 500, {"code":"NOT_A_CODE","kind":"invalid","message":"m"}',
        "",
    ],
)
def test_messages_without_a_chaincode_error_give_none(message):
    assert CHAINCODE_REFUSALS(message) is None


def test_chaincode_error_skips_peer_messages_and_returns_first_chaincode_error():
    refusal = ConsentWithdrawn("consent was withdrawn")
    error = GatewayError(
        "x",
        code=grpc.StatusCode.ABORTED,
        details=[
            _refused("127.0.0.1:7251", "SouthgateMSP", "UNAVAILABLE: connection refused"),
            _refused("127.0.0.1:7151", "NorthwindMSP", refusal.to_json(), 500),
        ],
    )

    assert isinstance(error.chaincode_error(), ConsentWithdrawn)


def test_a_client_told_of_no_chaincode_keeps_every_message_as_text():
    assert no_refusals(ConsentWithdrawn("consent was withdrawn").to_json()) is None


def test_the_fabric_client_imports_no_chaincode():
    check = ("import sys, gateway.fabric; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'chaincode'))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_mismatch_is_an_endorse_error_that_names_the_part_and_every_peer():
    error = EndorsementMismatchError("t", "read-write set", [
        ErrorDetail("127.0.0.1:7151", "NorthwindMSP", "endorsed payload sha256 aa", 200),
        ErrorDetail("127.0.0.1:7251", "SouthgateMSP", "endorsed payload sha256 bb", 200)])

    assert isinstance(error, EndorseError)
    assert error.code is grpc.StatusCode.ABORTED
    assert error.what == "read-write set"
    assert "NorthwindMSP" in str(error) and "SouthgateMSP" in str(error)


def test_commit_error_names_code_and_block():
    error = CommitError("t", 11, "MVCC_READ_CONFLICT", 9)

    assert "MVCC_READ_CONFLICT" in str(error) and "block 9" in str(error)
