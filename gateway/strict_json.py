"""JSON request bodies parsed strictly, before any route sees them.

Python's parser takes the last of duplicate keys (the chaincode's parser refuses them, so a
body could mean one thing to the gateway's checks and another to a reader of the ledger),
accepts ``NaN`` and ``Infinity``, reports a 50,000-deep body as a recursion error and a
5,000-digit integer as a conversion error. :class:`StrictJson` reads a JSON body once,
refuses all of these with the same 422 ``VALIDATION_FAILED`` shape as any other malformed
body (``details``: one ``{"loc": ["body"], "msg", "type"}``), and hands the unchanged bytes on.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import Unprocessable, to_response

#: Nesting deeper than any body of the API (a consent statement is 3 levels deep).
MAX_DEPTH = 32
#: Digits of an integer: more than any count, amount or time of the API needs.
MAX_INT_DIGITS = 20
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class MalformedJson(ValueError):
    """Why a body is refused: ``kind`` is the detail's ``type``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise MalformedJson("json_duplicate_key", "an object of the body repeats a key")
    return found


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise MalformedJson("json_number_too_large",
                            f"an integer of the body has over {MAX_INT_DIGITS} digits")
    return int(text)


def _no_constant(_: str) -> Any:
    raise MalformedJson("json_invalid", "NaN and Infinity are not JSON")


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1)
                         for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_strict(body: bytes) -> Any:
    """The body's JSON value.

    Raises:
        MalformedJson: not UTF-8, not JSON, a repeated key, NaN or Infinity, an integer over
            ``MAX_INT_DIGITS`` digits, or nesting deeper than ``MAX_DEPTH``.

    >>> parse_strict(b'{"a": 1}')
    {'a': 1}
    >>> parse_strict(b'{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    gateway.strict_json.MalformedJson: an object of the body repeats a key
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJson("json_invalid", "the body is not UTF-8") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_int=_bounded_int,
                           parse_constant=_no_constant)
    except RecursionError:
        raise MalformedJson("json_too_deep", f"the body nests over {MAX_DEPTH} levels") from None
    except json.JSONDecodeError:
        raise MalformedJson("json_invalid", "the body is not JSON") from None
    if _depth(value) > MAX_DEPTH:
        raise MalformedJson("json_too_deep", f"the body nests over {MAX_DEPTH} levels")
    return value


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True  # FastAPI reads a body without a content type as JSON


class StrictJson:
    """ASGI middleware: refuse a malformed JSON body (see the module) before the routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS or \
                not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            try:
                parse_strict(body)
            except MalformedJson as exc:
                refusal = Unprocessable("the request is not valid", details=[
                    {"loc": ["body"], "msg": str(exc), "type": exc.kind}])
                await to_response(refusal)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
