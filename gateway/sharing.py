"""A customer's data across the consortium, as this gateway reads it and serves it.

Reader side: her events at this retailer come from its own collection; other members'
events come from each owner's gateway (:mod:`gateway.members`), and only when one of her
consents could open anything for this retailer (consents are public), so a customer who
consented to nothing costs no member call. Owner side: what this retailer serves to the
others, each read checked by its chaincode now and logged (:mod:`gateway.read_log`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from chaincode.policy import opened_categories
from chaincode.preferences import PreferenceEvent
from gateway.ledger import ConsortiumLedger, LedgerConnection
from gateway.ledger_records import (
    MALFORMED,
    ListedConsent,
    SharedPage,
    answer_events,
    event_dicts,
)
from gateway.members import MemberClient, MemberGateway, MemberUnavailable
from gateway.read_log import ReadLogWriter
from gateway.settings import GatewaySettings

SHARED_EVENTS = "/v1/members/shared-events"
SHARED_TRAINING = "/v1/members/training-events"
SHARED_EXPORT = "/v1/members/export"
TRAINING_PAGE = 200
T = TypeVar("T")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _from_member(msp_id: str, parse: Callable[[Any], T], answer: Any) -> T:
    """A member's answer, parsed; one that does not parse is one that did not answer."""
    try:
        return parse(answer)
    except MALFORMED as exc:
        raise MemberUnavailable(msp_id, "malformed answer") from exc


@dataclass(frozen=True)
class CustomerEvents:
    """Her events this retailer may use for a purpose, and the owners that did not answer."""

    events: tuple[PreferenceEvent, ...]
    unanswered: list[str] = field(default_factory=list)


@dataclass
class Sharing:
    ledger: ConsortiumLedger
    members: MemberClient | None
    read_log: ReadLogWriter | None

    # -- reader side -------------------------------------------------------------------------

    def customer_events(self, customer_id: str, purpose: str,
                        consents: Iterable[ListedConsent]) -> CustomerEvents:
        """Her own events here and what the other owners let this retailer read now. The
        owners are asked only when one of her consents opens something of theirs to this
        retailer now (chaincode.policy's rule: a shortcut only, each owner decides for
        itself); an owner whose answer does not parse counts as unanswered. Raises the
        ledger's errors for the own read (unknown or erased customer...)."""
        events = self.ledger.read_own_events(customer_id)
        opened = opened_categories((c.record for c in consents), self.ledger.msp_id, purpose,
                                   datetime.now(UTC))
        if self.members is None or not opened:
            return CustomerEvents(events)
        answers, missing = self.members.post_all(
            SHARED_EVENTS, {"customer_id": customer_id, "purpose": purpose})
        for msp_id, answer in answers.items():
            try:
                events += _from_member(msp_id, answer_events, answer)
            except MemberUnavailable:
                missing.append(msp_id)
        return CustomerEvents(events, missing)

    def training_pages(self, purpose: str) -> Iterator[SharedPage]:
        """Every page of what this retailer may train on: its own events, then each other
        owner's shared pages. Raises the ledger's errors or MemberUnavailable (an owner
        that did not answer, or answered with something that does not parse)."""
        after = ""
        while True:
            own = self.ledger.read_own_training(after, TRAINING_PAGE)
            yield SharedPage(own.owner, own.events, (), own.next)
            if own.next is None:
                break
            after = own.next
        if self.members is None:
            return
        for member in self.members.members:
            after = ""
            while True:
                answer = self.members.post(member.msp_id, SHARED_TRAINING,
                                           {"purpose": purpose, "after": after,
                                            "limit": TRAINING_PAGE})
                page = _from_member(member.msp_id, SharedPage.from_dict, answer)
                yield page
                if page.next is None:
                    break
                after = page.next

    # -- owner side --------------------------------------------------------------------------

    def _entry(self, customer_id: str, reader: str, purpose: str, kind: str, count: int,
               consent_ids: list[str]) -> dict[str, Any]:
        return {"customer_id": customer_id, "owner": self.ledger.msp_id, "reader": reader,
                "purpose": purpose, "kind": kind, "at": _now(), "count": count,
                "consent_ids": sorted(set(consent_ids))}

    def serve_shared(self, reader: str, customer_id: str, purpose: str) -> dict[str, Any]:
        """Her events held here that ``reader`` may read now; logged when any were."""
        found = self.ledger.read_shared_events(customer_id, reader, purpose)
        if found.events and self.read_log is not None:
            self.read_log.log([self._entry(customer_id, reader, purpose, "kiosk",
                                           len(found.events), list(found.consent_ids))])
        return {"owner": self.ledger.msp_id, "events": event_dicts(found.events)}

    def serve_training(self, reader: str, purpose: str, after: str,
                       limit: int) -> dict[str, Any]:
        """One page of the training read; one log entry per customer read."""
        page = self.ledger.read_shared_training(reader, purpose, after, limit)
        counts: dict[str, int] = {}
        for event in page.events:
            counts[event.customer_id] = counts.get(event.customer_id, 0) + 1
        opened: dict[str, list[str]] = {}
        for customer_id, consent_id, _ in page.consents:
            opened.setdefault(customer_id, []).append(consent_id)
        if self.read_log is not None:
            self.read_log.log([self._entry(cid, reader, purpose, "training", n,
                                           opened.get(cid, [])) for cid, n in counts.items()])
        return {**page.to_dict(), "owner": self.ledger.msp_id}

    def serve_export(self, reader: str, request: dict[str, Any]) -> dict[str, Any]:
        """What this retailer holds about her and who read it, for her export served by
        ``reader``; once per request (the log entry marks it served)."""
        held = self.ledger.export_own_data(request, reader)
        entry = self._entry(held.customer_id, reader, "personalisation", "export",
                            len(held.events), [])
        self.ledger.log_reads([entry], {held.customer_id: str(request["nonce"])})
        return {"owner": self.ledger.msp_id, "events": event_dicts(held.events),
                "access_log": [*(e.to_dict() for e in held.access_log), entry]}

    def export(self, request: dict[str, Any]) -> dict[str, Any]:
        """Her whole export, served here: the public part, then every owner's part."""
        document = self.ledger.export_customer(request).to_dict()
        holdings = {self.ledger.msp_id: self.serve_export(self.ledger.msp_id, request)}
        unanswered: list[str] = []
        if self.members is not None:
            answers, unanswered = self.members.post_all(SHARED_EXPORT, {"request": request})
            holdings.update(answers)
        document["holdings"] = {
            msp: {"events": part["events"], "access_log": part["access_log"]}
            for msp, part in sorted(holdings.items())}
        document["access_log"] = sorted(
            (entry for part in holdings.values() for entry in part["access_log"]),
            key=lambda entry: entry["at"])
        document["unanswered"] = sorted(unanswered)
        return document


def member_client(settings: GatewaySettings, connection: LedgerConnection) -> MemberClient | None:
    """The client of the other members' gateways (None in a consortium of one)."""
    members = tuple(MemberGateway(m.msp_id, m.url, m.tls_root, m.msp_root)
                    for m in settings.members)
    if not members:
        return None
    return MemberClient(members, connection.certificate_pem, connection.sign,
                        timeout_s=settings.member_timeout_s)


def reader_sharing(settings: GatewaySettings, connection: LedgerConnection) -> Sharing:
    """Sharing for a one-shot reader (the training command): it serves no one, logs nothing."""
    return Sharing(connection.ledger, member_client(settings, connection), None)
