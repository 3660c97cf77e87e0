import dataclasses

import grpc
import pytest
from fabric_protos.gateway import gateway_pb2

from chaincode.errors import ConsentWithdrawn, UnknownField
from gateway.fabric.errors import (
    STATUS_DETAILS_KEY,
    ChaincodeEventsError,
    EndorseError,
    ErrorDetail,
    GatewayError,
    SubmitError,
    chaincode_error_from_message,
    decode_status_details,
    encode_status_details,
)

DETAIL_TYPE = "type.googleapis.com/gateway.ErrorDetail"


class FakeRpcError(grpc.RpcError):
    """What grpcio raises from a failed call: an RpcError that is also a grpc.Call."""

    def __init__(self, code, details, trailing=()):
        self._code, self._details, self._trailing = code, details, tuple(trailing)

    def code(self):
        return self._code

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._trailing


def _detail(address, msp_id, message):
    value = gateway_pb2.ErrorDetail(address=address, msp_id=msp_id, message=message)
    return DETAIL_TYPE, value.SerializeToString()


def test_status_details_decode_every_error_detail_in_order(status_bytes):
    data = status_bytes(
        10,
        "failed to endorse transaction, see attached details for more info",
        [
            _detail("peer0.org1:7051", "Org1MSP", "one"),
            _detail("peer0.org2:9051", "Org2MSP", "two"),
        ],
    )

    assert decode_status_details(data) == (
        ErrorDetail("peer0.org1:7051", "Org1MSP", "one"),
        ErrorDetail("peer0.org2:9051", "Org2MSP", "two"),
    )


def test_status_details_skip_entries_of_other_types(status_bytes):
    data = status_bytes(
        2,
        "x",
        [
            ("type.googleapis.com/google.rpc.DebugInfo", b"\x0a\x01x"),
            _detail("orderer0:7050", "OrdererMSP", "bad"),
        ],
    )

    assert decode_status_details(data) == (ErrorDetail("orderer0:7050", "OrdererMSP", "bad"),)


def test_undecodable_status_details_give_no_details():
    assert decode_status_details(b"\xff\xff\xff\xff") == ()


def test_encoded_status_details_equal_the_hand_encoded_wire_bytes(status_bytes):
    detail = ErrorDetail("peer0.org1:7051", "Org1MSP", "msg")

    ours = encode_status_details(10, "aborted", [detail])

    assert ours == status_bytes(10, "aborted", [_detail(*dataclasses.astuple(detail))])


def test_endorse_error_from_rpc_error_carries_code_tx_id_and_peer_details(status_bytes):
    trailer = status_bytes(10, "failed", [_detail("peer0.org1:7051", "Org1MSP", "no")])
    rpc_error = FakeRpcError(
        grpc.StatusCode.ABORTED, "failed", [("other", "x"), (STATUS_DETAILS_KEY, trailer)]
    )

    error = EndorseError.from_rpc_error(rpc_error, "tx-42")

    assert isinstance(error, GatewayError)
    assert error.code is grpc.StatusCode.ABORTED
    assert error.transaction_id == "tx-42"
    assert error.status_message == "failed"
    assert error.details == (ErrorDetail("peer0.org1:7051", "Org1MSP", "no"),)
    assert "tx-42" in str(error)
    assert "peer0.org1:7051 (Org1MSP): no" in str(error)


def test_error_without_status_details_trailer_has_no_details():
    error = SubmitError.from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "down"), "t")

    assert error.code is grpc.StatusCode.UNAVAILABLE
    assert error.details == ()
    assert error.chaincode_error() is None


def test_chaincode_error_is_rebuilt_from_gateway_wrapped_json(status_bytes):
    refusal = ConsentWithdrawn("consent was withdrawn", field="consent_id")
    message = f"chaincode response 500, {refusal.to_json()}"
    trailer = status_bytes(2, "x", [_detail("peer0.org1:7051", "Org1MSP", message)])

    error = EndorseError.from_rpc_error(
        FakeRpcError(grpc.StatusCode.UNKNOWN, "x", [(STATUS_DETAILS_KEY, trailer)]), "t"
    )

    found = error.chaincode_error()
    assert isinstance(found, ConsentWithdrawn)
    assert (found.message, found.field) == ("consent was withdrawn", "consent_id")


def test_chaincode_error_is_rebuilt_from_bare_json():
    found = chaincode_error_from_message(UnknownField("unknown field", field="colour").to_json())

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
    assert chaincode_error_from_message(message) is None


def test_chaincode_error_skips_peer_messages_and_returns_first_chaincode_error():
    refusal = ConsentWithdrawn("consent was withdrawn")
    error = GatewayError(
        "x",
        code=grpc.StatusCode.ABORTED,
        details=[
            ErrorDetail("peer0.org2:9051", "Org2MSP", "connection refused"),
            ErrorDetail(
                "peer0.org1:7051", "Org1MSP", f"chaincode response 500, {refusal.to_json()}"
            ),
        ],
    )

    assert isinstance(error.chaincode_error(), ConsentWithdrawn)


def test_events_error_has_code_and_details_but_no_transaction(status_bytes):
    trailer = status_bytes(7, "denied", [_detail("peer0.org1:7051", "Org1MSP", "access denied")])

    error = ChaincodeEventsError.from_rpc_error(
        FakeRpcError(grpc.StatusCode.PERMISSION_DENIED, "denied", [(STATUS_DETAILS_KEY, trailer)])
    )

    assert error.code is grpc.StatusCode.PERMISSION_DENIED
    assert error.details[0].message == "access denied"
    assert not hasattr(error, "transaction_id")
