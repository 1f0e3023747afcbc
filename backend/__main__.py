"""`python -m backend`: the backend on HIVE_BACKEND_HOST:HIVE_BACKEND_PORT (127.0.0.1:8000 by default).

Credentials first: in development a missing HIVE_PASSWORD is generated and written to .env (and printed
once here); in production the backend refuses to start without one.
"""
from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

import uvicorn

from backend.api.app import create_app
from backend.settings import CredentialsError, Settings, ensure_credentials

FULL_COLLECTION_THRESHOLD = 1000  # gen1 collections between two full ones (Python's default: 10)


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
    # What the imports made lives as long as the process: frozen, the collector's full passes no longer walk it
    # (with 2,000 bots heard, each took 300-500 ms on a busy 2-core machine and stalled every request meanwhile).
    gc.freeze()
    # Full (gen2) collections only a hundredth as often: with 1,000 bots heard, one ran every few seconds, took 30-40
    # ms with every thread stalled (the slowest commands and listings) and freed next to nothing: what the backend
    # drops is freed by reference counting, and the young generations still collect young cycles.
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_THRESHOLD)
    uvicorn.run(app, host=settings.backend_host, port=settings.backend_port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
