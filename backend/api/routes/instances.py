"""Instances: list, create, inspect, start / stop / restart, delete; their logs, PnL, resource use, trades and
history."""
from typing import Annotated

from fastapi import APIRouter, Query, Response

from backend.api.deps import CurrentUser, InstanceQueriesDep, InstancesDep
from backend.api.openapi import errors
from backend.api.schemas import CommandReply, CommandRequest
from backend.domain.instances import (
    InstanceCreate,
    InstanceOut,
    InstanceQuery,
    LogLine,
    MarketEvent,
    Notification,
    PnlPoint,
    ResourcePoint,
    StateChange,
    Trade,
)

router = APIRouter(prefix="/instances", tags=["instances"])


TOTAL_HEADER = "X-Total-Count"


@router.get("", response_model=list[InstanceOut])
def list_instances(instances: InstanceQueriesDep, query: Annotated[InstanceQuery, Query()],
                   response: Response) -> list[InstanceOut]:
    """Every instance by name, or those that pass the filters (`state` may repeat) in the `sort` order, from
    `offset`, at most `limit`; the header X-Total-Count says how many passed. `view=summary` leaves out the
    per-strategy entries (`strategy_count` stays)."""
    listed, total = instances.listing(query)
    response.headers[TOTAL_HEADER] = str(total)
    return listed


@router.post("", response_model=InstanceOut, status_code=201)
def create_instance(instances: InstancesDep, spec: InstanceCreate) -> InstanceOut:
    """Create an instance and, unless `start` is false, start it. Its `restart_policy` (on_failure with 3 retries
    when absent) says whether the supervisor starts it again when its process exits or is killed while it runs."""
    return instances.create(spec)


@router.get("/{name}", response_model=InstanceOut)
def get_instance(instances: InstanceQueriesDep, name: str) -> InstanceOut:
    """Its state with the reason, process, heartbeat, PnL, and its restarts (`restarts`, `next_restart_at`)."""
    return instances.get(name)


@router.delete("/{name}", status_code=204)
def delete_instance(instances: InstancesDep, name: str) -> Response:
    instances.delete(name)
    return Response(status_code=204)


@router.post("/{name}/start", response_model=InstanceOut)
def start_instance(instances: InstancesDep, name: str) -> InstanceOut:
    """Start its process; the count of the supervisor's restarts starts again from 0."""
    return instances.start(name)


@router.post("/{name}/stop", response_model=InstanceOut)
def stop_instance(instances: InstancesDep, name: str) -> InstanceOut:
    """SIGTERM, then SIGKILL after the stop grace; a stopped instance is never restarted by the supervisor,
    and a pending restart of one in error is called off."""
    return instances.stop(name)


@router.post("/{name}/restart", response_model=InstanceOut)
def restart_instance(instances: InstancesDep, name: str) -> InstanceOut:
    """Stop, then start: the count of the supervisor's restarts starts again from 0."""
    return instances.restart(name)


@router.get("/{name}/logs", response_model=list[LogLine])
def instance_logs(instances: InstanceQueriesDep, name: str, limit: Annotated[int, Query(ge=1, le=5000)] = 200,
                  strategy: str | None = None) -> list[LogLine]:
    """The newest `limit` lines, oldest first; only one strategy's lines when `strategy` is given."""
    return instances.logs(name, limit, strategy)


@router.get("/{name}/performance", response_model=list[PnlPoint])
def instance_performance(instances: InstanceQueriesDep, name: str, since: float | None = None) -> list[PnlPoint]:
    """Stored PnL points (at most one per strategy every few seconds), sorted by time."""
    return instances.performance(name, since)


@router.get("/{name}/resources", response_model=list[ResourcePoint])
def instance_resources(instances: InstanceQueriesDep, name: str, since: float | None = None) -> list[ResourcePoint]:
    """CPU %, memory and network bytes over time, oldest first (about every 5 s for the last hour, then one a
    minute for 24 h); only the points after `since` (epoch seconds) when given."""
    return instances.resource_history(name, since)


@router.get("/{name}/trades", response_model=list[Trade])
def instance_trades(instances: InstanceQueriesDep, name: str,
                    limit: Annotated[int, Query(ge=1, le=10000)] = 100) -> list[Trade]:
    """Fills, newest first."""
    return instances.trades(name, limit)


@router.get("/{name}/history", response_model=list[StateChange])
def instance_history(instances: InstanceQueriesDep, name: str) -> list[StateChange]:
    """State changes with their reasons, newest first."""
    return instances.history(name)


@router.post("/{name}/commands/{command:path}", response_model=CommandReply,
             responses=errors(504))
def instance_command(instances: InstancesDep, user: CurrentUser, name: str, command: str,
                     request: CommandRequest | None = None) -> dict:
    """Send a command of docs/protocol.md (start, stop, config, import, status, history, balance/limit, balance/paper,
    strategy/...) to the bot over MQTT and return its reply; `strategy` addresses one strategy of it."""
    request = request or CommandRequest()
    return instances.command(name, command, request.data, request.strategy, request.timeout, actor=f"user:{user}")


@router.get("/{name}/notifications", response_model=list[Notification])
def instance_notifications(instances: InstanceQueriesDep, name: str,
                           limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[Notification]:
    """The bot's P/notify messages, newest first."""
    return instances.notifications(name, limit)


@router.get("/{name}/events", response_model=list[MarketEvent])
def instance_events(instances: InstanceQueriesDep, name: str,
                    limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[MarketEvent]:
    """The bot's P/events market events (orders created, filled, cancelled...), newest first."""
    return instances.market_events(name, limit)
