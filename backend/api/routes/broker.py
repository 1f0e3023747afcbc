"""The broker: status, start (embedded or container), stop, its log, or use an external one; its logins (the
operator's extra ones for bots and tools Hive does not run) and what an external broker must install; who is
connected to it, and its figures over time."""
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from backend.api.deps import BrokerDep, CurrentUser
from backend.api.schemas import BrokerStartRequest, ExternalBrokerRequest
from backend.domain.broker import (
    BrokerAccessSetup,
    BrokerClients,
    BrokerLog,
    BrokerLoginCreate,
    BrokerLoginCreated,
    BrokerLoginOut,
    BrokerMetricsPoint,
    BrokerStatus,
)

router = APIRouter(prefix="/broker", tags=["broker"])


@router.get("", response_model=BrokerStatus)
def status(broker: BrokerDep) -> BrokerStatus:
    return broker.status()


@router.post("/start", response_model=BrokerStatus)
def start(broker: BrokerDep, user: CurrentUser,
          body: Annotated[BrokerStartRequest | None, Body()] = None) -> BrokerStatus:
    """The embedded broker or the container, refusing clients without a login and enforcing the ACL."""
    if body is None:
        return broker.start(actor=f"user:{user}")
    return broker.start(body.port, body.kind, actor=f"user:{user}")


@router.post("/stop", response_model=BrokerStatus)
def stop(broker: BrokerDep, user: CurrentUser) -> BrokerStatus:
    return broker.stop(actor=f"user:{user}")


@router.post("/external", response_model=BrokerStatus)
def use_external(broker: BrokerDep, user: CurrentUser, body: ExternalBrokerRequest) -> BrokerStatus:
    password = body.password.get_secret_value() if body.password else None
    return broker.use_external(body.host, body.port, body.username, password, actor=f"user:{user}")


@router.get("/access", response_model=BrokerAccessSetup)
def access(broker: BrokerDep) -> BrokerAccessSetup:
    """The password and ACL files (kept up to date) and the lines that make an external Mosquitto enforce them."""
    return broker.access_setup()


@router.get("/logins", response_model=list[BrokerLoginOut])
def list_logins(broker: BrokerDep) -> list[BrokerLoginOut]:
    """Every broker login (the backend's, the instances', the extra ones), never a password."""
    return broker.logins.all()


@router.post("/logins", response_model=BrokerLoginCreated, status_code=201)
def create_login(broker: BrokerDep, user: CurrentUser, spec: BrokerLoginCreate) -> BrokerLoginCreated:
    """A login for a real Hummingbot bot (role bot: that bot id's topics alone) or a tool such as hbotrc (role
    controller: every topic). The password is in this answer only."""
    return broker.create_login(spec, actor=f"user:{user}")


@router.delete("/logins/{username}", status_code=204)
def revoke_login(broker: BrokerDep, user: CurrentUser, username: str) -> Response:
    """The broker refuses it from now on (Mosquitto also disconnects a client logged in with it)."""
    broker.revoke_login(username, actor=f"user:{user}")
    return Response(status_code=204)


@router.get("/log", response_model=BrokerLog)
def log(broker: BrokerDep, lines: Annotated[int, Query(ge=1, le=5000)] = 200) -> BrokerLog:
    return broker.log(lines)


@router.get("/clients", response_model=BrokerClients)
def clients(broker: BrokerDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> BrokerClients:
    """Who is connected (client id, login, address, since) and which part of Hive or which bot each is, from the
    broker's connection messages; for an external broker, the bots the backend hears on it."""
    return broker.clients(limit)


@router.get("/metrics", response_model=list[BrokerMetricsPoint])
def metrics(broker: BrokerDep, since: float | None = None) -> list[BrokerMetricsPoint]:
    """The broker's message rate, connected clients, CPU and memory every few seconds over the last hour (after
    `since`, epoch seconds, when given), oldest first."""
    return broker.metrics.since(since)
