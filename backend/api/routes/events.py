"""External events: publish to bots, list what was published and to whom; and the audit trail."""
from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import CurrentUser, EventsDep
from backend.api.openapi import errors
from backend.domain.events import AuditEntry, AuditFilter, EventOut, EventPublish

router = APIRouter(tags=["events"])


@router.post("/events", response_model=EventOut, status_code=201, responses=errors(404, 413))
def publish_event(events: EventsDep, user: CurrentUser, request: EventPublish) -> EventOut:
    """Publish `P/external/event/<name with . as />` to each target; the answer says per target if it was published."""
    return events.publish(request, sender=f"user:{user}")


@router.get("/events", response_model=list[EventOut])
def list_events(events: EventsDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[EventOut]:
    """Newest first."""
    return events.newest(limit)


@router.get("/audit", response_model=list[AuditEntry])
def audit_log(events: EventsDep, chosen: Annotated[AuditFilter, Query()]) -> list[AuditEntry]:
    """Every operator action (logins and failed logins, creates, starts, stops, deletes, uploads, broker actions,
    events), webhook calls (accepted and refused) and commands to bots (by any path), newest first; each filter
    given narrows the selection, `limit` and `offset` page through it."""
    return events.audit_entries(chosen)


@router.get("/audit/actions", response_model=list[str])
def audit_actions(events: EventsDep) -> list[str]:
    """Every action the audit log holds (the choices of a filter on `action`)."""
    return events.audit_actions()
