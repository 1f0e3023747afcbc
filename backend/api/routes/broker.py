"""The broker: status, start (embedded), stop, or use an external one."""
from typing import Annotated

from fastapi import APIRouter, Body

from backend.api.deps import BrokerDep
from backend.api.schemas import BrokerStartRequest, ExternalBrokerRequest
from backend.domain.broker import BrokerStatus

router = APIRouter(prefix="/broker", tags=["broker"])


@router.get("", response_model=BrokerStatus)
def status(broker: BrokerDep) -> BrokerStatus:
    return broker.status()


@router.post("/start", response_model=BrokerStatus)
def start(broker: BrokerDep, body: Annotated[BrokerStartRequest | None, Body()] = None) -> BrokerStatus:
    return broker.start(body.port if body else None)


@router.post("/stop", response_model=BrokerStatus)
def stop(broker: BrokerDep) -> BrokerStatus:
    return broker.stop()


@router.post("/external", response_model=BrokerStatus)
def use_external(broker: BrokerDep, body: ExternalBrokerRequest) -> BrokerStatus:
    return broker.use_external(body.host, body.port)
