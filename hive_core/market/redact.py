"""Keeping credentials out of text: log lines, error messages and replies that may quote a request.

A third-party client library can put a key into its own output (ccxt logs every request's headers, the API key
among them, at DEBUG; some exchanges echo a request's URL in their errors), so whatever text leaves such a client
passes a `Redactor` first, and the library logs through a `RedactingLogger`.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

MASK = "***"


class Redactor:
    """`redact(text)`: `text` with every credential (as is, and percent-encoded) replaced by ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
        self._forms = sorted(forms, key=len, reverse=True)  # a longer one may contain a shorter one

    def __call__(self, text: object) -> str:
        out = str(text)
        for form in self._forms:
            out = out.replace(form, MASK)
        return out

    def __repr__(self) -> str:
        return "Redactor(credentials hidden)"


class RedactingLogger(logging.LoggerAdapter):
    """A logger to hand to a library: each message is formatted, then redacted, then logged by `logger`."""

    def __init__(self, logger: logging.Logger, redact: Redactor) -> None:
        super().__init__(logger, {})
        self._redact = redact

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = f"{msg} {args}"
        self.logger.log(level, "%s", self._redact(text), **kwargs)
