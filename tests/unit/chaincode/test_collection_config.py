import json

import pytest

from chaincode.collection_config import collections_config_json, render_collections_config

MEMBERS = ["NorthwindMSP", "SouthgateMSP", "EastmarketMSP"]


def test_consortium_collection_is_rendered_from_the_member_list():
    assert render_collections_config(MEMBERS) == [
        {
            "name": "prefsCollection",
            "policy": "OR('NorthwindMSP.member','SouthgateMSP.member','EastmarketMSP.member')",
            "requiredPeerCount": 0,
            "maxPeerCount": 3,
            "blockToLive": 0,
            "memberOnlyRead": True,
            "memberOnlyWrite": True,
            "endorsementPolicy": {
                "signaturePolicy": (
                    "OR('NorthwindMSP.peer','SouthgateMSP.peer','EastmarketMSP.peer')"
                )
            },
        }
    ]


def test_max_peer_count_follows_the_number_of_members():
    assert render_collections_config(["Org1MSP"])[0]["maxPeerCount"] == 1
    assert render_collections_config([f"Org{i}MSP" for i in range(5)])[0]["maxPeerCount"] == 5


def test_options_override_the_defaults():
    (config,) = render_collections_config(
        MEMBERS, name="other", required_peer_count=1, max_peer_count=2, block_to_live=10
    )
    assert (
        config["name"],
        config["requiredPeerCount"],
        config["maxPeerCount"],
        config["blockToLive"],
    ) == ("other", 1, 2, 10)


def test_json_text_is_what_the_peer_cli_reads():
    text = collections_config_json(MEMBERS)
    assert text.endswith("\n")
    assert json.loads(text) == render_collections_config(MEMBERS)


@pytest.mark.parametrize(
    ("members", "options"),
    [
        ([], {}),
        (["Org1MSP", "Org1MSP"], {}),
        (["Org1 MSP"], {}),
        (["Org1MSP'"], {}),
        (MEMBERS, {"required_peer_count": 4}),
        (MEMBERS, {"block_to_live": -1}),
    ],
)
def test_invalid_member_lists_and_counts_are_refused(members, options):
    with pytest.raises(ValueError):
        render_collections_config(members, **options)
