"""Plausible event times and consent lifetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chaincode.fields import format_timestamp
from gateway.time_rules import (
    ConsentTooLong,
    ImplausibleTime,
    check_consent_lifetime,
    check_event_times,
)

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
AGE, SKEW, LONGEST = timedelta(days=3650), timedelta(minutes=5), timedelta(days=730)


def _at(delta: timedelta) -> str:
    return format_timestamp(NOW + delta)


def test_event_times_within_the_window_pass():
    check_event_times([_at(-AGE + timedelta(seconds=1)), _at(SKEW), _at(timedelta(0))],
                      max_age=AGE, skew=SKEW, now=NOW)


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59.999Z", "1970-01-01T00:00:00.000Z"])
def test_far_event_times_are_refused_naming_the_event(when):
    with pytest.raises(ImplausibleTime) as refused:
        check_event_times([_at(timedelta(0)), when], max_age=AGE, skew=SKEW, now=NOW)
    assert refused.value.details == {"field": "events[1].timestamp"}
    assert when not in refused.value.message


def test_a_consent_runs_at_most_the_longest_lifetime():
    given = _at(timedelta(0))
    check_consent_lifetime(given, _at(LONGEST), longest=LONGEST, skew=SKEW, now=NOW)
    check_consent_lifetime(given, None, longest=LONGEST, skew=SKEW, now=NOW)
    with pytest.raises(ConsentTooLong):
        check_consent_lifetime(given, _at(LONGEST + timedelta(seconds=1)), longest=LONGEST,
                               skew=SKEW, now=NOW)
    with pytest.raises(ConsentTooLong):
        check_consent_lifetime(given, "9999-12-31T23:59:59.999Z", longest=LONGEST,
                               skew=SKEW, now=NOW)
