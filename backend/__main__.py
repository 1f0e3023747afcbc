"""`python -m backend`: the backend on HIVE_BACKEND_HOST:HIVE_BACKEND_PORT (127.0.0.1:8000 by default).

Credentials first: in development a missing HIVE_PASSWORD is generated and written to .env (and printed
once here); in production the backend refuses to start without one.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import uvicorn

from backend.api.app import create_app
from backend.settings import CredentialsError, Settings, ensure_credentials


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env_file = Path(".env")
    try:
        generated = ensure_credentials(env_file)
    except CredentialsError as error:
        print(f"hive backend: {error}", file=sys.stderr)
        return 2
    settings = Settings.from_env_file(env_file)
    if generated is not None:
        print(f"hive backend: no HIVE_PASSWORD was set, so one was generated and saved in "
              f"{generated.env_file.resolve()}\n"
              f"    username: {generated.username}\n    password: {generated.password}", flush=True)
    app = create_app(settings)
    uvicorn.run(app, host=settings.backend_host, port=settings.backend_port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
