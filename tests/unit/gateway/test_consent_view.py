from gateway.suggestions import consent_view

MEMBERS = ("NorthwindMSP", "SouthgateMSP", "EastmarketMSP")
CID = "c_" + "A" * 43


def _consent(**over):
    base = {"status": "active", "recipients": ["NorthwindMSP"], "purposes": ["personalisation"],
            "data_categories": ["purchases", "views"]}
    return {**base, **over}


def test_active_consent_naming_the_retailer_grants_every_other_member():
    view = consent_view(CID, [_consent()], "NorthwindMSP", MEMBERS)
    assert dict(view.grants) == {"SouthgateMSP": frozenset({"purchases", "views"}),
                                 "EastmarketMSP": frozenset({"purchases", "views"})}


def test_wildcard_recipient_counts_as_naming_the_retailer():
    view = consent_view(CID, [_consent(recipients=["*"])], "SouthgateMSP", MEMBERS)
    assert set(view.grants) == {"NorthwindMSP", "EastmarketMSP"}


def test_withdrawn_expired_other_purpose_or_other_recipient_grant_nothing():
    consents = [_consent(status="withdrawn"), _consent(status="expired"),
                _consent(purposes=["analytics"]), _consent(recipients=["EastmarketMSP"])]
    assert dict(consent_view(CID, consents, "NorthwindMSP", MEMBERS).grants) == {}


def test_categories_of_several_consents_add_up():
    consents = [_consent(data_categories=["views"]),
                _consent(data_categories=["stated_preferences"])]
    view = consent_view(CID, consents, "NorthwindMSP", MEMBERS)
    assert view.grants["SouthgateMSP"] == frozenset({"views", "stated_preferences"})
