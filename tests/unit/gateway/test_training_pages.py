"""The training job's paging over ReadTrainingEvents (pure logic over page dicts)."""

from dataclasses import dataclass, field
from typing import Any

from gateway.training import read_training_pages


@dataclass
class _Pages:
    """Answers ReadTrainingEvents from a fixed list of pages, recording the requests."""

    pages: list[dict[str, Any]]
    asked: list[tuple[str, str, int]] = field(default_factory=list)

    def read_training_events(self, purpose: str, after: str, limit: int) -> dict[str, Any]:
        self.asked.append((purpose, after, limit))
        return self.pages[len(self.asked) - 1]


def test_pages_are_followed_until_next_is_null():
    pages = _Pages([{"events": [1], "consents": [], "next": "c_a"},
                    {"events": [2], "consents": [], "next": "c_b"},
                    {"events": [], "consents": [], "next": None}])
    got = list(read_training_pages(pages, page_size=7))  # type: ignore[arg-type]
    assert [p["events"] for p in got] == [[1], [2], []]
    assert pages.asked == [("personalisation", "", 7), ("personalisation", "c_a", 7),
                           ("personalisation", "c_b", 7)]
