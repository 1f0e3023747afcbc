"""A stand-in for hive_core's CLI with scripted behaviour, for deterministic backend lifecycle tests.

`python -m tests.backend.fake_core run|check|describe ...` follows the CLI contract (exit codes, one-line
messages, the wire protocol), but what `run` does is chosen by the first strategy's params:
    fake_exit_after: s   write "RuntimeError: fake crash" to stderr and exit with fake_exit_code (1) after s seconds
    fake_silent: true    connect, but never announce itself nor send heartbeats
Any param named `bad` fails `check` the way hive_core does. It speaks raw paho-mqtt, like a foreign bot would.
"""
from __future__ import annotations

import argparse
import ast
import json
import signal
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from hive_core.config import ConfigError, load_instance_config

SHIPPED = [
    {"name": "market_maker", "description": "fake market maker", "interface_version": 1,
     "params_schema": {"type": "object", "properties": {"spread_bps": {"type": "number"}}}},
    {"name": "momentum", "description": "fake momentum", "interface_version": 1,
     "params_schema": {"type": "object", "properties": {}}},
]


def fail(message: str) -> int:
    print(message, file=sys.stderr, flush=True)
    return 2


def describe_file(path: Path) -> dict | str:
    try:
        source = path.read_text()
        tree = ast.parse(source, str(path))
    except SyntaxError as error:
        return f"SyntaxError at line {error.lineno}: {error.msg}"
    namespace: dict = {"__name__": "fake_strategy"}
    try:
        exec(compile(tree, str(path), "exec"), namespace)
    except Exception as error:
        return f"error while loading {path.name}: {type(error).__name__}: {error}"
    classes = [v for v in namespace.values() if isinstance(v, type)
               and any(base.__name__ == "Strategy" for base in v.__mro__[1:])]
    if not classes:
        return f"{path.name}: no Strategy class"
    return {"name": path.stem, "description": (classes[0].__doc__ or "").strip(), "interface_version": 1,
            "params_schema": {"type": "object", "properties": {}}}


def describe(args) -> int:
    if args.file:
        result = describe_file(Path(args.file))
        if isinstance(result, str):
            return fail(result)
        print(json.dumps([result]))
        return 0
    found = list(SHIPPED)
    for directory in args.strategy_dir or []:
        for path in sorted(Path(directory).glob("*.py")):
            result = describe_file(path)
            if isinstance(result, dict):
                found.append(result)
    print(json.dumps(found))
    return 0


def load(path: str):
    try:
        config = load_instance_config(Path(path))
    except ConfigError as error:
        raise SystemExit(fail(f"config error: {error}")) from None
    shipped = {s["name"] for s in SHIPPED}
    for index, entry in enumerate(config.strategies):
        if entry.strategy not in shipped and not any((Path(d) / f"{entry.strategy}.py").is_file()
                                                     for d in config.strategy_dirs):
            raise SystemExit(fail(f"config error: strategies.{index}.strategy: unknown strategy {entry.strategy!r}"))
        if "bad" in entry.params:
            raise SystemExit(fail(f"config error: strategies.{index}.params.bad: Extra inputs are not permitted"))
    return config


def check(args) -> int:
    load(args.config)
    print("ok")
    return 0


def run(args) -> int:
    config = load(args.config)
    bridge = config.mqtt_bridge
    prefix = f"{bridge.mqtt_namespace}/{config.instance_id}"
    behaviour = config.strategies[0].params
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hbot.{config.instance_id}")
    offline = json.dumps({"timestamp": int(time.time() * 1000), "type": "availability", "msg": "offline"})
    client.will_set(f"{prefix}/status_updates", offline)
    if bridge.mqtt_username:  # its own broker login, from the mqtt_auth_file the backend wrote
        client.username_pw_set(bridge.mqtt_username, bridge.mqtt_password)
    silent = bool(behaviour.get("fake_silent"))

    def on_connect(c, *_):
        if not silent:
            c.publish(f"{prefix}/status_updates", json.dumps(
                {"timestamp": int(time.time() * 1000), "type": "availability", "msg": "online"}))

    client.on_connect = on_connect
    client.connect_async(bridge.mqtt_host, bridge.mqtt_port)
    client.loop_start()
    print(f"fake bot {config.instance_id} up", flush=True)
    started = time.time()
    next_hb = next_perf = next_fill = next_log = 0.0
    seq = 0
    while not stop.wait(0.05):
        now = time.time()
        exit_after = behaviour.get("fake_exit_after")
        if exit_after is not None and now - started >= float(exit_after):
            print("Traceback (most recent call last):\nRuntimeError: fake crash", file=sys.stderr, flush=True)
            return int(behaviour.get("fake_exit_code", 1))
        if silent:
            continue
        if now >= next_hb:
            next_hb = now + bridge.mqtt_heartbeat_interval
            client.publish(f"{prefix}/hb", json.dumps({"ts": int(now * 1e6)}))
        if now >= next_perf:
            next_perf = now + bridge.mqtt_performance_interval
            elapsed = now - started
            client.publish(f"{prefix}/performance", json.dumps({
                entry.id: {"performance": {"realized_pnl_quote": elapsed, "unrealized_pnl_quote": 0.5,
                                           "global_pnl_quote": elapsed + 0.5, "volume_traded": 10 * elapsed,
                                           "close_type_counts": {}},
                           "custom_info": {}, "status": "running"} for entry in config.strategies}))
        if now >= next_fill:
            next_fill = now + 0.5
            seq += 1
            entry = config.strategies[seq % len(config.strategies)]
            client.publish(f"{prefix}/events", json.dumps({"timestamp": int(now), "type": "OrderFilled", "data": {
                "timestamp": now, "order_id": f"{entry.id}-{seq}", "trading_pair": config.pair_of(entry),
                "trade_type": "BUY" if seq % 2 else "SELL", "price": 100.0 + seq, "amount": 0.01,
                "fee_quote": 0.001, "controller_id": entry.id}}))
        if now >= next_log:
            next_log = now + 0.5
            for entry in config.strategies:
                client.publish(f"{prefix}/log", json.dumps({
                    "timestamp": now, "msg": f"tick of {entry.id}", "level_no": 20, "level_name": "INFO",
                    "logger_name": f"hive.strategy.{entry.id}"}))
            client.publish(f"{prefix}/log", json.dumps({
                "timestamp": now, "msg": "runtime alive", "level_no": 20, "level_name": "INFO",
                "logger_name": "hive.runtime"}))
    client.publish(f"{prefix}/status_updates", offline).wait_for_publish(2)
    client.disconnect()
    client.loop_stop()
    print("fake bot stopped", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="fake_core")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "check"):
        sub = commands.add_parser(name)
        sub.add_argument("--config", required=True)
    sub = commands.add_parser("describe")
    sub.add_argument("--strategy-dir", action="append")
    sub.add_argument("--file")
    args = parser.parse_args()
    return {"run": run, "check": check, "describe": describe}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
