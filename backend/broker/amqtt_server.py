"""The embedded MQTT broker as a process of its own:
`python -m backend.broker.amqtt_server --port N --password-file F --acl-file G`.

It runs apart from the backend so that restarting the backend does not drop every bot's connection.
$SYS topics are published every `--sys-interval` seconds; the backend reads broker health from them.
There are no anonymous clients: every client logs in with a login of the password file and may do what the
ACL file grants it (amqtt_access.py); both are read again when they change, and at once on SIGHUP. Each client's
connection and disconnection is logged in Mosquitto's words (amqtt_clients.py), whatever `--log-level`.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from amqtt.broker import Broker

from backend.broker import amqtt_clients
from backend.broker.amqtt_access import HiveAccessPlugin
from backend.broker.amqtt_clients import HiveClientLogPlugin

SHUTDOWN_TIMEOUT_S = 2.0


ACCESS_PLUGIN = f"{HiveAccessPlugin.__module__}.{HiveAccessPlugin.__name__}"
CLIENTS_PLUGIN = f"{HiveClientLogPlugin.__module__}.{HiveClientLogPlugin.__name__}"


def broker_config(host: str, port: int, sys_interval: int, password_file: Path, acl_file: Path) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            ACCESS_PLUGIN: {"password_file": str(password_file), "acl_file": str(acl_file)},
            CLIENTS_PLUGIN: {},
            "amqtt.plugins.sys.broker.BrokerSysPlugin": {"sys_interval": sys_interval},
        },
    }


async def serve(host: str, port: int, sys_interval: int, password_file: Path, acl_file: Path) -> None:
    broker = Broker(broker_config(host, port, sys_interval, password_file, acl_file))
    await broker.start()
    print(f"hive broker listening on {host}:{port} (logins from {password_file}, ACL from {acl_file})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    access = broker.plugins_manager.get_plugin(HiveAccessPlugin.__name__)
    if isinstance(access, HiveAccessPlugin):
        loop.add_signal_handler(signal.SIGHUP, access.refresh, True)
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
    parser.add_argument("--password-file", type=Path, required=True,
                        help="the logins, Mosquitto's `user:$7$...` format (mosquitto.py)")
    parser.add_argument("--acl-file", type=Path, required=True, help="what each login may do, Mosquitto's ACL format")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    amqtt_clients.log.setLevel(logging.INFO)  # the connection messages the Broker page's clients are read from
    asyncio.run(serve(args.host, args.port, args.sys_interval, args.password_file, args.acl_file))


if __name__ == "__main__":
    main()
