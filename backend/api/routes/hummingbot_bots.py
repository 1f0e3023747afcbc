"""Hummingbot API's /bot-orchestration routes: bots heard on the broker and instances run here."""
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from backend.api.deps import CurrentUser, HummingbotDep
from backend.api.openapi import errors
from backend.errors import BadRequest, NotFound
from backend.hummingbot_api.deploy import V2ControllerDeployment, V2ScriptDeployment
from backend.hummingbot_api.performance import INTERVAL_PATTERN

router = APIRouter(prefix="/bot-orchestration", tags=["hummingbot api: bot orchestration"])


class StartBotAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bot_name: str
    log_level: str | None = None
    script: str | None = None
    conf: str | None = None
    is_quickstart: bool = False
    async_backend: bool = True


class StopBotAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bot_name: str
    skip_order_cancellation: bool = False
    async_backend: bool = True


@router.get("/status")
def get_active_bots_status(hb: HummingbotDep) -> dict[str, Any]:
    return {"status": "success", "data": hb.bots.all_status()}


# the controller-performance and bot-runs routes come before /{bot_name}/..., which would take them
@router.get("/controller-performance-latest")
@router.get("/controller-performance/latest", include_in_schema=False)
def get_latest_controller_performance(hb: HummingbotDep, bot_name: str | None = None) -> dict[str, Any]:
    return {"status": "success", "data": hb.performance.latest(bot_name)}


@router.get("/controller-performance-history", responses=errors(400))
@router.get("/controller-performance/history", include_in_schema=False)
def get_controller_performance_history(
        hb: HummingbotDep, bot_name: str | None = None, controller_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
        start_time: str | None = None, end_time: str | None = None,
        interval: Annotated[str, Query(pattern=INTERVAL_PATTERN)] = "5m") -> dict[str, Any]:
    rows, next_cursor, has_more = hb.performance.history(
        bot_name=bot_name, controller_id=controller_id, limit=limit, cursor=cursor, start_time=start_time,
        end_time=end_time, interval=interval)
    return {"status": "success", "data": rows,
            "pagination": {"next_cursor": next_cursor, "has_more": has_more, "limit": limit, "interval": interval}}


@router.get("/bot-runs")
def get_bot_runs(hb: HummingbotDep, bot_name: str | None = None, account_name: str | None = None,
                 strategy_type: str | None = None, strategy_name: str | None = None, run_status: str | None = None,
                 deployment_status: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0, include_final_status: bool = False) -> dict[str, Any]:
    runs = hb.runs.list(bot_name=bot_name, account_name=account_name, strategy_type=strategy_type,
                        strategy_name=strategy_name, run_status=run_status, deployment_status=deployment_status,
                        limit=limit, offset=offset, include_final_status=include_final_status)
    return {"status": "success", "data": runs, "total": len(runs), "limit": limit, "offset": offset}


@router.get("/bot-runs/{bot_run_id}")
def get_bot_run(hb: HummingbotDep, bot_run_id: int) -> dict[str, Any]:
    return {"status": "success", "data": hb.runs.get(bot_run_id)}


@router.delete("/bot-runs/{bot_run_id}")
def delete_bot_run(hb: HummingbotDep, bot_run_id: int) -> dict[str, Any]:
    bot_name, archive_deleted = hb.runs.delete(bot_run_id)
    return {"status": "success", "message": f"Bot run {bot_run_id} deleted successfully", "bot_name": bot_name,
            "archived_folder_deleted": archive_deleted}


@router.post("/start-bot")
def start_bot(hb: HummingbotDep, user: CurrentUser, action: StartBotAction) -> dict[str, Any]:
    """Send the start command (docs/protocol.md) and report the bot's answer."""
    data = action.model_dump(exclude={"bot_name"})
    return {"status": "success", "response": hb.bots.command(action.bot_name, "start", data, actor=f"user:{user}")}


@router.post("/stop-bot")
def stop_bot(hb: HummingbotDep, user: CurrentUser, action: StopBotAction) -> dict[str, Any]:
    data = action.model_dump(exclude={"bot_name"})
    return {"status": "success", "response": hb.bots.command(action.bot_name, "stop", data, actor=f"user:{user}")}


@router.post("/stop-and-archive-bot/{bot_name}")
def stop_and_archive_bot(hb: HummingbotDep, user: CurrentUser, bot_name: str, skip_order_cancellation: bool = True,
                         archive_locally: bool = True, s3_bucket: str | None = None) -> dict[str, Any]:
    if s3_bucket:
        raise BadRequest("unsupported", "s3_bucket: Hive archives locally only; leave s3_bucket out")
    return hb.bots.stop_and_archive(bot_name, skip_order_cancellation, archive_locally, actor=f"user:{user}")


@router.post("/deploy-v2-script")
def deploy_v2_script(hb: HummingbotDep, deployment: V2ScriptDeployment) -> dict[str, Any]:
    return hb.deployer.script(deployment)


@router.post("/deploy-v2-controllers")
def deploy_v2_controllers(hb: HummingbotDep, deployment: V2ControllerDeployment) -> dict[str, Any]:
    return hb.deployer.controllers(deployment)


@router.get("/{bot_name}/status")
def get_bot_status(hb: HummingbotDep, bot_name: str) -> dict[str, Any]:
    if bot_name not in hb.bots.active() and hb.bots.fleet.bot(bot_name) is None:
        raise NotFound("not_found", "Bot not found")
    return {"status": "success", "data": hb.bots.status(bot_name)}


@router.get("/{bot_name}/history")
def get_bot_history(hb: HummingbotDep, bot_name: str, days: int = 0, verbose: bool = False,
                    precision: int | None = None,
                    timeout: Annotated[float, Query(gt=0, le=300)] = 30.0) -> dict[str, Any]:
    data = {"days": days, "verbose": verbose, "precision": precision, "async_backend": False}
    return {"status": "success", "response": hb.bots.command(bot_name, "history", data, timeout)}
