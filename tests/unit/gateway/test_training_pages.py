"""The training job's paging over ReadOwnTraining (pure logic over page records)."""

import json
from dataclasses import dataclass, field

import pytest

from gateway.ledger_records import MalformedLedgerAnswer, OwnPage, parse_answer
from gateway.training import read_own_pages


def _page(events: list[int], next_key: str | None) -> OwnPage:
    return OwnPage("NorthwindMSP", tuple(events), 1, next_key)  # type: ignore[arg-type]


@dataclass
class _Pages:
    """Answers ReadOwnTraining from a fixed list of pages, recording the requests."""

    pages: list[OwnPage]
    asked: list[tuple[str, int]] = field(default_factory=list)

    def read_own_training(self, after: str, limit: int) -> OwnPage:
        self.asked.append((after, limit))
        return self.pages[len(self.asked) - 1]


def test_pages_are_followed_until_next_is_null():
    # ``next`` is the owner's last collection key of the page (HMAC-derived, opaque).
    pages = _Pages([_page([1], "\x00hist\x00tag-a\x00"), _page([2], "\x00hist\x00tag-b\x00"),
                    _page([], None)])
    got = list(read_own_pages(pages, page_size=7))  # type: ignore[arg-type]
    assert [p.events for p in got] == [(1,), (2,), ()]
    assert pages.asked == [("", 7), ("\x00hist\x00tag-a\x00", 7), ("\x00hist\x00tag-b\x00", 7)]


def test_a_single_last_page_is_read_once_with_the_default_size():
    pages = _Pages([_page([1, 2], None)])
    assert [p.events for p in read_own_pages(pages)] == [(1, 2)]  # type: ignore[arg-type]
    assert pages.asked == [("", 200)]


def test_a_composite_key_cursor_is_kept_as_the_chaincode_gave_it():
    # Found by the full suite: a page boundary's cursor is a composite key, whose U+0000
    # separators the field reader refuses as control characters.
    cursor = "\x00holding\x00c_abc\x00"
    answer = {"owner": "NorthwindMSP", "events": [], "customers": 0, "next": cursor}
    page = parse_answer("ReadOwnTraining", json.dumps(answer).encode(), OwnPage.from_dict)
    assert page.next == cursor
    with pytest.raises(MalformedLedgerAnswer):
        parse_answer("ReadOwnTraining", json.dumps({**answer, "next": 7}).encode(),
                     OwnPage.from_dict)
