"""Dependencies shared by the routes, declared once as `Annotated` aliases."""
from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from backend.broker.manager import BrokerManager
from backend.credentials.service import CredentialService
from backend.docker.hosts import DockerHosts
from backend.docker.images import ImageService
from backend.errors import RateLimited, Unauthorized
from backend.hummingbot_api.facade import HummingbotApi
from backend.orchestrator.alerts import AlertService
from backend.orchestrator.events import EventService
from backend.orchestrator.instances import InstanceService
from backend.orchestrator.queries import InstanceQueries
from backend.services import Services
from backend.strategies.library import StrategyLibrary

_basic = HTTPBasic(auto_error=False, realm="hive")
USER_KEY = "audit_user"  # request.state.<USER_KEY>: the logged-in user, for the audit of the action (api/audit.py)


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def require_user(services: ServicesDep, request: Request,
                 credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]) -> str:
    """HTTP Basic auth against HIVE_USERNAME / HIVE_PASSWORD, compared in constant time; the user is kept on the
    request for the audit of its action (api/audit.py).

    Wrong logins are counted per client address (backend/login_throttle.py) and audited; an address
    locked out gets 429 with Retry-After whatever it sends."""
    address = request.client.host if request.client else "unknown"
    throttle = services.login_throttle
    wait = throttle.retry_after(address)
    if wait > 0:
        raise RateLimited("too_many_attempts", f"too many wrong logins from {address}: try again in "
                                               f"{math.ceil(wait)} s", retry_after=wait)
    if credentials is None:
        raise Unauthorized("unauthorized", "credentials required (HTTP Basic: HIVE_USERNAME / HIVE_PASSWORD)")
    settings = services.settings
    user_ok = secrets.compare_digest(credentials.username.encode(), settings.username.encode())
    password_ok = secrets.compare_digest(credentials.password.encode(), (settings.password_value() or "").encode())
    if not (user_ok and password_ok):
        locked = throttle.failed(address)
        services.events.audit(f"login:{credentials.username[:64]!r} from {address}", "login", "refused",
                              "wrong username or password" + (f"; locked out for {locked:g} s" if locked else ""))
        raise Unauthorized("unauthorized", "wrong username or password")
    throttle.succeeded(address)
    setattr(request.state, USER_KEY, credentials.username)
    return credentials.username


CurrentUser = Annotated[str, Depends(require_user)]


def get_instances(services: ServicesDep) -> InstanceService:
    return services.instances


def get_instance_queries(services: ServicesDep) -> InstanceQueries:
    return services.instances.queries


def get_alerts(services: ServicesDep) -> AlertService:
    return services.instances.alerts


def get_broker(services: ServicesDep) -> BrokerManager:
    return services.broker


def get_library(services: ServicesDep) -> StrategyLibrary:
    return services.library


def get_events(services: ServicesDep) -> EventService:
    return services.events


def get_credentials(services: ServicesDep) -> CredentialService:
    return services.credentials


def get_images(services: ServicesDep) -> ImageService:
    return services.images


def get_docker_hosts(services: ServicesDep) -> DockerHosts:
    return services.docker_hosts


def get_hummingbot(services: ServicesDep) -> HummingbotApi:
    return services.hummingbot


DockerHostsDep = Annotated[DockerHosts, Depends(get_docker_hosts)]
CredentialsDep = Annotated[CredentialService, Depends(get_credentials)]
ImagesDep = Annotated[ImageService, Depends(get_images)]
HummingbotDep = Annotated[HummingbotApi, Depends(get_hummingbot)]
EventsDep = Annotated[EventService, Depends(get_events)]
InstancesDep = Annotated[InstanceService, Depends(get_instances)]
InstanceQueriesDep = Annotated[InstanceQueries, Depends(get_instance_queries)]
AlertsDep = Annotated[AlertService, Depends(get_alerts)]
BrokerDep = Annotated[BrokerManager, Depends(get_broker)]
LibraryDep = Annotated[StrategyLibrary, Depends(get_library)]
