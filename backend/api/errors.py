"""Every error leaves the API as `{"detail": "<words>", "code": "<keyword>"}`; this is where statuses are chosen."""
from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.api.validation import describe_request_problems
from backend.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    HiveError,
    InvalidInput,
    NotFound,
    OperationFailed,
    RateLimited,
    TimedOut,
    TooLarge,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 422: "validation_error",
          429: "rate_limited"}
STATUS_OF: dict[type[HiveError], int] = {
    BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409, TooLarge: 413,
    InvalidInput: 422, RateLimited: 429, OperationFailed: 500, Unavailable: 503, TimedOut: 504,
}


def status_of(error: HiveError) -> int:
    """The HTTP status of a service's exception: that of its nearest listed class, 500 for any other."""
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 500


def _body(status: int, detail: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HiveError)
    async def _hive_error(_request: Request, error: HiveError) -> JSONResponse:
        status = status_of(error)
        headers = {"WWW-Authenticate": 'Basic realm="hive"'} if status == 401 else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            headers = {"Retry-After": str(max(1, math.ceil(error.retry_after)))}
        return _body(status, error.detail, error.code, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        return _body(422, describe_request_problems(error.errors()), "validation_error")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _body(error.status_code, str(error.detail), _CODES.get(error.status_code, "http_error"),
                     getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _body(500, f"internal error: {error.__class__.__name__}: {error}", "internal_error")
