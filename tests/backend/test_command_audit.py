"""Commands that reach a bot by any path are visible: a REAL hive_core instance under the backend, commanded by a
foreign controller (hbotrc style, raw MQTT on the backend's broker) and through Hive's own API. The bot's report
shows in the instance's reason, the audit trail (origin mqtt, or the operator's one row) and its notifications."""
from __future__ import annotations

import json

import pytest

from backend.errors import TimedOut
from backend.orchestrator.command_audit import CommandAudit
from backend.orchestrator.fleet import Fleet
from backend.orchestrator.recorder import FleetRecorder
from backend.store import AuditRow, Store
from backend.store.repositories.events import EventRepository
from tests.backend.conftest import USERNAME, broker_login
from tests.mqtt_probe import foreign_client
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(150)

COMMLIB = {"timestamp": 1, "content_type": "json", "encoding": "utf8", "agent": "commlib"}
STRATEGIES = [{"id": "mm1", "strategy": "market_maker", "params": {"spread_bps": 5}},
              {"id": "mm2", "strategy": "market_maker", "params": {"spread_bps": 8}}]


@pytest.fixture
def bot(real_backend):
    """A running two-strategy instance `cmd1` whose strategies are both reported running."""
    client = real_backend.client
    client.create_instance({"name": "cmd1", "strategies": STRATEGIES, "restart_policy": {"policy": "never"}})
    wait_until(lambda: (i := client.get_instance("cmd1"))["state"] == "running"
               and [s["status"] for s in i["strategies"]] == ["running", "running"], 30, message="cmd1 running")
    return client


@pytest.fixture
def hbotrc(real_backend):
    status = real_backend.client.broker_status()
    client = foreign_client("127.0.0.1", status["port"], broker_login(real_backend.client))
    yield client
    client.close()


def foreign(hbotrc, command: str, data: dict, reply_to: str) -> dict:
    """One command as hbotrc sends it (commlib header, its own reply topic); returns the reply's data."""
    hbotrc.publish(f"hbot/cmd1/{command}", {"header": {**COMMLIB, "reply_to": reply_to}, "data": data})
    return hbotrc.wait_for(reply_to, timeout=15)[0].json()["data"]


def commands(client) -> list[dict]:
    return [entry for entry in client.audit_log(instance="cmd1") if entry["action"] == "command"]


def test_a_foreign_stop_is_shown_audited_and_notified_and_a_foreign_resume_clears_it(bot, hbotrc) -> None:
    client = bot
    assert foreign(hbotrc, "stop", {"async_backend": False}, "rpc-stop1")["status"] == 200

    hbotrc.wait_for("hbot/cmd1/notify", lambda m: m.json().get("command", {}).get("name") == "stop", timeout=10)
    stopped = wait_until(lambda: (i := client.get_instance("cmd1"))["reason"].startswith("all strategies stopped")
                         and i, 15, message="the reason names the stop")
    assert stopped["state"] == "running"
    assert "(stop command from commlib at " in stopped["reason"] and "heartbeat received" in stopped["reason"]
    assert [s["status"] for s in stopped["strategies"]] == ["stopped", "stopped"]
    [entry] = wait_until(lambda: commands(client), 10, message="the foreign stop audited")
    assert entry["origin"] == "mqtt" and entry["actor"] == "mqtt:commlib" and entry["instance"] == "cmd1"
    assert entry["outcome"] == "ok" and entry["detail"] == "stop from commlib (reply_to rpc-stop1): ok"
    notes = client.instance_notifications("cmd1")
    assert any(n["msg"] == "command stop from commlib (reply_to rpc-stop1): ok" for n in notes)

    # one strategy back: a subset is stopped; then the other one: plainly running again
    assert foreign(hbotrc, "start", {"strategy": "mm1", "async_backend": False}, "rpc-start1")["status"] == 200
    wait_until(lambda: client.get_instance("cmd1")["reason"].startswith("1 of 2 strategies stopped (stop command"),
               15, message="one of two stopped")
    assert foreign(hbotrc, "strategy/resume", {"strategy": "mm2"}, "rpc-resume2")["status"] == 200
    running = wait_until(lambda: (i := client.get_instance("cmd1"))["reason"].startswith("heartbeat received")
                         and i, 15, message="plainly running again")
    assert running["state"] == "running" and "stopped" not in running["reason"]
    entries = wait_until(lambda: (found := commands(client)) and len(found) == 3 and found, 10,
                         message="three foreign commands audited")
    assert [(e["detail"].split(" from ")[0], e["origin"]) for e in entries] == [
        ("strategy/resume for mm2", "mqtt"), ("start for mm1", "mqtt"), ("stop", "mqtt")]


def test_a_stop_through_the_api_is_audited_once_for_the_operator(bot, hbotrc) -> None:
    client = bot
    reply = client.command("cmd1", "stop", {"async_backend": False}, strategy="mm2")
    assert reply["status"] == 200
    client.command("cmd1", "status", {"async_backend": False})        # a read: not audited
    # the bot's report of it arrives and is linked to the operator's row, not audited again
    report = hbotrc.wait_for("hbot/cmd1/notify", lambda m: m.json().get("command", {}).get("name") == "stop",
                             timeout=10)[0].json()
    assert report["command"]["origin"]["agent"] == "hive-backend" and report["command"]["strategy"] == "mm2"
    wait_until(lambda: client.get_instance("cmd1")["reason"].startswith(
        "1 of 2 strategies stopped (stop command for mm2 from hive-backend at "), 15, message="one stopped")
    # a later foreign command is audited after the report was processed: its row proves the recorder ran
    assert foreign(hbotrc, "balance/paper", {"asset": "USDT", "amount": 500}, "rpc-bal")["status"] == 200
    entries = wait_until(lambda: (found := commands(client)) and len(found) == 2 and found, 10,
                         message="the foreign command audited")
    assert [(e["origin"], e["actor"], e["outcome"]) for e in entries] == [
        ("mqtt", "mqtt:commlib", "ok"), ("api", f"user:{USERNAME}", "ok")]
    assert entries[1]["detail"].startswith("stop for mm2") and entries[1]["instance"] == "cmd1"


def report(seq: int, msg_id: str | None = None, agent: str = "commlib", run: str = "r1") -> bytes:
    origin = {"agent": agent, "reply_to": "rpc-1", **({"msg_id": msg_id} if msg_id else {})}
    return json.dumps({"seq": seq, "timestamp": 1, "msg": f"command stop from {agent}: ok", "command": {
        "name": "stop", "strategy": None, "outcome": "ok", "status": 200, "origin": origin, "run": run}}).encode()


def test_a_report_is_audited_once_across_backends_and_restarts_and_ours_are_linked(tmp_path) -> None:
    """Two backends (or one before and after a restart) on one store hear the same reports."""
    store = Store(f"sqlite:///{tmp_path / 'hive.db'}")
    try:
        first, second = Fleet(), Fleet()
        recorders = [FleetRecorder(store, fleet, 100, CommandAudit(store, fleet.connection), 1000)
                     for fleet in (first, second)]
        with store.session() as session:     # what CommandAudit.request writes as it sends an operator's stop
            EventRepository(session).add_audit(AuditRow(ts=1.0, actor="user:op", action="command", outcome="ok",
                                                        detail="stop", instance="b1", origin="api", msg_id="m-ours"))
        for fleet, recorder in zip((first, second), recorders, strict=True):
            fleet.handle("hbot/b1/notify", report(1), 10.0)                       # a foreign stop
            fleet.handle("hbot/b1/notify", report(2, msg_id="m-ours", agent="hive-backend"), 11.0)   # ours
            fleet.handle("hbot/b1/notify", report(1, run="r2"), 12.0)             # the bot restarted: seq 1 again
            recorder.flush()
        with store.session() as session:
            rows = EventRepository(session).newest_audit(10, "b1")
            assert [(r.origin, r.actor, r.report_key) for r in rows] == [
                ("mqtt", "mqtt:commlib", "b1:r2:1"), ("mqtt", "mqtt:commlib", "b1:r1:1"),
                ("api", "user:op", "b1:r1:2")]
    finally:
        store.close()


class ReportFirst:
    """A broker connection on which the bot's report of a command arrives (and is recorded) before its reply, or
    before the request times out: they are two messages, in either order."""

    def __init__(self, fleet: Fleet, reply: dict | None) -> None:
        self.fleet, self.reply = fleet, reply
        self.recorder: FleetRecorder | None = None

    def request(self, bot: str, command: str, data: dict, timeout: float | None, msg_id: str) -> dict:
        assert self.recorder is not None
        self.fleet.handle(f"hbot/{bot}/notify", report(1, msg_id=msg_id, agent="hive-backend"), 10.0)
        self.recorder.flush()
        if self.reply is None:
            raise TimedOut("timeout", f"{bot} did not answer {command} within 1 s")
        return self.reply


@pytest.mark.parametrize(("reply", "outcome", "detail"), [
    ({"status": 200, "msg": ""}, "ok", "stop"),                          # the reply's words, as when it comes first
    ({"status": 400, "msg": "already stopped"}, "error", "stop: already stopped"),
    (None, "ok", "stop; the bot reported it ok"),                        # no reply: the report's outcome stays
])
def test_a_report_before_the_reply_leaves_one_row_in_the_replys_words(tmp_path, reply, outcome, detail) -> None:
    store = Store(f"sqlite:///{tmp_path / 'hive.db'}")
    try:
        fleet = Fleet()
        connection = ReportFirst(fleet, reply)
        audit = CommandAudit(store, connection)  # type: ignore[arg-type]
        connection.recorder = FleetRecorder(store, fleet, 100, audit, 1000)
        try:
            audit.request("user:op", "b1", "stop", {})
        except TimedOut:
            assert reply is None
        with store.session() as session:
            rows = EventRepository(session).newest_audit(10, "b1")
            assert [(r.origin, r.outcome, r.detail, r.report_key) for r in rows] == [
                ("api", outcome, detail, "b1:r1:1")]
    finally:
        store.close()
