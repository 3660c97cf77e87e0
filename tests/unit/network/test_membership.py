"""The pure parts of a membership change: the config edits, who signs, the description."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from network.config_update import (
    application_members,
    majority,
    org_admins_policy,
    with_member,
    without_member,
)
from network.description import Retailer, load_consortium, save_consortium
from network.errors import MembershipError, UnknownRetailer
from network.membership import grown, shrunk, signers_for
from network.plan import Peer

ROOT = Path(__file__).resolve().parents[3]
WEST = Retailer(name="westfield", msp_id="WestfieldMSP", host="127.0.0.1")


def _config(*msps: str) -> dict:
    return {"channel_group": {"groups": {"Application": {
        "groups": {m: {"values": {"MSP": {}}} for m in msps},
        "policies": {"OrgAdmins": {"mod_policy": "Admins", "policy": org_admins_policy(msps)},
                     "Admins": {"mod_policy": "Admins"}}}}}}


def _admins(config: dict) -> list[str]:
    policy = config["channel_group"]["groups"]["Application"]["policies"]["OrgAdmins"]
    return [i["principal"]["msp_identifier"] for i in policy["policy"]["value"]["identities"]]


def test_adding_a_member_sets_its_anchor_peer_and_names_its_admin_in_org_admins():
    before = _config("AMSP", "BMSP")
    after = with_member(before, "CMSP", {"values": {"MSP": {}}}, ("10.0.0.3", 7351))
    assert application_members(after) == ["AMSP", "BMSP", "CMSP"]
    assert _admins(after) == ["AMSP", "BMSP", "CMSP"]
    anchors = after["channel_group"]["groups"]["Application"]["groups"]["CMSP"]["values"]
    assert anchors["AnchorPeers"]["value"] == {"anchor_peers": [{"host": "10.0.0.3",
                                                                 "port": 7351}]}
    assert application_members(before) == ["AMSP", "BMSP"]  # the input is left alone


def test_removing_a_member_drops_its_group_and_its_admin():
    after = without_member(_config("AMSP", "BMSP", "CMSP"), "BMSP")
    assert application_members(after) == ["AMSP", "CMSP"]
    assert _admins(after) == ["AMSP", "CMSP"]
    rule = after["channel_group"]["groups"]["Application"]["policies"]["OrgAdmins"]
    assert rule["policy"]["value"]["rule"]["n_out_of"] == {
        "n": 1, "rules": [{"signed_by": 0}, {"signed_by": 1}]}


def test_config_edits_refuse_a_member_twice_an_unknown_one_and_the_last():
    with pytest.raises(ValueError, match="already"):
        with_member(_config("AMSP"), "AMSP", {}, ("h", 1))
    with pytest.raises(ValueError, match="not in"):
        without_member(_config("AMSP", "BMSP"), "CMSP")
    with pytest.raises(ValueError, match="last member"):
        without_member(_config("AMSP"), "AMSP")


def _peer(msp: str) -> Peer:
    return Peer(msp.lower(), msp, "127.0.0.1", 1, 2, 3)


def test_a_majority_signs_and_a_leaver_signs_only_when_the_others_are_too_few():
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    four = [_peer(m) for m in ("AMSP", "BMSP", "CMSP", "DMSP")]
    assert [p.msp_id for p in signers_for(four)] == ["AMSP", "BMSP", "CMSP"]
    assert [p.msp_id for p in signers_for(four, leaving="AMSP")] == ["BMSP", "CMSP", "DMSP"]
    two = four[:2]
    assert [p.msp_id for p in signers_for(two, leaving="AMSP")] == ["BMSP", "AMSP"]


def test_a_member_that_leaves_keeps_its_collection_and_those_after_it_keep_their_ports():
    c = grown(load_consortium(ROOT / "network" / "consortium.yaml"), WEST)
    assert c.block_of(4) == c.port_base + 400
    left = shrunk(c, "southgate")
    assert [r.name for r in left.retailers] == ["northwind", "eastmarket", "westfield"]
    assert [left.block_of(i) for i in (1, 2, 3)] == [c.block_of(1), c.block_of(3),
                                                     c.block_of(4)]
    assert left.collection_members == ["NorthwindMSP", "EastmarketMSP", "WestfieldMSP",
                                       "SouthgateMSP"]
    again = grown(left, Retailer(name="norden", msp_id="NordenMSP"))
    assert again.block_of(4) == c.block_of(4) + 100  # not westfield's block


def test_a_membership_change_refuses_a_taken_name_a_former_msp_and_the_last_member():
    c = load_consortium(ROOT / "network" / "consortium.yaml")
    with pytest.raises(MembershipError, match="already"):
        grown(c, Retailer(name="northwind", msp_id="OtherMSP"))
    with pytest.raises(UnknownRetailer):
        shrunk(c, "nobody")
    left = shrunk(c, "southgate")
    with pytest.raises(MembershipError, match="rejoin"):
        grown(left, Retailer(name="southgate", msp_id="SouthgateMSP"))
    with pytest.raises(MembershipError, match="last member"):
        shrunk(shrunk(left, "northwind"), "eastmarket")


def test_the_description_is_rewritten_with_its_comments_kept(tmp_path):
    path = tmp_path / "consortium.yaml"
    shutil.copy(ROOT / "network" / "consortium.yaml", path)
    changed = shrunk(grown(load_consortium(path), WEST), "southgate")
    save_consortium(changed, path)
    text = path.read_text()
    assert text.startswith("# The consortium description")
    assert "former_members: [SouthgateMSP]" in text
    assert load_consortium(path) == changed
