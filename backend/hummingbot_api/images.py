"""Images: instances run the local hive_core build; nothing is pulled from a registry."""
from __future__ import annotations

import threading
import time
from typing import Any

from backend.orchestrator.runs import HIVE_IMAGE

MAX_PULLS = 100  # pull records kept (oldest dropped first)


class Images:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pulls: dict[str, dict[str, Any]] = {}

    @staticmethod
    def available(image_name: str | None = None) -> list[str]:
        return [tag for tag in (HIVE_IMAGE,) if not image_name or image_name in tag]

    def pull(self, image_name: str) -> dict[str, Any]:
        """Record a pull: the hive_core image is present at once; any other image cannot be had."""
        now = time.time()
        if image_name in self.available():
            record = {"status": "completed", "started_at": now, "completed_at": now,
                      "result": {"success": True, "image": image_name, "result": "present locally (hive_core build)"}}
        else:
            record = {"status": "failed", "started_at": now, "failed_at": now,
                      "error": f"{image_name!r} cannot be pulled: Hive instances run the local hive_core build "
                               f"({HIVE_IMAGE}) and no registry is used"}
        with self._lock:
            self._pulls.pop(image_name, None)
            self._pulls[image_name] = record
            while len(self._pulls) > MAX_PULLS:
                self._pulls.pop(next(iter(self._pulls)))
        return {"message": f"Pull started for {image_name}", "status": "started", "image_name": image_name}

    def pull_status(self) -> dict[str, Any]:
        with self._lock:
            operations = {}
            for name, record in self._pulls.items():
                end = record.get("completed_at") or record.get("failed_at")
                operations[name] = dict(record, duration_seconds=round(end - record["started_at"], 2))
        return {"pull_operations": operations, "total_operations": len(operations)}
