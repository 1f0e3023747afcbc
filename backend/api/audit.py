"""Every operator action is in the audit log: each state-changing request (POST, PUT, PATCH, DELETE) made with
the login is recorded with its user, its route, the resource it names and its outcome, success or refusal.

A route whose endpoint takes the user (`user: CurrentUser`) hands it to its service as the actor, and that
service writes its own, more precise entry (credentials, Docker hosts, images, the broker, commands to bots): it
is left to it, so an action is never recorded twice. Requests without a valid
login (401) are not operator actions. Nothing of the body is recorded: it may carry secrets.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from anyio import to_thread
from fastapi import Request
from fastapi.routing import APIRoute

from backend.api.deps import USER_KEY, require_user
from backend.orchestrator.events import EventService

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOTE_KEY = "audit_note"  # request.state.<NOTE_KEY>: (detail, instance) a route adds to its entry (note())


def note(request: Request, detail: str, instance: str | None = None) -> None:
    """What the route's audit entry says beyond its path parameters: the name of what a POST creates, which is in
    the body, of which nothing is recorded unasked (it may carry secrets)."""
    setattr(request.state, NOTE_KEY, (detail, instance))


def audited_by_its_service(route: APIRoute) -> bool:
    """The endpoint takes the user as a parameter (router-level login checks have no name)."""
    return any(dependency.call is require_user and dependency.name for dependency in route.dependant.dependencies)


def outcome_of(status: int) -> str:
    return "ok" if status < 400 else f"refused ({status})" if status < 500 else f"failed ({status})"


class AuditMiddleware:
    """Pure ASGI, so streaming answers pass through untouched. The row is written once the answer's status is known
    and before the answer leaves: a client's next action, sent when this answer arrives, is audited after it (written
    after the answer, a fast next request's row could come first)."""

    def __init__(self, app: ASGIApp, events: Callable[[], EventService]) -> None:
        self.app = app
        self.events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        recorded = False

        async def record_then_send(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                await self._record(scope, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_then_send)
        finally:
            if not recorded:  # no answer started: the app failed
                await self._record(scope, 500)

    async def _record(self, scope: Scope, status: int) -> None:
        user = scope.get("state", {}).get(USER_KEY)
        route = scope.get("route")
        if user is None or not isinstance(route, APIRoute) or audited_by_its_service(route):
            return
        params = {key: str(value) for key, value in scope.get("path_params", {}).items()}
        instance = params.get("name") if route.path.startswith("/instances/") else params.get("bot_name")
        detail = " ".join(f"{key}={value}" for key, value in params.items())
        noted = scope.get("state", {}).get(NOTE_KEY)
        if noted is not None:
            detail = " ".join(part for part in (detail, noted[0]) if part)
            instance = noted[1] or instance
        try:
            await to_thread.run_sync(lambda: self.events().audit(
                f"user:{user}", f"{scope['method']} {route.path}"[:63], outcome_of(status), detail, instance=instance,
                origin="api"))
        except Exception:
            log.exception("cannot write the audit entry of %s %s", scope["method"], route.path)
