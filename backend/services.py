"""The backend's parts, built once per app from the settings, started and closed together."""
from __future__ import annotations

import logging

from backend.broker.manager import BrokerManager
from backend.credentials.key import KEY_FILE, KeyLocation
from backend.credentials.service import CredentialService
from backend.docker.hosts import DockerHosts
from backend.docker.images import ImageService
from backend.docker.labels import backend_id
from backend.feed.manager import FeedManager
from backend.host import REPO_ROOT
from backend.hummingbot_api.facade import HummingbotApi
from backend.login_sessions import LoginSessions
from backend.login_throttle import LoginThrottle
from backend.orchestrator.events import EventService
from backend.orchestrator.fleet import Fleet
from backend.orchestrator.instances import InstanceService
from backend.orchestrator.runs import HIVE_IMAGE
from backend.orchestrator.strategy_control import StrategyControl
from backend.orchestrator.supervisor import Supervisor
from backend.runtimes.base import Runtime
from backend.runtimes.docker import DockerRuntime
from backend.runtimes.process import ProcessRuntime
from backend.sandbox.choice import SandboxChoice
from backend.settings import Settings
from backend.store import Store
from backend.strategies.library import StrategyLibrary

log = logging.getLogger(__name__)
FEED_CHECK_INTERVAL = 5.0  # seconds between looks at the market-data service (started again when it died)


class Services:
    def __init__(self, settings: Settings) -> None:
        settings = settings.model_copy(update={"data_dir": settings.data_dir.expanduser().resolve()})
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        settings.data_dir.chmod(0o700)  # the store, the credentials key, the instances' folders: the backend's alone
        self.settings = settings
        self.store = Store(settings.database())
        self.fleet = Fleet(settings.namespace(), settings.pnl_snapshot_interval)
        key = settings.credentials_key.get_secret_value() if settings.credentials_key else None
        self.credentials = CredentialService(self.store, KeyLocation(settings.data_dir / KEY_FILE, key or None))
        self.docker_hosts = DockerHosts(settings.docker_host, self.store, self.credentials, settings.data_dir,
                                        backend_id(settings.data_dir), settings.docker_health_interval)
        self.broker = BrokerManager(settings, self.store, self.fleet.connection, self.fleet.broker_stats,
                                    self.docker_hosts, self.credentials, self.fleet.heard_bots)
        self.feed = FeedManager(settings.data_dir, settings.feed_service)
        self.library = StrategyLibrary(self.store, settings.core_argv(),
                                       SandboxChoice(settings, self.docker_hosts, backend_id(settings.data_dir)))
        self.runtimes: dict[str, Runtime] = {
            "process": ProcessRuntime(settings.core_argv(), shared=[self.feed.socket.parent]),
            "docker": DockerRuntime(self.docker_hosts, backend_id(settings.data_dir), HIVE_IMAGE,
                                    settings.docker_network, self.feed.socket if self.feed.enabled else None),
        }
        self.instances = InstanceService(settings, self.store, self.fleet, self.broker, self.runtimes, self.library,
                                         self.credentials, self.feed)
        self.strategy_control = StrategyControl(self.instances)
        self.events = EventService(self.store, self.fleet.connection, self.instances.queries.known_names,
                                   max_data=settings.event_max_data, max_future=settings.webhook_max_future)
        self.login_throttle = LoginThrottle(settings.login_free_attempts, settings.login_backoff_base,
                                            settings.login_backoff_max)
        self.sessions = LoginSessions(self.store, settings.username, settings.password_value() or "",
                                      settings.session_hours * 3600, self.events.audit)
        self.images = ImageService(self.docker_hosts, settings.image_base, REPO_ROOT, self.events.audit)
        self.hummingbot = HummingbotApi.build(self.store, self.fleet, self.instances, self.library, self.images)
        self.supervisor = Supervisor(self.instances.tick, settings.supervisor_interval)
        self.broker_sampler = Supervisor(self.broker.sample, self.broker.metrics.interval, "hive-broker-metrics")
        self.feed_keeper = Supervisor(self.feed.ensure, FEED_CHECK_INTERVAL, "hive-feed")

    def start(self) -> None:
        """Find the broker and the instances that outlived the last backend, connect, supervise."""
        self.broker.adopt()
        if self.settings.broker_external:
            self.broker.use_configured_external()
        self.instances.adopt_all()
        self.supervisor.start()
        self.broker_sampler.start()
        self.feed.ensure()
        self.feed_keeper.start()
        self.docker_hosts.start()
        log.info("backend services up (data in %s)", self.settings.data_dir)

    def close(self) -> None:
        """Instances and the embedded broker keep running on purpose: they are detached."""
        self.supervisor.stop()
        self.broker_sampler.stop()
        self.feed_keeper.stop()
        self.docker_hosts.close()
        self.events.close()
        self.instances.alerts.close()
        self.fleet.catchup.stop(abort=self.fleet.connection.abort_requests)
        try:
            self.instances.recorder.flush()
        finally:
            for runtime in self.runtimes.values():
                runtime.close()
            self.fleet.connection.disconnect()
            self.docker_hosts.close()
            self.store.close()
