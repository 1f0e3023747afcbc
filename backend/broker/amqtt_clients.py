"""The embedded broker's connection messages: an amqtt plugin that logs each client's connection and disconnection in
Mosquitto's words (`connection_messages true`), so that one reader (clients.py) follows both broker kinds:

    New client connected from 127.0.0.1:37201 as alpha (p2, c1, k60, u'hive-backend').
    Client alpha disconnected.

Only clients that logged in get the first line (amqtt fires its CLIENT_CONNECTED event after authentication).
Client ids and usernames come from the network: they are logged with control characters replaced and bounded.
"""
from __future__ import annotations

import logging

from amqtt.contexts import BaseContext
from amqtt.plugins.base import BasePlugin
from amqtt.session import Session

log = logging.getLogger(__name__)
MAX_FIELD = 256  # characters of a client id or username logged


def printable(text: str | None) -> str:
    """`text` on one line: control characters (a forged log line's newline) become '?', at most MAX_FIELD long."""
    return "".join(ch if ch.isprintable() else "?" for ch in (text or "")[:MAX_FIELD])


class HiveClientLogPlugin(BasePlugin[BaseContext]):
    """Logs connections at INFO on its own logger (amqtt_server.py lets it through at any log level)."""

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self._current: dict[str, Session] = {}  # client id -> its live session: a taken-over one's end is not logged

    async def on_broker_client_connected(self, *, client_id: str, client_session: Session) -> None:
        self._current[client_id] = client_session
        user = f", u'{printable(client_session.username)}'" if client_session.username else ""
        log.info("New client connected from %s:%s as %s (p2, c%d, k%d%s).", client_session.remote_address,
                 client_session.remote_port, printable(client_id), int(bool(client_session.clean_session)),
                 client_session.keep_alive or 0, user)

    async def on_broker_client_disconnected(self, *, client_id: str, client_session: Session) -> None:
        if self._current.get(client_id) is not client_session:
            return  # the old connection of a client id that connected again: the new one stays
        del self._current[client_id]
        log.info("Client %s disconnected.", printable(client_id))
