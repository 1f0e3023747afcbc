"""An external bot's state, derived from what it says (backend/orchestrator/said.py, state.external_state): pure
functions, fed the messages a Hummingbot bot sends (hummingbot/remote_iface/mqtt.py)."""
from __future__ import annotations

import json
import time

from backend.orchestrator.fleet import Fleet
from backend.orchestrator.lifecycle import State
from backend.orchestrator.said import Said, of_notification, of_reply
from backend.orchestrator.state import external_state, is_late

TIMEOUT = 30.0


def feed(fleet: Fleet, bot: str, kind: str, payload: dict, now: float) -> None:
    fleet.handle(f"hbot/{bot}/{kind}", json.dumps(payload).encode(), now)


def state(fleet: Fleet, bot: str, now: float) -> tuple[State, str]:
    view = fleet.bot(bot)
    assert view is not None
    return external_state(view, now, False, "the broker at 127.0.0.1:1883", TIMEOUT, TIMEOUT * 2 / 3, 0.0)


def test_hummingbots_notifications_say_whether_its_strategy_runs() -> None:
    assert of_notification("Hummingbot stopped.", None, 5.0) == Said(False, 5.0, 'notified "Hummingbot stopped."')
    assert of_notification("\nStatus check complete. Strategy 'v2_with_controllers' started successfully.",
                           None, 6.0).running is True
    assert of_notification("Status checks failed. Start aborted.", None, 7.0).running is False
    assert of_notification('The bot is already running - please run "stop" first', None, 8.0).running is True
    assert of_notification("\nWinding down...", None, 9.0) is None
    assert of_notification("x" * 500 + " Hummingbot stopped.", None, 9.0).words.endswith('…"')


def test_hive_core_command_reports_of_the_whole_bot_say_so_too_but_not_those_of_one_strategy() -> None:
    assert of_notification("command stop", {"name": "stop", "outcome": "ok"}, 1.0) == Said(False, 1.0,
                                                                                           "reported stop")
    assert of_notification("command start", {"name": "start", "outcome": "ok"}, 2.0).running is True
    assert of_notification("command stop for mm1", {"name": "stop", "outcome": "ok", "strategy": "mm1"}, 3.0) is None
    assert of_notification("command stop", {"name": "stop", "outcome": "error"}, 4.0) is None


def test_command_replies_say_whether_its_strategy_runs() -> None:
    assert of_reply("stop", {}, {"status": 200, "msg": ""}, 1.0) == Said(False, 1.0, "answered stop with 200")
    assert of_reply("start", {}, {"status": 200, "msg": ""}, 2.0).running is True
    assert of_reply("status", {}, {"status": 400, "msg": "No strategy is currently running!"}, 3.0) == Said(
        False, 3.0, 'answered status with 400 "No strategy is currently running!"')
    assert of_reply("start", {}, {"status": 400, "msg": "Strategy check: Please import or create a strategy."},
                    4.0).running is False
    assert of_reply("start", {}, {"status": 400, "msg": 'The bot is already running - please run "stop" first'},
                    5.0).running is True
    assert of_reply("status", {}, {"status": 200, "msg": "..."}, 6.0) is None          # hive_core: says nothing
    assert of_reply("stop", {"strategy": "mm1"}, {"status": 200}, 7.0) is None         # one strategy of many
    assert of_reply("config", {}, {"status": 400, "msg": "not available in headless mode"}, 8.0) is None


def test_heartbeats_alone_keep_it_connected_and_running() -> None:
    fleet = Fleet()
    feed(fleet, "hb1", "status_updates", {"timestamp": 1, "type": "availability", "msg": "online"}, 100.0)
    feed(fleet, "hb1", "hb", {"ts": 1}, 101.0)
    current, reason = state(fleet, "hb1", 102.0)
    assert current == State.RUNNING and reason == "external bot; heartbeat received 1 s ago"


def test_a_stop_it_reports_makes_it_connected_with_its_strategy_stopped_and_a_start_running_again() -> None:
    fleet = Fleet()
    t0 = time.time()  # a reply is noted at its receive time
    feed(fleet, "hb1", "hb", {"ts": 1}, t0)
    fleet.heard_reply("hb1", "stop", {}, {"status": 200, "msg": ""})
    current, reason = state(fleet, "hb1", t0 + 5)
    assert current == State.STOPPED
    assert reason.startswith("external bot; connected, strategy stopped (answered stop with 200 at ")
    assert reason.endswith("; heartbeat received 5 s ago")

    feed(fleet, "hb1", "hb", {"ts": 2}, t0 + 10)  # heartbeats go on: still stopped, still connected
    assert state(fleet, "hb1", t0 + 11)[0] == State.STOPPED

    feed(fleet, "hb1", "notify", {"seq": 0, "timestamp": -1, "msg": "\nStatus check complete. Strategy 'x' "
                                  "started successfully."}, t0 + 12)
    current, reason = state(fleet, "hb1", t0 + 13)
    assert current == State.RUNNING and reason.startswith("external bot; strategy running (notified \"Status check")
    assert reason.endswith("; heartbeat received 3 s ago")


def test_a_stop_by_another_controller_is_known_from_its_notification() -> None:
    fleet = Fleet()
    feed(fleet, "hb1", "hb", {"ts": 1}, 100.0)
    feed(fleet, "hb1", "notify", {"seq": 0, "timestamp": -1, "msg": "\nWinding down..."}, 101.0)
    assert state(fleet, "hb1", 101.0)[0] == State.RUNNING
    feed(fleet, "hb1", "notify", {"seq": 0, "timestamp": -1, "msg": "Hummingbot stopped."}, 102.0)
    current, reason = state(fleet, "hb1", 103.0)
    assert current == State.STOPPED and 'notified "Hummingbot stopped."' in reason


def test_what_it_said_before_it_went_offline_no_longer_holds() -> None:
    fleet = Fleet()
    feed(fleet, "hb1", "hb", {"ts": 1}, 100.0)
    feed(fleet, "hb1", "notify", {"seq": 0, "timestamp": -1, "msg": "Hummingbot stopped."}, 101.0)
    feed(fleet, "hb1", "status_updates", {"timestamp": 1, "type": "availability", "msg": "offline"}, 102.0)
    assert state(fleet, "hb1", 103.0)[1] == "external bot; went offline 1 s ago"
    feed(fleet, "hb1", "status_updates", {"timestamp": 1, "type": "availability", "msg": "online"}, 104.0)
    feed(fleet, "hb1", "hb", {"ts": 1}, 104.5)
    assert state(fleet, "hb1", 105.0) == (State.RUNNING, "external bot; heartbeat received 0 s ago")


def test_a_running_bot_falling_silent_is_late_first_still_saying_its_strategy_runs() -> None:
    fleet = Fleet()
    t0 = time.time()
    feed(fleet, "hb1", "hb", {"ts": 1}, t0)
    fleet.heard_reply("hb1", "start", {}, {"status": 200, "msg": ""})
    current, reason = state(fleet, "hb1", t0 + 25)
    assert current == State.RUNNING and is_late(current, reason)
    assert reason.startswith("external bot; late: no heartbeat for 25 s; strategy running (answered start with 200")
    current, reason = state(fleet, "hb1", t0 + 5)  # before two intervals of silence: not late
    assert not is_late(current, reason) and reason.endswith("; heartbeat received 5 s ago")


def test_silence_is_an_error_whatever_it_said() -> None:
    fleet = Fleet()
    t0 = time.time()
    feed(fleet, "hb1", "hb", {"ts": 1}, t0)
    fleet.heard_reply("hb1", "stop", {}, {"status": 200, "msg": ""})
    assert state(fleet, "hb1", t0 + TIMEOUT + 5) == (State.ERROR, "external bot; no heartbeat for 35 s")


def test_a_hummingbot_fill_is_a_trade_with_its_fee_in_the_quote() -> None:
    fleet = Fleet()
    feed(fleet, "hb1", "events", {"timestamp": 1_700_000_000, "type": "OrderFilled", "data": {
        "order_id": "buy-ETH-USDT-1", "trading_pair": "ETH-USDT", "trade_type": "TradeType.BUY",
        "order_type": "OrderType.LIMIT", "price": 2000.0, "amount": 0.5, "exchange_trade_id": "t-9",
        "trade_fee": {"fee_type": "AddedToCost", "percent": "0.001", "percent_token": None,
                      "flat_fees": [{"token": "USDT", "amount": "0.25"}, {"token": "BNB", "amount": "1"}]}}}, 5.0)
    [trade] = fleet.drain().trades
    assert (trade.ts, trade.side, trade.price, trade.amount, trade.trade_id) == (
        1_700_000_000.0, "BUY", 2000.0, 0.5, "t-9")
    assert abs(trade.fee - 1.25) < 1e-9
