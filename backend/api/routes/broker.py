"""The broker: status, start (embedded or container), stop, its log, or use an external one."""
from typing import Annotated

from fastapi import APIRouter, Body, Query

from backend.api.deps import BrokerDep
from backend.api.schemas import BrokerStartRequest, ExternalBrokerRequest
from backend.domain.broker import BrokerLog, BrokerStatus

router = APIRouter(prefix="/broker", tags=["broker"])


@router.get("", response_model=BrokerStatus)
def status(broker: BrokerDep) -> BrokerStatus:
    return broker.status()


@router.post("/start", response_model=BrokerStatus)
def start(broker: BrokerDep, body: Annotated[BrokerStartRequest | None, Body()] = None) -> BrokerStatus:
    return broker.start(body.port, body.kind) if body else broker.start()


@router.post("/stop", response_model=BrokerStatus)
def stop(broker: BrokerDep) -> BrokerStatus:
    return broker.stop()


@router.post("/external", response_model=BrokerStatus)
def use_external(broker: BrokerDep, body: ExternalBrokerRequest) -> BrokerStatus:
    password = body.password.get_secret_value() if body.password else None
    return broker.use_external(body.host, body.port, body.username, password)


@router.get("/log", response_model=BrokerLog)
def log(broker: BrokerDep, lines: Annotated[int, Query(ge=1, le=5000)] = 200) -> BrokerLog:
    return broker.log(lines)
