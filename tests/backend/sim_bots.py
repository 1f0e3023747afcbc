"""Simulated bots made of raw MQTT (tests/mqtt_probe.py): they heartbeat and answer the commands of docs/protocol.md.

Nothing here uses the backend's or hive_core's MQTT code: the wire format is written out by hand.
"""
from __future__ import annotations

import json
import logging
import threading
import time

import paho.mqtt.client as mqtt

from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

COMMANDS = ("start", "stop", "config", "import", "status", "history", "balance/limit", "balance/paper")


class SimBot(MqttProbe):
    """A bot `name` under `namespace`: answers every command on `header.reply_to` with
    `{"status": 200, "msg": "", "bot": name, "command": cmd, "echo": data}` (or stays silent when `mute`),
    heartbeats every `hb_interval` s, says `online` and subscribes on every connect (a broker restart included), and
    leaves a Last Will `offline` unless `will` is False. `login`: (username, password). For many bots,
    benchmarks/sim_fleet.py (one thread over epoll: paho's own loop, used here, selects and stops connecting at
    about 340 clients per process)."""

    def __init__(self, host: str, port: int, name: str, namespace: str = "hbot", hb_interval: float = 0.5,
                 mute: bool = False, login: tuple[str, str] | None = None, will: bool = True) -> None:
        self.name, self.namespace, self.mute = name, namespace, mute
        self.requests: list[tuple[str, dict]] = []
        # paho waits one keepalive for a CONNACK; a CONNACK lost while the broker restarts must not stall the bot
        # longer than the fleet's command timeouts, so the sim bots keep alive like hive_core's bridge (30 s) or less.
        offline = json.dumps({"timestamp": int(time.time() * 1000), "type": "availability", "msg": "offline"})
        super().__init__(host, port, client_id=f"hbot.{name}", keepalive=10, login=login,
                         will=(f"{namespace}/{name}/status_updates", offline) if will else None)
        wait_connected(self)  # CONNACK before the caller goes on, even under load
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, args=(hb_interval,), daemon=True)
        self._thread.start()

    def _subscribe_all(self) -> None:
        self._client.subscribe([(f"{self.namespace}/{self.name}/{c}", 1) for c in COMMANDS])

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if not reason_code.is_failure:
            self._subscribe_all()
            client.publish(f"{self.namespace}/{self.name}/status_updates",
                           json.dumps({"timestamp": int(time.time() * 1000), "type": "availability", "msg": "online"}))

    def _heartbeat(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._client.publish(f"{self.namespace}/{self.name}/hb", json.dumps({"ts": int(time.time() * 1e6)}))

    def _on_message(self, client, userdata, message) -> None:
        super()._on_message(client, userdata, message)
        command = message.topic.removeprefix(f"{self.namespace}/{self.name}/")
        if command not in COMMANDS:
            return  # amqtt also hands out its retained $SYS/broker/version
        request = json.loads(message.payload)
        with self._lock:
            self.requests.append((command, request))
        reply_to = request["header"].get("reply_to")
        if reply_to and not self.mute:
            reply = {"header": {"reply_to": "", "timestamp": int(time.time() * 1000), "content_type": "json",
                                "encoding": "utf8", "agent": "commlib"},
                     "data": self.answer(command, request.get("data") or {})}
            client.publish(reply_to, json.dumps(reply), qos=1)
            self.after(command, reply["data"])

    def answer(self, command: str, data: dict) -> dict:
        """The reply's data to `command`."""
        return {"status": 200, "msg": "", "bot": self.name, "command": command, "echo": data}

    def after(self, command: str, reply: dict) -> None:
        """What the bot does once it has replied (nothing here)."""

    def publish(self, kind: str, payload: dict) -> None:
        """Publish `payload` on the bot's own `P/<kind>` (log, notify, events, performance...)."""
        self._client.publish(f"{self.namespace}/{self.name}/{kind}", json.dumps(payload))

    def fall_silent(self) -> None:
        """Stop heartbeating, connected still (a bot whose loop hangs)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def drop(self) -> None:
        """Silent, then its socket closed without a DISCONNECT, as when it crashes or its network goes: the broker
        delivers its Last Will, if it has one."""
        self.fall_silent()
        self._client.loop_stop()
        sock = self._client.socket()
        if sock is not None:
            sock.close()

    def close(self) -> None:
        self.fall_silent()
        super().close()


class HummingbotSim(SimBot):
    """A headless Hummingbot with its MQTT bridge on, as hummingbot/remote_iface/mqtt.py and its commands speak: it runs
    `strategy` until stopped. `stop` is answered 200 "", then notified "\nWinding down..." and "Hummingbot stopped.";
    `start` 200 "", then "Strategy '<strategy>' started successfully." (400 'The bot is already running...' while it
    runs); `status` 400 "No strategy is currently running!" while stopped; `config` 400 (headless: no console)."""

    HEADLESS = "Command parsing not available in headless mode"

    def __init__(self, *args, strategy: str = "v2_with_controllers", **kwargs) -> None:
        self.strategy, self.running, self._seq = strategy, True, 0
        super().__init__(*args, **kwargs)

    def answer(self, command: str, data: dict) -> dict:
        if command == "start" and self.running:
            return {"status": 400, "msg": 'The bot is already running - please run "stop" first'}
        if command in ("start", "stop"):
            return {"status": 200, "msg": ""}
        if command == "status":
            return {"status": 200, "msg": "running", "data": ""} if self.running else \
                {"status": 400, "msg": "No strategy is currently running!", "data": ""}
        if command == "config":
            return {"status": 400, "msg": self.HEADLESS, "changes": [], "config": {}}
        if command == "history":
            return {"status": 200, "msg": "", "trades": []}
        return {"status": 200, "msg": ""}

    def after(self, command: str, reply: dict) -> None:
        if reply["status"] != 200 or command not in ("start", "stop"):
            return
        self.running = command == "start"
        if self.running:
            self.notify(f"\nStatus check complete. Strategy '{self.strategy}' started successfully.")
        else:
            self.notify("\nWinding down...")
            self.log("INFO", "stop command initiated.", "hummingbot.client.hummingbot_application")
            self.notify("Hummingbot stopped.")

    def notify(self, msg: str) -> None:
        self._seq += 1
        self.publish("notify", {"seq": self._seq, "timestamp": -1, "msg": msg})

    def log(self, level: str, msg: str, logger_name: str = "hummingbot.strategy.script_strategy_base") -> None:
        self.publish("log", {"timestamp": time.time(), "msg": msg, "level_no": logging.getLevelName(level),
                             "level_name": level, "logger_name": logger_name})

    def fill(self, order_id: str, side: str, price: float, amount: float, trading_pair: str = "ETH-USDT") -> None:
        """An OrderFilled event, with Hummingbot's field names and its fee (0.1 % of the fill's value, in the quote)."""
        self.publish("events", {"timestamp": int(time.time()), "type": "OrderFilled", "data": {
            "order_id": order_id, "trading_pair": trading_pair, "trade_type": f"TradeType.{side}",
            "order_type": "OrderType.LIMIT", "price": price, "amount": amount, "exchange_trade_id": f"t-{order_id}",
            "exchange_order_id": "", "leverage": 1, "position": "NIL",
            "trade_fee": {"fee_type": "AddedToCost", "percent": "0.001", "percent_token": None, "flat_fees": []}}})

    def performance(self, controller: str, realized: float, unrealized: float, volume: float) -> None:
        self.publish("performance", {controller: {"performance": {
            "realized_pnl_quote": realized, "unrealized_pnl_quote": unrealized,
            "global_pnl_quote": realized + unrealized, "volume_traded": volume}}})


def wait_connected(bot: SimBot, timeout: float = 10.0) -> None:
    wait_until(bot._client.is_connected, timeout, message=f"sim bot {bot.name} connected")


__all__ = ["COMMANDS", "HummingbotSim", "SimBot", "mqtt", "wait_connected"]
