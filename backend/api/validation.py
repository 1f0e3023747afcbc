"""A request's validation problems in words for people: `name: must be 1-63 letters, digits, '_' or '-', starting
with a letter or digit (got '')` rather than pydantic's `Value error, '' is not a valid id`.

Each problem is phrased from its pydantic type and context; a value that was typed is quoted back (shortened),
except under a field that may hold a secret. Problems of a type not listed keep pydantic's own sentence.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hive_core.config import ID_RULE
from hive_core.validation import describe_validation_error

SECRET_WORDS = ("password", "secret", "key", "passphrase", "token")  # a field whose name has one of these
SECRET_FIELDS = ("ca", "cert")  # TLS material
MAX_SHOWN = 40  # characters of a refused value quoted back

Problem = Mapping[str, Any]


def _items(ctx: Mapping[str, Any], count_key: str) -> str:
    count = ctx.get(count_key)
    return f"{count} item{'' if count == 1 else 's'} (got {ctx.get('actual_length', '?')})"


def _bound(ctx: Mapping[str, Any], key: str) -> str:
    value = ctx.get(key)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _chars(ctx: Mapping[str, Any], count_key: str) -> str:
    count = ctx.get(count_key)
    return f"{count} character{'' if count == 1 else 's'}"


_PHRASES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda ctx: "is required",
    "extra_forbidden": lambda ctx: "is not a field here: leave it out (check its spelling)",
    "string_type": lambda ctx: "must be text",
    "int_type": lambda ctx: "must be a whole number",
    "int_parsing": lambda ctx: "must be a whole number",
    "int_from_float": lambda ctx: "must be a whole number",
    "float_type": lambda ctx: "must be a number",
    "float_parsing": lambda ctx: "must be a number",
    "bool_type": lambda ctx: "must be true or false",
    "bool_parsing": lambda ctx: "must be true or false",
    "list_type": lambda ctx: "must be a list",
    "dict_type": lambda ctx: "must be an object",
    "model_type": lambda ctx: "must be an object",
    "model_attributes_type": lambda ctx: "must be an object",
    "too_short": lambda ctx: f"needs at least {_items(ctx, 'min_length')}",
    "too_long": lambda ctx: f"takes at most {_items(ctx, 'max_length')}",
    "string_too_short": lambda ctx: f"must be at least {_chars(ctx, 'min_length')}",
    "string_too_long": lambda ctx: f"must be at most {_chars(ctx, 'max_length')}",
    "greater_than": lambda ctx: f"must be more than {_bound(ctx, 'gt')}",
    "greater_than_equal": lambda ctx: f"must be at least {_bound(ctx, 'ge')}",
    "less_than": lambda ctx: f"must be less than {_bound(ctx, 'lt')}",
    "less_than_equal": lambda ctx: f"must be at most {_bound(ctx, 'le')}",
    "literal_error": lambda ctx: f"must be {ctx.get('expected')}",
    "enum": lambda ctx: f"must be {ctx.get('expected')}",
    "string_pattern_mismatch": lambda ctx: f"must match the pattern {ctx.get('pattern')}",
    "json_invalid": lambda ctx: f"is not valid JSON ({ctx.get('error', 'cannot be read')})",
}


def _secret(location: Iterable[Any]) -> bool:
    names = [str(part).lower() for part in location]
    return any(name in SECRET_FIELDS or any(word in name for word in SECRET_WORDS) for name in names)


def _got(problem: Problem) -> str:
    """` (got '…')` for a scalar value that may be quoted back, else ``."""
    value = problem.get("input")
    if problem.get("type") in ("missing", "extra_forbidden", "json_invalid") or _secret(problem.get("loc", ())):
        return ""
    if not isinstance(value, str | int | float | bool) and value is not None:
        return ""
    shown = repr(value if not isinstance(value, str) or len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "…")
    return f" (got {shown})"


def _value_error(problem: Problem) -> str:
    """A validator's own message; an identifier's is turned round to say what it must be."""
    message = str(problem.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if message.endswith(f"is not a valid id: use {ID_RULE}"):
        return f"must be {ID_RULE}{_got(problem)}"
    return message


def phrase(problem: Problem) -> str:
    """One problem's message, without its location."""
    kind = str(problem.get("type", ""))
    if kind in ("value_error", "assertion_error"):
        return _value_error(problem)
    words = _PHRASES.get(kind)
    if words is None:
        return str(problem.get("msg", "invalid value"))
    return words(problem.get("ctx") or {}) + _got(problem)


def describe_request_problems(problems: Iterable[Problem]) -> str:
    """`field: message; ...` for FastAPI's request validation errors (their first location part, `body`/`query`/
    `path`, left out); a problem of the whole body (a body missing, or unreadable JSON) says so."""
    worded = []
    for problem in problems:
        location = tuple(problem.get("loc", ()))
        message = phrase(problem)
        if len(location) <= 1 and location[:1] == ("body",):
            message = f"the request body {message}"
        elif location[:1] == ("body",) and problem.get("type") == "json_invalid":
            location, message = ("body",), f"the request body {message}"
        worded.append({"loc": location, "msg": message})
    return describe_validation_error(worded, skip=1) if worded else "invalid request"
