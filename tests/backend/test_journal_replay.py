"""Nothing a bot does while the backend is down is lost: the real backend (`python -m backend`, so that it can be
SIGKILLed), its embedded broker and two real hive_core instances trading on the simulated venue. While the backend
is down (and, in the second test, its broker is killed and another one is up for a while), the bots go on trading;
once the backend is back, its API has every trade, PnL point and log line of the bots' own journals, in order,
each once."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from backend.broker.mosquitto import FULL_RIGHTS, Login
from backend.client import HiveClient
from backend.runtimes.config_file import MQTT_AUTH_NAME
from tests.conftest import EmbeddedBroker, wait_for_port
from tests.frontend.backend_process import BackendProcess
from tests.polling import wait_until

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(420)]

NAMES = ("jr1", "jr2")
NEW_FILLS = 40  # per instance while the backend is down (20 to 30 s of the market maker's trading)
OUTAGE_S = 30.0  # and the backend stays down at least this long: the outage the promise is tested for
START_TIMEOUT = 60.0
CATCH_UP_TIMEOUT = 60.0


def journal(data_dir: Path, name: str) -> list[tuple[int, str, dict]]:
    """The instance's own journal, oldest record first: (seq, topic, payload) of its complete lines."""
    records = []
    for path in sorted((data_dir / "instances" / name / "journal").glob("*.jsonl")):
        for line in path.read_text().split("\n")[:-1]:
            seq, topic, text = line.split(" ", 2)
            records.append((int(seq), topic, json.loads(text)))
    return records


def fills(records: list[tuple[int, str, dict]]) -> list[str]:
    return [str(p["data"]["exchange_trade_id"]) for _s, topic, p in records
            if topic == "events" and p["type"] == "OrderFilled"]


def expected(records: list[tuple[int, str, dict]]) -> dict[str, list]:
    """What the API must show of these records: trade ids, PnL points, log lines, oldest first."""
    pnl = [(p["timestamp"], strategy, figures["global_pnl_quote"]) for _s, topic, p in records if topic == "pnl"
           for strategy, figures in p["strategies"].items()]
    logs = [(p["logger_name"], p["msg"]) if topic == "log" else ("hive.notify", p["msg"])
            for _s, topic, p in records if topic in ("log", "notify")]
    return {"trades": fills(records), "pnl": pnl, "logs": logs}


def stored(client: HiveClient, name: str) -> dict[str, list]:
    trades = [t["trade_id"] for t in reversed(client.instance_trades(name, limit=10_000))]
    pnl = [(p["ts"], p["strategy"], p["total"]) for p in client.instance_performance(name)]
    logs = [(line["logger_name"], line["msg"]) for line in client.instance_logs(name, limit=5000)]
    return {"trades": trades, "pnl": pnl, "logs": logs}


def first_difference(want: dict[str, list], have: dict[str, list]) -> str:
    for kind, items in want.items():
        if have[kind] != items:
            at = next((i for i, (a, b) in enumerate(zip(items, have[kind], strict=False)) if a != b),
                      min(len(items), len(have[kind])))
            return (f"{kind}: {len(items)} in the journal, {len(have[kind])} stored; first difference at {at}: "
                    f"{items[at:at + 2]} vs {have[kind][at:at + 2]}")
    return "equal"


@pytest.fixture
def fleet(tmp_path: Path):
    """A backend process with its broker and two trading instances; everything ended by pid at teardown."""
    backend = BackendProcess(tmp_path / "data")
    backend.start()
    client = HiveClient(backend.url, backend.username, backend.password, timeout=30)
    brokers: list[int] = []
    try:
        brokers.append(client.start_broker()["pid"])
        for name in NAMES:
            client.create_instance({"name": name, "strategies": [
                {"id": "mm", "strategy": "market_maker", "params": {"spread_bps": 2}, "interval": 0.5}]})
        for name in NAMES:
            wait_until(lambda n=name: client.get_instance(n)["state"] == "running", START_TIMEOUT,
                       message=f"{name} running")
            wait_until(lambda n=name: client.instance_trades(n), START_TIMEOUT, message=f"a trade of {name} stored")
        yield backend, client, brokers
    finally:
        client.close()
        backend.stop()
        for pid in brokers:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def kill_backend(backend: BackendProcess) -> dict[str, int]:
    """SIGKILL it; returns how many records each instance had journaled then."""
    assert backend.process is not None
    backend.process.send_signal(signal.SIGKILL)
    backend.process.wait(timeout=10)
    return {name: len(journal(backend.data_dir, name)) for name in NAMES}


def trade_on(data_dir: Path, count: int, until: float = 0.0) -> None:
    """Wait until each instance has journaled `count` more fills (and the monotonic clock has passed `until`)."""
    before = {name: len(fills(journal(data_dir, name))) for name in NAMES}
    wait_until(lambda: all(len(fills(journal(data_dir, n))) >= before[n] + count for n in NAMES)
               and time.monotonic() >= until, 120, message=lambda: f"{count} more fills per instance (had {before})")


def caught_up_and_equal(backend: BackendProcess, client: HiveClient, at_kill: dict[str, int]) -> None:
    """Once back: the fills journaled during the outage are stored within a bounded wait (the time is returned);
    then, the instances stopped, the API equals each journal exactly."""
    data_dir = backend.data_dir
    missed = {name: len(journal(data_dir, name)) - at_kill[name] for name in NAMES}
    at_restart = {name: fills(journal(data_dir, name)) for name in NAMES}
    started = time.monotonic()
    for name in NAMES:
        wait_until(lambda n=name: stored(client, n)["trades"][:len(at_restart[n])] == at_restart[n],
                   CATCH_UP_TIMEOUT, message=lambda n=name: first_difference(
                       {"trades": at_restart[n]}, {"trades": stored(client, n)["trades"]}))
    catch_up_s = time.monotonic() - started
    for name in NAMES:
        client.stop_instance(name)
        wait_until(lambda n=name: client.get_instance(n)["state"] == "stopped", START_TIMEOUT,
                   message=f"{name} stopped")
    for name in NAMES:
        want = expected(journal(data_dir, name))
        wait_until(lambda n=name, w=want: stored(client, n) == w, CATCH_UP_TIMEOUT,
                   message=lambda n=name, w=want: f"{n}: {first_difference(w, stored(client, n))}")
        have = stored(client, name)
        assert len(set(have["trades"])) == len(have["trades"]) and len(set(have["pnl"])) == len(have["pnl"])
    figures: dict[str, float] = {"catch_up_s": round(catch_up_s, 2)}
    for name in NAMES:
        records = journal(data_dir, name)
        stamps = [p["timestamp"] for _s, topic, p in records if topic == "pnl"]
        size = sum(p.stat().st_size for p in (data_dir / "instances" / name / "journal").glob("*.jsonl"))
        figures.update({f"{name}_missed_records": missed[name], f"{name}_records": len(records),
                        f"{name}_fills": len(fills(records)),
                        f"{name}_journal_mb_per_hour": round(size / (stamps[-1] - stamps[0]) * 3600 / 1e6, 1)})
    print(f"\njournal replay figures: {figures}")


def test_fills_pnl_and_logs_made_while_the_backend_is_killed_reach_the_store_exactly_once(fleet) -> None:
    backend, client, _brokers = fleet
    at_kill = kill_backend(backend)
    trade_on(backend.data_dir, NEW_FILLS, until=time.monotonic() + OUTAGE_S)
    backend.start()
    caught_up_and_equal(backend, client, at_kill)


def test_the_same_with_the_broker_killed_and_another_one_up_during_the_outage(fleet) -> None:
    backend, client, brokers = fleet
    port = backend.broker_port
    at_kill = kill_backend(backend)
    down_until = time.monotonic() + OUTAGE_S
    trade_on(backend.data_dir, NEW_FILLS // 2)
    os.killpg(brokers[0], signal.SIGKILL)            # the broker goes: what the bots sent in flight is lost
    trade_on(backend.data_dir, NEW_FILLS // 2)        # nobody to publish to
    interim = EmbeddedBroker()
    interim.port = port
    for name in NAMES:                                # the bots' own logins (from their 0600 files) may connect
        login = json.loads((backend.data_dir / "instances" / name / MQTT_AUTH_NAME).read_text())
        interim.grant(Login(login["mqtt_username"], login["mqtt_password"]), FULL_RIGHTS)
    interim.start()                                   # a broker again, with no backend subscribed to it
    heartbeats = interim.probe()
    try:
        heartbeats.subscribe("hbot/+/hb")
        wait_until(lambda: {m.topic.split("/")[1] for m in heartbeats.received("hbot/+/hb")} == set(NAMES), 30,
                   message="both bots connected to the interim broker")
        trade_on(backend.data_dir, NEW_FILLS // 2, until=down_until)  # published (and flushed) to nobody
    finally:
        heartbeats.close()
        interim.stop()
    backend.start()                                   # its broker is gone: the operator starts one
    assert client.broker_status()["state"] != "running"
    brokers.append(client.start_broker()["pid"])
    wait_for_port("127.0.0.1", port)
    caught_up_and_equal(backend, client, at_kill)
