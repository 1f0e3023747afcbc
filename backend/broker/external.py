"""An external broker: someone else runs it (a Mosquitto, an EMQX, another Hive's); the backend only connects."""
from __future__ import annotations

from backend.broker.base import Liveness, ProcessUsage, answers
from backend.errors import Conflict

CONNECT_TIMEOUT = 3.0


class ExternalBroker:
    kind = "external"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.pid = None

    def start(self) -> None:
        if not answers(self.host, self.port, CONNECT_TIMEOUT):
            raise Conflict("broker_unreachable",
                f"nothing answers on {self.host}:{self.port} within {CONNECT_TIMEOUT:.0f} s; "
                "check that the broker runs and that host and port are right",
            )

    def stop(self) -> None:
        """Nothing to stop: the backend only stops using it."""

    def reload_access(self) -> None:
        """Nothing to reload from here: the operator installs the files the manager writes (access_setup)."""

    def adopt(self) -> bool:
        return True

    def liveness(self) -> Liveness:
        if answers(self.host, self.port, 0.5):
            return Liveness(True, f"external broker at {self.host}:{self.port} answers")
        return Liveness(False, f"the external broker at {self.host}:{self.port} does not answer")

    def usage(self) -> ProcessUsage:
        return ProcessUsage()

    def log_lines(self, count: int) -> list[str]:
        return []

    def record(self) -> dict:
        return {"kind": self.kind, "host": self.host, "port": self.port, "pid": None, "create_time": None}
