"""The Hummingbot-API-compatible subset, driven by the published client (hummingbot-api-client 1.5.9).

Every method of the client's docker, bot_orchestration and scripts routers is called against a running
backend with the real hive_core (the last test checks that none is left out); bots the backend did not
create are raw-MQTT sim bots.
"""
from __future__ import annotations

import ast
import asyncio
import inspect
from pathlib import Path

import aiohttp
import httpx
import pytest
from hummingbot_api_client import HummingbotAPIClient
from hummingbot_api_client.routers import BotOrchestrationRouter, DockerRouter, ScriptsRouter

from backend.domain.instances import RestartPolicy
from backend.orchestrator.runs import HIVE_IMAGE
from tests.backend.conftest import PASSWORD, REAL_CORE, USERNAME, broker_login
from tests.backend.sim_bots import SimBot
from tests.backend.test_integration_real_core import TICKER, wait_state
from tests.polling import wait_until


@pytest.fixture
def real_backend(backend_factory, tmp_path: Path):
    """The conftest's real backend, its Docker host pinned to a socket nobody serves, so the image routes answer
    the same everywhere (against a real engine they are tested in tests/docker/test_images.py)."""
    backend = backend_factory(core_command=REAL_CORE, heartbeat_interval=1.0, heartbeat_timeout=5.0,
                              start_timeout=30.0, docker_host=f"unix://{tmp_path}/no-docker.sock")
    backend.client.start_broker()
    return backend


def call(backend, steps):
    """Run `steps(api)` with the published client logged in to `backend`."""
    async def main():
        async with HummingbotAPIClient(backend.url, USERNAME, PASSWORD,
                                       timeout=aiohttp.ClientTimeout(total=90)) as api:
            return await steps(api)
    return asyncio.run(main())


def refused(backend, steps) -> aiohttp.ClientResponseError:
    with pytest.raises(aiohttp.ClientResponseError) as caught:
        call(backend, steps)
    return caught.value


def test_scripts_configs_deploy_v2_script_and_containers(real_backend, data_dir: Path) -> None:
    client = real_backend.client

    async def scripts(api):
        listed = await api.scripts.list_scripts()
        saved = await api.scripts.create_or_update_script("ticker", {"content": TICKER})
        again = await api.scripts.create_or_update_script("ticker", {"content": TICKER.replace('"tick"', '"tock"')})
        return listed, saved, again, await api.scripts.get_script("ticker"), \
            await api.scripts.get_script_config_template("ticker")

    listed, saved, again, script, template = call(real_backend, scripts)
    assert {"market_maker", "momentum"} <= set(listed)
    assert saved == {"message": "Script 'ticker' saved successfully"} and again == saved
    assert script == {"name": "ticker", "content": TICKER.replace('"tick"', '"tock"')}
    assert template == {"word": "tock"}
    assert [v["version"] for v in client.get_strategy("ticker")["versions"]] == [1, 2]

    broken = refused(real_backend, lambda api: api.scripts.create_or_update_script(
        "broken", {"content": TICKER.replace("def on_tick(self, now):", "def on_tick(self, now:")}))
    assert broken.status == 422 and broken.message.startswith("SyntaxError at line")
    assert "broken" not in call(real_backend, lambda api: api.scripts.list_scripts())
    assert refused(real_backend, lambda api: api.scripts.get_script("nothing")).status == 404

    async def configs(api):
        saved = await api.scripts.create_or_update_script_config(
            "tick_conf", {"script_file_name": "ticker.py", "word": "hello", "markets": {}})
        return saved, await api.scripts.list_script_configs(), await api.scripts.get_script_config("tick_conf")

    saved, configs_listed, config = call(real_backend, configs)
    assert saved == {"message": "Configuration 'tick_conf' saved successfully"}
    assert configs_listed == [{"config_name": "tick_conf", "script_file_name": "ticker.py", "controllers_config": [],
                               "candles_config": [], "markets": {}}]
    assert config == {"script_file_name": "ticker.py", "word": "hello", "markets": {}}

    deployed = call(real_backend, lambda api: api.bot_orchestration.deploy_v2_script(
        "tk", "master_account", script_config="tick_conf"))
    name = deployed["unique_instance_name"]
    assert deployed["success"] is True and name.startswith("tk-") and name in deployed["message"]
    instance = wait_state(client, name, "running")
    assert [(s["id"], s["strategy"], s["params"]) for s in instance["strategies"]] == \
        [("tick_conf", "ticker", {"word": "hello"})]
    assert instance["restart_policy"] == RestartPolicy().model_dump()  # a deployment has Hive's default
    wait_until(lambda: any("hello at" in line["msg"] for line in client.instance_logs(name)), 20,
               message="the deployed script logs with its config's params")

    in_use = refused(real_backend, lambda api: api.scripts.delete_script("ticker"))
    assert in_use.status == 409 and name in in_use.message

    async def containers(api):
        return (await api.docker.is_running(), await api.docker.get_active_containers(name_filter="TK-"),
                await api.docker.get_exited_containers())

    running, active, exited = call(real_backend, containers)
    assert running is True
    no_engine = refused(real_backend, lambda api: api.docker.get_available_images("hive-core"))
    assert no_engine.status == 503 and "no-docker.sock" in no_engine.message
    assert [(c["name"], c["status"], c["image"]) for c in active] == [(name, "running", HIVE_IMAGE)]
    assert len(active[0]["id"]) == 64 and exited == []

    assert call(real_backend, lambda api: api.docker.stop_container(name)) is None
    assert client.get_instance(name)["state"] == "stopped"
    assert [c["name"] for c in call(real_backend, lambda api: api.docker.get_exited_containers("tk"))] == [name]
    assert call(real_backend, lambda api: api.docker.start_container(name)) is None
    wait_state(client, name, "running")
    not_ours = refused(real_backend, lambda api: api.docker.start_container("ghost"))
    assert not_ours.status == 404 and "ghost" in not_ours.message

    # QUERY_BOOL: the client puts this bool into the query string as is, which aiohttp (yarl) refuses
    # ("value should be str, int or float"); so the call passes the string the server reads as true.
    removed = call(real_backend, lambda api: api.docker.remove_container(name, archive_locally="true"))
    assert removed == {"success": True, "message": f"Container {name} removed successfully."}
    assert name not in {i["name"] for i in client.list_instances()}
    assert (data_dir / "archived" / name / "config.yml").is_file()

    # Without an engine a pull is refused at once (with one: tests/docker/test_images.py) and none is recorded.
    no_pull = refused(real_backend, lambda api: api.docker.pull_image("hive/hive-core", HIVE_IMAGE.split(":")[1]))
    assert no_pull.status == 503 and "no-docker.sock" in no_pull.message
    assert call(real_backend, lambda api: api.docker.get_pull_status()) == \
        {"pull_operations": {}, "total_operations": 0}

    second = call(real_backend, lambda api: api.bot_orchestration.deploy_v2_script(
        "tk2", "master_account", script="ticker"))["unique_instance_name"]
    wait_state(client, second, "running")
    client.stop_instance(second)
    assert call(real_backend, lambda api: api.docker.clean_exited_containers()) is None
    assert second not in {i["name"] for i in client.list_instances()}
    assert (data_dir / "archived" / second).is_dir()

    async def cleanup(api):
        return await api.scripts.delete_script("ticker"), await api.scripts.delete_script_config("tick_conf")

    assert call(real_backend, cleanup) == ({"message": "Script 'ticker' deleted successfully"},
                                         {"message": "Configuration 'tick_conf' deleted successfully"})
    assert refused(real_backend, lambda api: api.scripts.get_script_config("tick_conf")).status == 404
    shipped = refused(real_backend, lambda api: api.scripts.delete_script("market_maker"))
    assert shipped.status == 409 and "shipped" in shipped.message


def test_controllers_deployment_status_commands_performance_and_bot_runs(real_backend, data_dir: Path) -> None:
    client = real_backend.client
    http = httpx.Client(base_url=real_backend.url, auth=(USERNAME, PASSWORD), timeout=30)

    async def configure(api):
        await api.scripts.create_or_update_script_config(
            "mm_tight", {"controller_name": "market_maker", "id": "mm_tight", "spread_bps": 8,
                         "trading_pair": "BTC-USDT"})
        await api.scripts.create_or_update_script_config(
            "trend", {"script_file_name": "momentum.py", "fast_window": 3, "slow_window": 6})
        return await api.bot_orchestration.deploy_v2_controllers("duo", "master_account", ["mm_tight", "trend.yml"])

    deployed = call(real_backend, configure)
    name = deployed["unique_instance_name"]
    assert deployed["success"] is True and deployed["controllers_deployed"] == ["mm_tight", "trend.yml"]
    assert deployed["script_config_generated"] == f"{name}.yml"
    assert real_backend.client.get_instance(name)["restart_policy"] == RestartPolicy().model_dump()
    generated = call(real_backend, lambda api: api.scripts.get_script_config(name))
    assert generated == {"script_file_name": "v2_with_controllers.py",
                         "controllers_config": ["mm_tight.yml", "trend.yml"]}
    wait_state(client, name, "running")

    unprotected = refused(real_backend, lambda api: api.bot_orchestration.deploy_v2_controllers(
        "dd", "master_account", ["trend"], max_global_drawdown_quote=100.0))
    assert unprotected.status == 422 and "max_global_drawdown_quote" in unprotected.message
    missing = refused(real_backend, lambda api: api.bot_orchestration.deploy_v2_controllers(
        "dd", "master_account", ["nope"]))
    assert missing.status == 404 and "nope" in missing.message

    def reported(api_status: dict) -> bool:
        return set(api_status.get("performance", {})) == {"mm_tight", "trend"}

    status = wait_until(lambda: (s := call(real_backend, lambda api: api.bot_orchestration.get_bot_status(name)))
                        and reported(s["data"]) and s, 20, message="both controllers report")
    bot = status["data"]
    assert status["status"] == "success" and bot["status"] == "running" and bot["recently_active"] is True
    assert set(bot["performance"]["mm_tight"]) == {"status", "performance", "custom_info"}
    assert "realized_pnl_quote" in bot["performance"]["mm_tight"]["performance"]
    assert bot["general_logs"] and {"timestamp", "msg", "level_name", "logger_name"} <= set(bot["general_logs"][0])
    everyone = call(real_backend, lambda api: api.bot_orchestration.get_active_bots_status())
    assert everyone["status"] == "success" and everyone["data"][name]["source"] == "docker"
    assert refused(real_backend, lambda api: api.bot_orchestration.get_bot_status("ghost")).status == 404

    async def commands(api):
        stopped = await api.bot_orchestration.stop_bot(name, async_backend=False)
        after_stop = client.get_instance(name)
        started = await api.bot_orchestration.start_bot(name, log_level="INFO", async_backend=False)
        history = await api.bot_orchestration.get_bot_history(name, days=1, verbose="true", timeout=20)  # QUERY_BOOL
        return stopped, after_stop, started, history, await api.bot_orchestration.start_bot("ghost")

    stopped, after_stop, started, history, ghost = call(real_backend, commands)
    assert stopped == {"status": "success", "response": {"success": True}}
    assert after_stop["state"] == "running", "the stop command stops the strategies; the process keeps running"
    assert started == {"status": "success", "response": {"success": True}}
    assert history["status"] == "success" and history["response"]["success"] is True
    assert history["response"]["data"]["status"] == 200 and "trades" in history["response"]["data"]
    assert ghost == {"status": "success", "response": {"success": False, "message": "Bot ghost not found"}}

    latest = wait_until(lambda: (d := call(real_backend, lambda api: api.bot_orchestration
                                           .get_latest_controller_performance(bot_name=name))["data"])
                        and len(d) == 2 and d, 15, message="latest performance per controller")
    assert [(s["bot_name"], s["controller_id"]) for s in latest] == [(name, "mm_tight"), (name, "trend")]
    assert {"timestamp", "status", "performance"} <= set(latest[0])
    variant = http.get("/bot-orchestration/controller-performance/latest", params={"bot_name": name}).json()
    assert [s["controller_id"] for s in variant["data"]] == ["mm_tight", "trend"]

    def two_points():
        page = call(real_backend, lambda api: api.bot_orchestration.get_controller_performance_history(
            bot_name=name, limit=1, interval="5m"))
        return page if page["pagination"]["has_more"] else None

    first = wait_until(two_points, 20, message="stored PnL snapshots")
    assert first["status"] == "success" and len(first["data"]) == 1
    assert first["pagination"]["limit"] == 1 and first["pagination"]["interval"] == "5m"
    rest = call(real_backend, lambda api: api.bot_orchestration.get_controller_performance_history(
        bot_name=name, limit=100, cursor=first["pagination"]["next_cursor"]))
    seen = [(r["controller_id"], r["timestamp"]) for r in first["data"] + rest["data"]]
    assert len(seen) == len(set(seen)) >= 2 and {c for c, _ in seen} == {"mm_tight", "trend"}
    one_per_interval = call(real_backend, lambda api: api.bot_orchestration.get_controller_performance_history(
        bot_name=name, controller_id="trend", interval="1d"))["data"]
    days = [row["timestamp"][:10] for row in one_per_interval]  # UTC dates: one row per day, even across midnight
    assert days and len(days) == len(set(days)) and {r["controller_id"] for r in one_per_interval} == {"trend"}
    assert refused(real_backend, lambda api: api.bot_orchestration.get_controller_performance_history(
        start_time="yesterday")).status == 400

    runs = call(real_backend, lambda api: api.bot_orchestration.get_bot_runs(bot_name=name))
    assert runs["status"] == "success" and runs["total"] == 1
    run = runs["data"][0]
    assert (run["strategy_type"], run["strategy_name"], run["account_name"], run["run_status"],
            run["deployment_status"], run["final_status"]) == \
        ("controller", "v2_with_controllers", "master_account", "RUNNING", "DEPLOYED", None)

    archiving = call(real_backend, lambda api: api.bot_orchestration.stop_and_archive_bot(name))
    assert archiving["status"] == "success" and archiving["details"]["container_name"] == name
    wait_until(lambda: name not in {i["name"] for i in client.list_instances()}, 40, message="archived and removed")
    archived = call(real_backend, lambda api: api.bot_orchestration.get_bot_run(run["id"]))["data"]
    assert (archived["run_status"], archived["deployment_status"]) == ("STOPPED", "ARCHIVED")
    assert archived["stopped_at"] and set(archived["final_status"]["performance"]) == {"mm_tight", "trend"}
    assert (data_dir / "archived" / name).is_dir()
    filtered = call(real_backend, lambda api: api.bot_orchestration.get_bot_runs(
        run_status="STOPPED", deployment_status="ARCHIVED", include_final_status=True))
    assert [r["id"] for r in filtered["data"]] == [run["id"]] and filtered["data"][0]["final_status"]
    gone = call(real_backend, lambda api: api.bot_orchestration.stop_and_archive_bot(name))
    assert gone["status"] == "error" and "not found in active bots" in gone["message"]

    deleted = call(real_backend, lambda api: api.bot_orchestration.delete_bot_run(run["id"]))
    assert deleted == {"status": "success", "message": f"Bot run {run['id']} deleted successfully",
                       "bot_name": name, "archived_folder_deleted": True}
    assert not (data_dir / "archived" / name).exists()
    assert refused(real_backend, lambda api: api.bot_orchestration.get_bot_run(run["id"])).status == 404
    http.close()


def test_external_bots_are_driven_and_both_path_spellings_are_served(real_backend) -> None:
    client = real_backend.client
    broker = client.broker_status()
    bot = SimBot(broker["host"], broker["port"], "handmade", login=broker_login(client, "bot", "handmade"))
    http = httpx.Client(base_url=real_backend.url, auth=(USERNAME, PASSWORD), timeout=30)
    try:
        everyone = wait_until(lambda: (d := call(real_backend, lambda api: api.bot_orchestration
                                                 .get_active_bots_status())["data"]) and "handmade" in d and d,
                              10, message="the sim bot is an active bot")
        assert everyone["handmade"]["source"] == "mqtt" and everyone["handmade"]["recently_active"] is True

        async def drive(api):
            return (await api.bot_orchestration.start_bot("handmade", script="v2_with_controllers",
                                                          conf="conf_x", async_backend=False),
                    await api.bot_orchestration.stop_bot("handmade", skip_order_cancellation=True),
                    await api.bot_orchestration.get_bot_history("handmade", days=2, verbose="false", precision=4,
                                                                timeout=5))  # QUERY_BOOL

        started, stopped, history = call(real_backend, drive)
        assert started["response"] == {"success": True} and stopped["response"] == {"success": True}
        requests = dict(bot.requests)
        assert requests["start"]["data"] == {"log_level": None, "script": "v2_with_controllers", "conf": "conf_x",
                                             "is_quickstart": False, "async_backend": False}
        assert requests["stop"]["data"] == {"skip_order_cancellation": True, "async_backend": True}
        assert history["response"]["success"] is True
        assert history["response"]["data"]["echo"] == {"days": 2, "verbose": False, "precision": 4,
                                                       "async_backend": False}

        archiving = call(real_backend, lambda api: api.bot_orchestration.stop_and_archive_bot("handmade"))
        assert archiving["status"] == "success" and "not archived" in archiving["details"]["process"]
        wait_until(lambda: [c for c, _ in bot.requests].count("stop") == 2, 10, message="the stop command sent")

        missing = http.post("/docker/container/ghost/start")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        assert http.post("/docker/start-container/handmade").json()["code"] == "external_instance"
        assert http.get("/docker/available-images").json()["code"] == "docker_unreachable"
        assert http.get("/scripts").json() == http.get("/scripts/").json()
        unauthorized = httpx.get(f"{real_backend.url}/bot-orchestration/status", timeout=10)
        assert unauthorized.status_code == 401
    finally:
        http.close()
        bot.close()


def test_every_method_of_the_three_routers_is_called_here() -> None:
    """Guards the claim above: a router method added to (or missed from) this file fails here."""
    tree = ast.parse(Path(__file__).read_text())
    called: dict[str, set[str]] = {"docker": set(), "scripts": set(), "bot_orchestration": set()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                and node.value.attr in called:
            called[node.value.attr].add(node.attr)
    for attr, router in (("docker", DockerRouter), ("scripts", ScriptsRouter),
                         ("bot_orchestration", BotOrchestrationRouter)):
        methods = {name for name, member in inspect.getmembers(router, inspect.iscoroutinefunction)
                   if not name.startswith("_")}
        assert methods and methods == called[attr], (attr, sorted(methods ^ called[attr]))

