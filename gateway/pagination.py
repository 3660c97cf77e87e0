"""Pagination of list responses: ``limit`` and an opaque ``cursor`` (offset, base64url)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query

from gateway.errors import Unprocessable
from gateway.models import Page

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


def paginate(items: Sequence[Any], limit: int, cursor: str | None) -> Page:
    offset = 0
    if cursor is not None:
        try:
            offset = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        except (ValueError, UnicodeDecodeError):
            raise Unprocessable("cursor is not one this API issued",
                                code="CURSOR_INVALID") from None
        if offset < 0:
            raise Unprocessable("cursor is not one this API issued", code="CURSOR_INVALID")
    end = offset + limit
    following = None
    if end < len(items):
        following = base64.urlsafe_b64encode(str(end).encode()).decode().rstrip("=")
    return Page(items=list(items[offset:end]), next_cursor=following)
