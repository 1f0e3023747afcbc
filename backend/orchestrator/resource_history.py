"""The history of each instance's resource use (CPU, memory, network), whatever its runtime, kept bounded.

The supervisor reads every live instance's use each round; one point per instance is stored every
`interval` (5 s). Once a minute the store is pruned: points older than `keep` (24 h) go, and those older
than `full_resolution` (1 h) are thinned to one per `thinned_bucket` (a minute), so an instance running
for a day keeps about 720 + 1,380 points.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from backend.domain.instances import ResourcePoint
from backend.runtimes.base import Resources
from backend.store.models import ResourceSampleRow
from backend.store.repositories.telemetry import TelemetryRepository

INTERVAL = 5.0
KEEP = 24 * 3600.0
FULL_RESOLUTION = 3600.0
THINNED_BUCKET = 60
PRUNE_EVERY = 60.0


class ResourceHistory:
    def __init__(self, interval: float = INTERVAL, keep: float = KEEP, full_resolution: float = FULL_RESOLUTION,
                 thinned_bucket: int = THINNED_BUCKET) -> None:
        self.interval = interval
        self.keep = keep
        self.full_resolution = full_resolution
        self.thinned_bucket = thinned_bucket
        self._last: dict[int, float] = {}  # instance id -> when its last point was stored
        self._pruned_at = 0.0

    def note(self, session: Session, instance_id: int, resources: Resources, now: float) -> None:
        """Store the use when the instance's last point is `interval` old (the first one at once)."""
        if resources.cpu_percent is None and resources.memory_bytes is None:
            return  # nothing measured yet (a container's first stats sample is still to come)
        if now - self._last.get(instance_id, float("-inf")) < self.interval:
            return
        self._last[instance_id] = now
        TelemetryRepository(session).add_resource_sample(ResourceSampleRow(
            instance_id=instance_id, ts=now, cpu_percent=resources.cpu_percent, memory_bytes=resources.memory_bytes,
            network_rx_bytes=resources.network_rx_bytes, network_tx_bytes=resources.network_tx_bytes))
        if now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            TelemetryRepository(session).prune_resource_samples(now - self.keep, now - self.full_resolution,
                                                                self.thinned_bucket)

    def forget(self, instance_id: int) -> None:
        self._last.pop(instance_id, None)

    @staticmethod
    def points(session: Session, instance_id: int, since: float | None) -> list[ResourcePoint]:
        return [ResourcePoint(ts=r.ts, cpu_percent=r.cpu_percent, memory_bytes=r.memory_bytes,
                              network_rx_bytes=r.network_rx_bytes, network_tx_bytes=r.network_tx_bytes)
                for r in TelemetryRepository(session).resource_samples(instance_id, since)]
