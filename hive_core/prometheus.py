"""The Prometheus side of hive_core's metrics: a MetricsSnapshot as Prometheus text, and the `GET /metrics`
responder.

Imported only when an instance has a `metrics_port`. Names: a numeric strategy field `f` becomes
`hive_strategy_f{instance="...",strategy="..."}`, an instance field `hive_instance_f{instance="..."}`;
counters get the `_total` suffix; a string field is a 1-valued gauge with the string as a label.

The text is what prometheus_client's exposition (format 0.0.4) writes for these families, written here
as strings straight from the snapshot: at 1,000 strategies (30,000 samples) that takes a tenth of the time
of building prometheus_client's metric families, and makes no container objects, so rendering on a worker
thread neither holds the GIL for long nor sets off the cyclic GC (whose pauses stop the tick loop too).
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.utils import floatToGoString

from hive_core.metrics import COUNTER, GAUGE, MetricsSnapshot

_NAME_RE = re.compile(r"[^a-zA-Z0-9_]")


def render(snapshot: MetricsSnapshot) -> bytes:
    """Text format 0.0.4: one family per metric (the instance's first, then the strategies'), its samples in
    strategy order."""
    families = _Families(snapshot.descriptions)
    instance_id = snapshot.instance_id
    instance = f'instance="{_escape(instance_id)}"'
    for field, value in snapshot.instance_fields.items():
        families.add("hive_instance_", field, {"instance": instance_id}, instance, value)
    for strategy_id, fields in snapshot.strategy_fields:
        labels = f'{instance},strategy="{_escape(strategy_id)}"'
        numeric = families.numeric
        for field, value in fields.items():
            name = numeric.get(("hive_strategy_", field))   # the common case, without a call
            if name is not None and isinstance(value, int | float):
                families.lines[name].append(f"{name}{{{labels}}} {_number(value)}\n")
            else:
                families.add("hive_strategy_", field, {"instance": instance_id, "strategy": strategy_id}, labels,
                             value)
    return "".join(line for lines in families.lines.values() for line in lines).encode("utf-8")


class _Families:
    """The families of one render: their lines by sample name, in order of first appearance."""

    def __init__(self, descriptions: Mapping[str, tuple[str, str]]) -> None:
        self.descriptions = descriptions
        self.lines: dict[str, list[str]] = {}                 # sample name -> HELP, TYPE, then the samples
        self.numeric: dict[tuple[str, str], str] = {}         # (prefix, field) -> sample name of its numbers

    def add(self, prefix: str, field: str, labels: dict[str, str], label_text: str, value: Any) -> None:
        """A number is a sample of its field's counter or gauge; a string a 1-valued gauge labelled with it."""
        if value is None or isinstance(value, dict | list | tuple):
            return
        kind, help_text = self.descriptions.get(field, (GAUGE, field.replace("_", " ")))
        label = _NAME_RE.sub("_", field)
        name = prefix + label
        if isinstance(value, str):
            kind, number = GAUGE, "1.0"
            label_text = ",".join(f'{key}="{_escape(text)}"' for key, text in sorted({**labels, label: value}.items()))
        else:
            number = _number(value)
            if kind == COUNTER and not name.endswith("_total"):
                name += "_total"
            self.numeric[prefix, field] = name
        lines = self.lines.get(name)
        if lines is None:
            family_type = "counter" if kind == COUNTER else "gauge"
            help_line = help_text.replace("\\", r"\\").replace("\n", r"\n")
            lines = self.lines[name] = [f"# HELP {name} {help_line}\n", f"# TYPE {name} {family_type}\n"]
        lines.append(f"{name}{{{label_text}}} {number}\n")


def _number(value: float) -> str:
    """As prometheus_client writes a sample's value (repr, but +Inf/-Inf/NaN and Go's exponents from 1e6 up)."""
    number = float(value)
    if 0 < number < 1e6 or -math.inf < number <= 0:
        return repr(number)
    return floatToGoString(number)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


class MetricsServer:
    """A tiny asyncio HTTP responder: GET /metrics -> the Prometheus text; 127.0.0.1 only.

    Not prometheus_client's HTTP server: that one collects on a thread of its own, and the collectors read
    runtime state owned by the asyncio loop. Here `snapshot` runs on the loop and returns copies (a
    MetricsSnapshot, taken in slices between ticks: Reports.metrics_snapshot_sliced); only rendering them into
    text runs on a worker thread.
    """

    def __init__(self, snapshot: Callable[[], Awaitable[MetricsSnapshot]], port: int = 0, host: str = "127.0.0.1",
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
                body = await asyncio.to_thread(render, await self._snapshot())
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

