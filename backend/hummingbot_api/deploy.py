"""deploy-v2-script and deploy-v2-controllers: a Hummingbot deployment becomes a Hive instance.

A script deployment runs one strategy (the script, with the params of its script config); a controllers
deployment runs one strategy per controller config, all in the one instance. Like Hummingbot API, the
instance is named `<instance_name>-<YYYYmmdd-HHMMSS>` and started at once.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.domain.instances import InstanceCreate, StrategySpec
from backend.errors import InvalidInput
from backend.orchestrator.instances import InstanceService
from backend.orchestrator.runs import Deployment
from backend.strategies.configs import ScriptConfigs, config_name, params_of, strategy_of
from hive_core.validation import describe_validation_error


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instance_name: str = Field(min_length=1, max_length=47, description="the timestamp suffix makes it unique")
    credentials_profile: str = Field(min_length=1, description="recorded as the run's account; instances paper trade")
    image: str = Field("hummingbot/hummingbot:latest", description="recorded; instances run the hive_core build")
    headless: bool = False


class V2ScriptDeployment(_Body):
    script: str | None = Field(None, description="strategy name, with or without .py")
    script_config: str | None = Field(None, description="script config name, with or without .yml")


class V2ControllerDeployment(_Body):
    controllers_config: list[str] = Field(min_length=1, description="config names, each one strategy")
    max_global_drawdown_quote: float | None = None
    max_controller_drawdown_quote: float | None = None


class Deployer:
    def __init__(self, instances: InstanceService, configs: ScriptConfigs) -> None:
        self.instances = instances
        self.configs = configs

    def script(self, body: V2ScriptDeployment) -> dict[str, Any]:
        config = self.configs.get(body.script_config) if body.script_config else {}
        if config.get("controllers_config") and not body.script:
            return self._controllers(body, config["controllers_config"], config_name(body.script_config or ""))
        script = (body.script or "").removesuffix(".py") or strategy_of(config)
        if not script:
            raise InvalidInput("validation_error", "script: name the strategy to run (script), or a script config "
                                                     "whose script_file_name names it (script_config)")
        unique = _unique(body.instance_name)
        strategy_id = _strategy_id(config_name(body.script_config) if body.script_config else script)
        spec = _spec(unique, [(strategy_id, script, config)])
        self.instances.create(spec, Deployment(
            strategy_type="script", strategy_name=script, account_name=body.credentials_profile,
            config_name=body.script_config, deployment_config=body.model_dump()))
        return {"success": True, "message": f"Instance {unique} created successfully.", "unique_instance_name": unique}

    def controllers(self, body: V2ControllerDeployment) -> dict[str, Any]:
        for field in ("max_global_drawdown_quote", "max_controller_drawdown_quote"):
            if getattr(body, field) is not None:
                raise InvalidInput("unsupported", f"{field}: drawdown limits are not enforced by hive_core, so the "
                                                    "deployment is refused rather than run unprotected; leave it out")
        return self._controllers(body, body.controllers_config, None)

    def _controllers(self, body: _Body, names: list[str], from_config: str | None) -> dict[str, Any]:
        unique = _unique(body.instance_name)
        entries = []
        for name in names:
            config = self.configs.get(name)
            strategy = strategy_of(config)
            if not strategy:
                raise InvalidInput("validation_error", f"controllers_config: config {name!r} names no strategy "
                                                         "(set script_file_name or controller_name in it)")
            entries.append((_strategy_id(str(config.get("id") or config_name(name))), strategy, config))
        generated = from_config or unique
        self.instances.create(_spec(unique, entries), Deployment(
            strategy_type="controller", strategy_name="v2_with_controllers", account_name=body.credentials_profile,
            config_name=f"{generated}.yml", deployment_config=body.model_dump()))
        if from_config is None:
            self.configs.save(generated, {"script_file_name": "v2_with_controllers.py",
                                          "controllers_config": [f"{config_name(n)}.yml" for n in names]})
        return {"success": True, "message": f"Instance {unique} created successfully.",
                "script_config_generated": f"{generated}.yml", "controllers_deployed": names,
                "unique_instance_name": unique}


def _unique(instance_name: str) -> str:
    return f"{instance_name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _strategy_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]", "_", name.removesuffix(".yml"))[:63] or "strategy"


def _pairs(config: dict[str, Any]) -> list[str]:
    pairs = [config["trading_pair"]] if config.get("trading_pair") else []
    markets = config.get("markets")
    if isinstance(markets, dict):
        pairs += [pair for listed in markets.values() if isinstance(listed, list) for pair in listed]
    return pairs


def _spec(name: str, entries: list[tuple[str, str, dict[str, Any]]]) -> InstanceCreate:
    """The instance of a deployment; Hummingbot's requests have no restart policy, so it gets Hive's default."""
    pairs = list(dict.fromkeys(pair for _id, _strategy, config in entries for pair in _pairs(config)))
    try:
        return InstanceCreate(
            name=name, trading_pairs=pairs or ["BTC-USDT"],
            strategies=[StrategySpec(id=strategy_id, strategy=strategy, params=params_of(config),
                                     trading_pair=config.get("trading_pair") or None)
                        for strategy_id, strategy, config in entries])
    except ValidationError as error:
        raise InvalidInput("validation_error", describe_validation_error(error)) from None
