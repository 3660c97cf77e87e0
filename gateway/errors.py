"""The gateway's errors and their mapping to HTTP, in one place.

Every failure leaves the service as ``{"error": {"code", "message", "details"}}`` with a
status that says whose fault it is. Routes raise :class:`ApiError` subclasses or let the
Fabric client's and the chaincode's typed errors through; :func:`install_error_handlers`
maps them all. Messages never echo request values: they may be personal data.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from chaincode.errors import ChaincodeError, error_from_json
from gateway.fabric.errors import (
    CommitError,
    CommitStatusError,
    GatewayError,
    RefusalDecoder,
    SubmitError,
    refusal_decoder,
)
from gateway.ledger_records import MalformedLedgerAnswer
from gateway.models import ErrorBody
from recommender.artifacts import ArtifactError, ArtifactVersionMismatch
from recommender.errors import InvalidRequest, ModelRejected, SuggestionError, UnknownStore

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        #: Response headers the answer carries (Retry-After for a 429).
        self.headers = headers
        if code is not None:
            self.code = code


class Unauthenticated(ApiError):
    status, code = 401, "UNAUTHENTICATED"


class Forbidden(ApiError):
    status, code = 403, "FORBIDDEN"


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class Conflict(ApiError):
    status, code = 409, "CONFLICT"


class NoModel(ApiError):
    """The gateway's model directory holds no artifact to install."""

    status, code = 404, "NO_MODEL"


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class BodyTooLarge(StarletteHTTPException):
    """A request body passed the limit while it was read.

    An HTTPException because FastAPI passes those through its body parsing unchanged (it
    turns any other error there into a 400); the handler below answers 413 PAYLOAD_TOO_LARGE.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit} bytes")


class Unprocessable(ApiError):
    status, code = 422, "VALIDATION_FAILED"


class PeerUnavailable(ApiError):
    status, code = 503, "PEER_UNAVAILABLE"


class DatabaseUnavailable(ApiError):
    """The shared database (PostgreSQL, gateway/postgres/) did not answer: down, unreachable,
    or every pooled connection busy for the pool's timeout."""

    status, code = 503, "DATABASE_UNAVAILABLE"


class OutcomeUnknown(ApiError):
    """The transaction was sent but its commit could not be confirmed; retry with the same
    idempotency key, and the chaincode's own duplicate checks keep it from applying twice."""

    status, code = 503, "COMMIT_UNCONFIRMED"


#: Chaincode error kinds (chaincode/errors.py) as HTTP statuses.
#: Our chaincode's refusals (its JSON, chaincode/errors.py) rebuilt as its typed errors: the
#: decoder the gateway hands its Fabric client, which knows no particular chaincode.
CHAINCODE_REFUSALS: RefusalDecoder = refusal_decoder(error_from_json)

_CHAINCODE_STATUS = {
    "invalid": 400,
    "unauthenticated": 403,  # a customer's signature failed: the caller is not authorised
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
}

_UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED}


#: What each error status means, for the OpenAPI schema (docs/gateway.md, "Behaviour").
_DESCRIPTIONS = {
    400: "A record rule of the chaincode is broken (its code, docs/chaincode.md), or the "
         "Idempotency-Key is missing (IDEMPOTENCY_KEY_REQUIRED)",
    401: "No store credential, or one that is not valid or was revoked (UNAUTHENTICATED)",
    403: "Another store's credential, or not the admin's (FORBIDDEN); or the ledger refused a "
         "signature or an authorisation (docs/chaincode.md)",
    404: "The ledger knows no such customer or consent, or the retailer no such store",
    409: "The record exists (docs/chaincode.md), a request with this Idempotency-Key is still "
         "running (IDEMPOTENCY_KEY_IN_FLIGHT), or the transaction was ordered but not valid "
         "(TRANSACTION_INVALID)",
    413: "The request body is over the gateway's limit (PAYLOAD_TOO_LARGE)",
    429: "This member's ledger writes are over its hourly budget (WRITE_BUDGET_EXCEEDED, "
         "with Retry-After), or the owner braked this member's reads (MEMBER_BRAKED)",
    422: "The request does not fit the schema (VALIDATION_FAILED, with the field locations), "
         "the Idempotency-Key is malformed or was used for another request, or a signed "
         "request names another customer or action",
    503: "The peer cannot be reached (PEER_UNAVAILABLE), a commit was not confirmed "
         "(COMMIT_UNCONFIRMED; retry with the same Idempotency-Key) or the ledger failed "
         "(LEDGER_ERROR) or answered in a shape its chaincode does not (LEDGER_ANSWER_MALFORMED)",
}

#: The answers a call to the ledger can add: its refusals by kind, and its outages.
LEDGER_STATUSES = (400, 403, 404, 409, 429, 503)


def error_responses(*statuses: int, described: dict[int, str] | None = None
                    ) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses an operation can answer; ``described``
    adds statuses (or replaces their general description) where the operation's own words
    say more."""
    descriptions = {status: _DESCRIPTIONS[status] for status in statuses}
    descriptions.update(described or {})
    return {status: {"model": ErrorBody, "description": descriptions[status]}
            for status in sorted(descriptions)}


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def from_fabric(exc: GatewayError | CommitError) -> ApiError | tuple[int, dict[str, Any]]:
    """Map a Fabric client error to the response the caller gets."""
    if isinstance(exc, CommitError):
        return Conflict("the transaction was ordered but not valid",
                        code="TRANSACTION_INVALID", details={"validation": exc.code_name})
    chaincode = exc.chaincode_error()
    if isinstance(chaincode, ChaincodeError):
        return _chaincode_response(chaincode)
    if isinstance(exc, CommitStatusError | SubmitError) and exc.code in _UNREACHABLE:
        return OutcomeUnknown("the ledger did not confirm the commit in time; retry with the "
                              "same Idempotency-Key")
    if exc.code in _UNREACHABLE:
        return PeerUnavailable("the retailer's peer cannot be reached; retry later")
    return PeerUnavailable("the ledger refused the request", code="LEDGER_ERROR",
                           details={"grpc_status": exc.code.name if exc.code else None})


def _chaincode_response(err: ChaincodeError) -> tuple[int, dict[str, Any]]:
    status = _CHAINCODE_STATUS.get(err.kind, 400)
    details = {"field": err.field} if err.field else None
    return status, _body(err.code, str(err.message), details)


def _respond(result: ApiError | tuple[int, dict[str, Any]]) -> JSONResponse:
    if isinstance(result, ApiError):
        return JSONResponse(_body(result.code, result.message, result.details),
                            status_code=result.status, headers=result.headers)
    status, body = result
    return JSONResponse(body, status_code=status)


#: Why an artifact was refused, by the recommender's underlying error: (reason, message).
_REJECTED_FORMAT = ("format_version", "the artifact is of a format version this gateway does "
                                      "not read")
_REJECTED_CORRUPT = ("corrupt", "the artifact is incomplete, damaged or modified (its files "
                                "or content hash do not check)")
_REJECTED_INCOMPATIBLE = ("incompatible", "the artifact was not trained for this gateway "
                                          "(another retailer or user model, or none of its "
                                          "stores' items)")


def _model_rejected(err: ModelRejected) -> tuple[int, dict[str, Any]]:
    # The recommender's message names the artifact's path (and could quote a feature name):
    # the answer says only why, in fixed words; the operator finds the file in the settings.
    cause = err.__cause__
    reason, message = (
        _REJECTED_FORMAT if isinstance(cause, ArtifactVersionMismatch) else
        _REJECTED_CORRUPT if isinstance(cause, ArtifactError) else
        _REJECTED_INCOMPATIBLE)
    return 409, _body(err.code, f"{message}; the previous model keeps serving",
                      {"reason": reason})


def _suggestion_response(err: SuggestionError) -> tuple[int, dict[str, Any]]:
    if isinstance(err, ModelRejected):
        return _model_rejected(err)
    # The recommender's own messages quote the refused value; the API's never do.
    status, message = (
        (404, "no store of this retailer has this id") if isinstance(err, UnknownStore) else
        (422, "the suggestion request is not valid") if isinstance(err, InvalidRequest) else
        (409, "the suggestion service cannot answer this request"))
    details = {"field": err.field} if err.field else None
    return status, _body(err.code, message, details)


#: The exceptions :func:`to_response` maps; anything else is a bug (500).
MAPPED = (ApiError, ChaincodeError, GatewayError, CommitError, SuggestionError,
          MalformedLedgerAnswer)


def to_response(exc: Exception) -> JSONResponse:
    """The response for one of :data:`MAPPED`; raises TypeError for anything else."""
    if isinstance(exc, ApiError):
        return _respond(exc)
    if isinstance(exc, ChaincodeError):
        return _respond(_chaincode_response(exc))
    if isinstance(exc, GatewayError | CommitError):
        return _respond(from_fabric(exc))
    if isinstance(exc, SuggestionError):
        return _respond(_suggestion_response(exc))
    if isinstance(exc, MalformedLedgerAnswer):
        # Another chaincode version or a bug on the peer: the operator's matter, logged
        # without the answer (it may hold personal data).
        log.error("the ledger answered in a shape its chaincode does not",
                  extra={"function": exc.function})
        return _respond(PeerUnavailable("the ledger's answer could not be read",
                                        code="LEDGER_ANSWER_MALFORMED"))
    raise TypeError(f"no HTTP mapping for {type(exc).__name__}")


#: The methods a 405's Allow header may name.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method the request's path is served with. Starlette's own 405 names only the
    first route of the path, wrong where a path has several (GET and POST); FastAPI nests
    included routers, so each method is tried against the routes rather than listed."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    return [method for method in _METHODS
            if any(r.matches({**request.scope, "method": method})[0] is Match.FULL
                   for r in routes)]


def install_error_handlers(app: FastAPI) -> None:
    async def _mapped(_: Request, exc: Exception) -> JSONResponse:
        return to_response(exc)

    for kind in MAPPED:
        app.add_exception_handler(kind, _mapped)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Field locations and rules only: pydantic's "input" may hold personal data.
        details = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""),
                    "type": e.get("type", "")} for e in exc.errors()]
        return JSONResponse(_body("VALIDATION_FAILED", "the request is not valid", details),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
            # FastAPI's answer to a JSON body it cannot decode (not UTF-8): malformed JSON,
            # which the API refuses like any other (422), not with a bare 400.
            details = [{"loc": ["body"], "msg": "the body is not UTF-8 JSON",
                        "type": "json_invalid"}]
            return JSONResponse(_body("VALIDATION_FAILED", "the request is not valid", details),
                                status_code=422)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                413: "PAYLOAD_TOO_LARGE"}.get(exc.status_code, "HTTP_ERROR")
        # Keep the exception's headers: a 405 must say which methods are allowed (RFC 9110).
        headers = exc.headers
        allowed = _allowed_methods(request) if exc.status_code == 405 else []
        if allowed:  # else a static file's 405: Starlette's own headers stand
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return JSONResponse(_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", extra={"error_type": type(exc).__name__})
        return JSONResponse(_body("INTERNAL", "internal error"), status_code=500)
