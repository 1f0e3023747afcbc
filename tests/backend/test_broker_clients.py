"""Who is connected to the broker (read from its connection messages, incrementally) and its figures over time:
the reader on Mosquitto's own wording, then the real backend with its real embedded broker and real MQTT clients."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from backend.broker.clients import ClientFollower, ConnectedClients, FileLog
from tests.backend.conftest import broker_login
from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

# Mosquitto 2.0.11 with `connection_messages true`, verbatim (a client logging out, one closing its socket, a
# client id taken over by a new connection, and an MQTT 5 client without a login)
MOSQUITTO_LOG = """\
2026-11-30T02:50:30: mosquitto version 2.0.11 starting
2026-11-30T02:50:32: New connection from 127.0.0.1:37201 on port 56231.
2026-11-30T02:50:32: New client connected from 127.0.0.1:37201 as alpha (p2, c1, k60, u'ua').
2026-11-30T02:50:32: Sending CONNACK to alpha (0, 0)
2026-11-30T02:50:33: New client connected from 127.0.0.1:56737 as beta (p2, c1, k60).
2026-11-30T02:50:33: Received DISCONNECT from alpha
2026-11-30T02:50:33: Client alpha disconnected.
2026-11-30T02:50:34: Client beta closed its connection.
2026-11-30T02:50:35: New client connected from 127.0.0.1:51235 as gamma (p2, c1, k60, u'ug').
2026-11-30T02:50:35: Client gamma already connected, closing old connection.
2026-11-30T02:50:35: New client connected from 127.0.0.1:56699 as gamma (p2, c1, k60, u'ug2').
2026-11-30T02:50:36: New client connected from [::1]:33783 as auto-940EBAE3-FCF0 (p5, c1, k60).
2026-11-30T02:50:37: New client connected from 10.0.0.7:4000 as delta (p2, c1, k60, u'ud').
2026-11-30T02:50:38: Socket error on client delta, disconnecting.
2026-11-30T02:50:38: New client connected from 10.0.0.8:4001 as eps (p2, c1, k60, u'ue').
2026-11-30T02:50:39: Client eps has exceeded timeout, disconnecting.
"""


def _lines(text: str, at: float = 1.0) -> list[tuple[float, str]]:
    return [(at, line) for line in text.splitlines()]


def test_mosquittos_connection_messages_give_who_is_connected_with_login_and_address() -> None:
    known = ConnectedClients()
    known.feed(_lines(MOSQUITTO_LOG))
    assert sorted(known.clients) == ["auto-940EBAE3-FCF0", "gamma"]
    gamma = known.clients["gamma"]
    assert (gamma.username, gamma.address, gamma.since) == ("ug2", "127.0.0.1:56699", 1.0)  # the new connection
    assert known.clients["auto-940EBAE3-FCF0"].username is None

    known.feed(_lines("2026-11-30T03:00:00: mosquitto version 2.0.11 starting"))  # the container restarted
    assert known.clients == {}


def test_the_clients_that_left_are_given_once_with_when_unless_they_came_back() -> None:
    pending = [(float(at), line) for at, line in enumerate(MOSQUITTO_LOG.splitlines())]
    follower = ClientFollower(lambda: (False, [pending.pop(0) for _ in range(len(pending))]))
    # alpha logged out, beta closed its socket, delta's socket failed, eps timed out; gamma's old connection was
    # taken over by a new one, which is not a departure
    assert follower.left() == [("alpha", 6.0), ("beta", 7.0), ("delta", 13.0), ("eps", 15.0)]
    assert follower.left() == []  # each once
    pending.extend([(20.0, "2026-11-30T02:51:00: Client gamma disconnected."),
                    (21.0, "2026-11-30T02:51:01: New client connected from 127.0.0.1:5 as gamma (p2, c1, k60).")])
    assert follower.left() == []  # it came back before anyone asked
    pending.extend([(22.0, "2026-11-30T02:51:02: Client gamma disconnected."),
                    (23.0, "2026-11-30T02:51:03: mosquitto version 2.0.11 starting")])
    assert follower.left() == []  # a broker that starts again: everyone is new to it


def test_a_client_id_that_imitates_a_connection_message_is_taken_whole() -> None:
    forged = "x (p2, c1, k60, u'hive-backend'). New client connected from 1.2.3.4:1 as fake (p2, c1, k60)."
    known = ConnectedClients()
    known.feed(_lines(f"INFO: New client connected from 127.0.0.1:1 as {forged} (p2, c1, k60, u'bot-login')."))
    [(client_id, client)] = known.clients.items()
    assert (client_id, client.username) == (forged, "bot-login")
    known.feed(_lines(f"INFO: Client {forged} disconnected."))
    assert known.clients == {}


def test_clients_beyond_the_bound_are_counted_not_kept() -> None:
    known = ConnectedClients(limit=3)
    known.feed(_lines("\n".join(f"New client connected from 127.0.0.1:{n} as c{n} (p2, c1, k60, u'u')." for n in
                                range(5))))
    assert (sorted(known.clients), known.untracked) == (["c0", "c1", "c2"], 2)
    known.feed(_lines("\n".join(f"Client c{n} disconnected." for n in range(5))))
    assert list(known.left) == ["c2", "c3", "c4"]  # the departures not taken yet: the newest


def test_the_log_file_is_read_from_where_the_last_read_ended(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    log.write_text("=== hive: broker start on 127.0.0.1:1 ===\n"
                   "2026-11-30 02:52:09,528 INFO x: New client connected from 127.0.0.1:5 as a (p2, c1, k60, u'u').\n"
                   "2026-11-30 02:52:10,000 INFO x: New client connected from 127.0.0.1:6 as b (p2, c1")
    reads: list[int] = []
    source = FileLog(log)

    def counted() -> tuple[bool, list[tuple[float, str]]]:
        fresh, lines = source()
        reads.append(len(lines))
        return fresh, lines

    follower = ClientFollower(counted)
    [a] = follower.connected()[0]
    assert a.client_id == "a" and a.since == pytest.approx(time.mktime((2026, 11, 30, 2, 52, 9, 0, 0, -1)) + 0.528)
    with log.open("a") as handle:  # the rest of b's line, then a leaves
        handle.write(", k60, u'u').\n2026-11-30 02:52:11,000 INFO x: Client a disconnected.\n")
    assert [c.client_id for c in follower.connected()[0]] == ["b"]
    assert follower.connected()[0][0].client_id == "b" and reads == [2, 2, 0]  # nothing read twice

    log.write_text("2026-11-30 03:00:00,000 INFO x: New client connected from 127.0.0.1:7 as c (p2, c1, k60).\n")
    assert [c.client_id for c in follower.connected()[0]] == ["c"]  # truncated: read afresh, b is gone


def test_connected_clients_are_listed_with_their_bots_and_leave_the_list_when_they_disconnect(client,
                                                                                               running_broker):
    port = running_broker["port"]
    bot_login = broker_login(client, "bot", "alpha")
    tool_login = broker_login(client, "controller")
    bot = MqttProbe("127.0.0.1", port, client_id="hbot.alpha", login=bot_login)
    tool = MqttProbe("127.0.0.1", port, client_id="hbotrc-1", login=tool_login)
    try:
        bot.wait_connected()
        tool.wait_connected()

        def listed() -> dict:
            answer = client.broker_clients()
            by_id = {entry["client_id"]: entry for entry in answer["clients"]}
            return by_id if {"hbot.alpha", "hbotrc-1"} <= set(by_id) else {}

        by_id = wait_until(listed, 10, message="both clients listed")
        alpha = by_id["hbot.alpha"]
        assert (alpha["username"], alpha["role"], alpha["bot"], alpha["who"]) == (bot_login[0], "bot", "alpha",
                                                                                  "bot alpha")
        assert alpha["address"].startswith("127.0.0.1:") and time.time() - alpha["since"] < 60
        assert (by_id["hbotrc-1"]["role"], by_id["hbotrc-1"]["who"]) == ("controller", f"controller {tool_login[0]}")
        backend = [entry for entry in by_id.values() if entry["role"] == "backend"]
        assert sorted(entry["client_id"].split(".")[-2] for entry in backend) == ["control", "telemetry"]
        assert {(entry["who"], entry["username"]) for entry in backend} == {("the backend", "hive-backend")}
        answer = client.broker_clients(limit=1)
        assert (answer["kind"], answer["source"], answer["total"], len(answer["clients"])) == \
            ("embedded", "broker_log", 4, 1)

        tool.close()
        wait_until(lambda: "hbotrc-1" not in {e["client_id"] for e in client.broker_clients()["clients"]}, 10,
                   message="the disconnected client gone from the list")
        assert "hbot.alpha" in {entry["client_id"] for entry in client.broker_clients()["clients"]}
    finally:
        bot.close()
        tool.close()


def test_no_broker_lists_nobody(client):
    answer = client.broker_clients()
    assert (answer["source"], answer["total"], answer["clients"], answer["note"]) == ("none", 0, [], "no broker runs")


def test_an_external_broker_lists_the_bots_heard_on_it_and_says_why(client, mqtt_broker):
    client.use_external_broker(mqtt_broker.host, mqtt_broker.port, *mqtt_broker.credentials)
    probe = mqtt_broker.probe()
    try:
        probe.publish("hbot/heard1/hb", {"timestamp": time.time()})
        answer = wait_until(lambda: (a := client.broker_clients())["clients"] and a, 10, message="heard1 listed")
        assert (answer["kind"], answer["source"]) == ("external", "heard")
        assert "tells nobody who is connected" in answer["note"]
        [heard] = answer["clients"]
        assert (heard["bot"], heard["who"], heard["client_id"]) == ("heard1", "bot heard1", None)
        assert heard["since"] <= heard["last_heard"]
    finally:
        probe.close()


def test_the_brokers_figures_are_sampled_over_time(backend_factory):
    client = backend_factory(broker_metrics_interval=0.5).client
    client.start_broker()

    def points() -> list[dict]:
        found = client.broker_metrics()
        return found if any(p["messages_per_s"] is not None for p in found) and len(found) >= 2 else []

    found = wait_until(points, 15, interval=0.5, message="two samples of the broker's figures")
    assert [p["ts"] for p in found] == sorted(p["ts"] for p in found)
    last = found[-1]
    assert last["memory_bytes"] > 0 and last["clients_connected"] >= 1 and last["cpu_percent"] is not None
    assert client.broker_metrics(since=last["ts"]) == []
