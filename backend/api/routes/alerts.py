"""Alerts about instances (crashed, restarted by the supervisor, restarts used up): list and acknowledge."""
from typing import Annotated

from fastapi import APIRouter, Query

from backend.api.deps import AlertsDep, CurrentUser
from backend.domain.alerts import AlertOut, AlertsAcknowledged

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=list[AlertOut])
def list_alerts(alerts: AlertsDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                unacknowledged: bool = False) -> list[AlertOut]:
    """Newest first; only those not acknowledged yet when `unacknowledged`. Each one was also published on the
    broker's `hive/alerts` topic and, when HIVE_ALERT_WEBHOOK_URL is set, POSTed there."""
    return alerts.newest(limit, unacknowledged)


@router.post("/ack", response_model=AlertsAcknowledged)
def acknowledge_all(alerts: AlertsDep, user: CurrentUser) -> AlertsAcknowledged:
    """Acknowledge every alert not acknowledged yet."""
    return AlertsAcknowledged(acknowledged=alerts.acknowledge_all(user))


@router.post("/{alert_id}/ack", response_model=AlertOut)
def acknowledge(alerts: AlertsDep, user: CurrentUser, alert_id: int) -> AlertOut:
    """Acknowledge one alert (again: no change)."""
    return alerts.acknowledge(alert_id, user)
