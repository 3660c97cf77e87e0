"""Notices to the members a customer's new events are open to: "her data here changed".

A member's suggestion cache (:mod:`gateway.suggestion_cache`) keeps what it read about her,
including the events it read through their owners' gateways. When this retailer (the owner)
records events for her, the members her consents open those events to must drop that read,
or her purchase here reaches their kiosks only after the cache's TTL. Blocks cannot tell
them (a client identity gets filtered blocks only, and those link no write to anyone), so
the owner tells them: a signed member request (:mod:`gateway.members`) to
``POST /v1/members/notices`` whose body is her id and nothing else. The receiving gateway
authenticates the member as for every member route and drops her entry; her next
suggestion there reads this owner's events again under her consent, checked and logged here.

Who is told: every other member named (or covered by ``*``) in one of her active consents
whose purposes include ``personalisation`` and whose data categories include a category of
the events recorded (:func:`notice_recipients`). Her consents are public state, read with
one evaluate on the own peer, after the write and off the request's path.

Bounded and never in the way of the write: the recording request only queues her id
(:meth:`EventNotices.queue`); one worker thread reads her consents and sends the notices,
at most ``max_pending`` customers wait (one entry per customer however many batches; more
are dropped and counted), each notice is one try within the member timeout, and a failure
is logged without her id and counted. A lost notice leaves her entry to its TTL.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from chaincode.policy import opened_categories
from chaincode.preferences import CATEGORY_OF_EVENT_TYPE
from gateway.fabric.errors import GatewayError
from gateway.ledger_records import ListedConsent, MalformedLedgerAnswer
from gateway.members import MemberClient, MemberUnavailable

log = logging.getLogger(__name__)

NOTICE_PATH = "/v1/members/notices"
#: The purpose a kiosk reads her shared events for (gateway.suggestions.PURPOSE).
NOTICE_PURPOSE = "personalisation"


def notice_recipients(consents: Iterable[ListedConsent], categories: Iterable[str],
                      members: Sequence[str], owner: str, now: datetime) -> tuple[str, ...]:
    """The members (in ``members`` order, never ``owner``) that her consents open events of
    ``categories`` to for personalisation at ``now`` (chaincode.policy's rule)."""
    wanted = set(categories)
    records = [c.record for c in consents]
    return tuple(m for m in members if m != owner
                 and wanted & opened_categories(records, m, NOTICE_PURPOSE, now))


def categories_of(events: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """Customer id -> the consent data categories of her events in a recorded batch."""
    found: dict[str, set[str]] = {}
    for event in events:
        category = CATEGORY_OF_EVENT_TYPE.get(str(event.get("event_type", "")))
        if category is not None:
            found.setdefault(str(event.get("customer_id", "")), set()).add(category)
    return found


class EventNotices:
    """The owner's sender of notices (see the module docstring). ``consents_of`` reads her
    consent records (``ConsortiumLedger.list_consents``); ``members`` sends the signed
    requests. Call :meth:`close` to stop the worker."""

    def __init__(self, owner: str, consents_of: Callable[[str], Sequence[ListedConsent]],
                 members: MemberClient, *, max_pending: int = 1000) -> None:
        if max_pending <= 0:
            raise ValueError("max_pending must be positive")
        self._owner, self._consents_of, self._members = owner, consents_of, members
        self._member_ids = tuple(m.msp_id for m in members.members)
        self._max_pending = max_pending
        self._pending: OrderedDict[str, set[str]] = OrderedDict()
        self._wake = threading.Condition()
        self._stopped = False
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="event-notices", daemon=True)
        self._thread.start()

    def queue(self, events: Iterable[dict[str, Any]]) -> None:
        """Queue a notice for each customer of a recorded batch; never raises, never waits
        for the network."""
        with self._wake:
            for customer_id, categories in categories_of(events).items():
                if customer_id in self._pending:
                    self._pending[customer_id] |= categories
                elif len(self._pending) < self._max_pending:
                    self._pending[customer_id] = set(categories)
                else:
                    self.dropped += 1
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopped:
                    self._wake.wait()
                if self._stopped:
                    return
                customer_id, categories = self._pending.popitem(last=False)
            self._notify(customer_id, categories)

    def _notify(self, customer_id: str, categories: set[str]) -> None:
        try:
            consents = self._consents_of(customer_id)
        except (GatewayError, MalformedLedgerAnswer) as exc:
            self.failed += 1
            log.warning("event notice not sent: her consents could not be read",
                        extra={"cause": type(exc).__name__})
            return
        for msp_id in notice_recipients(consents, categories, self._member_ids, self._owner,
                                        datetime.now(UTC)):
            try:
                self._members.post(msp_id, NOTICE_PATH, {"customer_id": customer_id})
                self.sent += 1
            except MemberUnavailable as exc:
                self.failed += 1
                log.warning("event notice not delivered; the member's cache keeps her entry "
                            "until its TTL", extra={"member": msp_id, "cause": str(exc)})
