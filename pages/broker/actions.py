"""Button callbacks of the broker page: call the backend, record the outcome for the panel to show."""
from __future__ import annotations

from backend.client import HiveClient
from frontend import errors

PREFIX = "broker"
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


def reachable_host(host: str) -> str:
    """A broker listening on every interface is reached on loopback from here."""
    return "127.0.0.1" if host in _WILDCARD_HOSTS else host


def start(client: HiveClient, port: int) -> None:
    errors.run_action(PREFIX, "start the broker", client.start_broker, port, notice="Broker started")


def stop(client: HiveClient) -> None:
    errors.run_action(PREFIX, "stop the broker", client.stop_broker, notice="Broker stopped")


def use_external(client: HiveClient, host: str, port: int) -> None:
    errors.run_action(PREFIX, f"use the broker at {host}:{port}", client.use_external_broker, host, port,
                      notice=f"Using the broker already at {host}:{port}")


def port_taken() -> bool:
    """The last Start failed because something else listens on the broker port."""
    error = errors.recorded_error(PREFIX)
    return getattr(error, "code", None) == "port_in_use"
