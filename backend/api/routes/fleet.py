"""Across the fleet: the totals at a glance (counts per state, sums of PnL, volume, trades and resource use),
every instance's open orders, every instance's errors, and the external bots gone silent."""
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from backend.api.audit import note
from backend.api.deps import InstanceQueriesDep, InstancesDep
from backend.api.openapi import errors
from backend.domain.instances import ErrorLine, FleetOrder, FleetTotals, GoneBot, InstanceQuery

router = APIRouter(tags=["fleet"])


@router.get("/fleet/totals", response_model=FleetTotals)
def fleet_totals(instances: InstanceQueriesDep, query: Annotated[InstanceQuery, Query()]) -> FleetTotals:
    """The totals over every instance, or over those that pass the filters of GET /instances (sort, offset and
    limit do not change them). PnL and volume are summed as reported: `pnl_unit` says 'mixed' when the
    instances' quote assets differ."""
    return instances.totals(query)


@router.get("/orders/open", response_model=list[FleetOrder], responses=errors(404))
def open_orders(instances: InstanceQueriesDep, instance: str | None = None, strategy: str | None = None,
                trading_pair: str | None = None,
                limit: Annotated[int, Query(ge=1, le=10000)] = 2000) -> list[FleetOrder]:
    """The open orders of the running instances' strategies as they last reported them (up to 50 a strategy: its
    `open_orders_count` in GET /instances is exact), by instance, strategy and age; filtered when asked (404 for an
    unknown `instance`)."""
    return instances.open_orders(instance, strategy, trading_pair, limit)


@router.get("/errors", response_model=list[ErrorLine], responses=errors(404))
def fleet_errors(instances: InstanceQueriesDep, instance: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[ErrorLine]:
    """ERROR and CRITICAL log lines of every instance (or of one), newest first; `msg` holds the stack trace when
    the line had one (cut at 16,000 characters); 404 for an unknown `instance`."""
    return instances.errors(instance, limit)


@router.get("/fleet/gone", response_model=list[GoneBot])
def gone_bots(instances: InstanceQueriesDep) -> list[GoneBot]:
    """The external bots silent for longer than HIVE_EXTERNAL_GONE_AFTER (a day by default), by name: left out of
    GET /instances and the totals until they speak again."""
    return instances.gone()


@router.delete("/fleet/gone/{name}", status_code=204, responses=errors(404, 409))
def forget_gone_bot(instances: InstancesDep, name: str, request: Request) -> Response:
    """Forget a bot of the gone list (409 for any other); it is listed again when it speaks again."""
    note(request, "gone external bot forgotten", instance=name)
    instances.forget_gone(name)
    return Response(status_code=204)
