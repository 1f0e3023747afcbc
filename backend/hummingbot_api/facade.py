"""The parts of the Hummingbot-API-compatible subset, built together once per backend."""
from __future__ import annotations

from dataclasses import dataclass

from backend.docker.images import ImageService
from backend.hummingbot_api.bots import Bots
from backend.hummingbot_api.deploy import Deployer
from backend.hummingbot_api.images import Images
from backend.hummingbot_api.performance import Performance
from backend.orchestrator.fleet import Fleet
from backend.orchestrator.instances import InstanceService
from backend.orchestrator.runs import BotRuns
from backend.store import Store
from backend.strategies.configs import ScriptConfigs
from backend.strategies.library import StrategyLibrary


@dataclass(frozen=True)
class HummingbotApi:
    bots: Bots
    deployer: Deployer
    performance: Performance
    images: Images
    runs: BotRuns
    configs: ScriptConfigs
    library: StrategyLibrary

    @classmethod
    def build(cls, store: Store, fleet: Fleet, instances: InstanceService, library: StrategyLibrary,
              images: ImageService) -> HummingbotApi:
        configs = ScriptConfigs(store)
        return cls(bots=Bots(store, fleet, instances), deployer=Deployer(instances, configs),
                   performance=Performance(store, fleet), images=Images(images), runs=BotRuns(store), configs=configs,
                   library=library)
