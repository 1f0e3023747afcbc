"""External events (docs/protocol.md): published to bots, stored with sender and delivery; and the
TradingView webhooks that turn an alert into such an event.

An event `tv.signal.buy` for bot `b1` is published on `hbot/b1/external/event/tv/signal/buy` with
`{"timestamp": <ms>, "sequence": <event id>, "type": "eevent", "data": {...}}`.
A webhook call is checked (IP allowlist, secret, body, staleness, replay, rate) before anything is
published; every refusal is written to the audit trail and nothing is forwarded.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from backend.domain.events import (
    AuditEntry,
    AuditFilter,
    EventOut,
    EventPublish,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)
from backend.errors import (
    Conflict,
    Forbidden,
    HiveError,
    InvalidInput,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthorized,
    not_found,
)
from backend.orchestrator.connection import FleetConnection
from backend.store import AuditRow, EventRow, Store, WebhookRow
from backend.store.repositories.events import AuditQuery, EventRepository

log = logging.getLogger(__name__)

PUBLISH_WAIT = 5.0      # s: how long a publish may take to reach the broker before it counts as failed
REPLAY_WINDOW = 300.0   # s: the same alert (or nonce) within this window is a replay
MAX_DATA = 65536        # bytes an event's data may take as JSON (Settings.event_max_data)
MAX_FUTURE = 30.0       # s a webhook timestamp may be ahead of the clock (Settings.webhook_max_future)
WEBHOOK_PATH = "/webhooks/tradingview/{hook}"


class EventService:
    def __init__(self, store: Store, connection: FleetConnection, known_names: Callable[[], list[str]], *,
                 max_data: int = MAX_DATA, max_future: float = MAX_FUTURE) -> None:
        self.store = store
        self.max_data = max_data
        self.max_future = max_future
        self.connection = connection
        self.known_names = known_names  # () -> every instance name (created here or heard)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hive-events")
        self._lock = threading.Lock()  # one webhook call at a time between its replay/rate check and its receipt

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    # --- events ----------------------------------------------------------------------------------
    def publish(self, request: EventPublish, sender: str, wait: bool = True, audited: bool = True) -> EventOut:
        """Publish to each target; `audited`: write the sender's audit entry (a webhook call writes its own)."""
        try:
            event = self._publish(request, sender, wait)
        except HiveError as error:
            if audited:
                self.audit(sender, "event", "refused", f"{request.name}: {error.detail}")
            raise
        if audited:
            self.audit(sender, "event", "ok", f"event {event.id} ({event.name}) to "
                       + (", ".join(f"{t}: {d}" for t, d in event.deliveries.items()) or "no instance"))
        return event

    def _publish(self, request: EventPublish, sender: str, wait: bool) -> EventOut:
        self.check_size(request.data)
        targets = self.known_names() if request.targets == "all" else list(dict.fromkeys(request.targets))
        if request.targets != "all":
            unknown = sorted(set(targets) - set(self.known_names()))
            if unknown:
                raise NotFound("not_found", f"unknown target instance(s): {', '.join(unknown)}")
        with self.store.session() as session:
            event_id = EventRepository(session).add_event(EventRow(
                ts=time.time(), name=request.name, data=request.data, sender=sender, targets=targets,
                deliveries={t: "pending" for t in targets}))
        if wait:
            self._deliver(event_id)
        else:
            self._pool.submit(self._deliver, event_id)
        return self.get(event_id)

    def check_size(self, data: dict[str, Any]) -> None:
        """Refuse data that would put more than max_data bytes of JSON onto the broker for every target."""
        size = len(json.dumps(data).encode())
        if size > self.max_data:
            raise TooLarge("too_large", f"the event's data takes {size} bytes as JSON; at most {self.max_data} "
                                        "are allowed (HIVE_EVENT_MAX_DATA): send a reference, not the content")

    def _deliver(self, event_id: int) -> None:
        with self.store.session() as session:
            row = EventRepository(session).event(event_id)
            if row is None:
                return  # deleted meanwhile
            name, data, targets, ts = row.name, row.data, list(row.targets), row.ts
        payload = json.dumps({"timestamp": int(ts * 1000), "sequence": event_id, "type": "eevent", "data": data})
        path = name.replace(".", "/")
        infos = {t: self.connection.publish(f"{self.connection.namespace}/{t}/external/event/{path}", payload, qos=1)
                 for t in targets}
        deliveries = {}
        for target, info in infos.items():
            if info is None:
                deliveries[target] = "queued (the broker is unreachable; sent on reconnect)"
                continue
            try:
                info.wait_for_publish(PUBLISH_WAIT)
                deliveries[target] = "published" if info.is_published() else "failed: not acknowledged by the broker"
            except (RuntimeError, ValueError) as error:
                deliveries[target] = f"failed: {error}"
        with self.store.session() as session:
            stored = EventRepository(session).event(event_id)
            if stored is not None:
                stored.deliveries = deliveries

    def get(self, event_id: int) -> EventOut:
        with self.store.session() as session:
            row = EventRepository(session).event(event_id)
            if row is None:
                raise not_found("event", str(event_id))
            return _event_out(row)

    def newest(self, limit: int) -> list[EventOut]:
        with self.store.session() as session:
            return [_event_out(r) for r in EventRepository(session).newest_events(limit)]

    # --- webhooks --------------------------------------------------------------------------------
    def create_webhook(self, spec: WebhookCreate) -> WebhookCreated:
        hook = spec.hook or secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")
        secret = secrets.token_urlsafe(24)
        with self.store.session() as session:
            repository = EventRepository(session)
            if repository.webhook_exists(hook):
                raise Conflict("duplicate_name", f"a webhook named {hook!r} already exists")
            row = WebhookRow(hook=hook, secret_hash=_hash(secret), event=spec.event, targets=spec.targets,
                             allow_ips=spec.allow_ips, max_lag=spec.max_lag, rate_per_min=spec.rate_per_min,
                             created_at=time.time())
            repository.add_webhook(row)
            out = _webhook_out(row)
        template = json.dumps({"secret": secret, "timestamp": "{{timenow}}", "ticker": "{{ticker}}",
                               "action": "{{strategy.order.action}}", "price": "{{close}}"})
        return WebhookCreated(**out.model_dump(), secret=secret, alert_template=template)

    def webhooks(self) -> list[WebhookOut]:
        with self.store.session() as session:
            return [_webhook_out(r) for r in EventRepository(session).webhooks()]

    def delete_webhook(self, hook: str) -> None:
        with self.store.session() as session:
            if not EventRepository(session).delete_webhook(hook):
                raise not_found("webhook", hook)

    def receive(self, hook: str, body: bytes, query_secret: str | None, client_ip: str) -> int:
        """Check one TradingView call and publish its event in the background; returns the event id."""
        actor = f"webhook:{hook} from {client_ip}"
        with self.store.session() as session:
            row = EventRepository(session).webhook(hook)
            spec = None if row is None else _webhook_out(row)
            secret_hash = None if row is None else row.secret_hash
        if spec is None:
            self.audit(actor, "webhook", "refused", "unknown webhook")
            raise NotFound("not_found", f"no webhook named {hook!r}")
        if spec.allow_ips and client_ip not in spec.allow_ips:
            self.audit(actor, "webhook", "refused", "sender address not in the allowlist")
            raise Forbidden("forbidden", f"the sender address {client_ip} is not allowed for this webhook")
        data = _parse_body(body)
        secret = query_secret if query_secret is not None else (data.pop("secret", None) if data is not None else None)
        if data is not None:
            data.pop("secret", None)
        if not isinstance(secret, str) or not hmac.compare_digest(_hash(secret), secret_hash or ""):
            self.audit(actor, "webhook", "unauthorized", "missing or wrong secret")
            raise Unauthorized("unauthorized", "missing or wrong webhook secret (body field `secret` or ?secret=)")
        if data is None:
            self.audit(actor, "webhook", "invalid", "the body is neither a JSON object nor text")
            raise InvalidInput("validation_error", "the body must be a JSON object or plain text")
        now = time.time()
        if "timestamp" in data:
            stamp = _epoch(data["timestamp"])
            if stamp is None:
                self.audit(actor, "webhook", "invalid", f"unreadable timestamp {data['timestamp']!r}")
                raise InvalidInput("validation_error", "timestamp: expected epoch seconds/ms or ISO 8601")
            if now - stamp > spec.max_lag:
                self.audit(actor, "webhook", "stale", f"timestamp {now - stamp:.0f} s old (max_lag {spec.max_lag:g} s)")
                raise InvalidInput("stale", f"the alert is {now - stamp:.0f} s old; at most {spec.max_lag:g} s allowed")
            if stamp - now > self.max_future:
                self.audit(actor, "webhook", "future", f"timestamp {stamp - now:.0f} s ahead of the clock")
                raise InvalidInput("future", f"the alert's timestamp is {stamp - now:.0f} s ahead of this server's "
                                             f"clock; at most {self.max_future:g} s allowed (check the sender's clock)")
        try:
            self.check_size(data)
        except TooLarge as error:
            self.audit(actor, "webhook", "too_large", error.detail)
            raise
        digest = str(data["nonce"]) if "nonce" in data else _fingerprint(data)
        with self._lock, self.store.session() as session:
            receipts = EventRepository(session)
            receipts.forget_receipts_before(hook, now - REPLAY_WINDOW)
            replay = receipts.receipt_exists(hook, digest[:255])
            limited = not replay and receipts.receipts_since(hook, now - 60) >= spec.rate_per_min
            if not replay and not limited:
                receipts.add_receipt(hook, digest[:255], now)
        if replay:
            self.audit(actor, "webhook", "replay", "the same alert was received within the replay window")
            raise Conflict("replay", f"the same alert was already received within {REPLAY_WINDOW:g} s")
        if limited:
            self.audit(actor, "webhook", "rate_limited", f"more than {spec.rate_per_min} calls per minute")
            raise RateLimited("rate_limited", f"at most {spec.rate_per_min} calls per minute for this webhook")
        event = self.publish(EventPublish(name=spec.event, data=data, targets=spec.targets), sender=f"webhook:{hook}",
                             wait=False, audited=False)
        self.audit(actor, "webhook", "accepted", f"event {event.id} ({spec.event})")
        return event.id

    # --- audit -----------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, outcome: str, detail: str = "", *, instance: str | None = None,
              origin: str | None = None) -> None:
        log.info("audit: %s %s %s %s", actor, action, outcome, detail)
        with self.store.session() as session:
            EventRepository(session).add_audit(AuditRow(ts=time.time(), actor=actor, action=action, outcome=outcome,
                                                        detail=detail, instance=instance, origin=origin))

    def audit_log(self, limit: int, instance: str | None = None) -> list[AuditEntry]:
        return self.audit_entries(AuditFilter(limit=limit, instance=instance))

    def audit_entries(self, chosen: AuditFilter) -> list[AuditEntry]:
        """The entries `chosen` selects, newest first."""
        with self.store.session() as session:
            rows = EventRepository(session).audit_entries(AuditQuery(**chosen.model_dump()))
            return [AuditEntry(ts=r.ts, actor=r.actor, action=r.action, outcome=r.outcome, detail=r.detail,
                               instance=r.instance, origin=r.origin, strategy=r.strategy) for r in rows]

    def audit_actions(self) -> list[str]:
        """Every action the audit log holds, for a filter's choices."""
        with self.store.session() as session:
            return EventRepository(session).audit_actions()


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _fingerprint(data: dict[str, Any]) -> str:
    """The alert's hash for replay detection, of its canonical JSON: the same alert with its keys in another
    order or other spacing is the same alert."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parse_body(body: bytes) -> dict[str, Any] | None:
    """A JSON object as is; any other text as `{"message": text}`.

    TradingView sends text when the alert is not JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        if text.lstrip().startswith(("{", "[")):
            return None  # meant as JSON, but broken
        return {"message": text}
    return value if isinstance(value, dict) else None


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float) or (isinstance(value, str) and value.replace(".", "", 1).isdigit()):
        number = float(value)
        return number / 1000 if number > 1e11 else number
    if isinstance(value, str):
        from datetime import datetime
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _event_out(row: EventRow) -> EventOut:
    return EventOut(id=row.id, ts=row.ts, name=row.name, data=row.data, sender=row.sender, targets=row.targets,
                    deliveries=row.deliveries or {})


def _webhook_out(row: WebhookRow) -> WebhookOut:
    return WebhookOut(hook=row.hook, event=row.event, targets=row.targets, allow_ips=row.allow_ips,
                      max_lag=row.max_lag, rate_per_min=row.rate_per_min, created_at=row.created_at,
                      path=WEBHOOK_PATH.format(hook=row.hook))
