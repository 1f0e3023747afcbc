"""The host's market-data service (hive_core/feed/service.py, `python -m hive_core.feed`): what sharing one upstream
connection saves, and what the extra hop costs, side by side in one run.

1. sharing: `instances` real `python -m hive_core run` processes, each with 10 market makers spread over the same
   three pairs (an instance subscribes `<pair>@depth@100ms` and `<pair>@trade` for every venue pair: 6 streams),
   against one simulated venue, first each on its own connection (direct) and then through one feed service process
   (`venue.feed: unix:<socket>`). Once every instance logged "instance <id> running" and the venue's view settled,
   each side is measured over the same window: the venue's stream connections and subscriptions (asked of the
   SimServer on its own thread and loop, `hive_core/sim/background.py`), the memory (USS, PSS) of the instances and
   the service, their CPU seconds, and the venue thread's CPU seconds.
2. latency: trade messages carrying `time.monotonic_ns()` (CLOCK_MONOTONIC: one clock for every process of the host)
   taken just before the venue writes each one (its own publish path, `SimServer._broadcast`), paced at 20,000/s in
   bursts of about a millisecond (asyncio's timer granularity); a Multiplexer in a client process records the
   callback's time minus that stamp. Directly on the venue, and through the service on its Unix socket and on TCP;
   again at 5,000/s, where nothing is saturated.
3. fan-out: 10 connections to the service from ONE client process: the timed Multiplexer and 9 byte sinks (raw
   WebSocket readers taking their socket's bytes every 2 ms, so that the client process is not what limits: ten
   Multiplexers parsing every message would saturate it long before the service). Rates climb while the service keeps
   up (everything delivered, p50 under 5 ms); reported: the highest rate whose p99 (venue to callback) is under 5 ms,
   and the highest kept up with. The same directly on the venue (10 connections) as a reference. The CPU share of
   the venue thread, the service, the client process and the host's other load in each run says what was the limit
   (two cores for three busy processes).
4. framing: the service's client hop on its Unix socket against its TCP port (2 and 3 measure both), and a
   micro-benchmark of the framing alone: one process writing to another over a Unix socket, WebSocket frames
   against newline-delimited JSON (paced latency, and throughput writing as fast as flow control allows).

The venue runs in this process, on a thread, and is not counted in the host's memory; the processes started are
stopped (terminate, then kill) whatever happens.

    python -m benchmarks.feed [--instances N] [--seconds S] [--rates R,...]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import psutil
import yaml

PAIRS = ["BTC-USDT", "ETH-USDT", "SOL-USDT"]
PRICES = {"BTC-USDT": 65_000.0, "ETH-USDT": 3_000.0, "SOL-USDT": 150.0}
INSTANCES = 10
STRATEGIES = 10               # market makers per instance, spread over PAIRS
STREAMS_PER_PAIR = 2          # what VenueClient.start subscribes: <pair>@depth@100ms and <pair>@trade
LATENCY_RATE = 20_000         # messages/s of the latency runs
LOW_RATE = 5_000              # ... and again at this rate, for the latency added while nothing is saturated
ADDED_P99_TARGET_MS = 1.0
FANOUT_CLIENTS = 10
FANOUT_RATES = (1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000)
P99_LIMIT_MS = 5.0
STREAM = "btcusdt@trade"
READY_TIMEOUT_S = 120.0       # every instance of a side logged "running"
SETTLE_TIMEOUT_S = 30.0       # the venue's view of a side's connections and subscriptions
LINE_TIMEOUT_S = 30.0         # a child process's next line (listening, warm, a run's result)
STOP_TIMEOUT_S = 20.0
MB = 2**20

# ---- processes ---------------------------------------------------------------------------------------------------


class _Processes:
    """The processes one part started; `stop()` ends them all (terminate, then kill past STOP_TIMEOUT_S)."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, args: list[str], **options: Any) -> subprocess.Popen:
        process = subprocess.Popen(args, **options)
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.started:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                with suppress(subprocess.TimeoutExpired):
                    process.wait(5)
        for process in self.started:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with suppress(OSError):
                        stream.close()
        self.started = []


@contextmanager
def _processes() -> Iterator[_Processes]:
    processes = _Processes()
    try:
        yield processes
    finally:
        processes.stop()


class _Lines:
    """A child's stdout line by line, read on a thread, so that every wait for the next line is bounded."""

    def __init__(self, process: subprocess.Popen, name: str, log: Path) -> None:
        self.name, self.log = name, log
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._pump, args=(process.stdout,), name=f"lines-{name}", daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        with suppress(OSError, ValueError):
            for line in stream:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next(self, timeout: float = LINE_TIMEOUT_S) -> str:
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.name}: nothing said in {timeout:g} s{self._tail()}") from None
        if line is None:
            raise RuntimeError(f"{self.name} ended{self._tail()}")
        return line

    def poll(self) -> str | None:
        try:
            line = self._queue.get_nowait()
        except queue.Empty:
            return None
        if line is None:
            raise RuntimeError(f"{self.name} ended{self._tail()}")
        return line

    def _tail(self) -> str:
        text = self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""
        return f"; its log ends:\n{text}" if text else ""


def _child(processes: _Processes, args: list[str], name: str, folder: Path) -> tuple[subprocess.Popen, _Lines]:
    log = folder / f"{name}.log"
    with open(log, "ab") as err:
        process = processes.start(args, stdout=subprocess.PIPE, stderr=err, text=True)
    return process, _Lines(process, name, log)


def _start_service(processes: _Processes, folder: Path) -> tuple[subprocess.Popen, str, str]:
    """A feed service process on a Unix socket and a free TCP port: (process, unix:<path>, ws://127.0.0.1:<port>)."""
    process, lines = _child(processes, [sys.executable, "-m", "hive_core.feed", "--socket", str(folder / "feed.sock"),
                                        "--port", "0", "--linger", "60"], "feed-service", folder)
    line = lines.next()    # "listening on unix:<path>, ws://127.0.0.1:<port>", once it listens on both
    addresses = line.removeprefix("listening on ").split(", ")
    unix = next(address for address in addresses if address.startswith("unix:"))
    tcp = next(address for address in addresses if address.startswith("ws://"))
    return process, unix, tcp


def _health(tcp: str) -> dict:
    with urllib.request.urlopen(tcp.replace("ws://", "http://") + "/health", timeout=5) as response:
        return json.loads(response.read())


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class _VenueCpu:
    """The CPU seconds of the venue's thread (it runs in this process)."""

    def __init__(self, venue: Any) -> None:
        async def native_id() -> int:
            return threading.get_native_id()
        self.tid = asyncio.run_coroutine_threadsafe(native_id(), venue.loop).result(timeout=10)

    def seconds(self) -> float:
        for thread in psutil.Process().threads():
            if thread.id == self.tid:
                return thread.user_time + thread.system_time
        return 0.0


def _on_venue(venue: Any, make: Callable[[], Coroutine[Any, Any, Any]], timeout: float = 10.0) -> Any:
    """Run a coroutine on the venue's loop (its thread) and return its result."""
    return asyncio.run_coroutine_threadsafe(make(), venue.loop).result(timeout=timeout)


def _venue_view(venue: Any) -> tuple[int, dict[str, int]]:
    async def read() -> tuple[int, dict[str, int]]:
        return venue.server.stream_connections(), venue.server.subscriptions()
    return _on_venue(venue, read)


# ---- 1. sharing --------------------------------------------------------------------------------------------------


def _instance_config(instance_id: str, venue_url: str, feed: str | None) -> dict:
    venue: dict[str, Any] = {"kind": "sim", "url": venue_url, "trading_pairs": PAIRS}
    if feed is not None:
        venue["feed"] = feed
    return {"instance_id": instance_id, "mqtt_bridge": {"mqtt_autostart": False}, "journal": {"enabled": False},
            "strategies": [{"id": f"mm{i}", "strategy": "market_maker", "trading_pair": PAIRS[i % len(PAIRS)],
                            "params": {"spread_bps": 20 + i}} for i in range(STRATEGIES)],
            "venue": venue}


def _wait_running(processes: _Processes, logs: dict[str, Path]) -> float:
    """Until every instance logged "instance <id> running"; the seconds it took."""
    started = time.monotonic()
    waiting = dict(logs)
    while waiting:
        for instance_id, log in list(waiting.items()):
            if f"instance {instance_id} running" in log.read_text(errors="replace"):
                del waiting[instance_id]
        ended = [process for process in processes.started if process.poll() is not None]
        if ended:
            name = next(iter(waiting), "?")
            raise RuntimeError(f"{len(ended)} process(es) exited during start-up; {name}'s log ends:\n"
                               f"{logs[name].read_text(errors='replace')[-2000:] if name in logs else ''}")
        if time.monotonic() - started > READY_TIMEOUT_S:
            raise TimeoutError(f"{len(waiting)} of {len(logs)} instances not running after {READY_TIMEOUT_S:g} s")
        time.sleep(0.2)
    return time.monotonic() - started


def _settle(venue: Any, connections: int, per_stream: int, streams: int) -> tuple[bool, float]:
    """Until the venue sees `connections` stream connections and `streams` streams with `per_stream` each."""
    started = time.monotonic()
    while True:
        count, subscriptions = _venue_view(venue)
        if count == connections and len(subscriptions) == streams \
                and all(n == per_stream for n in subscriptions.values()):
            return True, time.monotonic() - started
        if time.monotonic() - started > SETTLE_TIMEOUT_S:
            return False, time.monotonic() - started
        time.sleep(0.1)


def _sharing_side(name: str, venue: Any, instances: int, window: float, folder: Path, through_service: bool) -> dict:
    streams = len(PAIRS) * STREAMS_PER_PAIR
    with _processes() as processes:
        service = unix = tcp = None
        if through_service:
            service, unix, tcp = _start_service(processes, folder)
        logs = {}
        for k in range(instances):
            instance_id = f"{name}{k}"
            path = folder / f"{instance_id}.yml"
            path.write_text(yaml.safe_dump(_instance_config(instance_id, venue.url, unix)))
            logs[instance_id] = folder / f"{instance_id}.log"
            with open(logs[instance_id], "wb") as out:
                processes.start([sys.executable, "-m", "hive_core", "run", "--config", str(path)], stdout=out,
                                stderr=subprocess.STDOUT)
        ready_s = _wait_running(processes, logs)
        settled, settle_s = _settle(venue, 1 if through_service else instances, 1 if through_service else instances,
                                    streams)
        handles = [psutil.Process(process.pid) for process in processes.started]   # the service first, if any
        venue_cpu = _VenueCpu(venue)
        before, venue_before = [_cpu(handle) for handle in handles], venue_cpu.seconds()
        time.sleep(window)
        after, venue_after = [_cpu(handle) for handle in handles], venue_cpu.seconds()
        memory = [handle.memory_full_info() for handle in handles]
        connections, subscriptions = _venue_view(venue)
        health = _health(tcp) if tcp is not None else None
        running = sum(1 for process in processes.started if process.poll() is None)
    cpu = [a - b for a, b in zip(after, before, strict=True)]
    side = {"side": name, "instances": instances, "processes": len(handles), "running_at_end": running,
            "ready_s": round(ready_s, 1), "settled": settled, "settle_s": round(settle_s, 1),
            "stream_connections": connections, "subscriptions": subscriptions,
            "subscriptions_total": sum(subscriptions.values()),
            "uss_mb": round(sum(m.uss for m in memory) / MB, 1), "pss_mb": round(sum(m.pss for m in memory) / MB, 1),
            "cpu_s": round(sum(cpu), 2), "venue_cpu_s": round(venue_after - venue_before, 2)}
    if through_service:
        assert health is not None
        side.update({"service_uss_mb": round(memory[0].uss / MB, 1), "service_pss_mb": round(memory[0].pss / MB, 1),
                     "service_cpu_s": round(cpu[0], 2), "service_clients": health["clients"],
                     "service_dropped": health["dropped"],
                     "service_streams": health["upstreams"][0]["streams"] if health["upstreams"] else {},
                     "service_upstream": {key: value for key, value in (health["upstreams"] or [{}])[0].items()
                                          if key in ("connected", "messages", "gaps", "resyncs", "reconnects")}})
    return side


def sharing_benchmark(instances: int = INSTANCES, window: float = 10.0) -> dict:
    """The same instances on their own venue connections, then through one feed service."""
    from hive_core.sim.background import venue_thread

    with venue_thread(trading_pairs=PAIRS, initial_prices=PRICES, step_interval=0.1) as venue, \
            tempfile.TemporaryDirectory(prefix="hive-feed-") as directory:
        folder = Path(directory)
        direct = _sharing_side("direct", venue, instances, window, folder, through_service=False)
        _settle(venue, 0, 0, 0)     # the direct side's connections gone before the other side starts
        shared = _sharing_side("feed", venue, instances, window, folder, through_service=True)
    return {"instances": instances, "strategies_per_instance": STRATEGIES, "pairs": PAIRS,
            "streams": len(PAIRS) * STREAMS_PER_PAIR, "window_s": window, "sides": [direct, shared],
            "connection_ratio": _ratio(shared["stream_connections"], direct["stream_connections"]),
            "subscription_ratio": _ratio(shared["subscriptions_total"], direct["subscriptions_total"]),
            "uss_ratio": _ratio(shared["uss_mb"], direct["uss_mb"]),
            "pss_ratio": _ratio(shared["pss_mb"], direct["pss_mb"]),
            "cpu_ratio": _ratio(shared["cpu_s"], direct["cpu_s"]),
            "venue_cpu_ratio": _ratio(shared["venue_cpu_s"], direct["venue_cpu_s"])}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


# ---- paced messages ----------------------------------------------------------------------------------------------


def _message(run: int, index: int, end: bool = False) -> str:
    """A trade's `data` as the venue writes it, with the run, and the CLOCK_MONOTONIC time it is written at."""
    tail = ',"end":1' if end else ""
    return (f'{{"e":"trade","E":0,"s":"BTCUSDT","t":{index},"p":"100.00000000","q":"1.00000000","T":0,"m":false,'
            f'"M":true,"r":{run}{tail},"ns":{time.monotonic_ns()}}}')


async def _pace(write: Callable[[str], None], rate: int, count: int, run: int,
                drain: Callable[[], Awaitable[None]] | None = None) -> dict:
    """Write `count` messages at `rate` per second: every ~1 ms, the ones due by then, each stamped as written.
    rate 0: as fast as the writer's flow control allows (`drain` is awaited between batches)."""
    start = time.monotonic_ns()
    sent = 0
    while sent < count:
        due = count if rate <= 0 else min(count, (time.monotonic_ns() - start) * rate // 1_000_000_000 + 1)
        if rate <= 0:
            due = min(count, sent + 256)
        while sent < due:
            write(_message(run, sent))
            sent += 1
        if drain is not None:
            await drain()
        if rate > 0:
            await asyncio.sleep(0.001)
    seconds = (time.monotonic_ns() - start) / 1e9
    return {"sent": sent, "send_s": round(seconds, 3), "sent_per_s": round(sent / seconds) if seconds else None}


def _percentiles(samples: list[int]) -> dict:
    if not samples:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6, 3)
    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(ordered[-1] / 1e6, 3)}


# ---- the client process: Multiplexers that time each message -----------------------------------------------------


def _client_main(venue_url: str, feed: str | None, clients: int, stream: str, stalled: int = 0) -> int:
    """One Multiplexer on `stream` (the probe: its callback times every message) and `clients - 1` byte sinks on the
    same stream, directly on the venue or through the service at `feed`, and `stalled` more that never read (a slow
    client beside the others: the service drops what it cannot take, and the others must not feel it). Prints "warm"
    once the probe heard a run-0 message (the sinks are subscribed before it starts), then per run (1, 2, ...) the
    JSON of the probe's latencies once it heard the run's end mark."""
    from hive_core.feed.address import feed_address
    from hive_core.market.multiplexer import Multiplexer

    async def main() -> None:
        base = feed_address(feed, venue_url, venue_url) if feed else venue_url
        sinks = [_ByteSink(base + "/stream", stream) for _ in range(clients - 1)]
        never_read = [_ByteSink(base + "/stream", stream) for _ in range(stalled)]
        mux = Multiplexer(base)
        samples: list[int] = []
        warm = asyncio.Event()
        run = [1]
        now = time.monotonic_ns

        def callback(_stream: str, data: dict) -> None:
            received = now()
            tag = data.get("r")
            if tag == run[0]:
                if "end" not in data:
                    samples.append(received - data["ns"])
                    return
                print(json.dumps({"run": run[0], "received": len(samples), **_percentiles(samples),
                                  "behind": mux.stats["behind"], "reconnects": mux.stats["reconnects"],
                                  "sink_bytes": sum(sink.bytes for sink in sinks),
                                  "sinks_open": sum(1 for sink in sinks if sink.open),
                                  "stalled_open": sum(1 for sink in never_read if sink.open)}), flush=True)
                samples.clear()
                run[0] += 1
            elif tag == 0:
                warm.set()

        async def read_sinks() -> None:
            while True:
                for sink in sinks:
                    sink.read()
                await asyncio.sleep(SINK_POLL_S)

        reading = asyncio.create_task(read_sinks())
        await mux.start()
        mux.subscribe(stream, callback)
        await warm.wait()
        print("warm", flush=True)
        await reading    # until terminated

    asyncio.run(main())
    return 0


SINK_POLL_S = 0.002
SINK_LIFE_S = 20.0    # a client process's sinks are replaced after this long (they answer no ping; closed at 40 s)


class _ByteSink:
    """A stream client that subscribes, then takes whatever its socket holds every SINK_POLL_S without looking at it:
    a reader that is never the bottleneck, so that 10 connections can be fed to one client process on a 2-core host
    (it reads in big chunks, not once per message). It answers no ping: the venue and the service would close it
    after 40 s, longer than it is used."""

    def __init__(self, url: str, stream: str) -> None:
        from urllib.parse import urlsplit

        from hive_core.market.wire import UNIX_SCHEME, unix_address

        if url.startswith(UNIX_SCHEME):
            path, resource = unix_address(url)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(path)
        else:
            parts = urlsplit(url)
            resource = parts.path
            self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(f"GET {resource} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                          .encode())
        received = b""
        while b"\r\n\r\n" not in received:
            received += self._recv()
        head, _, received = received.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"{url}: no WebSocket upgrade: {head[:200]!r}")
        request = json.dumps({"method": "SUBSCRIBE", "params": [stream], "id": 1}).encode()
        self.sock.sendall(bytes([0x81, 0x80 | len(request)]) + bytes(4) + request)   # masked (a client's): zero mask
        while b'"id":1' not in received and b'"id": 1' not in received:   # its answer: it is subscribed
            received += self._recv()
        self.sock.setblocking(False)
        self.buffer = bytearray(2**18)
        self.bytes = 0
        self.open = True

    def _recv(self) -> bytes:
        chunk = self.sock.recv(2**16)
        if not chunk:
            raise RuntimeError("the stream connection closed while subscribing")
        return chunk

    def read(self) -> None:
        while self.open:
            try:
                count = self.sock.recv_into(self.buffer)
            except BlockingIOError:
                return
            except OSError:
                count = 0
            if count == 0:
                self.open = False
                self.sock.close()
            self.bytes += count


class _Client:
    """A client process (see _client_main) and its lines."""

    def __init__(self, processes: _Processes, folder: Path, venue_url: str, feed: str | None, clients: int,
                 name: str, stalled: int = 0) -> None:
        args = [sys.executable, "-m", "benchmarks.feed", "client", "--venue", venue_url, "--clients", str(clients),
                "--stream", STREAM, "--stalled", str(stalled)] + (["--feed", feed] if feed else [])
        self.process, self.lines = _child(processes, args, name, folder)
        self.handle = psutil.Process(self.process.pid)
        self.started = time.monotonic()
        self.runs = 0

    def stop(self, venue: Any) -> None:
        """End it, and wait until the venue has no subscriber left (through the service too: once its last client
        left, it unsubscribed upstream)."""
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        _settle(venue, 0, 0, 0)

    def warm_up(self, send: Callable[[], None]) -> None:
        """Send run-0 messages until every Multiplexer heard one (they are subscribed, end to end)."""
        deadline = time.monotonic() + LINE_TIMEOUT_S
        while time.monotonic() < deadline:
            send()
            line = self.lines.poll()
            if line == "warm":
                return
            time.sleep(0.05)
        raise TimeoutError(f"{self.lines.name}: not every client subscribed after {LINE_TIMEOUT_S:g} s")

    def result(self, run: int, send_end: Callable[[], None]) -> dict:
        """Send the run's end mark (again every 0.2 s: a client that fell behind may have missed one) until the
        client process reports the run."""
        deadline = time.monotonic() + LINE_TIMEOUT_S
        while time.monotonic() < deadline:
            send_end()
            until = time.monotonic() + 0.2
            while time.monotonic() < until:
                line = self.lines.poll()
                if line is None:
                    time.sleep(0.01)
                    continue
                if line.startswith("{"):
                    result = json.loads(line)
                    if result.get("run") == run:
                        return result
        raise TimeoutError(f"{self.lines.name}: run {run} not reported after {LINE_TIMEOUT_S:g} s")


def _host_busy() -> tuple[float, float]:
    """(CPU seconds busy, all CPUs together; wall seconds) of the whole host, for the load beside ours."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0), time.monotonic()


def _timed_runs(venue: Any, client: _Client, rates: list[int], run_s: float, service_tcp: str | None,
                service: psutil.Process | None) -> list[dict]:
    """Paced runs at each rate, one after the other, timed by `client`'s probe; each row says who spent the CPU
    (percent of one core, from the first message sent to the probe's report) and what was lost: by the probe, by the
    service for any of its clients (its `dropped`), and the venue's slow consumers."""
    server = venue.server
    venue_cpu = _VenueCpu(venue)
    me = psutil.Process()

    def send_now(run: int, end: bool = False) -> None:
        async def one() -> None:
            server._broadcast(STREAM, _message(run, 0, end=end))   # the venue's own publish path
        _on_venue(venue, one)

    def dropped() -> int:
        return _health(service_tcp)["dropped"] if service_tcp else 0

    if client.runs == 0:
        client.warm_up(lambda: send_now(0))
    rows = []
    for rate in rates:
        client.runs += 1
        run = client.runs
        count = max(1, int(rate * run_s))
        slow_before, dropped_before = server.stats["slow_consumers"], dropped()
        before = (venue_cpu.seconds(), _cpu(me), _cpu(service) if service else 0.0, _cpu(client.handle), *_host_busy())

        async def paced(rate: int = rate, count: int = count, run: int = run) -> dict:
            return await _pace(lambda data: server._broadcast(STREAM, data), rate, count, run)
        sent = _on_venue(venue, paced, timeout=run_s * 20 + 30)
        result = client.result(run, functools.partial(send_now, run, True))
        after = (venue_cpu.seconds(), _cpu(me), _cpu(service) if service else 0.0, _cpu(client.handle), *_host_busy())
        wall = after[5] - before[5]
        used = [100 * (a - b) / wall for a, b in zip(after[:5], before[:5], strict=True)]
        row = {"rate": rate, **sent, "received": result["received"], "lost": sent["sent"] - result["received"],
               "service_dropped": dropped() - dropped_before,
               "slow_consumers": server.stats["slow_consumers"] - slow_before,
               "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"], "max_ms": result["max_ms"],
               "behind": result["behind"], "reconnects": result["reconnects"], "sinks_open": result["sinks_open"],
               "venue_cpu_pct": round(used[0]), "service_cpu_pct": round(used[2]) if service else None,
               "client_cpu_pct": round(used[3]), "host_busy_pct": round(used[4]),
               "others_cpu_pct": max(0, round(used[4] - used[1] - used[2] - used[3]))}
        # kept up: everything delivered at the rate, no standing queue (p50 under the limit); ok: and the p99 too
        row["kept_up"] = bool(row["lost"] == 0 and row["service_dropped"] == 0 and row["slow_consumers"] == 0
                              and not row["reconnects"] and sent["sent_per_s"] and sent["sent_per_s"] >= 0.9 * rate
                              and row["p50_ms"] is not None and row["p50_ms"] < P99_LIMIT_MS)
        row["ok"] = bool(row["kept_up"] and row["p99_ms"] < P99_LIMIT_MS)
        rows.append(row)
    return rows


PATHS = ("direct", "service (unix)", "service (tcp)")


def latency_and_fanout_benchmark(run_s: float = 2.0, rates: tuple[int, ...] = FANOUT_RATES) -> tuple[dict, dict]:
    """(latency: one client at LATENCY_RATE on each path, fanout: FANOUT_CLIENTS clients at rising rates)."""
    from hive_core.sim.background import venue_thread

    latency_rows: dict[str, dict] = {}
    low_rows: dict[str, dict] = {}
    fanout_rows: dict[str, list[dict]] = {}
    with venue_thread(step_interval=3600.0) as venue, tempfile.TemporaryDirectory(prefix="hive-feed-") as directory, \
            _processes() as processes:
        folder = Path(directory)
        service, unix, tcp = _start_service(processes, folder)
        service_handle = psutil.Process(service.pid)
        feeds = {"direct": None, "service (unix)": unix, "service (tcp)": tcp}
        for path in PATHS:
            one = _Client(processes, folder, venue.url, feeds[path], 1, f"latency-{path.split()[-1].strip('()')}")
            latency_rows[path], low_rows[path] = _timed_runs(venue, one, [LATENCY_RATE, LOW_RATE], run_s,
                                                             tcp if feeds[path] else None,
                                                             service_handle if feeds[path] else None)
            one.stop(venue)
        beside = _Client(processes, folder, venue.url, unix, 1, "latency-stalled", stalled=1)
        stalled_rows = _timed_runs(venue, beside, [LATENCY_RATE, LOW_RATE], run_s, tcp, service_handle)
        beside.stop(venue)
        for path in PATHS:
            fanout_rows[path] = []
            client: _Client | None = None
            for rate in rates:
                if client is not None and time.monotonic() - client.started > SINK_LIFE_S:
                    client.stop(venue)     # a new one before its sinks' unanswered pings get them closed
                    client = None
                if client is None:
                    client = _Client(processes, folder, venue.url, feeds[path], FANOUT_CLIENTS,
                                     f"fanout-{path.split()[-1].strip('()')}")
                [row] = _timed_runs(venue, client, [rate], run_s, tcp if feeds[path] else None,
                                    service_handle if feeds[path] else None)
                fanout_rows[path].append(row)
                if not row["kept_up"]:
                    break      # the rates above cannot be kept up with either
            if client is not None:
                client.stop(venue)
    direct = latency_rows["direct"]
    low = low_rows["direct"]
    latency = {"rate": LATENCY_RATE, "run_s": run_s, "paths": latency_rows, "target_added_p99_ms": ADDED_P99_TARGET_MS,
               "added_p50_ms": {path: _minus(latency_rows[path]["p50_ms"], direct["p50_ms"]) for path in PATHS[1:]},
               "added_p99_ms": {path: _minus(latency_rows[path]["p99_ms"], direct["p99_ms"]) for path in PATHS[1:]},
               "low_rate": LOW_RATE, "low_paths": low_rows,
               "low_added_p50_ms": {path: _minus(low_rows[path]["p50_ms"], low["p50_ms"]) for path in PATHS[1:]},
               "low_added_p99_ms": {path: _minus(low_rows[path]["p99_ms"], low["p99_ms"]) for path in PATHS[1:]},
               "beside_stalled": {"path": "service (unix)", "rows": stalled_rows}}
    fanout = {"clients": FANOUT_CLIENTS, "client_processes": 1,
              "clients_are": "1 timed Multiplexer and 9 byte sinks (raw WebSocket readers, polled every "
                             f"{SINK_POLL_S * 1000:g} ms) in one process",
              "run_s": run_s, "p99_limit_ms": P99_LIMIT_MS,
              "paths": {path: {"rows": rows, "max_rate": max((row["rate"] for row in rows if row["ok"]), default=None),
                               "max_kept_up": _highest(rows, "kept_up")}
                        for path, rows in fanout_rows.items()}}
    return latency, fanout


def _highest(rows: list[dict], key: str) -> int | None:
    """The highest rate up to which every row had `key`."""
    best = None
    for row in rows:
        if not row[key]:
            break
        best = row["rate"]
    return best


def _minus(a: float | None, b: float | None) -> float | None:
    return round(a - b, 3) if a is not None and b is not None else None


# ---- 4. framing alone: WebSocket against newline-delimited JSON over a Unix socket -------------------------------


def _sink_main(mode: str, path: str) -> int:
    """Connects to the writer listening on the Unix socket `path` and reads its messages as an instance reads the
    service: WebSocket frames through hive_core's stream socket, or newline-delimited JSON lines. Prints, per run, the
    latencies of its messages and how fast they came (from the first one's stamp to the end mark's arrival)."""
    from hive_core.market.stream_socket import open_stream

    async def main() -> None:
        samples: list[int] = []
        first = [0]

        def on_message(raw: str | bytes, _frame: bytes | None = None) -> None:
            received = time.monotonic_ns()
            data = json.loads(raw)["data"]
            if "end" in data:
                span = (received - first[0]) / 1e9 if first[0] else 0.0
                print(json.dumps({"run": data["r"], "received": len(samples), **_percentiles(samples),
                                  "per_s": round(len(samples) / span) if span else None}), flush=True)
                samples.clear()
                first[0] = 0
            elif data["r"]:
                if not first[0]:
                    first[0] = data["ns"]
                samples.append(received - data["ns"])

        if mode == "ws":
            socket = await open_stream(f"unix:{path}/stream", on_message, 10.0)
            print("connected", flush=True)
            await socket.wait_closed()
        else:
            reader, _writer = await asyncio.open_unix_connection(path, limit=2**20)
            print("connected", flush=True)
            while line := await reader.readline():
                on_message(line)

    asyncio.run(main())
    return 0


class _Writer:
    """The writing end, listening on a Unix socket for the one sink: `write(data)` now, as the feed service writes (a
    whole server frame, or a line, handed to the transport); what the socket cannot take yet waits for `drain()`."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.transport: asyncio.WriteTransport | None = None
        self.server: Any = None
        self._connected = asyncio.Event()
        self._done = asyncio.Event()

    async def listen(self, path: str) -> None:
        if self.mode == "ws":
            from websockets.asyncio.server import ServerConnection, unix_serve

            async def serve_ws(connection: ServerConnection) -> None:
                self.transport = connection.transport
                self._connected.set()
                await self._done.wait()
                await connection.close()
            self.server = await unix_serve(serve_ws, path, compression=None, max_size=2**20)
        else:
            async def serve_lines(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                self.transport = writer.transport
                self._connected.set()
                await self._done.wait()
                writer.close()
            self.server = await asyncio.start_unix_server(serve_lines, path)

    async def connected(self, timeout: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    def write(self, data: str) -> None:
        from hive_core.market.ws_frames import server_frame

        assert self.transport is not None
        text = f'{{"stream":"{STREAM}","data":{data}}}'.encode()
        self.transport.write(server_frame(text) if self.mode == "ws" else text + b"\n")

    async def drain(self) -> None:
        transport = self.transport
        while transport is not None and not transport.is_closing() and transport.get_write_buffer_size() > MB:
            await asyncio.sleep(0.001)

    async def close(self) -> None:
        self._done.set()
        self.server.close()
        await self.server.wait_closed()


async def _framing_runs(writer: _Writer, rate: int, run_s: float, blast: int) -> list[dict]:
    """Into the sink: a run paced at `rate`, then `blast` messages as fast as its reading allows, each followed by its
    end mark; what was sent."""
    sent = []
    for run, (pace, count) in enumerate(((rate, max(1, int(rate * run_s))), (0, blast)), start=1):
        sent.append(await _pace(writer.write, pace, count, run, writer.drain))
        writer.write(_message(run, 0, end=True))
        await writer.drain()
    return sent


def framing_benchmark(run_s: float = 2.0, blast: int = 100_000) -> dict:
    """WebSocket frames against newline-delimited JSON, one process to another over a Unix socket."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="hive-feed-") as directory, _processes() as processes:
        folder = Path(directory)
        for mode, label in (("ws", "websocket"), ("ndjson", "newline-delimited json")):
            path = str(folder / f"sink-{mode}.sock")

            async def runs(mode: str = mode, path: str = path) -> tuple[list[dict], list[dict]]:
                """What was sent, and what the sink reported of it (read while the socket is still being written)."""
                writer = _Writer(mode)
                await writer.listen(path)
                try:
                    _sink, lines = _child(processes, [sys.executable, "-m", "benchmarks.feed", "sink", "--mode",
                                                      mode, "--path", path], f"sink-{mode}", folder)
                    await writer.connected(LINE_TIMEOUT_S)
                    if await asyncio.to_thread(lines.next) != "connected":
                        raise RuntimeError(f"the {mode} sink did not connect")
                    sent = await _framing_runs(writer, LATENCY_RATE, run_s, blast)
                    return sent, [json.loads(await asyncio.to_thread(lines.next)) for _ in sent]
                finally:
                    await writer.close()
            sent, (paced, fastest) = asyncio.run(asyncio.wait_for(runs(), run_s * 10 + 60))
            rows.append({"framing": label, "rate": LATENCY_RATE, "p50_ms": paced["p50_ms"], "p99_ms": paced["p99_ms"],
                         "max_ms": paced["max_ms"], "lost": sent[0]["sent"] - paced["received"], "blast": blast,
                         "blast_lost": sent[1]["sent"] - fastest["received"], "throughput_per_s": fastest["per_s"]})
    return {"transport": "unix socket, one writer process to one reader process (as the service writes and an "
                         "instance reads)", "run_s": run_s, "rows": rows}


# ---- all of it ---------------------------------------------------------------------------------------------------


def feed_benchmark(instances: int = INSTANCES, seconds: float = 10.0, rates: tuple[int, ...] = FANOUT_RATES) -> dict:
    """Every part; `instances` 0 leaves out the sharing part (its processes). `seconds`: the sharing window; the
    paced runs take a fifth of it each (0.2 s at least, 2 s at most). `rates`: the fan-out's, climbed in order."""
    run_s = max(0.2, min(2.0, seconds / 5))
    load_before = os.getloadavg()
    sharing = sharing_benchmark(instances, seconds) if instances > 0 else None
    latency, fanout = latency_and_fanout_benchmark(run_s, rates)
    framing = framing_benchmark(run_s, blast=max(10_000, int(50_000 * run_s)))
    framing["choice"] = _framing_choice(latency, fanout, framing)
    return {"sharing": sharing, "latency": latency, "fanout": fanout, "framing": framing,
            "load": {"cpus": psutil.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
                     "loadavg_after": [round(x, 2) for x in os.getloadavg()]}}


def _framing_choice(latency: dict, fanout: dict, framing: dict) -> dict:
    """The figures the framing is chosen by, side by side: the service's Unix socket against its TCP port (added
    latency, its CPU, the fan-out kept up with), and WebSocket frames against newline-delimited JSON (one hop)."""
    unix, tcp = "service (unix)", "service (tcp)"
    ws, lines = framing["rows"]
    return {
        "added_p50_ms": {"unix": latency["added_p50_ms"][unix], "tcp": latency["added_p50_ms"][tcp]},
        "added_p50_ms_low_rate": {"unix": latency["low_added_p50_ms"][unix], "tcp": latency["low_added_p50_ms"][tcp]},
        "service_cpu_pct": {"unix": latency["paths"][unix]["service_cpu_pct"],
                            "tcp": latency["paths"][tcp]["service_cpu_pct"]},
        "fanout_kept_up": {"unix": fanout["paths"][unix]["max_kept_up"], "tcp": fanout["paths"][tcp]["max_kept_up"]},
        "one_hop_per_s": {"websocket": ws["throughput_per_s"], "ndjson": lines["throughput_per_s"]},
        "ndjson_over_websocket": _ratio(lines["throughput_per_s"] or 0, ws["throughput_per_s"] or 0)}


_CPU_HEADER = f"{'venue %':>7} | {'service %':>9} | {'client %':>8} | {'others %':>8}"


def _cpu_cells(row: dict) -> str:
    service = f"{row['service_cpu_pct']}" if row["service_cpu_pct"] is not None else "-"
    return f"{row['venue_cpu_pct']:>7} | {service:>9} | {row['client_cpu_pct']:>8} | {row['others_cpu_pct']:>8}"


def rates_of(text: str) -> tuple[int, ...]:
    """'1000,2000' -> (1000, 2000)."""
    return tuple(int(rate) for rate in text.split(",") if rate.strip())


def _ms(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "n/a"


def print_feed(result: dict) -> None:
    load = result["load"]
    print(f"feed service: one upstream connection shared by the host's instances ({load['cpus']} CPUs, load "
          f"{load['loadavg_before'][0]:.2f} before, {load['loadavg_after'][0]:.2f} after)")
    sharing = result["sharing"]
    if sharing is None:
        print("  sharing: skipped (no instances)")
    else:
        print(f"  sharing: {sharing['instances']} instances x {sharing['strategies_per_instance']} market makers on "
              f"{len(sharing['pairs'])} pairs ({sharing['streams']} streams), measured over {sharing['window_s']:g} s")
        print(f"  {'side':>7} | {'venue conns':>11} | {'venue subs':>10} | {'USS MB':>7} | {'PSS MB':>7} | "
              f"{'CPU s':>6} | {'venue CPU s':>11} | {'of which service':>22}")
        for side in sharing["sides"]:
            service = (f"{side['service_pss_mb']:.1f} MB, {side['service_cpu_s']:.2f} s" if "service_pss_mb" in side
                       else "")
            print(f"  {side['side']:>7} | {side['stream_connections']:>11} | {side['subscriptions_total']:>10} | "
                  f"{side['uss_mb']:7.1f} | {side['pss_mb']:7.1f} | {side['cpu_s']:6.2f} | "
                  f"{side['venue_cpu_s']:11.2f} | {service:>22}")
        for side in sharing["sides"]:
            if not side["settled"]:
                print(f"  (the {side['side']} side: the venue's view had not settled after {side['settle_s']:g} s)")
        print(f"  feed / direct: venue connections ×{sharing['connection_ratio']}, subscriptions "
              f"×{sharing['subscription_ratio']}, PSS ×{sharing['pss_ratio']}, USS ×{sharing['uss_ratio']}, "
              f"CPU ×{sharing['cpu_ratio']}, the venue's CPU ×{sharing['venue_cpu_ratio']}")
    latency = result["latency"]
    print(f"  added latency: venue socket -> subscriber callback, one client, paced runs of {latency['run_s']:g} s "
          f"(CPU: % of one core while sent and handled; others: the host's other load)")
    print(f"  {'path':>15} | {'msg/s':>6} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | {'lost':>4} | "
          f"{'+p50 ms':>7} | {'+p99 ms':>7} | {_CPU_HEADER}")
    for rate, rows, p50s, p99s in ((latency["rate"], latency["paths"], latency["added_p50_ms"],
                                    latency["added_p99_ms"]),
                                   (latency["low_rate"], latency["low_paths"], latency["low_added_p50_ms"],
                                    latency["low_added_p99_ms"])):
        for path, row in rows.items():
            print(f"  {path:>15} | {rate:>6} | {_ms(row['p50_ms']):>7} | {_ms(row['p99_ms']):>7} | "
                  f"{_ms(row['max_ms']):>7} | {row['lost'] + row['service_dropped']:>4} | {_ms(p50s.get(path)):>7} | "
                  f"{_ms(p99s.get(path)):>7} | {_cpu_cells(row)}")
    print(f"  (target: under {latency['target_added_p99_ms']:g} ms added at p99 at {latency['rate']:,} msg/s)")
    beside = latency["beside_stalled"]
    for row in beside["rows"]:
        alone = (latency["paths"] if row["rate"] == latency["rate"] else latency["low_paths"])[beside["path"]]
        print(f"  with a client that reads nothing beside it ({beside['path']}), {row['rate']:,} msg/s: p50 / p99 "
              f"{_ms(row['p50_ms'])} / {_ms(row['p99_ms'])} ms (alone {_ms(alone['p50_ms'])} / "
              f"{_ms(alone['p99_ms'])}), {row['lost']} lost; the service dropped {row['service_dropped']:,} of the "
              f"stalled one's messages")
    fanout = result["fanout"]
    print(f"  fan-out: {fanout['clients']} connections ({fanout['clients_are']}), rising rates of {fanout['run_s']:g} "
          f"s each, climbed while kept up with")
    print(f"  {'path':>15} | {'msg/s':>6} | {'sent/s':>6} | {'p50 ms':>7} | {'p99 ms':>7} | {'lost':>6} | "
          f"{_CPU_HEADER} | ok")
    for path, entry in fanout["paths"].items():
        for row in entry["rows"]:
            print(f"  {path:>15} | {row['rate']:>6} | {row['sent_per_s'] or 0:>6} | {_ms(row['p50_ms']):>7} | "
                  f"{_ms(row['p99_ms']):>7} | {row['lost'] + row['service_dropped']:>6} | {_cpu_cells(row)} | "
                  f"{'yes' if row['ok'] else 'no'}")
        print(f"  {path:>15}: highest rate with p99 < {fanout['p99_limit_ms']:g} ms: {entry['max_rate'] or 'none'}; "
              f"kept up with (all delivered, p50 < {fanout['p99_limit_ms']:g} ms): {entry['max_kept_up'] or 'none'}")
    framing = result["framing"]
    print(f"  framing alone ({framing['transport']}): {LATENCY_RATE:,} msg/s paced, then as fast as possible")
    print(f"  {'framing':>22} | {'p50 ms':>7} | {'p99 ms':>7} | {'lost':>5} | {'msg/s at most':>13}")
    for row in framing["rows"]:
        print(f"  {row['framing']:>22} | {_ms(row['p50_ms']):>7} | {_ms(row['p99_ms']):>7} | "
              f"{row['lost'] + row['blast_lost']:>5} | {row['throughput_per_s'] or 0:>13,}")
    choice = framing["choice"]
    print(f"  framing, unix socket vs TCP: added p50 {_ms(choice['added_p50_ms']['unix'])} vs "
          f"{_ms(choice['added_p50_ms']['tcp'])} ms at {latency['rate']:,} msg/s, "
          f"{_ms(choice['added_p50_ms_low_rate']['unix'])} vs {_ms(choice['added_p50_ms_low_rate']['tcp'])} ms at "
          f"{latency['low_rate']:,}; service CPU {choice['service_cpu_pct']['unix']}% vs "
          f"{choice['service_cpu_pct']['tcp']}% at {latency['rate']:,}; fan-out kept up with "
          f"{choice['fanout_kept_up']['unix'] or 'none'} vs {choice['fanout_kept_up']['tcp'] or 'none'} msg/s; "
          f"WebSocket vs newline-delimited JSON (one hop): {choice['one_hop_per_s']['websocket'] or 0:,} vs "
          f"{choice['one_hop_per_s']['ndjson'] or 0:,} msg/s (×{choice['ndjson_over_websocket']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.feed", description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=INSTANCES, help="instances per side (0: no sharing part)")
    parser.add_argument("--seconds", type=float, default=10.0, help="the sharing window (paced runs: a fifth)")
    parser.add_argument("--rates", default=",".join(map(str, FANOUT_RATES)), help="the fan-out's rates, msg/s")
    roles = parser.add_subparsers(dest="role")
    client = roles.add_parser("client", help="(internal) Multiplexers that time each message")
    client.add_argument("--venue", required=True)
    client.add_argument("--feed")
    client.add_argument("--clients", type=int, default=1)
    client.add_argument("--stream", default=STREAM)
    client.add_argument("--stalled", type=int, default=0, help="connections that subscribe and never read")
    sink = roles.add_parser("sink", help="(internal) the framing micro-benchmark's reader (it connects to `--path`)")
    sink.add_argument("--mode", choices=("ws", "ndjson"), required=True)
    sink.add_argument("--path", required=True)
    args = parser.parse_args(argv)
    if args.role == "client":
        return _client_main(args.venue, args.feed, args.clients, args.stream, args.stalled)
    if args.role == "sink":
        return _sink_main(args.mode, args.path)
    print_feed(feed_benchmark(args.instances, args.seconds, rates_of(args.rates)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
