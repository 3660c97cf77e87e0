"""The shim extension: message construction (pure), answer handling, and the ledger and
transaction step over a scripted peer.

The scripted peer (``fake_peer``) answers as our reading of Fabric's handler says a peer
does, so these tests show the extension is consistent with its documented assumptions;
only a running peer can show the assumptions are right.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fabric_protos.ledger.queryresult import kv_query_result_pb2 as kv_pb2
from fabric_protos.peer import chaincode_pb2, proposal_response_pb2
from fabric_protos.peer import chaincode_shim_pb2 as shim_pb2

from chaincode import shim_ext
from chaincode.collection_config import collection_for
from chaincode.contract import PrefshareContract
from chaincode.errors import InvalidValue, error_from_json
from chaincode.holdings import OwnerKeys
from chaincode.identity import decode_signed_proposal
from chaincode.ledger import Event, PeerError
from chaincode.statekeys import CompositeKey

Msg = shim_pb2.ChaincodeMessage
CH, TX = "prefshare", "tx-42"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ORG1 = "Org1MSP"
#: Org1's server: its MSP id, its key derivation, the members.
_OWNER = (ORG1, OwnerKeys(b"org1-secret-".ljust(32, b"x")), (ORG1, "Org2MSP", "Org3MSP"))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --- message construction ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "kind", "proto", "fields"),
    [
        (
            lambda: shim_ext.get_state_message(CH, TX, "k"),
            Msg.GET_STATE,
            shim_pb2.GetState,
            {"key": "k", "collection": ""},
        ),
        (
            lambda: shim_ext.get_state_message(CH, TX, "k", "coll"),
            Msg.GET_STATE,
            shim_pb2.GetState,
            {"key": "k", "collection": "coll"},
        ),
        (
            lambda: shim_ext.put_state_message(CH, TX, "k", b"v", "coll"),
            Msg.PUT_STATE,
            shim_pb2.PutState,
            {"key": "k", "value": b"v", "collection": "coll"},
        ),
        (
            lambda: shim_ext.del_state_message(CH, TX, "k", "coll"),
            Msg.DEL_STATE,
            shim_pb2.DelState,
            {"key": "k", "collection": "coll"},
        ),
        (
            lambda: shim_ext.purge_private_data_message(CH, TX, "coll", "k"),
            Msg.PURGE_PRIVATE_DATA,
            shim_pb2.DelState,
            {"key": "k", "collection": "coll"},
        ),
        (
            lambda: shim_ext.get_private_data_hash_message(CH, TX, "coll", "k"),
            Msg.GET_PRIVATE_DATA_HASH,
            shim_pb2.GetState,
            {"key": "k", "collection": "coll"},
        ),
        (
            lambda: shim_ext.get_state_by_range_message(CH, TX, "a", "b", "coll"),
            Msg.GET_STATE_BY_RANGE,
            shim_pb2.GetStateByRange,
            {"startKey": "a", "endKey": "b", "collection": "coll", "metadata": b""},
        ),
        (
            lambda: shim_ext.get_history_message(CH, TX, "k"),
            Msg.GET_HISTORY_FOR_KEY,
            shim_pb2.GetHistoryForKey,
            {"key": "k"},
        ),
        (
            lambda: shim_ext.query_state_next_message(CH, TX, "q1"),
            Msg.QUERY_STATE_NEXT,
            shim_pb2.QueryStateNext,
            {"id": "q1"},
        ),
        (
            lambda: shim_ext.query_state_close_message(CH, TX, "q1"),
            Msg.QUERY_STATE_CLOSE,
            shim_pb2.QueryStateClose,
            {"id": "q1"},
        ),
    ],
    ids=lambda v: Msg.Type.Name(v) if isinstance(v, int) else None,
)
def test_request_message_has_type_channel_txid_and_decodable_payload(build, kind, proto, fields):
    msg = build()
    assert (msg.type, msg.channel_id, msg.txid) == (kind, CH, TX)
    payload = proto.FromString(msg.payload)
    assert {name: getattr(payload, name) for name in fields} == fields
    assert not msg.HasField("proposal") and not msg.HasField("chaincode_event")


def test_purge_payload_is_byte_identical_to_purge_private_state():
    msg = shim_ext.purge_private_data_message(CH, TX, "coll", "\x00pref\x00c_1\x00")
    same = shim_pb2.PurgePrivateState(key="\x00pref\x00c_1\x00", collection="coll")
    assert msg.payload == same.SerializeToString()


@pytest.mark.parametrize(
    "build",
    [shim_ext.purge_private_data_message, shim_ext.get_private_data_hash_message],
)
def test_private_only_requests_refuse_an_empty_collection(build):
    with pytest.raises(ValueError, match="collection"):
        build(CH, TX, "", "k")


def test_partial_key_range_runs_from_the_prefix_to_the_max_rune():
    start, end = shim_ext.partial_key_range(CompositeKey("pref", ("c_1",)))
    assert start == "\x00pref\x00c_1\x00"
    assert end == start + "\U0010ffff"


def test_completed_message_carries_response_and_event():
    response = shim_ext.success_response(b'{"ok":true}')
    msg = shim_ext.completed_message(CH, TX, response, Event("ConsentGranted", b"{}"))
    assert (msg.type, msg.channel_id, msg.txid) == (Msg.COMPLETED, CH, TX)
    assert proposal_response_pb2.Response.FromString(msg.payload) == response
    assert (msg.chaincode_event.event_name, msg.chaincode_event.payload) == (
        "ConsentGranted",
        b"{}",
    )


def test_completed_message_without_event_leaves_the_field_unset():
    msg = shim_ext.completed_message(CH, TX, shim_ext.error_response(403, "no"))
    assert not msg.HasField("chaincode_event")


# --- answers --------------------------------------------------------------------------------


def _answer(kind: int, payload: bytes = b"", txid: str = TX) -> Any:
    return Msg(type=kind, payload=payload, txid=txid, channel_id=CH)


def test_response_answer_gives_its_payload():
    request = shim_ext.get_state_message(CH, TX, "k")
    assert shim_ext.answer_payload(request, _answer(Msg.RESPONSE, b"v")) == b"v"


def test_error_answer_raises_peer_error_with_the_peers_text():
    request = shim_ext.purge_private_data_message(CH, TX, "coll", "k")
    with pytest.raises(PeerError) as info:
        shim_ext.answer_payload(request, _answer(Msg.ERROR, b"capability V2_5 required"))
    assert info.value.request == "PURGE_PRIVATE_DATA"
    assert "V2_5" in info.value.message


@pytest.mark.parametrize(
    "answer",
    [_answer(Msg.RESPONSE, txid="other"), _answer(Msg.COMPLETED)],
    ids=["other-transaction", "unexpected-type"],
)
def test_answer_for_another_transaction_or_of_another_type_is_refused(answer):
    with pytest.raises(PeerError):
        shim_ext.answer_payload(shim_ext.get_state_message(CH, TX, "k"), answer)


# --- the ledger over the peer -------------------------------------------------------------------


@pytest.fixture
def ledger(fake_peer, transaction):
    msg = transaction("ListConsents", "x", tx_id=TX)
    facts = decode_signed_proposal(msg.proposal)
    return shim_ext.ShimLedger(fake_peer, CH, TX, facts)


def test_absent_key_reads_as_none_and_present_key_as_bytes(fake_peer, ledger):
    fake_peer.state["k"] = b"v"
    assert run(ledger.get_state("k")) == b"v"
    assert run(ledger.get_state("missing")) is None


def test_private_reads_and_writes_name_the_collection(fake_peer, ledger):
    fake_peer.private["coll"] = {"p": b"secret"}
    assert run(ledger.get_private("coll", "p")) == b"secret"
    assert run(ledger.get_private_hash("coll", "p")) == hashlib.sha256(b"secret").digest()
    run(ledger.put_private("coll", "q", b"v"))
    run(ledger.purge_private("coll", "p"))
    assert fake_peer.writes == [
        ("PUT_STATE", "coll", "q", b"v"),
        ("PURGE_PRIVATE_DATA", "coll", "p", b""),
    ]
    assert {shim_pb2.GetState.FromString(m.payload).collection for m in fake_peer.requests[:2]} == {
        "coll"
    }


def test_range_read_pages_through_the_results_and_closes_the_query(fake_peer, ledger):
    prefix = CompositeKey("consent", ("c_1",))
    for n in range(5):
        fake_peer.state[CompositeKey("consent", ("c_1", f"k{n}")).render()] = f"v{n}".encode()
    fake_peer.state[CompositeKey("consent", ("c_10", "k0")).render()] = b"other customer"
    rows = run(ledger.get_state_by_partial_key(prefix))
    assert [value for _, value in rows] == [b"v0", b"v1", b"v2", b"v3", b"v4"]
    kinds = [Msg.Type.Name(m.type) for m in fake_peer.requests]
    assert kinds == [
        "GET_STATE_BY_RANGE",
        "QUERY_STATE_NEXT",
        "QUERY_STATE_NEXT",
        "QUERY_STATE_CLOSE",
    ]


def test_history_is_decoded_from_key_modifications(fake_peer, ledger):
    mod = kv_pb2.KeyModification(tx_id="t1", value=b"v", is_delete=False)
    mod.timestamp.FromDatetime(NOW)
    fake_peer.history["k"] = [mod]
    (version,) = run(ledger.get_history("k"))
    assert (version.tx_id, version.value, version.timestamp) == ("t1", b"v", NOW)


def test_peer_refusal_surfaces_as_peer_error(fake_peer, ledger):
    fake_peer.refuse["PURGE_PRIVATE_DATA"] = "purge private data is not enabled"
    with pytest.raises(PeerError, match="not enabled"):
        run(ledger.purge_private("coll", "p"))


def test_proposal_facts_give_creator_transient_time_and_txid(ledger):
    assert ledger.creator().msp_id == "Org1MSP"
    assert b"BEGIN CERTIFICATE" in ledger.creator().id_bytes
    assert ledger.tx_timestamp() == NOW
    assert ledger.tx_id() == TX


# --- running transactions ----------------------------------------------------------------------


def _run(peer: Any, msg: Any, contract: Any = None) -> tuple[Any, Any]:
    return run(shim_ext.run_transaction(contract or PrefshareContract(*_OWNER), peer, msg))


def test_transaction_success_answers_200_with_the_payload(fake_peer, transaction, alice):
    response, event = _run(fake_peer, transaction("RegisterCustomer", alice.key.b64url))
    assert response.status == 200
    assert json.loads(response.payload)["customer_id"] == alice.id
    assert [w[0] for w in fake_peer.writes] == ["PUT_STATE"]
    assert event is None


def test_consent_grant_over_the_shim_carries_its_event(fake_peer, transaction, alice):
    _run(fake_peer, transaction("RegisterCustomer", alice.key.b64url))
    fake_peer.commit()
    response, event = _run(
        fake_peer, transaction("SubmitConsentStatement", alice.wire(alice.statement()))
    )
    assert response.status == 200
    assert event.name == "ConsentGranted"
    completed = shim_ext.completed_message(CH, "tx-1", response, event)
    assert completed.chaincode_event.event_name == "ConsentGranted"


def test_refusal_answers_its_kind_status_with_the_error_json(fake_peer, transaction, alice):
    response, event = _run(fake_peer, transaction("ListConsents", alice.id))
    assert response.status == 404 and event is None
    assert error_from_json(response.message).code == "UNKNOWN_CUSTOMER"


def test_missing_role_answers_403(fake_peer, transaction, alice):
    response, _ = _run(fake_peer, transaction("ReadOwnEvents", alice.id, role=None))
    assert response.status == 403
    assert error_from_json(response.message).code == "MISSING_ATTRIBUTE"


def test_transaction_without_a_proposal_answers_malformed_proposal(fake_peer, transaction, alice):
    msg = transaction("ListConsents", alice.id)
    msg.ClearField("proposal")
    response, _ = _run(fake_peer, msg)
    assert response.status == 400
    assert error_from_json(response.message).code == "MALFORMED_PROPOSAL"


def test_peer_refusal_answers_500_with_the_peers_text(fake_peer, transaction, alice):
    fake_peer.refuse["GET_STATE"] = "tx creator does not have read access"
    response, _ = _run(fake_peer, transaction("ListConsents", alice.id))
    assert response.status == 500 and "read access" in response.message


def test_unexpected_failure_answers_500_without_the_exception_text(fake_peer, transaction):
    class Broken(PrefshareContract):
        async def invoke(self, ledger, function, args):  # type: ignore[no-untyped-def]
            raise RuntimeError("c_secret-value")

    response, _ = _run(fake_peer, transaction("ListConsents", "x"), Broken(*_OWNER))
    assert response.status == 500
    assert "secret" not in response.message and "RuntimeError" in response.message


@pytest.mark.parametrize(
    ("args", "field"),
    [([], "function"), ([b"ListConsents", b"\xff"], "args[1]")],
    ids=["no-function", "not-utf8"],
)
def test_undecodable_input_is_refused(args, field):
    payload = chaincode_pb2.ChaincodeInput(args=args).SerializeToString()
    with pytest.raises(InvalidValue) as info:
        shim_ext.decode_input(payload)
    assert info.value.field == field


def test_record_then_read_events_over_the_shim(fake_peer, transaction, alice, chain):
    _run(fake_peer, transaction("RegisterCustomer", alice.key.b64url))
    fake_peer.commit()
    events = json.dumps([chain.event(alice), chain.event(alice, event_type="view")]).encode()
    recorded, _ = _run(
        fake_peer, transaction("RecordPreferenceEvents", transient={"events": events})
    )
    assert recorded.status == 200 and json.loads(recorded.payload) == {"recorded": 2}
    # One holding for her, in Org1's own collection only, under a key without her id.
    assert [(w[0], w[1]) for w in fake_peer.writes] == [("PUT_STATE", collection_for(ORG1))]
    assert alice.id not in fake_peer.writes[0][2]
    fake_peer.commit()
    read, _ = _run(fake_peer, transaction("ReadOwnEvents", alice.id))
    assert read.status == 200
    assert len(json.loads(read.payload)["events"]) == 2


def test_another_orgs_gateway_is_refused_by_the_owners_server(fake_peer, transaction, alice):
    _run(fake_peer, transaction("RegisterCustomer", alice.key.b64url))
    fake_peer.commit()
    response, _ = _run(fake_peer, transaction("ReadOwnEvents", alice.id, msp="Org2MSP"))
    assert response.status == 403
    assert error_from_json(response.message).code == "RETAILER_MISMATCH"
