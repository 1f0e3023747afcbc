"""TradingView webhooks: managed behind auth; the public receiving endpoint is checked by its secret."""
from anyio import to_thread
from fastapi import APIRouter, Request, Response

from backend.api.audit import note
from backend.api.deps import EventsDep, ServicesDep
from backend.api.openapi import errors
from backend.api.schemas import WebhookAccepted
from backend.domain.events import TRADINGVIEW_IPS, WebhookCreate, WebhookCreated, WebhookOut
from backend.errors import TooLarge

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
def create_webhook(events: EventsDep, spec: WebhookCreate, request: Request) -> WebhookCreated:
    """The answer carries the secret, this once."""
    created = events.create_webhook(spec)
    targets = spec.targets if spec.targets == "all" else ",".join(spec.targets)
    note(request, f"hook={created.hook} event={spec.event} targets={targets}"[:500])
    return created


@router.delete("/{hook}", status_code=204)
def delete_webhook(events: EventsDep, hook: str) -> Response:
    events.delete_webhook(hook)
    return Response(status_code=204)


@public.post("/tradingview/{hook}", response_model=WebhookAccepted, status_code=202,
             responses=errors(401, 403, 409, 413, 422, 429))
async def tradingview(services: ServicesDep, hook: str, request: Request, secret: str | None = None) -> WebhookAccepted:
    """No HTTP Basic (TradingView cannot set headers): the secret is the body's `secret` field or `?secret=`.
    The event is published in the background, so the answer comes at once."""
    events = services.events
    client_ip = request.client.host if request.client else ""
    try:
        body = await read_body(request, services.settings.webhook_max_body)
    except TooLarge as error:
        await to_thread.run_sync(events.audit, f"webhook:{hook} from {client_ip}", "webhook", "too_large",
                                 error.detail)
        raise
    event_id = await to_thread.run_sync(events.receive, hook, body, secret, client_ip)
    return WebhookAccepted(event_id=event_id)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read as it streams in and refused (TooLarge) once past `limit` bytes: a declared
    Content-Length over it is refused before reading anything, a longer stream at the first chunk past it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge("too_large", f"the body has {int(declared)} bytes; at most {limit} are allowed "
                                    "(HIVE_WEBHOOK_MAX_BODY)")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge("too_large", f"the body has more than {limit} bytes, which is the most allowed "
                                        "(HIVE_WEBHOOK_MAX_BODY)")
    return bytes(body)
