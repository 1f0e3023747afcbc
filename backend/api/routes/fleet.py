"""The fleet at a glance: counts per state and the sums of PnL, volume, trades and resource use."""
from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import InstanceQueriesDep
from backend.domain.instances import FleetTotals, InstanceQuery

router = APIRouter(prefix="/fleet", tags=["instances"])


@router.get("/totals", response_model=FleetTotals)
def fleet_totals(instances: InstanceQueriesDep, query: Annotated[InstanceQuery, Query()]) -> FleetTotals:
    """The totals over every instance, or over those that pass the filters of GET /instances (sort, offset and
    limit do not change them). PnL and volume are summed as reported: `pnl_unit` says 'mixed' when the
    instances' quote assets differ."""
    return instances.totals(query)
