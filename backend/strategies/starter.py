"""The first version of a strategy made with New: a minimal, valid strategy the operator edits from there."""
from __future__ import annotations

NOTE = "new from the starter template"

_TEMPLATE = '''"""{name}: a strategy of the Hive library (edit it, then save a new version)."""
from __future__ import annotations

from pydantic import Field

from hive_core.strategy import Strategy


class {class_name}(Strategy):
    """Logs the mid price every few ticks; a starting point: describe what yours does here."""

    class Params(Strategy.Params):
        log_every_ticks: int = Field(10, ge=1, description="log the mid price every this many ticks")

    def on_start(self) -> None:
        self._ticks = 0

    def on_tick(self, now: float) -> None:
        self._ticks += 1
        if self._ticks % self.ctx.params.log_every_ticks == 0:
            self.ctx.logger.info("mid price of %s: %.2f", self.ctx.trading_pair, self.ctx.market.mid_price())
'''


def class_name(name: str) -> str:
    """`my_grid` -> `MyGrid` (never `Strategy`, the base class it derives from)."""
    camel = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
    return "MyStrategy" if camel == "Strategy" else camel


def starter_source(name: str) -> str:
    return _TEMPLATE.format(name=name, class_name=class_name(name))
