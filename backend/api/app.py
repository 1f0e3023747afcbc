"""The FastAPI app factory: `create_app(settings)`; OpenAPI docs at /docs (behind auth, like everything but /health)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from backend import __version__
from backend.api.audit import AuditMiddleware
from backend.api.errors import install_error_handlers
from backend.api.openapi import install_openapi
from backend.api.routes import api_router
from backend.services import Services
from backend.settings import CredentialsError, Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    if not settings.password_value():
        raise CredentialsError("HIVE_PASSWORD is not set; run `python -m backend`, which creates one in development")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services(settings)
        app.state.services = services
        await to_thread.run_sync(services.start)
        try:
            yield
        finally:
            await to_thread.run_sync(services.close)

    app = FastAPI(title="Hive backend", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None,  # served behind auth by routes/docs.py
                  description="Drives the MQTT broker and the hive_core instances of one Hive installation.")
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(AuditMiddleware, events=lambda: app.state.services.events)
    app.include_router(api_router)
    return app
