"""One way to turn a pydantic validation error into words a person can act on.

`strategies.0.interval: Input should be greater than 0; venue.kind: ...`: one part per problem, each
naming the field path, joined by "; ". Used by the instance config, the strategy loader, the remote
commands and the backend's API, so an operator reads the same sentence wherever a value is refused.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def describe_validation_error(error: ValidationError | Iterable[Mapping[str, Any]], *, under: str = "",
                              skip: int = 0, relative_to: str = "") -> str:
    """`path: message; ...` for every problem of `error` (a ValidationError or its `errors()` list).

    `under` is put before every path (`data` for a command's fields), `skip` drops the first parts of
    each location (FastAPI's `body`/`query`), and a path starting with `relative_to` loses that prefix
    (`strategies.3.` when only the third entry is being talked about).
    """
    problems = error.errors() if isinstance(error, ValidationError) else error
    parts = []
    for problem in problems:
        path = (*([under] if under else []), *tuple(problem.get("loc", ()))[skip:])
        location = ".".join(str(part) for part in path if not _is_tag(part))
        message = str(problem.get("msg", ""))
        for prefix in _PYDANTIC_PREFIXES:
            message = message.removeprefix(prefix)
        text = f"{location}: {message}" if location else message
        parts.append(text[len(relative_to):] if relative_to and text.startswith(relative_to) else text)
    return "; ".join(parts) or "invalid value"


def _is_tag(part: Any) -> bool:
    """A tagged union's branch in a location (its Tag is written `kind=<value>`): not a field, so left out."""
    return isinstance(part, str) and part.startswith("kind=")
