"""Instances: list, create, inspect, start / stop / restart, delete; their logs, PnL, resource use, trades and
history."""
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from backend.api.audit import note
from backend.api.deps import CurrentUser, EventsDep, InstanceQueriesDep, InstancesDep, ServicesDep
from backend.api.openapi import errors
from backend.api.schemas import CommandReply, CommandRequest
from backend.domain.events import AuditEntry, AuditFilter
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
    StrategyActionOut,
    StrategyParamsChange,
    StrategyReload,
    Trade,
    TradeCount,
)
from backend.domain.startup import Startup
from backend.orchestrator.strategy_control import StrategyControl

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
def create_instance(instances: InstancesDep, spec: InstanceCreate, request: Request) -> InstanceOut:
    """Create an instance and, unless `start` is false, start it. Its `restart_policy` (on_failure with 3 retries
    when absent) says whether the supervisor starts it again when its process exits or is killed while it runs."""
    note(request, f"name={spec.name} runtime={spec.runtime} strategies="
                  + ",".join(f"{s.id}:{s.strategy}" for s in spec.strategies)[:500], instance=spec.name)
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
                  strategy: str | None = None, q: Annotated[str | None, Query(max_length=200)] = None,
                  min_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] | None = None) -> list[LogLine]:
    """The newest `limit` lines that match, oldest first: only one strategy's lines when `strategy` is given, only
    those whose text holds `q` (case-insensitive, stack traces included), only from `min_level` up."""
    return instances.logs(name, limit, strategy, q, min_level)


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


@router.get("/{name}/trades/count", response_model=TradeCount)
def instance_trades_count(instances: InstanceQueriesDep, name: str) -> TradeCount:
    """How many fills are stored of it (the trades list shows the newest `limit`)."""
    return TradeCount(count=instances.trades_count(name))


@router.get("/{name}/history", response_model=list[StateChange])
def instance_history(instances: InstanceQueriesDep, name: str) -> list[StateChange]:
    """State changes with their reasons, newest first."""
    return instances.history(name)


@router.post("/{name}/commands/{command:path}", response_model=CommandReply,
             responses=errors(409, 504))
async def instance_command(instances: InstancesDep, user: CurrentUser, name: str, command: str,
                           request: CommandRequest | None = None) -> dict:
    """Send a command of docs/protocol.md (start, stop, config, import, status, history, balance/limit, balance/paper,
    strategy/...) to the bot over MQTT and return its reply; `strategy` addresses one strategy of it. A reply with an
    error status (a Hummingbot answers 400 to what it cannot do) is 409 `bot_refused`, its detail the bot's words."""
    request = request or CommandRequest()
    return await instances.command_async(name, command, request.data, request.strategy, request.timeout,
                                         actor=f"user:{user}")


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


# --- one strategy of an instance -----------------------------------------------------------------

async def _strategy_control(services: ServicesDep) -> StrategyControl:
    return services.strategy_control


StrategyControlDep = Annotated[StrategyControl, Depends(_strategy_control)]
_REFUSED = errors(404, 409, 504)


@router.post("/{name}/strategies/{strategy}/stop", response_model=StrategyActionOut, responses=_REFUSED)
def stop_strategy(control: StrategyControlDep, user: CurrentUser, name: str, strategy: str) -> StrategyActionOut:
    """Stop one strategy (its open orders cancelled); the instance and its other strategies keep running."""
    return control.stop(name, strategy, actor=f"user:{user}")


@router.post("/{name}/strategies/{strategy}/resume", response_model=StrategyActionOut, responses=_REFUSED)
def resume_strategy(control: StrategyControlDep, user: CurrentUser, name: str, strategy: str) -> StrategyActionOut:
    return control.resume(name, strategy, actor=f"user:{user}")


@router.post("/{name}/strategies/{strategy}/params", response_model=StrategyActionOut,
             responses=errors(404, 409, 422, 504))
def change_strategy_params(control: StrategyControlDep, user: CurrentUser, name: str, strategy: str,
                           body: StrategyParamsChange) -> StrategyActionOut:
    """New values for some params, applied by the running strategy from its next hook on (the bot checks them
    against the strategy's schema) and kept in the instance's spec for its later starts."""
    return control.set_params(name, strategy, body.params, actor=f"user:{user}")


@router.post("/{name}/strategies/{strategy}/reload", response_model=StrategyActionOut,
             responses=errors(404, 409, 422, 504))
def reload_strategy(control: StrategyControlDep, user: CurrentUser, name: str, strategy: str,
                    body: StrategyReload | None = None) -> StrategyActionOut:
    """Hot reload: the strategy loads the library `version` of its code (the latest when absent) without a restart
    of the instance; its state, paper account, open orders and PnL are kept. The version is pinned for the
    instance's later starts. A version that does not load leaves the old one running (409, the bot's words)."""
    return control.reload(name, strategy, (body or StrategyReload()).version, actor=f"user:{user}")


@router.get("/{name}/strategies/{strategy}/history", response_model=list[AuditEntry])
def strategy_history(events: EventsDep, name: str, strategy: str,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditEntry]:
    """The strategy's commands (stops, resumes, params changes, reloads with their versions; by any path), who sent
    them, when and how they ended, newest first."""
    return events.audit_entries(AuditFilter(instance=name, strategy=strategy, action="command", limit=limit))
@router.get("/{name}/startup", response_model=Startup)
def instance_startup(instances: InstancesDep, name: str, since: float | None = None) -> Startup:
    """Its start in steps: created, image ready (docker; skipped for a process), process or container started, first
    heartbeat; each done, under way, failed or not reached, with its time. On a failure: the failing step, the reason,
    and the last lines its process wrote. The first start at or after `since` (epoch seconds), else the latest."""
    return instances.startup(name, since)
