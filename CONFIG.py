"""Every dashboard setting, read from the environment (or a `.env` file next to this one), with defaults.

    HIVE_BACKEND_URL         where the backend answers; when unset, built from HIVE_BACKEND_HOST/PORT,
                             the same variables the backend itself listens on (default http://127.0.0.1:8000)
    HIVE_REFRESH_SECONDS     how often the live parts of a page refresh themselves, and an unreachable backend
                             is tried again (2)
    HIVE_REQUEST_TIMEOUT     seconds the dashboard waits for one backend answer (10)
    HIVE_LOG_LINES           log lines fetched for the log viewer (200)
    HIVE_TRADES_LIMIT        trades fetched for the recent-trades table (100)
    HIVE_RESOURCE_SAMPLES    CPU/memory samples kept for the small resource charts (60)
"""
from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HIVE_", env_file=Path(__file__).resolve().parent / ".env", extra="ignore", frozen=True
    )

    backend_url: str = ""
    backend_host: str = "127.0.0.1"
    backend_port: int = Field(default=8000, ge=1, le=65535)
    refresh_seconds: float = Field(default=2.0, gt=0)
    request_timeout: float = Field(default=10.0, gt=0)
    log_lines: int = Field(default=200, ge=1)
    trades_limit: int = Field(default=100, ge=1)
    resource_samples: int = Field(default=60, ge=2)

    def resolved_backend_url(self) -> str:
        if self.backend_url:
            return self.backend_url.rstrip("/")
        # The backend may listen on all interfaces; the dashboard still reaches it on loopback.
        host = "127.0.0.1" if self.backend_host in _WILDCARD_HOSTS else self.backend_host
        return f"http://{host}:{self.backend_port}"


_settings = DashboardSettings()

BACKEND_URL: str = _settings.resolved_backend_url()
REFRESH_SECONDS: float = _settings.refresh_seconds
REQUEST_TIMEOUT: float = _settings.request_timeout
LOG_LINES: int = _settings.log_lines
TRADES_LIMIT: int = _settings.trades_limit
RESOURCE_SAMPLES: int = _settings.resource_samples

PAGE_TITLE = "Hive"
PAGE_ICON = ":material/hive:"
LAYOUT: Final = "wide"  # Final keeps the literal type st.set_page_config asks for
START_HINT = "start it with `make run`"
