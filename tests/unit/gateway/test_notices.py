"""Event notices: whom an owner tells that her events changed, and that telling is bounded
and never fails or holds up the write (pure logic; the real member channel is exercised in
tests/integration/test_realtime_personalisation.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.members import MemberUnavailable
from gateway.notices import EventNotices, categories_of, notice_recipients

from .conftest import CONSENT_NOW as NOW
from .conftest import listed_consent

MEMBERS = ("A", "B", "C")


consent = listed_consent


def test_members_her_active_consents_open_the_category_to_are_told_never_the_owner():
    consents = [consent(["B"], ["purchases"]), consent(["C"], ["views"], consent_id="k-2")]
    assert notice_recipients(consents, {"purchases"}, MEMBERS, "A", NOW) == ("B",)
    assert notice_recipients(consents, {"purchases", "views"}, MEMBERS, "A", NOW) == ("B", "C")


def test_a_wildcard_consent_tells_every_other_member():
    assert notice_recipients([consent(["*"], ["purchases"])], {"purchases"}, MEMBERS,
                             "B", NOW) == ("A", "C")


@pytest.mark.parametrize("closed", [
    consent(["B"], ["purchases"], status="withdrawn"),
    consent(["B"], ["purchases"], status="expired"),
    consent(["B"], ["purchases"], purposes=("analytics",)),
    consent(["B"], ["views"]),
    consent(["Z"], ["purchases"]),
])
def test_no_member_is_told_without_an_active_consent_that_opens_the_events(closed):
    assert notice_recipients([closed], {"purchases"}, MEMBERS, "A", NOW) == ()


def test_a_batch_gives_each_customer_her_events_categories():
    events = [{"customer_id": "c1", "event_type": "purchase"},
              {"customer_id": "c1", "event_type": "view"},
              {"customer_id": "c2", "event_type": "purchase"}]
    assert categories_of(events) == {"c1": {"purchases", "views"}, "c2": {"purchases"}}


class _Member:
    def __init__(self, msp_id: str) -> None:
        self.msp_id = msp_id


class _Members:
    """The member client's shape: ``members`` and ``post``; records what was sent."""

    def __init__(self, *, fail: bool = False, gate: threading.Event | None = None) -> None:
        self.members = tuple(_Member(m) for m in MEMBERS)
        self.fail, self.gate = fail, gate
        self.posts: list[tuple[str, str, dict[str, Any]]] = []
        self.done = threading.Event()
        self.entered = threading.Event()

    def post(self, msp_id: str, path: str, body: dict[str, Any]) -> Any:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        self.posts.append((msp_id, path, body))
        self.done.set()
        if self.fail:
            raise MemberUnavailable(msp_id, "HTTP 503")
        return {"accepted": True}


def _notices(members: _Members, **kwargs: Any) -> EventNotices:
    # The worker decides at the clock's time: her consent is active now.
    active = consent(["B"], ["purchases"], now=datetime.now(UTC))
    return EventNotices("A", lambda _: [active], members,  # type: ignore[arg-type]
                        **kwargs)


def test_a_recorded_purchase_sends_her_id_and_nothing_else_to_the_consented_member():
    members = _Members()
    notices = _notices(members)
    try:
        notices.queue([{"customer_id": "c1", "event_type": "purchase", "item_id": "x"}])
        assert members.done.wait(5)
    finally:
        notices.close()
    assert members.posts == [("B", "/v1/members/notices", {"customer_id": "c1"})]
    assert (notices.sent, notices.failed) == (1, 0)


def test_a_failed_notice_is_counted_and_raises_nowhere():
    members = _Members(fail=True)
    notices = _notices(members)
    try:
        notices.queue([{"customer_id": "c1", "event_type": "purchase"}])
        assert members.done.wait(5)
    finally:
        notices.close()
    assert notices.failed == 1


def test_queueing_never_waits_for_the_network_and_is_bounded():
    gate = threading.Event()  # the member hangs until the test lets it go
    members = _Members(gate=gate)
    notices = _notices(members, max_pending=2)
    try:
        notices.queue([{"customer_id": "c1", "event_type": "purchase"}])
        assert members.entered.wait(5)  # c1's notice is under way and hangs
        for customer in ("c2", "c3", "c2", "c4", "c4"):
            notices.queue([{"customer_id": customer, "event_type": "purchase"}])
        # c2 and c3 wait (c2 once however many batches); c4 found the queue full twice.
        assert notices.dropped == 2
    finally:
        gate.set()
        notices.close()


def test_a_non_positive_bound_is_refused():
    with pytest.raises(ValueError):
        _notices(_Members(), max_pending=0)
