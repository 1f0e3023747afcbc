"""Every error leaves the API as `{"detail": "<words>", "code": "<keyword>"}`."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.errors import HiveError

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 422: "validation_error"}


def _body(status: int, detail: str, code: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def _describe(problems: list[dict], skip: int) -> str:
    parts = []
    for problem in problems:
        location = ".".join(str(p) for p in problem.get("loc", ())[skip:])
        parts.append(f"{location}: {problem.get('msg', '')}" if location else str(problem.get("msg", "")))
    return "; ".join(parts) or "invalid request"


def describe_validation(error: RequestValidationError) -> str:
    """`field.sub: message; ...`, without the leading body/query/path of the location."""
    return _describe(list(error.errors()), skip=1)


def describe_pydantic(error: ValidationError) -> str:
    return _describe(error.errors(), skip=0)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HiveError)
    async def _hive_error(_request: Request, error: HiveError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="hive"'} if error.status == 401 else None
        return _body(error.status, error.detail, error.code, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        return _body(422, describe_validation(error), "validation_error")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _body(error.status_code, str(error.detail), _CODES.get(error.status_code, "http_error"),
                     getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _body(500, f"internal error: {error.__class__.__name__}: {error}", "internal_error")
