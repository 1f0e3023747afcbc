"""TradingView webhooks: managed behind auth; the public receiving endpoint is checked by its secret."""
from fastapi import APIRouter, Request, Response

from backend.api.deps import EventsDep
from backend.api.schemas import WebhookAccepted
from backend.domain.events import TRADINGVIEW_IPS, WebhookCreate, WebhookCreated, WebhookOut

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
public = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("", response_model=list[WebhookOut])
def list_webhooks(events: EventsDep) -> list[WebhookOut]:
    return events.webhooks()


@router.get("/tradingview-ips", response_model=list[str])
def tradingview_ips() -> list[str]:
    """TradingView's published sender addresses, a preset for a webhook's allowlist."""
    return TRADINGVIEW_IPS


@router.post("", response_model=WebhookCreated, status_code=201)
def create_webhook(events: EventsDep, spec: WebhookCreate) -> WebhookCreated:
    """The answer carries the secret, this once."""
    return events.create_webhook(spec)


@router.delete("/{hook}", status_code=204)
def delete_webhook(events: EventsDep, hook: str) -> Response:
    events.delete_webhook(hook)
    return Response(status_code=204)


@public.post("/tradingview/{hook}", response_model=WebhookAccepted, status_code=202,
             responses={401: {"description": "missing or wrong secret"}, 409: {"description": "replay"},
                        422: {"description": "bad body or stale timestamp"}, 429: {"description": "rate limit"}})
async def tradingview(events: EventsDep, hook: str, request: Request, secret: str | None = None) -> WebhookAccepted:
    """No HTTP Basic (TradingView cannot set headers): the secret is the body's `secret` field or `?secret=`.
    The event is published in the background, so the answer comes at once."""
    from anyio import to_thread
    body = await request.body()
    client_ip = request.client.host if request.client else ""
    event_id = await to_thread.run_sync(events.receive, hook, body, secret, client_ip)
    return WebhookAccepted(event_id=event_id)
