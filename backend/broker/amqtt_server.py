"""The embedded MQTT broker as a process of its own: `python -m backend.broker.amqtt_server --port N`.

It runs apart from the backend so that restarting the backend does not drop every bot's connection.
$SYS topics are published every `--sys-interval` seconds; the backend reads broker health from them.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from amqtt.broker import Broker

SHUTDOWN_TIMEOUT_S = 2.0


def broker_config(host: str, port: int, sys_interval: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            "amqtt.plugins.sys.broker.BrokerSysPlugin": {"sys_interval": sys_interval},
        },
    }


async def serve(host: str, port: int, sys_interval: int) -> None:
    broker = Broker(broker_config(host, port, sys_interval))
    await broker.start()
    print(f"hive broker listening on {host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    try:
        # amqtt can wait a long time on clients that do not disconnect; stopping must not.
        await asyncio.wait_for(broker.shutdown(), SHUTDOWN_TIMEOUT_S)
    except TimeoutError:
        logging.getLogger(__name__).warning("broker shutdown took over %s s; exiting anyway", SHUTDOWN_TIMEOUT_S)


def main() -> None:
    parser = argparse.ArgumentParser(description="Hive's embedded MQTT broker (amqtt)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--sys-interval", type=int, default=5)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.host, args.port, args.sys_interval))


if __name__ == "__main__":
    main()
