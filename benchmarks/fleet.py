"""The fleet benchmark: N simulated bots (benchmarks/sim_fleet.py, each its own MQTT connection) against a real
Mosquitto and a real backend process using it as its external broker.

The fleet grows to each N in turn (100, 1,000, 2,000; `--quick`: 20, 100). Per N it reports: the time from adding
the new bots until the backend lists them all; the backend's CPU % and RSS over a window of steady state (every bot
heartbeats and reports performance every 10 s); GET /instances (view=summary) for a page of 100 and for the whole
fleet, p50/p99 and size; the command round trip (POST /instances/<bot>/commands/status to random bots, one at a
time), p50/p99, and the same request straight over MQTT (no HTTP, no backend: what the broker and the bots add);
and the time from a bot's disappearance until the listing shows it changed: one bot's socket closed without
DISCONNECT (its Last Will says offline), one clean DISCONNECT (nothing said: only the heartbeat timeout).
Targets (issue 11): command p99 < 10 ms at 1,000 bots, a page of 100 p99 < 50 ms at 2,000 bots.

`listing_costs` measures in-process, at the largest N, what marking the external bots and building the rows of the
page only (backend/orchestrator/queries.py) saves over building every bot's row: p50 of a page of 100.
"""
from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import paho.mqtt.client as mqtt
import psutil
from pydantic import TypeAdapter

from backend.domain.instances import InstanceOut, InstanceQuery
from backend.orchestrator.listing import page
from backend.services import Services
from backend.settings import Settings
from benchmarks.density import _free_port, _stop, _wait_for_port
from benchmarks.sim_fleet import SimFleetProcess, availability, performance_report, raise_file_limit
from hive_core.orders.manager import percentiles
from hive_core.remote.nodelay import nodelay

REPO_ROOT = Path(__file__).resolve().parent.parent
SIZES = (100, 1000, 2000)
QUICK_SIZES = (20, 100)


class Run(NamedTuple):
    commands: int  # timed per size: the p99 of 1,000 is their 10th slowest, steadier than that of 200
    listings: int  # pages timed per size
    window: float  # s of steady state over which CPU and memory are read
    heartbeat: float  # s between a bot's heartbeats
    heartbeat_timeout: float  # s of silence after which the backend puts a bot in error (the clean DISCONNECT's wait)


# The full run as the product is set by default; the quick one (a smoke run) beats 5 times as often, so its clean
# DISCONNECT is seen in about 6 s instead of 30.
FULL_RUN, QUICK_RUN = Run(1000, 200, 10.0, 10.0, 30.0), Run(50, 20, 3.0, 2.0, 6.0)
PAGE = 100
LISTED_TIMEOUT = 300.0  # s for a new batch of bots to be listed
GONE_TIMEOUT = 60.0  # s for a vanished bot's state to change (the heartbeat timeout is at most 30 s)
POLL = 0.05


@contextmanager
def mosquitto(workdir: Path) -> Iterator[int]:
    """A Mosquitto on a free port of 127.0.0.1, anonymous clients allowed (nothing else can reach it), Nagle off."""
    port = _free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                      "max_connections -1\npersistence false\nlog_dest none\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        yield port
    finally:
        _stop([broker])


@contextmanager
def backend(workdir: Path, broker_port: int, heartbeat: float,
            heartbeat_timeout: float) -> Iterator[tuple[httpx.Client, psutil.Process]]:
    """`python -m backend` on a free port with its own data dir, using the broker at `broker_port` as its external
    one and expecting a heartbeat every `heartbeat` s: an HTTP client logged in to it, and its process."""
    port, password = _free_port(), secrets.token_urlsafe(12)
    env = {**os.environ, "HIVE_ENV": "development", "HIVE_USERNAME": "bench", "HIVE_PASSWORD": password,
           "HIVE_DATA_DIR": str(workdir / "data"), "HIVE_BACKEND_HOST": "127.0.0.1", "HIVE_BACKEND_PORT": str(port),
           "HIVE_BROKER_EXTERNAL": "true", "HIVE_BROKER_HOST": "127.0.0.1", "HIVE_BROKER_PORT": str(broker_port),
           "HIVE_HEARTBEAT_INTERVAL": str(heartbeat), "HIVE_HEARTBEAT_TIMEOUT": str(heartbeat_timeout),
           "HIVE_FEED_SERVICE": "false",  # no instance here takes market data: the service would only add noise
           "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    with open(workdir / "backend.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "backend"], cwd=REPO_ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=("bench", password), timeout=30)
    try:
        _wait(lambda: _answers(client, process), 60, "the backend answering /health")
        yield client, psutil.Process(process.pid)
    finally:
        client.close()
        _stop([process])


def _answers(client: httpx.Client, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"the backend exited with code {process.returncode}")
    try:
        return client.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def _wait(condition: Callable[[], Any], timeout: float, what: str) -> float:
    """Poll until `condition` is true; the seconds it took. TimeoutError after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(POLL)
    return time.monotonic() - start


def _running(client: httpx.Client) -> int:
    """How many bots the backend lists as running."""
    return client.get("/fleet/totals", params={"runtime": "external"}).json()["by_state"].get("running", 0)


def _timed_gets(client: httpx.Client, params: Callable[[], dict], count: int) -> dict[str, float]:
    """GET /instances `count` times: p50/p99 in ms and the size of the last answer in bytes. One untimed request
    first: after the quiet window the server has closed the idle keep-alive connection, and the client's reconnect
    (tens of ms) is not the listing's (a dashboard refreshing every 2 s keeps its connection)."""
    client.get("/health").raise_for_status()
    samples, size = [], 0
    for _ in range(count):
        start = time.perf_counter()
        response = client.get("/instances", params=params())
        samples.append(time.perf_counter() - start)
        response.raise_for_status()
        size = len(response.content)
    figures = percentiles(samples, 1000.0)
    return {"p50_ms": round(figures["p50"], 2), "p99_ms": round(figures["p99"], 2), "bytes": size}


def _listed_state(client: httpx.Client, name: str) -> str:
    """The bot's state in the listing (the dashboard's summary view)."""
    return next(item["state"] for item in client.get("/instances", params={"view": "summary", "q": name}).json()
                if item["name"] == name)


def _gone(client: httpx.Client, fleet: SimFleetProcess, name: str, crash: bool) -> float | None:
    """Seconds from the bot's disappearance until the listing no longer shows it running; None after GONE_TIMEOUT."""
    (fleet.kill if crash else fleet.disconnect)(name)
    try:
        return round(_wait(lambda: _listed_state(client, name) != "running", GONE_TIMEOUT, f"{name} seen gone"), 3)
    except TimeoutError:
        return None


def mqtt_round_trips(broker_port: int, names: list[str], count: int) -> dict[str, float]:
    """`count` status requests straight to random bots over MQTT, one at a time: p50/p99 ms of their replies."""
    replied, subscribed = threading.Event(), threading.Event()
    client = nodelay(mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-rtt-{os.getpid()}"))
    client.on_message = lambda _client, _userdata, _message: replied.set()
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect("127.0.0.1", broker_port)
    client.loop_start()
    try:
        client.subscribe("bench-rtt/#", qos=1)
        if not subscribed.wait(10):  # replies sent before the SUBACK would be lost
            raise TimeoutError("the round-trip client's subscription was not acknowledged within 10 s")
        rng, samples = random.Random(len(names)), []
        for n in range(count):
            replied.clear()
            start = time.perf_counter()
            request = {"header": {"reply_to": f"bench-rtt/{n}", "msg_id": str(n)}, "data": {}}
            client.publish(f"hbot/{rng.choice(names)}/status", json.dumps(request), qos=1)
            if replied.wait(5):
                samples.append(time.perf_counter() - start)
    finally:
        client.loop_stop()
        client.disconnect()
    figures = percentiles(samples, 1000.0)
    return {"p50_ms": round(figures["p50"], 2), "p99_ms": round(figures["p99"], 2), "n": len(samples)}


def measure(client: httpx.Client, process: psutil.Process, fleet: SimFleetProcess, broker_port: int, bots: int,
            commands: int, listings: int, window: float) -> dict[str, Any]:
    """Grow the fleet to `bots` and take the figures of one row."""
    start = time.monotonic()
    fleet.add(bots - len(fleet.names))
    _wait(lambda: _running(client) >= bots, LISTED_TIMEOUT, f"{bots} bots listed")
    listed_s = time.monotonic() - start
    running = list(fleet.names)
    _wait(lambda: client.get(f"/instances/{running[-1]}").json()["strategy_count"] > 0, 30, "performance heard")

    process.cpu_percent()
    time.sleep(window)
    cpu, rss = process.cpu_percent(), process.memory_info().rss

    rng = random.Random(bots)
    page = _timed_gets(client, lambda: {"view": "summary", "limit": PAGE,
                                        "offset": rng.randrange(0, max(1, bots - PAGE))}, listings)
    whole = _timed_gets(client, lambda: {"view": "summary"}, max(5, listings // 5))

    samples = []
    for _ in range(commands):
        name = rng.choice(running)
        begin = time.perf_counter()
        reply = client.post(f"/instances/{name}/commands/status", json={"data": {}})
        samples.append(time.perf_counter() - begin)
        reply.raise_for_status()
    command = percentiles(samples, 1000.0)
    mqtt_only = mqtt_round_trips(broker_port, running, commands)

    crashed, leaving = running[0], running[1]
    will_s, clean_s = _gone(client, fleet, crashed, crash=True), _gone(client, fleet, leaving, crash=False)
    return {"bots": bots, "listed_s": round(listed_s, 2), "cpu_percent": round(cpu, 1),
            "rss_mb": round(rss / 2**20, 1), "page": page, "whole": whole,
            "command": {"p50_ms": round(command["p50"], 2), "p99_ms": round(command["p99"], 2), "n": commands},
            "mqtt_only": mqtt_only,
            "will_s": will_s, "clean_s": clean_s}


def listing_costs(bots: int, repeats: int = 20) -> dict[str, Any]:
    """A page of 100 (view=summary, encoded as the API does) over `bots` external bots, in-process: p50 ms with every
    bot's row built and then paged, and with the bots marked and the page's rows built (as the backend does)."""
    with tempfile.TemporaryDirectory(prefix="hive-bench-listing-") as folder:
        services = Services(Settings(_env_file=None, env="development", data_dir=Path(folder), database_url=None,
                                     username="bench", password=secrets.token_urlsafe(12)))
        fleet, now, rng = services.fleet, time.time(), random.Random(bots)
        for n in range(bots):
            prefix = f"hbot/listing-{n:05d}"
            fleet.handle(f"{prefix}/status_updates", availability("online").encode(), now)
            fleet.handle(f"{prefix}/hb", f'{{"ts": {int(now * 1e6)}}}'.encode(), now)
            fleet.handle(f"{prefix}/performance", performance_report(rng).encode(), now)
        queries = services.instances.queries
        encode = TypeAdapter(list[InstanceOut]).dump_json
        query = InstanceQuery(view="summary", offset=bots // 2, limit=PAGE)
        ways: dict[str, Callable[[], list[InstanceOut]]] = {
            "every_row": lambda: page(queries.all(summary=True), query)[0],
            "page_rows": lambda: queries.listing(query)[0],
        }
        figures = {}
        for label, listed in ways.items():
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                encode(listed())
                samples.append(time.perf_counter() - start)
            figures[f"{label}_ms"] = round(percentiles(samples, 1000.0)["p50"], 2)
        services.close()
    return {"bots": bots, **figures, "ratio": round(figures["every_row_ms"] / max(figures["page_rows_ms"], 1e-3), 1)}


def fleet_benchmark(sizes: tuple[int, ...] = SIZES, commands: int = FULL_RUN.commands,
                    listings: int = FULL_RUN.listings, window: float = FULL_RUN.window,
                    heartbeat: float = FULL_RUN.heartbeat,
                    heartbeat_timeout: float = FULL_RUN.heartbeat_timeout) -> dict[str, Any]:
    """The rows for each size, and the settings they were taken with."""
    file_limit = raise_file_limit()
    with tempfile.TemporaryDirectory(prefix="hive-bench-fleet-") as folder, mosquitto(Path(folder)) as broker_port, \
            backend(Path(folder), broker_port, heartbeat, heartbeat_timeout) as (client, process), \
            SimFleetProcess("127.0.0.1", broker_port, prefix=f"bench{os.getpid()}", hb_interval=heartbeat) as fleet:
        rows = [measure(client, process, fleet, broker_port, bots, commands, listings, window) for bots in sizes]
        if failures := fleet.failures:
            print(f"fleet: {len(failures)} bots could not connect, first: {failures[0]}", file=sys.stderr)
    return {"rows": rows, "window_s": window, "heartbeat_s": heartbeat, "heartbeat_timeout_s": heartbeat_timeout,
            "file_limit": file_limit, "broker": "mosquitto (set_tcp_nodelay true)",
            "listing_costs": listing_costs(sizes[-1])}


def print_fleet(result: dict[str, Any]) -> None:
    print(f"fleet: simulated bots (one connection each) -> Mosquitto -> backend; CPU/RSS over {result['window_s']:g} s;"
          " targets: command p99 < 10 ms at 1,000, page p99 < 50 ms at 2,000")
    print(f"{'bots':>6} {'listed s':>9} {'cpu %':>6} {'rss MB':>7} {'page p50':>9} {'page p99':>9} {'page KB':>8} "
          f"{'all p50':>8} {'all p99':>8} {'all KB':>7} {'cmd p50':>8} {'cmd p99':>8} {'mqtt p50':>9} {'mqtt p99':>9} "
          f"{'will s':>7} {'clean s':>8}")

    def seconds(value: float | None) -> str:
        return f"{value:.2f}" if value is not None else f">{GONE_TIMEOUT:g}"
    for row in result["rows"]:
        page, whole, command, mqtt_only = row["page"], row["whole"], row["command"], row["mqtt_only"]
        print(f"{row['bots']:>6,} {row['listed_s']:>9.2f} {row['cpu_percent']:>6.1f} {row['rss_mb']:>7.1f} "
              f"{page['p50_ms']:>9.1f} {page['p99_ms']:>9.1f} {page['bytes'] / 1024:>8.1f} "
              f"{whole['p50_ms']:>8.1f} {whole['p99_ms']:>8.1f} {whole['bytes'] / 1024:>7.1f} "
              f"{command['p50_ms']:>8.2f} {command['p99_ms']:>8.2f} "
              f"{mqtt_only['p50_ms']:>9.2f} {mqtt_only['p99_ms']:>9.2f} "
              f"{seconds(row['will_s']):>7} "
              f"{seconds(row['clean_s']):>8}")
    print("(ms unless said; page: GET /instances?view=summary&limit=100, all: the whole fleet; cmd: POST .../status; "
          "mqtt: the same request straight over MQTT; will: socket closed without DISCONNECT until not running; "
          f"clean: DISCONNECT, heartbeat timeout of {result['heartbeat_timeout_s']:g} s, a heartbeat every "
          f"{result['heartbeat_s']:g} s)")
    costs = result["listing_costs"]
    print(f"listing a page of 100 of {costs['bots']:,} external bots in-process, p50: every bot's row built "
          f"{costs['every_row_ms']:.1f} ms, the bots marked and the page's rows built {costs['page_rows_ms']:.1f} ms "
          f"({costs['ratio']:g}x)")


if __name__ == "__main__":  # this benchmark alone; `python -m benchmarks` runs it with the others and saves it
    quick = "--quick" in sys.argv
    print_fleet(fleet_benchmark(QUICK_SIZES if quick else SIZES, **(QUICK_RUN if quick else FULL_RUN)._asdict()))
