"""The request limits' pure parts: reading a credential's key id, counting and refusing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

from gateway.limits import LimitSettings, RequestLimits, credential_key_id, member_key

SETTINGS = LimitSettings(rate_per_address="1000/second", rate_per_credential="3/minute",
                         rate_registrations_per_address="2/minute",
                         rate_registrations="1000/minute", max_in_flight_per_credential=1,
                         max_in_flight=100, max_url_bytes=300,
                         max_head_bytes=2000, rate_per_member="2/minute",
                         max_in_flight_per_member=1)
KEY = b"Bearer psk_0123456789abcdef." + b"x" * 43


def _scope(path: str = "/v1/admin/model", method: str = "GET",
           authorization: bytes | None = KEY) -> dict[str, Any]:
    headers = [(b"authorization", authorization)] if authorization else []
    return {"type": "http", "path": path, "raw_path": path.encode(), "method": method,
            "query_string": b"", "headers": headers, "client": ("10.0.0.1", 5000)}


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _call(limits: RequestLimits, scope: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(limits(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0].get("headers", [])}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], headers, json.loads(body)


def test_the_key_id_is_read_from_a_bearer_credential_without_checking_it():
    assert credential_key_id(_scope()) == "0123456789abcdef"
    assert credential_key_id(_scope(authorization=b"bearer psk_0123456789abcdef.y")) \
        == "0123456789abcdef"
    assert credential_key_id(_scope(authorization=b"Basic abc")) is None
    assert credential_key_id(_scope(authorization=None)) is None


def test_a_credential_over_its_rate_gets_429_rate_limited_with_retry_after():
    limits = RequestLimits(_ok, SETTINGS)
    assert [_call(limits, _scope())[0] for _ in range(3)] == [200] * 3
    status, headers, body = _call(limits, _scope())
    assert status == 429 and body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["details"]["limit"] == "credential"
    assert int(headers["retry-after"]) >= 1
    other = _scope(authorization=b"Bearer psk_fedcba9876543210.z")
    assert _call(limits, other)[0] == 200


def test_registrations_are_limited_per_address():
    limits = RequestLimits(_ok, SETTINGS)
    scope = _scope("/v1/customers", "POST", None)
    assert [_call(limits, scope)[0] for _ in range(3)] == [200, 200, 429]
    elsewhere = {**scope, "client": ("10.0.0.2", 5000)}
    assert _call(limits, elsewhere)[0] == 200


def test_health_and_metrics_are_never_limited():
    limits = RequestLimits(_ok, SETTINGS)
    assert {_call(limits, _scope("/healthz"))[0] for _ in range(10)} == {200}


def test_a_long_url_is_414_in_the_error_shape():
    status, headers, body = _call(RequestLimits(_ok, SETTINGS), _scope("/v1/" + "a" * 400))
    assert status == 414 and body["error"]["code"] == "URI_TOO_LONG"
    assert "retry-after" not in headers


def test_requests_in_flight_per_credential_are_bounded():
    limits = RequestLimits(_ok, SETTINGS)
    results: list[int] = []

    async def both() -> None:
        release = asyncio.Event()

        async def slow(scope: Any, receive: Any, send: Any) -> None:
            await release.wait()
            await _ok(scope, receive, send)

        limits.app = slow

        async def one() -> None:
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b""}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            await limits(_scope(), receive, send)
            results.append(sent[0]["status"])

        first = asyncio.create_task(one())
        await asyncio.sleep(0)
        await one()  # refused at once while the first is in flight
        release.set()
        await first

    asyncio.run(both())
    assert results == [429, 200]


def test_a_large_head_is_431_in_the_error_shape():
    scope = _scope()
    scope["headers"].append((b"x-filler", b"a" * 3000))
    status, _, body = _call(RequestLimits(_ok, SETTINGS), scope)
    assert status == 431 and body["error"]["code"] == "REQUEST_HEAD_TOO_LARGE"


def _member_scope(cert: bytes) -> dict[str, Any]:
    scope = _scope("/v1/members/shared-events", "POST", None)
    scope["headers"].append((b"x-prefshare-member-cert", cert))
    return scope


def test_a_reading_member_over_its_rate_gets_429_and_another_member_does_not():
    limits = RequestLimits(_ok, SETTINGS)
    assert [_call(limits, _member_scope(b"A"))[0] for _ in range(2)] == [200, 200]
    status, headers, body = _call(limits, _member_scope(b"A"))
    assert status == 429 and body["error"]["details"]["limit"] == "member"
    assert int(headers["retry-after"]) >= 1
    assert _call(limits, _member_scope(b"B"))[0] == 200


def test_the_member_key_is_read_only_on_member_routes():
    assert member_key(_member_scope(b"A")) is not None
    other = _scope("/v1/customers", "POST", None)
    other["headers"].append((b"x-prefshare-member-cert", b"A"))
    assert member_key(other) is None
    assert member_key(_scope("/v1/members/export", "POST", None)) is None


def test_suggestions_have_their_own_rate_and_a_refusal_is_held_before_it_is_sent():
    settings = dataclasses.replace(SETTINGS, rate_per_credential="1000/minute",
                                   rate_suggestions_per_credential="2/minute",
                                   rate_limited_delay_s=0.2)
    limits = RequestLimits(_ok, settings)
    suggestions = _scope("/v1/stores/s01/customers/c_x/suggestions")
    assert [_call(limits, suggestions)[0] for _ in range(2)] == [200, 200]
    started = time.perf_counter()
    status, _, body = _call(limits, suggestions)
    assert time.perf_counter() - started >= 0.2
    assert status == 429 and body["error"]["details"]["limit"] == "suggestions_per_credential"
    # The credential's other routes are still within its general rate.
    assert _call(limits, _scope("/v1/stores/s01/customers/c_x/consents"))[0] == 200
