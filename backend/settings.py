"""Every backend setting in one class, read from the environment and `.env`, validated at start-up.

Credentials are never given a fixed default: `ensure_credentials` generates a random password in
development (and writes it to `.env` so that the dashboard and the next start find it), and refuses to
start in production until the operator sets one.
"""
from __future__ import annotations

import os
import secrets
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values, set_key
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class VenueEndpoints(BaseModel):
    """Where a live venue's market streams and WebSocket API are (a proxy, a regional address, a test venue)."""

    model_config = ConfigDict(extra="forbid")

    stream_url: str = Field(pattern=r"^wss?://", description="the market streams' base address")
    api_url: str = Field(pattern=r"^wss?://", description="the WebSocket API's base address")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HIVE_", env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True,
    )

    env: Literal["development", "production"] = "development"
    username: str = "admin"
    password: SecretStr | None = None
    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="SQLAlchemy URL; a SQLite file in the data dir when unset",
    )

    backend_host: str = "127.0.0.1"
    backend_port: int = Field(8000, ge=1, le=65535)
    broker_host: str = "127.0.0.1"
    broker_port: int = Field(1883, ge=1, le=65535)
    broker_sys_interval: int = Field(5, ge=1, description="seconds between the embedded broker's $SYS updates")
    feed_service: bool = Field(True, description="run the host's market-data service "
                                                 "(<data_dir>/feed/socket/feed.sock): instances share one connection "
                                                 "per venue through it")
    broker_metrics_interval: float = Field(
        5.0, gt=0, le=60, description="seconds between two samples of the broker's figures (the Broker page's chart "
                                      "keeps an hour of them)")
    broker_external: bool = Field(
        False, description="use the broker at broker_host:broker_port, run by someone else (the compose stack's "
                           "Mosquitto), from the start: no Start Broker needed")
    broker_username: str | None = Field(None, description="the login at the external broker, when it needs one")
    broker_password: SecretStr | None = None
    mqtt_namespace: str = "hbot"

    heartbeat_interval: float = Field(
        10.0, gt=0, description="seconds between a bot's heartbeats (written into its config)")
    heartbeat_timeout: float = Field(
        30.0, gt=0, description="a running bot without heartbeat for this long is in error")
    heartbeat_late_after: float | None = Field(
        None, gt=0, description="a running bot without heartbeat for this long is shown late (before the timeout "
                                "puts it in error); two heartbeat intervals when unset")
    external_gone_after: float = Field(
        86400.0, gt=0, description="an external bot silent for this long leaves the listing for the gone list")
    start_timeout: float = Field(60.0, gt=0, description="a starting bot without heartbeat for this long is in error")
    stop_grace: float = Field(10.0, gt=0, description="seconds between SIGTERM and SIGKILL when stopping")
    supervisor_interval: float = Field(1.0, gt=0, le=10)

    log_lines_per_instance: int = Field(
        5000, ge=100, description="log lines, notifications and market events kept per bot (the newest)")
    external_rows_per_bot: int = Field(
        100_000, ge=100, description="trades and PnL points kept per external bot, the newest (a bot Hive did not "
                                     "create may send any number; its own instances keep all of theirs)")
    pnl_snapshot_interval: float = Field(5.0, ge=0, description="at most one stored PnL point per strategy this often")

    venue_endpoints: dict[str, VenueEndpoints] = Field(
        default_factory=dict,
        description="addresses of a live venue other than its public ones, by venue name (binance, binance_testnet), "
                    'as JSON: {"binance_testnet": {"stream_url": "wss://...", "api_url": "wss://..."}}')

    credentials_key: SecretStr | None = Field(
        None, description="Fernet key of the stored venue credentials; <data_dir>/credentials.key when unset")

    docker_host: str | None = Field(
        None, description="URL of the `local` Docker host's engine (instance and broker containers); DOCKER_HOST, "
                          "else the default socket, when unset")
    docker_network: str | None = Field(
        None, description="a Docker network (made outside Hive) for instance containers; host networking when unset")
    image_base: str = Field(
        "hive/debian-python:bookworm",
        description="base of the images built here (`make base-image` makes the default without a registry; "
                    "python:3.11-slim-bookworm where one is reachable)")
    docker_health_interval: float = Field(10.0, gt=0, description="seconds between health checks of the Docker hosts")

    validation_sandbox: Literal["auto", "bwrap", "docker", "none"] = Field(
        "auto", description="where an uploaded strategy is imported to validate it: `bwrap` (bubblewrap, no Docker "
                            "needed), `docker` (a throwaway container of the instance image on the local Docker "
                            "host), `auto` (bwrap where it works, else docker), `none` (never: static checks only)")
    validation_timeout: float = Field(
        5.0, gt=0, le=60, description="seconds an uploaded module may take to import in the sandbox before the "
                                      "upload is refused and the sandbox killed")
    validation_memory_mb: int = Field(512, ge=64, description="memory (address space) of a validation sandbox")

    core_command: str = Field("", description="command that runs hive_core's CLI; `<python> -m hive_core` when empty")

    login_free_attempts: int = Field(
        5, ge=1, description="wrong logins an address may make before it is locked out (then each one doubles the "
                             "lock-out)")
    login_backoff_base: float = Field(1.0, gt=0, description="seconds of the first lock-out of an address")
    login_backoff_max: float = Field(
        900.0, gt=0, description="the longest lock-out in seconds; an address's failures are forgotten this long "
                                 "after its last one")
    session_hours: float = Field(
        12.0, gt=0, le=168, description="hours a login session (POST /auth/session, the dashboard's login) lasts, at "
                                        "most a week; log out ends it sooner")

    webhook_max_body: int = Field(65536, ge=1024, description="bytes a webhook call's body may have (413 beyond)")
    event_max_data: int = Field(
        65536, ge=1024, description="bytes an event's data may take as JSON, from a webhook, the API or the "
                                    "dashboard (413 beyond): what every target bot receives")
    webhook_max_future: float = Field(
        30.0, ge=0, description="seconds a webhook body's `timestamp` may be ahead of this machine's clock")
    alert_webhook_url: str | None = Field(
        None, description="where each alert (an instance crashed, was restarted, used up its restarts) is POSTed as "
                          "JSON, besides the broker's hive/alerts topic; none when unset")
    alert_webhook_timeout: float = Field(5.0, gt=0, le=60, description="seconds an alert webhook POST may take")

    @classmethod
    def from_env_file(cls, env_file: Path) -> Settings:
        """The environment's settings, then `env_file`'s (when it exists) for what the environment leaves unset."""
        # `_env_file` is pydantic-settings' own init option, which mypy does not see without the pydantic plugin.
        return cls(_env_file=env_file if env_file.exists() else None)  # type: ignore[call-arg]

    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hive.db').resolve()}"

    def late_after(self) -> float:
        """Silence after which a running bot is late: the setting, else two of its heartbeat intervals missed."""
        return self.heartbeat_late_after or 2 * self.heartbeat_interval

    def namespace(self) -> str:
        return self.mqtt_namespace.rstrip("/.") or "hbot"

    def core_argv(self) -> list[str]:
        return shlex.split(self.core_command) if self.core_command else [sys.executable, "-m", "hive_core"]

    def password_value(self) -> str | None:
        return self.password.get_secret_value() if self.password else None


class CredentialsError(RuntimeError):
    """The backend cannot start without credentials (production without HIVE_PASSWORD)."""


@dataclass(frozen=True)
class GeneratedCredentials:
    username: str
    password: str
    env_file: Path


def ensure_credentials(env_file: Path | str = ".env") -> GeneratedCredentials | None:
    """Make sure HIVE_PASSWORD is set; return the generated credentials when it had to make them.

    An existing `env_file` is narrowed to mode 0600 in any case.
    Development: a random password is written into `env_file` (mode 0600; created when missing, its other
    lines and comments kept) together with HIVE_USERNAME when that is missing too. Production: raises
    CredentialsError instead.
    """
    env_file = Path(env_file)
    if env_file.exists():
        _narrow(env_file)  # an existing .env holds secrets too, whatever made it
    settings = Settings.from_env_file(env_file)
    if settings.password_value():
        return None
    if settings.env == "production":
        raise CredentialsError(
            "HIVE_PASSWORD is not set. In production the backend does not make up a password: "
            "set HIVE_PASSWORD (and HIVE_USERNAME) in the environment or in .env, then start again."
        )
    password = secrets.token_urlsafe(18)
    _make_private(env_file)
    # Unquoted as before (a token_urlsafe password has nothing to quote); through a symlinked .env to its target.
    if "HIVE_USERNAME" not in dotenv_values(env_file) and "HIVE_USERNAME" not in os.environ:
        set_key(env_file, "HIVE_USERNAME", settings.username, quote_mode="never", follow_symlinks=True)
    set_key(env_file, "HIVE_PASSWORD", password, quote_mode="never", follow_symlinks=True)
    return GeneratedCredentials(settings.username, password, env_file)


def _narrow(env_file: Path) -> None:
    """Narrow an existing `env_file` to 0600 when others may read it; one mounted read-only (the compose stack's,
    made 0600 by `make up`) is left as it is, with a warning if it is readable by others."""
    if env_file.stat().st_mode & 0o077:
        try:
            os.chmod(env_file, 0o600)
        except OSError as error:
            print(f"hive: {env_file} holds secrets and others may read it, but it cannot be narrowed to 0600 "
                  f"({error.strerror}): chmod 600 it", file=sys.stderr)


def _make_private(env_file: Path) -> None:
    """Create `env_file` or narrow it to mode 0600 before a password goes in (set_key keeps the mode)."""
    os.close(os.open(env_file, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(env_file, 0o600)
