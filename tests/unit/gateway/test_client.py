"""The client's own RPC logic, against the Gateway *protocol test double* (see conftest).

These tests show what the client signs and sends, in which order, and how it maps
failures; the double stands in for a peer only at the gRPC boundary and proves
nothing about compatibility with a real Fabric v3.1 peer.
"""

import hashlib
import threading
import time

import grpc
import pytest
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2, transaction_pb2

from chaincode.errors import ConsentWithdrawn
from chaincode.identity import decode_signed_proposal
from gateway.fabric import (
    ChaincodeEventsError,
    CommitError,
    CommitStatusError,
    EndorseError,
    EvaluateError,
    Gateway,
    InMemoryCheckpointer,
    SubmitError,
    Timeouts,
)

FAST = Timeouts(evaluate=2.0, endorse=2.0, submit=2.0, commit_status=2.0)


@pytest.fixture
def contract(protocol_double, org1):
    gateway = Gateway.connect(org1.identity, org1.signer(), protocol_double.channel, timeouts=FAST)
    return gateway.network("prefshare").contract("consent")


def _args_of(signed_proposal):
    proposal = proposal_pb2.Proposal.FromString(signed_proposal.proposal_bytes)
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input)
    return list(spec.chaincode_spec.input.args)


def test_evaluate_sends_signed_proposal_to_target_orgs_and_returns_payload(
    protocol_double, contract, org1
):
    protocol_double.double.result = b'{"status":"active"}'

    result = contract.evaluate("ReadConsent", args=["k-0001"], endorsing_orgs=["Org2MSP"])

    assert result == b'{"status":"active"}'
    (request,) = protocol_double.double.requests("Evaluate")
    signed = request.proposed_transaction
    assert org1.verifies(signed.signature, signed.proposal_bytes)
    assert list(request.target_organizations) == ["Org2MSP"]
    assert request.channel_id == "prefshare"
    assert request.transaction_id == decode_signed_proposal(signed).tx_id
    assert _args_of(signed) == [b"ReadConsent", b"k-0001"]
    assert protocol_double.double.names() == ["Evaluate"]


def test_submit_calls_endorse_then_submit_then_commit_status(protocol_double, contract):
    protocol_double.double.result = b"written"

    result = contract.submit(
        "GrantConsent", args=["{}"], transient={"statement": b"s"}, endorsing_orgs=["Org1MSP"]
    )

    assert result == b"written"
    assert protocol_double.double.names() == ["Endorse", "Submit", "CommitStatus"]


def test_submit_sends_endorsing_orgs_and_transient_data_in_signed_proposal(
    protocol_double, contract, org1
):
    contract.submit(
        "GrantConsent",
        args=["{}"],
        transient={"statement": b"private"},
        endorsing_orgs=["Org1MSP", "Org3MSP"],
    )

    (endorse,) = protocol_double.double.requests("Endorse")
    signed = endorse.proposed_transaction
    assert list(endorse.endorsing_organizations) == ["Org1MSP", "Org3MSP"]
    assert org1.verifies(signed.signature, signed.proposal_bytes)
    facts = decode_signed_proposal(signed)
    assert facts.transient == {"statement": b"private"}
    assert endorse.transaction_id == facts.tx_id


def test_submit_signs_the_endorsed_envelope_payload_unchanged(protocol_double, contract, org1):
    contract.submit("GrantConsent", args=["{}"])

    (prepared,) = protocol_double.double.prepared
    (submit,) = protocol_double.double.requests("Submit")
    sent = submit.prepared_transaction
    assert sent.payload == prepared.payload
    assert org1.verifies(sent.signature, prepared.payload)
    assert submit.channel_id == "prefshare"
    assert submit.transaction_id == protocol_double.double.requests("Endorse")[0].transaction_id


def test_commit_status_request_is_signed_and_names_the_transaction(protocol_double, contract, org1):
    contract.submit("GrantConsent", args=["{}"])

    tx_id = protocol_double.double.requests("Endorse")[0].transaction_id
    (signed,) = protocol_double.double.requests("CommitStatus")
    request = gateway_pb2.CommitStatusRequest.FromString(signed.request)
    assert (request.transaction_id, request.channel_id) == (tx_id, "prefshare")
    assert request.identity == org1.identity.creator()
    assert org1.verifies(signed.signature, signed.request)


def test_submit_with_transient_data_but_no_endorsing_orgs_is_refused_before_any_call(
    protocol_double, contract
):
    with pytest.raises(ValueError, match="endorsing_orgs"):
        contract.submit("GrantConsent", transient={"statement": b"private"})

    assert protocol_double.double.calls == []


def test_invalid_commit_raises_commit_error_with_code_name(protocol_double, contract):
    protocol_double.double.validation_code = transaction_pb2.MVCC_READ_CONFLICT
    protocol_double.double.block_number = 12

    with pytest.raises(CommitError) as caught:
        contract.submit("GrantConsent", args=["{}"])

    error = caught.value
    assert error.code == transaction_pb2.MVCC_READ_CONFLICT
    assert error.code_name == "MVCC_READ_CONFLICT"
    assert error.block_number == 12
    assert error.transaction_id == protocol_double.double.requests("Endorse")[0].transaction_id


def test_submit_async_returns_result_before_status_is_asked(protocol_double, contract):
    protocol_double.double.block_number = 5

    submitted = contract.submit_async("GrantConsent", args=["{}"])

    assert submitted.result == b"result"
    assert protocol_double.double.names() == ["Endorse", "Submit"]
    status = submitted.status()
    assert (status.successful, status.block_number, status.transaction_id) == (
        True,
        5,
        submitted.transaction_id,
    )


def test_endorse_failure_maps_to_endorse_error_with_chaincode_error_and_stops(
    protocol_double, contract
):
    refusal = ConsentWithdrawn("consent was withdrawn").to_json()
    protocol_double.double.fail(
        "Endorse",
        grpc.StatusCode.ABORTED,
        "failed to endorse transaction, see attached details for more info",
        (("peer0.org1:7051", "Org1MSP", f"chaincode response 500, {refusal}"),),
    )

    with pytest.raises(EndorseError) as caught:
        contract.submit("GrantConsent", args=["{}"])

    error = caught.value
    assert error.code is grpc.StatusCode.ABORTED
    assert error.transaction_id == protocol_double.double.requests("Endorse")[0].transaction_id
    assert [(d.address, d.msp_id) for d in error.details] == [("peer0.org1:7051", "Org1MSP")]
    assert isinstance(error.chaincode_error(), ConsentWithdrawn)
    assert protocol_double.double.names() == ["Endorse"]


def test_submit_failure_maps_to_submit_error_and_skips_commit_status(protocol_double, contract):
    protocol_double.double.fail(
        "Submit",
        grpc.StatusCode.UNAVAILABLE,
        "no orderers could successfully process transaction",
        (("orderer0:7050", "OrdererMSP", "connection refused"),),
    )

    with pytest.raises(SubmitError) as caught:
        contract.submit("GrantConsent", args=["{}"])

    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
    assert caught.value.details[0].msp_id == "OrdererMSP"
    assert protocol_double.double.names() == ["Endorse", "Submit"]


def test_evaluate_failure_maps_to_evaluate_error(protocol_double, contract):
    protocol_double.double.fail(
        "Evaluate", grpc.StatusCode.FAILED_PRECONDITION, "no endorsers found"
    )

    with pytest.raises(EvaluateError) as caught:
        contract.evaluate("ReadConsent", args=["k"])

    assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.status_message == "no endorsers found"


@pytest.mark.parametrize(
    ("rpc", "error_type"),
    [
        ("Evaluate", EvaluateError),
        ("Endorse", EndorseError),
        ("Submit", SubmitError),
        ("CommitStatus", CommitStatusError),
    ],
)
def test_rpc_past_its_timeout_raises_its_error_with_deadline_exceeded(
    protocol_double, org1, rpc, error_type
):
    protocol_double.double.delays[rpc] = 5.0
    short = {"evaluate": 0.3, "endorse": 0.3, "submit": 0.3, "commit_status": 0.3}
    gateway = Gateway.connect(
        org1.identity, org1.signer(), protocol_double.channel, timeouts=Timeouts(**short)
    )
    contract = gateway.network("prefshare").contract("consent")
    call = contract.evaluate if rpc == "Evaluate" else contract.submit

    started = time.monotonic()
    with pytest.raises(error_type) as caught:
        call("GrantConsent", args=["{}"])

    assert caught.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 3.0


def test_commit_status_timeout_can_be_given_per_wait(protocol_double, contract):
    protocol_double.double.delays["CommitStatus"] = 5.0
    submitted = contract.submit_async("GrantConsent", args=["{}"])

    with pytest.raises(CommitStatusError) as caught:
        submitted.status(timeout=0.2)

    assert caught.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert caught.value.transaction_id == submitted.transaction_id


def test_named_contract_qualifies_the_transaction_name(protocol_double, org1):
    gateway = Gateway.connect(org1.identity, org1.signer(), protocol_double.channel, timeouts=FAST)
    contract = gateway.network("prefshare").contract("consent", "ConsentContract")

    contract.evaluate("ReadConsent", args=["k"])

    (request,) = protocol_double.double.requests("Evaluate")
    assert _args_of(request.proposed_transaction)[0] == b"ConsentContract:ReadConsent"


# --- chaincode events -------------------------------------------------------------------


def _events_request(protocol_double, index=-1):
    signed = protocol_double.double.requests("ChaincodeEvents")[index]
    return signed, gateway_pb2.ChaincodeEventsRequest.FromString(signed.request)


def _ledger(double):
    double.add_block(3, ("t1", "consent", "Granted", b"1"), ("x1", "other", "X", b""))
    double.add_block(4, ("t2", "consent", "Granted", b"2"), ("t3", "consent", "Withdrawn", b"3"))
    double.add_block(6, ("t4", "consent", "Granted", b"4"))


def _take(stream, n):
    taken = []
    for event in stream:
        taken.append(event)
        if len(taken) == n:
            break
    return taken


def test_events_request_is_signed_and_starts_at_next_commit_by_default(protocol_double, org1):
    gateway = Gateway.connect(org1.identity, org1.signer(), protocol_double.channel)
    protocol_double.double.height = 10

    with gateway.network("prefshare").chaincode_events("consent") as stream:
        closer = threading.Timer(0.3, stream.close)
        closer.start()
        assert list(stream) == []
        closer.join()

    signed, request = _events_request(protocol_double)
    assert org1.verifies(signed.signature, signed.request)
    assert request.start_position.WhichOneof("Type") == "next_commit"
    assert (request.channel_id, request.chaincode_id) == ("prefshare", "consent")
    assert request.identity == org1.identity.creator()
    assert request.after_transaction_id == ""


def test_events_from_start_block_arrive_in_order_with_block_numbers(protocol_double, org1):
    _ledger(protocol_double.double)
    gateway = Gateway.connect(org1.identity, org1.signer(), protocol_double.channel)

    with gateway.network("prefshare").chaincode_events("consent", start_block=3) as stream:
        events = _take(stream, 4)

    assert [(e.block_number, e.transaction_id, e.event_name, e.payload) for e in events] == [
        (3, "t1", "Granted", b"1"),
        (4, "t2", "Granted", b"2"),
        (4, "t3", "Withdrawn", b"3"),
        (6, "t4", "Granted", b"4"),
    ]
    assert all(e.chaincode_name == "consent" for e in events)
    _, request = _events_request(protocol_double)
    assert request.start_position.specified.number == 3


def test_events_resume_from_checkpoint_without_repeats_or_gaps(protocol_double, org1):
    _ledger(protocol_double.double)
    network = Gateway.connect(org1.identity, org1.signer(), protocol_double.channel).network(
        "prefshare"
    )
    checkpointer = InMemoryCheckpointer()

    with network.chaincode_events("consent", start_block=3) as stream:
        for event in _take(stream, 2):  # stop in the middle of block 4
            checkpointer.checkpoint_chaincode_event(event)
    with network.chaincode_events(
        "consent", start_block=3, checkpoint=checkpointer.checkpoint
    ) as stream:
        resumed = _take(stream, 2)

    assert [e.transaction_id for e in resumed] == ["t3", "t4"]
    _, request = _events_request(protocol_double)
    assert request.start_position.specified.number == 4
    assert request.after_transaction_id == "t2"


def test_block_checkpoint_resumes_at_the_next_block():
    checkpointer = InMemoryCheckpointer()

    checkpointer.checkpoint_block(4)

    assert checkpointer.checkpoint is not None
    assert (checkpointer.checkpoint.block_number, checkpointer.checkpoint.transaction_id) == (
        5,
        None,
    )


def test_event_stream_failure_raises_chaincode_events_error(protocol_double, org1):
    protocol_double.double.fail(
        "ChaincodeEvents", grpc.StatusCode.PERMISSION_DENIED, "access denied"
    )
    network = Gateway.connect(org1.identity, org1.signer(), protocol_double.channel).network(
        "prefshare"
    )

    with pytest.raises(ChaincodeEventsError) as caught:
        list(network.chaincode_events("consent"))

    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED


def test_event_stream_failure_after_events_delivers_them_first(protocol_double, org1):
    _ledger(protocol_double.double)
    protocol_double.double.fail_events_after_ledger(grpc.StatusCode.ABORTED, "iterator failed")
    network = Gateway.connect(org1.identity, org1.signer(), protocol_double.channel).network(
        "prefshare"
    )
    received = []

    with pytest.raises(ChaincodeEventsError):
        for event in network.chaincode_events("consent", start_block=6):
            received.append(event.transaction_id)

    assert received == ["t4"]


def test_single_string_as_args_is_refused_rather_than_split_into_characters(contract):
    with pytest.raises(TypeError, match="sequence"):
        contract.evaluate("ReadConsent", args="k-0001")


def test_digest_is_sha256_of_the_proposal_bytes(protocol_double, contract):
    proposal = contract.new_proposal("ReadConsent", args=["k"])

    assert proposal.digest() == hashlib.sha256(proposal.proposal_bytes).digest()
