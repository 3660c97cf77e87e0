"""Access-log sessions: one entry per distinct answer per session."""

from __future__ import annotations

from gateway.access_log import AccessLogSessions, fingerprint


def test_a_repeated_identical_read_is_logged_once_per_session():
    sessions = AccessLogSessions(300)
    answer = fingerprint({"events": [], "withheld": {"total": 0}})
    assert [sessions.claim("c_1", "personalisation", answer) for _ in range(5)] == \
        [True, False, False, False, False]
    assert sessions.claim("c_1", "analytics", answer)  # another purpose: its own session
    assert sessions.claim("c_2", "personalisation", answer)


def test_a_read_with_another_answer_is_logged_again():
    sessions = AccessLogSessions(300)
    assert sessions.claim("c_1", "personalisation", fingerprint({"events": []}))
    assert sessions.claim("c_1", "personalisation", fingerprint({"events": [{"e": 1}]}))


def test_a_released_claim_is_logged_by_the_next_read():
    sessions = AccessLogSessions(300)
    assert sessions.claim("c_1", "p", "x")
    sessions.release("c_1", "p")
    assert sessions.claim("c_1", "p", "x")


def test_zero_seconds_logs_every_read_and_the_table_is_bounded():
    assert all(AccessLogSessions(0).claim("c", "p", "x") for _ in range(3))
    sessions = AccessLogSessions(300)
    sessions.MAX_ENTRIES = 10
    for i in range(50):
        sessions.claim(f"c_{i}", "p", "x")
    assert len(sessions._logged) == 10
