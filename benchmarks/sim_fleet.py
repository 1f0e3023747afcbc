"""A simulated fleet: many bots in one process, each its own MQTT connection, all driven by one thread.

paho's own loop (`loop_start`) uses select(), which stops connecting new clients once the process holds about
1,024 file handles (about 340 paho clients, each with its socket and a wake-up pair); here one thread runs every
client with paho's external-loop API (`loop_read`, `loop_write`, `loop_misc`) over `selectors.DefaultSelector`
(epoll on Linux), so a fleet is bounded by RLIMIT_NOFILE alone (`raise_file_limit`). `SimFleetProcess` runs one in
a process of its own, so that whoever measures the fleet does not share a GIL with it.

Each bot speaks docs/protocol.md, written out by hand as a foreign bot would: a Last Will `offline` on
`P/status_updates` (QoS 1), `online` on connect, a heartbeat right away and then every `hb_interval` s, a
3-controller `P/performance` every `performance_interval` s, and a reply on `header.reply_to` to every command
(`{"status": 200, "msg": "", "bot": ..., "command": ..., "echo": <the request's data>}`). Used by the fleet
benchmark (benchmarks/fleet.py) and the tests.
"""
from __future__ import annotations

import json
import multiprocessing
import queue
import random
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import paho.mqtt.client as mqtt

from hive_core.protocol import COMMANDS
from hive_core.remote.nodelay import set_nodelay

CONTROLLERS = ("c1", "c2", "c3")
TICK = 0.25  # s between two rounds of timers (heartbeats, reports, paho's keepalive)
CONNECTS_PER_ROUND = 50  # new connections opened per turn of the loop, so the ones already up keep being served
STOP_TIMEOUT = 10.0


def raise_file_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (each bot holds a socket); the new soft limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _now_ms() -> int:
    return int(time.time() * 1000)


def availability(msg: str) -> str:
    return json.dumps({"timestamp": _now_ms(), "type": "availability", "msg": msg})


def performance_report(rng: random.Random) -> str:
    """One `P/performance` message of three running controllers (the five fields Hummingbot's tools read)."""
    entries = {}
    for controller in CONTROLLERS:
        realized, unrealized = round(rng.uniform(-50, 50), 4), round(rng.uniform(-10, 10), 4)
        entries[controller] = {
            "performance": {"realized_pnl_quote": realized, "unrealized_pnl_quote": unrealized,
                            "global_pnl_quote": round(realized + unrealized, 4),
                            "volume_traded": round(rng.uniform(0, 10_000), 2), "close_type_counts": {}},
            "custom_info": {"strategy": "sim", "trading_pair": "BTC-USDT"},
            "status": "running"}
    return json.dumps(entries)


class SimBot:
    """One bot's connection and timers; every method runs on the fleet's thread."""

    def __init__(self, fleet: SimFleet, name: str) -> None:
        self.name, self.fleet = name, fleet
        self.prefix = f"{fleet.namespace}/{name}"
        self.connected_at: float | None = None  # monotonic time of its CONNACK
        self.commands = 0
        self.next_hb = self.next_performance = 0.0
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hbot.{name}", userdata=self)
        client.will_set(f"{self.prefix}/status_updates", availability("offline"), qos=1)
        if fleet.login is not None:
            client.username_pw_set(*fleet.login)
        client.on_socket_open = fleet._socket_open
        client.on_socket_close = fleet._socket_close
        client.on_socket_register_write = fleet._want_write
        client.on_socket_unregister_write = fleet._written
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        self.client = client

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        if reason_code.is_failure:
            return
        client.subscribe([(f"{self.prefix}/{command}", 1) for command in COMMANDS])
        client.publish(f"{self.prefix}/status_updates", availability("online"))
        self.connected_at = time.monotonic()
        spread = self.fleet.rng.random()  # the fleet's reports spread over their intervals, not all at once
        self.next_hb = self.connected_at  # at once, then every hb_interval
        self.next_performance = self.connected_at + spread * self.fleet.performance_interval

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        command = message.topic.removeprefix(self.prefix + "/")
        try:
            request = json.loads(message.payload)
            reply_to, data = request["header"].get("reply_to"), request.get("data")
        except (ValueError, KeyError, TypeError, AttributeError):
            return  # a malformed request gets no answer, like a real bot's
        self.commands += 1
        if isinstance(reply_to, str) and reply_to:
            reply = {"header": {"reply_to": "", "timestamp": _now_ms(), "content_type": "json", "encoding": "utf8",
                                "agent": "commlib"},
                     "data": {"status": 200, "msg": "", "bot": self.name, "command": command, "echo": data}}
            client.publish(reply_to, json.dumps(reply), qos=1)

    def tick(self, now: float) -> None:
        """paho's keepalive, then the heartbeat and the performance report when they are due."""
        self.client.loop_misc()
        if self.connected_at is None or not self.client.is_connected():
            return
        if now >= self.next_hb:
            self.client.publish(f"{self.prefix}/hb", json.dumps({"ts": int(time.time() * 1e6)}))
            self.next_hb = now + self.fleet.hb_interval
        if now >= self.next_performance:
            self.client.publish(f"{self.prefix}/performance", performance_report(self.fleet.rng))
            self.next_performance = now + self.fleet.performance_interval


class SimFleet:
    """Bots named `<prefix>-<n>` under `namespace`, added with `add`, connected and served by one thread."""

    def __init__(self, host: str, port: int, namespace: str = "hbot", prefix: str = "sim",
                 login: tuple[str, str] | None = None, hb_interval: float = 10.0,
                 performance_interval: float = 10.0) -> None:
        self.host, self.port, self.namespace, self.prefix, self.login = host, port, namespace, prefix, login
        self.hb_interval, self.performance_interval = hb_interval, performance_interval
        self.rng = random.Random(7)
        self.bots: dict[str, SimBot] = {}  # the fleet's thread's; read elsewhere only through the methods below
        self.names: list[str] = []  # the bots added and not killed or disconnected, oldest first (callers' side)
        self.failures: list[str] = []  # bots whose connect failed (the reason), for the caller to report
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._actions: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._pending: list[SimBot] = []  # created, not yet connecting
        self._count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-fleet", daemon=True)
        self._thread.start()

    # --- what callers do (any thread) -------------------------------------------------------------
    def add(self, count: int) -> list[str]:
        """Create `count` more bots; they connect in the background. Their names."""
        names = [f"{self.prefix}-{self._count + n:05d}" for n in range(count)]
        self._count += count
        self.names += names
        self._call(lambda: self._pending.extend(SimBot(self, name) for name in names))
        return names

    def connected(self) -> int:
        """How many bots have had their CONNACK and are still connected."""
        return self._ask(lambda: sum(1 for bot in self.bots.values()
                                     if bot.connected_at is not None and bot.client.is_connected()))

    def commands_answered(self) -> int:
        return self._ask(lambda: sum(bot.commands for bot in self.bots.values()))

    def kill(self, name: str) -> None:
        """Close the bot's socket without a DISCONNECT (a crash): the broker sends its Last Will."""
        def close() -> None:
            bot = self.bots.pop(name)
            self.names.remove(name)
            sock = bot.client.socket()
            if isinstance(sock, socket.socket):
                self._forget(sock)
                sock.close()
        self._ask(close)

    def disconnect(self, name: str) -> None:
        """A clean DISCONNECT (no `offline` message, like Hummingbot's bot): the broker drops its Will."""
        def leave() -> None:
            self.bots.pop(name).client.disconnect()  # paho closes the socket once DISCONNECT is written
            self.names.remove(name)
        self._ask(leave)

    def close(self) -> None:
        self._stop.set()
        self._wake()
        self._thread.join(STOP_TIMEOUT)
        for bot in list(self.bots.values()):
            sock = bot.client.socket()
            if isinstance(sock, socket.socket):
                sock.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> SimFleet:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, action: Callable[[], None]) -> None:
        self._actions.put(action)
        self._wake()

    def _ask(self, question: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Run `question` on the fleet's thread and return its answer (paho's clients are not thread-safe)."""
        answer: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()

        def run() -> None:
            try:
                answer.put((True, question()))
            except Exception as error:  # raised again in the caller's thread
                answer.put((False, error))
        self._call(run)
        ok, value = answer.get(timeout=timeout)
        if not ok:
            raise value
        return value

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except (BlockingIOError, OSError):
            pass  # already woken, or closing

    # --- paho's socket callbacks (the fleet's thread) ---------------------------------------------
    def _socket_open(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        set_nodelay(sock)
        self._selector.register(sock, selectors.EVENT_READ, client)

    def _socket_close(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self._forget(sock)

    def _want_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self._selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def _written(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        if sock.fileno() >= 0 and sock in self._selector.get_map():
            self._selector.modify(sock, selectors.EVENT_READ, client)

    def _forget(self, sock: socket.socket) -> None:
        if sock.fileno() >= 0 and sock in self._selector.get_map():
            self._selector.unregister(sock)

    # --- the loop ---------------------------------------------------------------------------------
    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            for key, mask in self._selector.select(timeout=max(0.0, next_tick - time.monotonic())):
                if key.data is None:
                    self._drain_wake()
                    continue
                client: mqtt.Client = key.data
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE and client.socket() is not None:
                    client.loop_write()
            while not self._actions.empty():
                self._actions.get()()
            self._connect_some()
            now = time.monotonic()
            if now >= next_tick:
                for bot in self.bots.values():
                    bot.tick(now)
                next_tick = now + TICK

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _connect_some(self) -> None:
        batch, self._pending = self._pending[:CONNECTS_PER_ROUND], self._pending[CONNECTS_PER_ROUND:]
        for bot in batch:
            try:
                bot.client.connect(self.host, self.port, keepalive=30)
            except OSError as error:
                self.failures.append(f"{bot.name}: {error}")
                continue
            self.bots[bot.name] = bot


class SimFleetProcess:
    """A SimFleet in a process of its own, so that thousands of bots do not share a GIL with whoever measures them;
    the same calls (`add`, `connected`, `kill`, `disconnect`, `names`, `failures`), answered over a pipe."""

    def __init__(self, host: str, port: int, **options: Any) -> None:
        self.names: list[str] = []
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, host, port, options), name="sim-fleet",
                                        daemon=True)
        self._process.start()
        child.close()

    def _call(self, operation: str, *args: Any) -> Any:
        self._pipe.send((operation, args))
        if not self._pipe.poll(STOP_TIMEOUT * 3):
            raise TimeoutError(f"the sim fleet's process did not answer {operation!r}")
        ok, value = self._pipe.recv()
        if not ok:
            raise RuntimeError(f"the sim fleet's {operation!r} failed: {value}")
        return value

    def add(self, count: int) -> list[str]:
        names: list[str] = self._call("add", count)
        self.names += names
        return names

    def connected(self) -> int:
        return int(self._call("connected"))

    def commands_answered(self) -> int:
        return int(self._call("commands_answered"))

    def kill(self, name: str) -> None:
        self._call("kill", name)
        self.names.remove(name)

    def disconnect(self, name: str) -> None:
        self._call("disconnect", name)
        self.names.remove(name)

    @property
    def failures(self) -> list[str]:
        return list(self._call("failures"))

    def close(self) -> None:
        try:
            self._call("close")
        except (TimeoutError, OSError, EOFError):
            pass
        self._process.join(STOP_TIMEOUT)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(STOP_TIMEOUT)
        self._pipe.close()

    def __enter__(self) -> SimFleetProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _serve(pipe: Connection, host: str, port: int, options: dict[str, Any]) -> None:
    """The fleet process: run each call that arrives on `pipe` and send back (ok, its answer), until `close`."""
    raise_file_limit()
    with SimFleet(host, port, **options) as fleet:
        while True:
            operation, args = pipe.recv()
            if operation == "close":
                pipe.send((True, None))
                return
            try:
                answer = getattr(fleet, operation)
                pipe.send((True, answer(*args) if callable(answer) else answer))
            except Exception as error:  # the caller raises it
                pipe.send((False, repr(error)))
