"""The Prometheus side of hive_core's metrics: a MetricsSnapshot as prometheus_client families, and the
`GET /metrics` responder.

Imported only when an instance has a `metrics_port`, so an instance without one does not load
prometheus_client (about 1.5 MB per process). Names: a numeric strategy field `f` becomes
`hive_strategy_f{instance="...",strategy="..."}`, an instance field `hive_instance_f{instance="..."}`;
counters get the `_total` suffix; a string field is a 1-valued gauge with the string as a label.
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from hive_core.metrics import COUNTER, GAUGE, MetricsSnapshot

_NAME_RE = re.compile(r"[^a-zA-Z0-9_]")


def render(snapshot: MetricsSnapshot) -> bytes:
    """Text format 0.0.4 by prometheus_client's exposition: one family per metric, one sample per strategy."""
    return generate_latest(SnapshotCollector(snapshot))


class SnapshotCollector:
    """A prometheus_client collector of one snapshot's counter and gauge families."""

    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> list[Metric]:
        """The instance's families first, then the strategies'; each family's samples in strategy order."""
        families: dict[str, Metric] = {}
        instance_labels = {"instance": self._snapshot.instance_id}
        for field, value in self._snapshot.instance_fields.items():
            self._add_sample(families, "hive_instance_", field, instance_labels, value)
        for strategy_id, fields in self._snapshot.strategy_fields:
            labels = {**instance_labels, "strategy": strategy_id}
            for field, value in fields.items():
                self._add_sample(families, "hive_strategy_", field, labels, value)
        return list(families.values())

    def _add_sample(self, families: dict[str, Metric], prefix: str, field: str, labels: dict[str, str],
                    value: Any) -> None:
        """A number is a sample of its field's counter or gauge; a string a 1-valued gauge labelled with it."""
        if value is None or isinstance(value, dict | list | tuple):
            return
        kind, help_text = self._snapshot.descriptions.get(field, (GAUGE, field.replace("_", " ")))
        label = _NAME_RE.sub("_", field)
        name = prefix + label
        if isinstance(value, str):
            kind, labels, number = GAUGE, {**labels, label: value}, 1.0
        else:
            number = float(value)
            if kind == COUNTER and not name.endswith("_total"):
                name += "_total"
        family = families.get(name)
        if family is None:
            family_type = CounterMetricFamily if kind == COUNTER else GaugeMetricFamily
            family = families[name] = family_type(name, help_text)
        family.add_sample(name, labels, number)


class MetricsServer:
    """A tiny asyncio HTTP responder: GET /metrics -> the Prometheus text; 127.0.0.1 only.

    Not prometheus_client's HTTP server: that one collects on a thread of its own, and the collectors read
    runtime state owned by the asyncio loop. Here `snapshot` runs on the loop and returns copies (a
    MetricsSnapshot); only rendering them into text runs on a worker thread.
    """

    def __init__(self, snapshot: Callable[[], MetricsSnapshot], port: int = 0, host: str = "127.0.0.1",
                 logger: logging.Logger | None = None) -> None:
        self._snapshot = snapshot
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.scrapes = 0
        self._server: asyncio.AbstractServer | None = None
        self._logger = logger or logging.getLogger("hive.metrics")

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.requested_port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._logger.info("Prometheus metrics on http://%s:%d/metrics", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5.0)
            method, _, rest = request.decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"only GET\n", "text/plain"
            elif path != "/metrics":
                status, body, ctype = "404 Not Found", b"try /metrics\n", "text/plain"
            else:
                self.scrapes += 1
                body = await asyncio.to_thread(render, self._snapshot())
                status, ctype = "200 OK", CONTENT_TYPE_PLAIN_0_0_4
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                    f"Connection: close\r\n\r\n").encode()
            writer.write(head if method == "HEAD" else head + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except Exception:
            self._logger.exception("metrics request failed")
        finally:
            writer.close()

