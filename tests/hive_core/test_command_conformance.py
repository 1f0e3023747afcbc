"""Every command of docs/protocol.md against a real hive_core process and a real broker, with both header
styles (Hummingbot API server, commlib/hbotrc); requests and replies are raw JSON (tests/mqtt_probe.py)."""
from __future__ import annotations

import itertools
import time

import pytest
import yaml

from tests.hive_core.conftest import instance_config, wait_answering
from tests.mqtt_probe import MqttProbe

pytestmark = pytest.mark.timeout(150)

COMMLIB = {"timestamp": 1, "content_type": "json", "encoding": "utf8", "agent": "commlib"}
API_SERVER = {"timestamp": 1, "msg_id": "m1", "node_id": "api", "agent": "hummingbot-api", "properties": {}}
HEADERS = {"commlib": COMMLIB, "api": API_SERVER}
_n = itertools.count()


class Caller:
    def __init__(self, probe: MqttProbe, prefix: str) -> None:
        self.probe, self.prefix = probe, prefix

    def __call__(self, command: str, data: dict, header: str = "commlib", timeout: float = 10.0) -> dict:
        reply_to = f"rpc-{next(_n):06x}" if header == "commlib" else f"hbot/api/replies/{next(_n)}"
        self.probe.publish(f"{self.prefix}/{command}", {"header": {**HEADERS[header], "reply_to": reply_to},
                                                        "data": data})
        [message] = self.probe.wait_for(reply_to, timeout=timeout)
        assert message.qos == 1
        body = message.json()
        assert set(body) == {"header", "data"}
        assert body["header"]["reply_to"] == "" and body["header"]["content_type"] == "json"
        assert body["header"]["encoding"] == "utf8" and isinstance(body["header"]["timestamp"], int)
        data = body["data"]
        assert data["status"] in (200, 400) and isinstance(data["msg"], str)
        return data


@pytest.fixture
def bot(mqtt_broker, mqtt_probe, spawn_hive, tmp_path):
    (tmp_path / "extra.yml").write_text(yaml.safe_dump({"strategies": [
        {"id": "mm2", "strategy": "market_maker", "params": {"spread_bps": 25}}]}))
    (tmp_path / "broken.yml").write_text("strategies: []\n")
    hive = spawn_hive(instance_config(mqtt_broker, [{"id": "mm1", "strategy": "market_maker",
                                                     "params": {"spread_bps": 5}}]))
    wait_answering(mqtt_probe, hive.prefix)
    return hive, Caller(mqtt_probe, hive.prefix)


@pytest.mark.parametrize("header", ["commlib", "api"])
def test_every_command_answers_with_its_fields_in_both_header_styles(bot, mqtt_probe, header):
    hive, call = bot
    prefix = hive.prefix

    # status: sync -> text in data; async -> ack, text on P/notify
    status = call("status", {"async_backend": False}, header)
    assert status["status"] == 200 and status["msg"] == "" and "mm1 (market_maker, BTC-USDT): running" in status["data"]
    sent = time.time()
    ack = call("status", {}, header)
    assert ack == {"status": 200, "msg": "", "data": ""}
    mqtt_probe.wait_for(f"{prefix}/notify", lambda m: m.at >= sent and "mm1 (market_maker" in m.json()["msg"],
                        timeout=10)

    # config: read, change a strategy param and the log level, unknown keys
    read = call("config", {"params": []}, header)
    assert read["status"] == 200 and read["changes"] == []
    assert set(read["config"]) == {"client", "strategy"}
    assert read["config"]["strategy"]["spread_bps"] == 5 and read["config"]["client"]["log_level"] == "INFO"
    assert "mqtt_password" not in read["config"]["client"]
    changed = call("config", {"params": [["spread_bps", 7.5], ["log_level", "debug"]]}, header)
    assert changed["status"] == 200
    assert changed["changes"] == [["log_level", "DEBUG"], ["spread_bps", 7.5]]
    assert changed["config"]["strategy"]["spread_bps"] == 7.5 and changed["config"]["client"]["log_level"] == "DEBUG"
    assert call("config", {"params": [["log_level", "INFO"]]}, header)["changes"] == [["log_level", "INFO"]]
    unknown = call("config", {"params": [["spread_bps", 6], ["nope", 1], ["mm1.zzz", 2]]}, header)
    assert unknown == {"status": 400, "msg": "Invalid param key(s): ['nope', 'mm1.zzz']"}
    assert call("config", {}, header)["config"]["strategy"]["spread_bps"] == 7.5   # nothing applied
    bad_value = call("config", {"params": [["spread_bps", -1]]}, header)
    assert bad_value["status"] == 400 and bad_value["msg"].startswith("data.params.spread_bps:")
    bad_shape = call("config", {"params": "spread_bps=1"}, header)
    assert bad_shape["status"] == 400 and bad_shape["msg"].startswith("data.params")

    # history: trades list (fields), precision, verbose, strategy filter
    history = call("history", {"async_backend": False, "days": 0, "precision": 2}, header)
    assert history["status"] == 200 and isinstance(history["trades"], list)
    for trade in history["trades"]:
        assert {"trade_id", "order_id", "controller_id", "trading_pair", "trade_type", "price", "amount",
                "timestamp"} <= set(trade)
        assert round(trade["price"], 2) == trade["price"]
    verbose = call("history", {"verbose": True, "strategy": "mm1"}, header)
    assert verbose["status"] == 200 and all("fee_rate" in trade for trade in verbose["trades"])
    assert call("history", {"days": -1}, header)["msg"].startswith("data.days")
    assert call("history", {"strategy": "zz"}, header)["msg"] == "data.strategy: unknown strategy id 'zz'; known: mm1"

    # balance/limit and balance/paper: data is a str
    limit = call("balance/limit", {"exchange": "sim", "asset": "USDT", "amount": 100}, header)
    assert limit["status"] == 200 and isinstance(limit["data"], str) and "USDT" in limit["data"]
    missing = call("balance/limit", {"asset": "USDT", "amount": 1}, header)
    assert missing == {"status": 400, "msg": "data.exchange: Field required"}
    wrong = call("balance/limit", {"exchange": "binance", "asset": "USDT", "amount": 1}, header)
    assert wrong["status"] == 400 and wrong["msg"].startswith("data.exchange: unknown exchange")
    paper = call("balance/paper", {"asset": "BTC", "amount": 2.5, "strategy": "mm1"}, header)
    assert paper["status"] == 200 and isinstance(paper["data"], str) and "2.5" in paper["data"]
    assert call("balance/paper", {"asset": "BTC", "amount": "lots"}, header)["msg"].startswith("data.amount:")
    assert call("balance/paper", {"amount": 1}, header)["msg"] == "data.asset: Field required"
    mqtt_probe.wait_for(f"{prefix}/performance", lambda m: m.json()["mm1"]["custom_info"]["balances"]["BTC"] > 2.0,
                        timeout=10)

    # stop / start, sync and async
    stopped = call("stop", {"async_backend": False, "skip_order_cancellation": False}, header)
    assert stopped == {"status": 200, "msg": ""}
    assert call("status", {}, header) == {"status": 400, "msg": "No strategy is currently running!"}
    started = call("start", {"async_backend": True, "log_level": None, "script": None, "conf": None,
                             "is_quickstart": False}, header)
    assert started == {"status": 200, "msg": ""}
    sent = time.time()
    mqtt_probe.wait_for(f"{prefix}/performance", lambda m: m.at > sent and m.json()["mm1"]["status"] == "running",
                        timeout=10)
    again = call("start", {}, header)
    assert again["status"] == 400 and "already running" in again["msg"]
    assert call("start", {"log_level": "LOUD"}, header)["msg"].startswith("data.log_level")
    async_stop = call("stop", {}, header)
    assert async_stop == {"status": 200, "msg": ""}
    sent = time.time()
    mqtt_probe.wait_for(f"{prefix}/performance", lambda m: m.at > sent and m.json()["mm1"]["status"] == "stopped",
                        timeout=10)
    assert call("start", {"async_backend": False}, header) == {"status": 200, "msg": ""}

    # broken JSON and non-object data: 400 naming the problem
    reply_to = f"rpc-bad-{header}"
    mqtt_probe.publish(f"{prefix}/status", '{"header": {"reply_to": "' + reply_to + '"}, "data": [')
    [bad] = mqtt_probe.wait_for(reply_to, timeout=10)
    assert bad.json()["data"]["status"] == 400 and bad.json()["data"]["msg"].startswith("invalid JSON")
    mqtt_probe.publish(f"{prefix}/history", {"header": {"reply_to": reply_to + "-2"}, "data": [1, 2]})
    [bad] = mqtt_probe.wait_for(reply_to + "-2", timeout=10)
    assert bad.json()["data"] == {"status": 400, "msg": "data: must be an object"}
    assert call("history", {"precision": "x"}, header)["msg"].startswith("data.precision")


def test_import_and_its_alias_load_a_config_fragment_from_the_config_dir(bot, mqtt_probe):
    hive, call = bot
    prefix = hive.prefix
    empty = call("import", {"strategy": ""})
    assert empty["status"] == 400 and empty["msg"].startswith("data.strategy:")
    assert call("import_strategy", {})["msg"] == "data.strategy: Field required"
    assert call("import", {"strategy": "../etc/passwd"})["msg"].startswith("data.strategy:")
    assert call("import", {"strategy": "missing"})["msg"].startswith("data.strategy: missing.yml not found")
    assert call("import", {"strategy": "broken"})["msg"].startswith("data.strategy: broken.yml: strategies:")

    imported = call("import_strategy", {"strategy": "extra"}, header="api")     # the API server's topic
    assert imported["status"] == 200 and imported["imported"] == ["mm2"]
    report = mqtt_probe.wait_for(f"{prefix}/performance", lambda m: "mm2" in m.json(), timeout=10)[0].json()
    assert report["mm2"]["status"] == "stopped"
    # the new strategy is addressed by `strategy` in config / start / status
    config = call("config", {"strategy": "mm2"})
    assert config["config"]["strategy"]["spread_bps"] == 25
    assert call("config", {"params": [["spread_bps", 9]]})["msg"] == "Invalid param key(s): ['spread_bps']"
    assert call("config", {"params": [["mm2.spread_bps", 9]]})["changes"] == [["mm2.spread_bps", 9.0]]
    assert call("start", {"strategy": "mm2", "async_backend": False})["strategy_status"] == "running"
    status = call("status", {"strategy": "mm2", "async_backend": False})
    assert "mm2 (market_maker" in status["data"] and "mm1" not in status["data"]
    # importing again while it runs is refused; after a stop it replaces it
    assert "are running" in call("import", {"strategy": "extra"})["msg"]
    call("stop", {"strategy": "mm2", "async_backend": False})
    assert call("import", {"strategy": "extra.yml"})["imported"] == ["mm2"]
    assert call("config", {"strategy": "mm2"})["config"]["strategy"]["spread_bps"] == 25
