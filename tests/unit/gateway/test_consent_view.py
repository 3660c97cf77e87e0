from datetime import timedelta

from gateway.suggestions import consent_view

from .conftest import CONSENT_CUSTOMER as CID
from .conftest import CONSENT_NOW as NOW
from .conftest import listed_consent

MEMBERS = ("NorthwindMSP", "SouthgateMSP", "EastmarketMSP")


def _consent(recipients=("NorthwindMSP",), categories=("purchases", "views"), **over):
    return listed_consent(list(recipients), list(categories), **over)


def test_active_consent_naming_the_retailer_grants_every_other_member():
    view = consent_view(CID, [_consent()], "NorthwindMSP", MEMBERS, NOW)
    assert dict(view.grants) == {"SouthgateMSP": frozenset({"purchases", "views"}),
                                 "EastmarketMSP": frozenset({"purchases", "views"})}


def test_wildcard_recipient_counts_as_naming_the_retailer():
    view = consent_view(CID, [_consent(recipients=["*"])], "SouthgateMSP", MEMBERS, NOW)
    assert set(view.grants) == {"NorthwindMSP", "EastmarketMSP"}


def test_withdrawn_expired_other_purpose_or_other_recipient_grant_nothing():
    consents = [_consent(status="withdrawn"), _consent(status="expired"),
                _consent(purposes=("analytics",)), _consent(recipients=["EastmarketMSP"])]
    assert dict(consent_view(CID, consents, "NorthwindMSP", MEMBERS, NOW).grants) == {}


def test_a_consent_that_expires_after_it_was_read_grants_nothing_once_expired():
    # The view is decided when it is used: a cached read does not outlive her expiry.
    later = NOW + timedelta(days=31)
    assert dict(consent_view(CID, [_consent()], "NorthwindMSP", MEMBERS, later).grants) == {}


def test_categories_of_several_consents_add_up():
    consents = [_consent(categories=["views"]),
                _consent(categories=["stated_preferences"], consent_id="k-2")]
    view = consent_view(CID, consents, "NorthwindMSP", MEMBERS, NOW)
    assert view.grants["SouthgateMSP"] == frozenset({"views", "stated_preferences"})
