"""Dependencies shared by the routes, declared once as `Annotated` aliases.

They are `async def`: FastAPI runs a plain `def` dependency on a worker thread, and a hop to a worker and back per
dependency added milliseconds to every request of a busy backend (a command round trip is a few). What blocks (the
store) goes to a worker explicitly."""
from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from backend.broker.manager import BrokerManager
from backend.credentials.service import CredentialService
from backend.docker.hosts import DockerHosts
from backend.docker.images import ImageService
from backend.errors import RateLimited, Unauthorized
from backend.hummingbot_api.facade import HummingbotApi
from backend.login_sessions import LoginSession, LoginSessions
from backend.orchestrator.alerts import AlertService
from backend.orchestrator.events import EventService
from backend.orchestrator.instances import InstanceService
from backend.orchestrator.queries import InstanceQueries
from backend.services import Services
from backend.strategies.library import StrategyLibrary

_basic = HTTPBasic(auto_error=False, realm="hive")
_bearer = HTTPBearer(auto_error=False, description="a session token of POST /auth/session")
USER_KEY = "audit_user"  # request.state.<USER_KEY>: the logged-in user, for the audit of the action (api/audit.py)
SESSION_KEY = "login_session"  # request.state.<SESSION_KEY>: the LoginSession of a bearer token, None with Basic


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def require_user(services: ServicesDep, request: Request,
                 credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
                 bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """HTTP Basic auth against HIVE_USERNAME / HIVE_PASSWORD, compared in constant time, or a session token of
    POST /auth/session (`Authorization: Bearer`); the user is kept on the request for the audit of its action
    (api/audit.py), the session for the routes that need it.

    Wrong logins are counted per client address (backend/login_throttle.py) and audited; an address
    locked out gets 429 with Retry-After whatever it sends. A token that is unknown, expired or logged out
    is refused (401) without counting as a wrong login: tokens are random, there is nothing to guess."""
    address = client_address(request)
    throttle = services.login_throttle
    wait = throttle.retry_after(address)
    if wait > 0:
        raise RateLimited("too_many_attempts", f"too many wrong logins from {address}: try again in "
                                               f"{math.ceil(wait)} s", retry_after=wait)
    if bearer is not None:
        session = await run_in_threadpool(services.sessions.check, bearer.credentials)  # reads the store
        setattr(request.state, SESSION_KEY, session)
        setattr(request.state, USER_KEY, session.username)
        return session.username
    if credentials is None:
        raise Unauthorized("unauthorized", "credentials required (HTTP Basic: HIVE_USERNAME / HIVE_PASSWORD, or "
                                           "Bearer: a session token of POST /auth/session)")
    settings = services.settings
    user_ok = secrets.compare_digest(credentials.username.encode(), settings.username.encode())
    password_ok = secrets.compare_digest(credentials.password.encode(), (settings.password_value() or "").encode())
    if not (user_ok and password_ok):
        locked = throttle.failed(address)
        await run_in_threadpool(services.events.audit, f"login:{credentials.username[:64]!r} from {address}",
                                "login", "refused",
                                "wrong username or password" + (f"; locked out for {locked:g} s" if locked else ""))
        raise Unauthorized("unauthorized", "wrong username or password")
    throttle.succeeded(address)
    setattr(request.state, SESSION_KEY, None)
    setattr(request.state, USER_KEY, credentials.username)
    return credentials.username


def current_session(request: Request) -> LoginSession | None:
    """The session whose token authenticated the request (after require_user); None for HTTP Basic."""
    return getattr(request.state, SESSION_KEY, None)


CurrentUser = Annotated[str, Depends(require_user)]


async def get_instances(services: ServicesDep) -> InstanceService:
    return services.instances


async def get_instance_queries(services: ServicesDep) -> InstanceQueries:
    return services.instances.queries


async def get_alerts(services: ServicesDep) -> AlertService:
    return services.instances.alerts


async def get_broker(services: ServicesDep) -> BrokerManager:
    return services.broker


async def get_library(services: ServicesDep) -> StrategyLibrary:
    return services.library


async def get_events(services: ServicesDep) -> EventService:
    return services.events


async def get_credentials(services: ServicesDep) -> CredentialService:
    return services.credentials


async def get_images(services: ServicesDep) -> ImageService:
    return services.images


async def get_docker_hosts(services: ServicesDep) -> DockerHosts:
    return services.docker_hosts


async def get_hummingbot(services: ServicesDep) -> HummingbotApi:
    return services.hummingbot


async def get_sessions(services: ServicesDep) -> LoginSessions:
    return services.sessions


DockerHostsDep = Annotated[DockerHosts, Depends(get_docker_hosts)]
CredentialsDep = Annotated[CredentialService, Depends(get_credentials)]
ImagesDep = Annotated[ImageService, Depends(get_images)]
HummingbotDep = Annotated[HummingbotApi, Depends(get_hummingbot)]
SessionsDep = Annotated[LoginSessions, Depends(get_sessions)]
EventsDep = Annotated[EventService, Depends(get_events)]
InstancesDep = Annotated[InstanceService, Depends(get_instances)]
InstanceQueriesDep = Annotated[InstanceQueries, Depends(get_instance_queries)]
AlertsDep = Annotated[AlertService, Depends(get_alerts)]
BrokerDep = Annotated[BrokerManager, Depends(get_broker)]
LibraryDep = Annotated[StrategyLibrary, Depends(get_library)]
