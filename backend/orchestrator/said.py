"""What a bot says of its strategy, read as running or stopped: pure functions over its command replies and
notifications.

A bot the backend did not create (a real Hummingbot, docs/protocol.md) is only known by what it says. Hummingbot
answers `stop` with status 200 and then notifies "Hummingbot stopped."; `start` with 200, then "Strategy '<name>'
started successfully." (or "... Start aborted."); `status` with 400 "No strategy is currently running!" while none
runs. hive_core's bots report every command on P/notify with a `command` field. Heartbeats say nothing of the
strategy: they only say the bot is connected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Hummingbot's notifications (hummingbot/client/command/start_command.py, stop_command.py), as substrings
STOPPED_NOTICES = ("Hummingbot stopped.", "Start aborted", "The strategy failed to start")
RUNNING_NOTICES = ("started successfully", "The bot is already running")
# Hummingbot's error replies that say no strategy runs (remote_iface/mqtt.py)
NOT_RUNNING_REPLIES = ("No strategy is currently running", "Please import or create a strategy")
MAX_WORDS = 120  # characters of what the bot said, quoted in the state's reason


@dataclass(frozen=True)
class Said:
    """The bot's last word on its strategy: `running` or not, at the backend's receive time `at`, in `words`."""

    running: bool
    at: float
    words: str


def of_notification(msg: str, command: dict[str, Any] | None, at: float) -> Said | None:
    """What a notification says of the strategy: a hive_core command report (`command`: name, outcome, strategy) of
    a whole-bot start or stop that succeeded, or one of Hummingbot's notices; None when it says nothing of it."""
    if isinstance(command, dict) and command.get("outcome") == "ok" and not command.get("strategy") \
            and command.get("name") in ("start", "stop"):
        return Said(command["name"] == "start", at, f"reported {command['name']}")
    text = msg.strip()
    for notices, running in ((STOPPED_NOTICES, False), (RUNNING_NOTICES, True)):
        if any(notice in text for notice in notices):
            return Said(running, at, f"notified {_quoted(text)}")
    return None


def of_reply(command: str, data: dict[str, Any], reply: dict[str, Any], at: float) -> Said | None:
    """What a reply to `command` (sent with `data`) says of the whole bot's strategy; None when nothing (a command
    for one strategy, a read, an error that is not about the strategy)."""
    if data.get("strategy"):
        return None
    status, msg = reply.get("status"), str(reply.get("msg") or "")
    if status == 200 and command in ("start", "stop"):
        return Said(command == "start", at, f"answered {command} with 200")
    if status != 200 and any(words in msg for words in NOT_RUNNING_REPLIES):
        return Said(False, at, f"answered {command} with {status} {_quoted(msg)}")
    if status != 200 and command == "start" and "already running" in msg:
        return Said(True, at, f"answered start with {status} {_quoted(msg)}")
    return None


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return f'"{text if len(text) <= MAX_WORDS else text[:MAX_WORDS] + "…"}"'
