"""Who may do what on the broker: the grants of each kind of login, and the check a broker makes with them.

    backend, controller   everything: `readwrite #` and `read $SYS/#`
    instance, bot         publish its own bot topics `P/hb`, `P/status_updates`, `P/log`, `P/notify`, `P/events`,
                          `P/performance`, `P/metrics`, `P/pnl` and events to itself `P/external/event/#`, and
                          replies on Hive's reply topics `hive/rpc/#` and on single-level topics (hbotrc's `rpc-<hex>`);
                          subscribe to and receive what is under its own prefix `P/#` alone (its commands,
                          its external events, the raw topics its strategies register under `P/`)

`P` is `<namespace>/<id>`. An `instance` is a login of an instance the backend runs (created and removed with
it); a `bot` is one the operator made for a bot Hive does not run (a real Hummingbot), scoped to one id. The
topic matching follows MQTT (a leading wildcard never matches a `$` topic), as Mosquitto's ACL does, so the
embedded broker (amqtt_access.py) and a Mosquitto given the same files refuse the same things.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from backend.broker.mosquitto import FULL_RIGHTS, Grant, password_matches
from hive_core.protocol import BOT_TOPICS, EXTERNAL_EVENT_TOPIC, METRICS_TOPIC, topic_prefix

Role = Literal["backend", "controller", "instance", "bot"]
Action = Literal["publish", "subscribe", "receive"]
REPLY_TOPICS = ("hive/rpc/#", "+")  # the backend's reply topics; hbotrc's (`rpc-<hex>`, one level)
_CACHE_LIMIT = 50_000


def grants(role: Role, scope: str | None, namespace: str) -> tuple[Grant, ...]:
    """The grants of a login: full rights for the backend and controllers, one bot's topics for the others."""
    if role in ("backend", "controller"):
        return FULL_RIGHTS
    if not scope:
        raise ValueError(f"a {role} login needs the bot id it is scoped to")
    prefix = topic_prefix(namespace, scope)
    own = [Grant("write", f"{prefix}/{topic}") for topic in (*BOT_TOPICS, METRICS_TOPIC)]
    return (*own, Grant("write", f"{prefix}/{EXTERNAL_EVENT_TOPIC}/#"),
            *(Grant("write", topic) for topic in REPLY_TOPICS), Grant("read", f"{prefix}/#"))


def covers(pattern: str, topic_filter: str) -> bool:
    """Whether every topic a subscription filter matches falls under a pattern (`hbot/a/#` holds `hbot/a/+/x`
    but not `hbot/+/x`). A topic name is a filter without wildcards, so publishes and deliveries are checked
    with it too. As in MQTT, a pattern that starts with a wildcard never covers a `$` topic."""
    wanted, levels = pattern.split("/"), topic_filter.split("/")
    if topic_filter.startswith("$") and wanted[0] in ("+", "#"):
        return False
    for index, part in enumerate(wanted):
        if part == "#":
            return True
        if index >= len(levels) or levels[index] == "#" or (part != "+" and part != levels[index]):
            return False
    return len(wanted) == len(levels)


class AccessTable:
    """The logins and grants of one pair of files, as a broker checks them; results are cached per topic."""

    def __init__(self, passwords: Mapping[str, str], acl: Mapping[str, Iterable[Grant]]) -> None:
        self.passwords = dict(passwords)
        self.acl = {username: tuple(user_grants) for username, user_grants in acl.items()}
        self._cache: dict[tuple[str, Action, str], bool] = {}

    def authenticates(self, username: str | None, password: str | None) -> bool:
        hashed = self.passwords.get(username or "")
        return hashed is not None and password is not None and password_matches(hashed, password)

    def allows(self, username: str | None, action: Action, topic: str) -> bool:
        if not username or username not in self.passwords:
            return False
        key = (username, action, topic)
        known = self._cache.get(key)
        if known is None:
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            wanted = ("write", "readwrite") if action == "publish" else ("read", "readwrite")
            known = self._cache[key] = any(grant.access in wanted and covers(grant.pattern, topic)
                                           for grant in self.acl.get(username, ()))
        return known
