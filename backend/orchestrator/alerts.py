"""Alerts: an instance crashed (or went into error), was restarted by the supervisor, or used up its restarts.

Each alert is stored (shown on the Instances page until acknowledged), published on the broker as JSON on
ALERT_TOPIC (QoS 1; held and sent on reconnect while the broker is unreachable), and, when
HIVE_ALERT_WEBHOOK_URL is set, POSTed there as the same JSON by a worker thread with a bounded time limit, so
that a slow or dead endpoint never holds the supervisor; a failed POST is logged, not retried. An alert carries
the instance's name, the kind and the reason in words: never a secret (reasons never hold one).
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy.orm import Session

from backend.domain.alerts import AlertKind, AlertOut
from backend.errors import NotFound
from backend.orchestrator.connection import FleetConnection
from backend.store import AlertRow, AuditRow, Store
from backend.store.repositories.alerts import AlertRepository
from backend.store.repositories.events import EventRepository

log = logging.getLogger(__name__)

ALERT_TOPIC = "hive/alerts"
MAX_MESSAGE = 2000       # characters of an alert's message
MAX_PENDING_POSTS = 100  # webhook POSTs waiting; beyond it new ones are dropped (and logged)


class AlertService:
    def __init__(self, store: Store, connection: FleetConnection, webhook_url: str | None = None,
                 webhook_timeout: float = 5.0) -> None:
        self.store = store
        self.connection = connection
        self.webhook_url = webhook_url
        self.webhook_timeout = webhook_timeout
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hive-alerts")
        self._pending = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def raise_alert(self, instance: str, kind: AlertKind, message: str) -> AlertOut:
        """Store the alert, then send it on the notify channels (never waiting for them)."""
        with self.store.session() as session:
            row = AlertRepository(session).add(AlertRow(ts=time.time(), instance=instance, kind=kind,
                                                        message=message[:MAX_MESSAGE]))
            alert = _out(row)
        log.warning("alert %s for instance %s: %s", kind, instance, alert.message)
        payload = alert.model_dump_json(exclude={"acknowledged_at", "acknowledged_by"})
        self.connection.publish(ALERT_TOPIC, payload, qos=1)
        if self.webhook_url:
            self._post_later(payload)
        return alert

    def _post_later(self, payload: str) -> None:
        with self._lock:
            if self._pending >= MAX_PENDING_POSTS:
                log.warning("alert webhook: %d POSTs already waiting; this alert is not posted", self._pending)
                return
            self._pending += 1
        self._pool.submit(self._post, payload)

    def _post(self, payload: str) -> None:
        try:
            response = httpx.post(str(self.webhook_url), content=payload, timeout=self.webhook_timeout,
                                  headers={"content-type": "application/json"})
            if response.is_error:
                log.warning("alert webhook answered %d: %s", response.status_code, response.text[:200])
        except httpx.HTTPError as error:
            log.warning("alert webhook failed: %s", error.__class__.__name__ + (f": {error}" if str(error) else ""))
        finally:
            with self._lock:
                self._pending -= 1

    # --- reading and acknowledging ---------------------------------------------------------------
    def newest(self, limit: int, unacknowledged: bool = False) -> list[AlertOut]:
        with self.store.session() as session:
            return [_out(row) for row in AlertRepository(session).newest(limit, unacknowledged)]

    def acknowledge(self, alert_id: int, user: str) -> AlertOut:
        with self.store.session() as session:
            row = AlertRepository(session).get(alert_id)
            if row is None:
                raise NotFound("not_found", f"no alert {alert_id}")
            if row.acknowledged_at is None:
                row.acknowledged_at, row.acknowledged_by = time.time(), user
                _audit(session, user, f"alert {alert_id} ({row.kind} of {row.instance})", row.instance)
            return _out(row)

    def acknowledge_all(self, user: str) -> int:
        with self.store.session() as session:
            count = AlertRepository(session).acknowledge_all(time.time(), user)
            _audit(session, user, f"{count} alert{'' if count == 1 else 's'}", None)
            return count


def _audit(session: Session, user: str, detail: str, instance: str | None) -> None:
    EventRepository(session).add_audit(AuditRow(ts=time.time(), actor=f"user:{user}", action="acknowledge alert",
                                                outcome="ok", detail=detail, instance=instance, origin="api"))


def _out(row: AlertRow) -> AlertOut:
    return AlertOut.model_validate(row, from_attributes=True)
