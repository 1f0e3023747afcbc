"""The instance's way out to MQTT, for the parts that only sometimes have one.

The bridge exists once `Runtime.run()` has started it (and never in virtual time); the strategy
host, the delivery and the remote controller talk through this link, which drops what they send
while there is no bridge.
"""
from __future__ import annotations

import logging

from hive_core.market.types import OrderUpdate
from hive_core.remote import messages
from hive_core.remote.bridge import MqttBridge
from hive_core.remote.commands import CommandReport
from hive_core.remote.journal import Journal, new_run_id

log = logging.getLogger("hive.commands")


class BridgeLink:
    """Holds the bridge (None until run() starts one) and forwards to it."""

    def __init__(self) -> None:
        self.bridge: MqttBridge | None = None
        self.run = new_run_id()   # this process's run (its journal's too): seq of P/notify restarts with every run
        self.journal: Journal | None = None    # the bridge's journal, when it keeps one

    def report_command(self, report: CommandReport) -> None:
        """A handled command: an INFO line (hive.commands) and a P/notify with the Hive `command` field."""
        text, fields = messages.command_report(report.command, report.strategy, report.status, report.msg,
                                               report.origin, self.run)
        log.info("%s", text)
        self.notify(text, fields)

    def notify(self, msg: str, command: dict | None = None) -> None:
        """A line on P/notify (`command`: the report field of a handled command)."""
        if self.bridge is not None:
            self.bridge.notify(msg, command)

    def publish(self, suffix: str, payload: dict) -> bool:
        """One message under the instance's prefix; False when it was not sent."""
        bridge = self.bridge
        return bridge is not None and bridge.publish(suffix, payload)

    def subscribe_topic(self, topic: str) -> None:
        """Listen on a raw topic for the strategies."""
        if self.bridge is not None:
            self.bridge.subscribe_topic(topic)

    def publish_order_event(self, update: OrderUpdate, strategy_id: str) -> None:
        """The P/events message of one order update of `strategy_id`, when it has one."""
        bridge = self.bridge
        if bridge is None:
            return
        event = messages.order_event(update, strategy_id)
        if event is not None:
            kind, data = event
            bridge.publish_event(kind, data, update.timestamp)
