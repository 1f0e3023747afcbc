"""Script configs: named sets of a strategy's params, as Hummingbot keeps them in conf/scripts/<name>.yml.

A config names its strategy in `script_file_name` (`market_maker.py`), or, for a Hummingbot controller
config, in `controller_name`; every other key is a param of that strategy, except the bookkeeping keys
Hummingbot writes (markets, candles_config, controllers_config, id, controller_type...).
"""
from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy.exc import IntegrityError

from backend.errors import Conflict, InvalidInput, NotFound
from backend.store import Store
from backend.store.repositories.script_configs import ScriptConfigRepository

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,126}$")
NOT_PARAMS = frozenset({"script_file_name", "controller_name", "controller_type", "id", "markets", "candles_config",
                        "controllers_config", "connector_name", "trading_pair", "manual_kill_switch"})


def config_name(name: str) -> str:
    """`my_conf.yml` and `my_conf` name the same config."""
    name = name.removesuffix(".yml")
    if not _NAME_RE.match(name):
        raise InvalidInput("invalid_name", f"{name!r} is not a valid config name: use letters, digits, '_', '-' "
                                             "or '.', starting with a letter or digit, at most 127 characters")
    return name


def strategy_of(config: dict[str, Any]) -> str | None:
    """The strategy a config is for: its script_file_name without .py, or its controller_name."""
    script = config.get("script_file_name") or config.get("controller_name")
    return str(script).removesuffix(".py") if script else None


def params_of(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in NOT_PARAMS}


class ScriptConfigs:
    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self) -> list[dict[str, Any]]:
        with self.store.session() as session:
            rows = ScriptConfigRepository(session).all()
            return [{"config_name": row.name, "script_file_name": row.content.get("script_file_name", "unknown"),
                     "controllers_config": row.content.get("controllers_config", []),
                     "candles_config": row.content.get("candles_config", []),
                     "markets": row.content.get("markets", {})} for row in rows]

    def get(self, name: str) -> dict[str, Any]:
        name = config_name(name)
        with self.store.session() as session:
            row = ScriptConfigRepository(session).get(name)
            if row is None:
                raise NotFound("not_found", f"Configuration '{name}' not found")
            return dict(row.content)

    def save(self, name: str, content: dict[str, Any]) -> str:
        name = config_name(name)
        for _attempt in range(2):  # a concurrent first save of the same name: the second one updates
            try:
                with self.store.session() as session:
                    ScriptConfigRepository(session).put(name, content, time.time())
                return name
            except IntegrityError:
                continue
        raise Conflict("conflict", f"configuration {name!r} is being saved by someone else; try again")

    def delete(self, name: str) -> None:
        name = config_name(name)
        with self.store.session() as session:
            configs = ScriptConfigRepository(session)
            row = configs.get(name)
            if row is None:
                raise NotFound("not_found", f"Configuration '{name}' not found")
            configs.delete(row)
