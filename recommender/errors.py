"""Typed errors of the suggestion service, for the gateway to map to HTTP in one place.

Every error carries a fixed ``code``; the gateway's exception handler turns the type into a
status (the column below is the intended mapping, the gateway owns it)::

    code                 type                suggested status
    INVALID_REQUEST      InvalidRequest      400  (n out of range, ids malformed or mismatched)
    UNKNOWN_STORE        UnknownStore        404  (no such store at this retailer)
    MODEL_REJECTED       ModelRejected       a 5xx/409 on the admin route that swaps models

Messages name the offending field and value but never a customer's data.
"""

from __future__ import annotations


class SuggestionError(Exception):
    """Base of every error the suggestion service raises on purpose."""

    code = "SUGGESTION_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidRequest(SuggestionError, ValueError):
    """A request argument is malformed or out of range (``field`` names it)."""

    code = "INVALID_REQUEST"


class UnknownStore(SuggestionError, LookupError):
    """The store id names no store of the retailer this service serves."""

    code = "UNKNOWN_STORE"

    def __init__(self, store_id: str) -> None:
        super().__init__(f"unknown store {store_id!r}", field="store_id")
        self.store_id = store_id


class ModelRejected(SuggestionError):
    """A model artifact could not be installed: unreadable, corrupt (hash mismatch), of another
    format version, or trained for another retailer or user model. The previous model, if
    any, keeps serving; ``__cause__`` holds the underlying
    :class:`~recommender.artifacts.ArtifactError` when there is one."""

    code = "MODEL_REJECTED"
