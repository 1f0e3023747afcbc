"""The OpenAPI schema as the API really answers: every error, whatever its status, is an `ErrorBody`
(`{"detail": "<words>", "code": "<keyword>"}`, see errors.py), not FastAPI's list of validation errors.

Each operation documents the errors it can answer: those a route declares with `errors(...)`, and those that
follow from how it is built: 401 and 429 (a lock-out after wrong logins) behind HTTP Basic, 404 for a
path naming a thing, 409 for a change behind auth (a name taken, a thing in use or in the wrong state),
422 wherever a parameter or body is validated, and 500 anywhere.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from backend.api.schemas import ErrorBody

DESCRIPTIONS = {
    400: "the request cannot be read (a malformed date or cursor)",
    401: "missing or wrong credentials",
    403: "not allowed from this address",
    404: "the thing named in the path does not exist",
    409: "not possible in the current state: a name already taken, a thing in use or in the wrong state",
    413: "the body, or the event in it, is too large",
    422: "invalid input: the detail names the field and what is wrong with it",
    429: "too many calls, or an address locked out after wrong logins (see Retry-After)",
    500: "the backend failed; its log has the details",
    503: "something the backend needs (a Docker engine, the credentials key, hive_core) cannot be used now",
    504: "the bot did not answer in time",
}
_WRITES = {"post", "put", "patch", "delete"}
_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` for error statuses beyond those the schema adds by itself (see above)."""
    return {status: {"model": ErrorBody, "description": DESCRIPTIONS[status]} for status in statuses}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_schema(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_schema(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _declare_errors(path, method, operation)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components["ErrorBody"] = ErrorBody.model_json_schema()
    return schema


def _declare_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    statuses = {int(status) for status in responses if status.isdigit() and int(status) >= 400} | {500}
    if operation.get("security"):
        statuses |= {401, 429}
        if method in _WRITES:
            statuses.add(409)
    if "{" in path:
        statuses.add(404)
    for status in statuses:
        declared = responses.get(str(status), {})
        responses[str(status)] = {"description": declared.get("description") or DESCRIPTIONS[status],
                                  "content": _ERROR_REF}
    operation["responses"] = dict(sorted(responses.items()))
