"""The collections config: one collection per retailer, that retailer alone storing and
endorsing it, rendered from the consortium's member list."""

import json

import pytest

from chaincode.collection_config import (
    collection_for,
    collections_config_json,
    render_collections_config,
)

MEMBERS = ["NorthwindMSP", "SouthgateMSP", "EastmarketMSP"]


def test_each_member_gets_its_own_collection_in_member_order():
    config = render_collections_config(MEMBERS, block_to_live=100_000)
    assert [c["name"] for c in config] == [
        "events-NorthwindMSP", "events-SouthgateMSP", "events-EastmarketMSP"]
    assert config[0] == {
        "name": "events-NorthwindMSP",
        "policy": "OR('NorthwindMSP.member')",
        "requiredPeerCount": 0,
        "maxPeerCount": 1,
        "blockToLive": 100_000,
        "memberOnlyRead": True,
        "memberOnlyWrite": True,
        "endorsementPolicy": {"signaturePolicy": "OR('NorthwindMSP.peer')"},
    }


def test_no_collection_names_another_member_in_its_policies():
    for collection, owner in zip(render_collections_config(MEMBERS), MEMBERS, strict=True):
        policies = collection["policy"] + collection["endorsementPolicy"]["signaturePolicy"]
        assert owner in policies
        assert [m for m in MEMBERS if m != owner and m in policies] == []
        # The collection's endorsement policy replaces the chaincode's MAJORITY for a
        # private-only write: the owner's peer alone must be necessary and sufficient.
        assert collection["endorsementPolicy"]["signaturePolicy"] == f"OR('{owner}.peer')"
        assert collection["maxPeerCount"] == 1 and collection["requiredPeerCount"] == 0


def test_block_to_live_is_the_retention_bound_of_every_collection():
    assert {c["blockToLive"] for c in render_collections_config(MEMBERS, block_to_live=7)} == {7}
    assert {c["blockToLive"] for c in render_collections_config(MEMBERS)} == {0}


def test_a_single_member_consortium_has_one_collection():
    assert [c["name"] for c in render_collections_config(["Org1MSP"])] == ["events-Org1MSP"]


def test_collection_for_names_the_owners_collection():
    assert collection_for("Org1MSP") == "events-Org1MSP"
    assert collection_for("Org1-MSP") == "events-Org1-MSP"


@pytest.mark.parametrize(
    "msp_id",
    ["", "Org1 MSP", "Org1MSP'", "Org1.MSP", "Org_1MSP", "A" * 60, "Org1MSP,Org2MSP"],
    ids=["empty", "space", "quote", "dot", "underscore", "too-long", "comma"],
)
def test_collection_for_refuses_an_id_a_collection_name_cannot_carry(msp_id):
    with pytest.raises(ValueError):
        collection_for(msp_id)


def test_json_text_is_what_the_peer_cli_reads():
    text = collections_config_json(MEMBERS, block_to_live=5)
    assert text.endswith("\n")
    assert json.loads(text) == render_collections_config(MEMBERS, block_to_live=5)


@pytest.mark.parametrize(
    ("members", "options"),
    [
        ([], {}),
        (["Org1MSP", "Org1MSP"], {}),
        (["Org1 MSP"], {}),
        (["Org1MSP'"], {}),
        (MEMBERS, {"block_to_live": -1}),
    ],
    ids=["empty", "repeated", "space", "quote", "negative-btl"],
)
def test_invalid_member_lists_and_retention_are_refused(members, options):
    with pytest.raises(ValueError):
        render_collections_config(members, **options)


def test_a_former_members_collection_is_held_by_the_custodian_that_runs_no_peer():
    config = render_collections_config(["Org1MSP"], former=["Org2MSP"],
                                       custodian="OrdererMSP")
    assert [c["name"] for c in config] == ["events-Org1MSP", "events-Org2MSP"]
    assert config[0]["policy"] == "OR('Org1MSP.member')"
    assert config[1]["policy"] == "OR('OrdererMSP.member')"
    assert config[1]["endorsementPolicy"] == {"signaturePolicy": "OR('OrdererMSP.peer')"}


@pytest.mark.parametrize("custodian", [None, "Org1MSP", "bad msp"])
def test_former_members_need_a_custodian_that_is_no_member(custodian):
    with pytest.raises(ValueError):
        render_collections_config(["Org1MSP"], former=["Org2MSP"], custodian=custodian)
