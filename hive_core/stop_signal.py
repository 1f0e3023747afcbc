"""Waiting for the operator's stop in the runtime's small servers (the feed service, the simulated venue)."""
from __future__ import annotations

import asyncio
import signal


async def stop_signalled() -> None:
    """Return at the first SIGTERM or SIGINT."""
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, done.set)
    await done.wait()
