"""All routers, aggregated in one place.

Everything but GET /health and the TradingView webhook needs the login: HTTP Basic, or a session token of
POST /auth/session (Bearer)."""
from fastapi import APIRouter, Depends

from backend.api.deps import require_user
from backend.api.openapi import errors
from backend.api.routes import (
    alerts,
    auth,
    broker,
    credentials,
    docs,
    events,
    feed,
    fleet,
    health,
    hosts,
    hummingbot_bots,
    hummingbot_docker,
    hummingbot_scripts,
    images,
    instances,
    rules,
    strategies,
    webhooks,
)

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(webhooks.public)  # checked by its secret, not HTTP Basic
_protected = [Depends(require_user)]
api_router.include_router(docs.router, dependencies=_protected)
api_router.include_router(auth.router, dependencies=_protected)
api_router.include_router(broker.router, dependencies=_protected)
api_router.include_router(feed.router, dependencies=_protected)
api_router.include_router(instances.router, dependencies=_protected)
api_router.include_router(fleet.router, dependencies=_protected)
api_router.include_router(rules.router, dependencies=_protected)
api_router.include_router(alerts.router, dependencies=_protected)
# these need the credentials key, a Docker engine or hive_core's CLI, which may be unusable for a while
api_router.include_router(credentials.router, dependencies=_protected, responses=errors(503))
api_router.include_router(images.router, dependencies=_protected, responses=errors(503))
api_router.include_router(hosts.router, dependencies=_protected, responses=errors(503))
api_router.include_router(strategies.router, dependencies=_protected, responses=errors(503))
api_router.include_router(events.router, dependencies=_protected)
api_router.include_router(webhooks.router, dependencies=_protected)
# the Hummingbot-API-compatible subset (backend/hummingbot_api)
api_router.include_router(hummingbot_docker.router, dependencies=_protected, responses=errors(503))
api_router.include_router(hummingbot_bots.router, dependencies=_protected)
api_router.include_router(hummingbot_scripts.router, dependencies=_protected)
