"""The embedded broker's logins and ACL: an amqtt plugin that reads the Mosquitto-format password and ACL files
the backend writes (mosquitto.py), and reads them again when they change, so that adding or removing a login
never restarts the broker.

Every CONNECT and SUBSCRIBE looks at the files first (a login written just before its bot starts is known when
it connects); publishes and deliveries look at most every RELOAD_INTERVAL seconds. A client without a login,
or with an unknown or wrong one, is refused (CONNACK "not authorised"); a refused subscription gets 0x80 in
its SUBACK; a refused publish is dropped. A login removed while its client is connected gets nothing more
through the broker from the next look at the files on.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from amqtt.contexts import Action as AmqttAction
from amqtt.contexts import BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from backend.broker.access import AccessTable, Action
from backend.broker.mosquitto import read_acl, read_password_file

RELOAD_INTERVAL = 0.5  # s between looks at the files' stamps for publishes and deliveries
_ACTIONS: dict[AmqttAction, Action] = {AmqttAction.PUBLISH: "publish", AmqttAction.SUBSCRIBE: "subscribe",
                                       AmqttAction.RECEIVE: "receive"}
_REFUSALS_LOGGED = 1000  # distinct refused publishes logged, then no more (a bot may retry one for ever)

log = logging.getLogger(__name__)


def load_table(password_file: Path, acl_file: Path) -> AccessTable:
    return AccessTable(read_password_file(password_file.read_text()), read_acl(acl_file.read_text()))


class HiveAccessPlugin(BaseAuthPlugin, BaseTopicPlugin):
    """Authentication and topic checks from one pair of files (see the module's docstring)."""

    @dataclass
    class Config:
        password_file: str = ""
        acl_file: str = ""

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.password_file = Path(self.config.password_file)
        self.acl_file = Path(self.config.acl_file)
        self._stamps = self._read_stamps()
        self.table = load_table(self.password_file, self.acl_file)  # unreadable at start: the broker does not start
        self._looked_at = time.monotonic()
        self._refused: set[tuple[str, str]] = set()

    def _read_stamps(self) -> tuple[tuple[int, int, int], ...]:
        stamps = []
        for path in (self.password_file, self.acl_file):
            status = path.stat()
            stamps.append((status.st_ino, status.st_mtime_ns, status.st_size))
        return tuple(stamps)

    def refresh(self, force: bool = False) -> None:
        """Read the files again when they changed (or when `force`); keep the last good table when unreadable."""
        self._looked_at = time.monotonic()
        try:
            stamps = self._read_stamps()
            if stamps == self._stamps and not force:
                return
            self.table = load_table(self.password_file, self.acl_file)
            self._stamps = stamps
        except (OSError, UnicodeDecodeError) as error:
            log.error("cannot read the broker's logins again (%s); the ones read before stay in force", error)
            return
        self._refused.clear()
        log.info("logins and ACL read again: %d login(s)", len(self.table.passwords))

    async def authenticate(self, *, session: Session) -> bool | None:
        self.refresh()
        if self.table.authenticates(session.username, session.password):
            return True
        who = f"login {session.username!r}" if session.username else "a client without a login"
        log.warning("refused %s (client id %s): %s", who, session.client_id,
                    "unknown login or wrong password" if session.username else "anonymous clients are not allowed")
        return False

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: AmqttAction | None = None) -> bool | None:
        if session is None or topic is None or action not in _ACTIONS:
            return False
        what = _ACTIONS[action]
        if what == "subscribe" or time.monotonic() - self._looked_at > RELOAD_INTERVAL:
            self.refresh()
        allowed = self.table.allows(session.username, what, topic)
        if not allowed and what != "receive" and len(self._refused) < _REFUSALS_LOGGED \
                and (key := (f"{session.username}:{what}", topic)) not in self._refused:
            self._refused.add(key)
            log.warning("refused %s of %r by login %r (client id %s): not in its ACL", what, topic,
                        session.username, session.client_id)
        return allowed
