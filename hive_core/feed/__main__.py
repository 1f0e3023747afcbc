"""`python -m hive_core.feed`: the host's market-data service (hive_core/feed/service.py), until SIGTERM or SIGINT."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path

from hive_core.feed.service import LINGER_S, FeedService
from hive_core.stop_signal import stop_signalled

SOCKET_CHECK_S = 5.0  # how often the service checks that its socket is still there


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hive_core.feed", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", type=Path, help="the Unix domain socket instances connect to")
    parser.add_argument("--host", default="127.0.0.1", help="TCP: the loopback address to listen on")
    parser.add_argument("--port", type=int, help="TCP: the port to listen on (0: a free one)")
    parser.add_argument("--linger", type=float, default=LINGER_S, help="seconds an upstream without clients stays")
    parser.add_argument("--pid-file", type=Path, help="written with its pid once it listens (removed at its end)")
    args = parser.parse_args(argv)
    if args.socket is None and args.port is None:
        parser.error("give --socket, --port, or both")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> None:
        if args.socket is not None:
            args.socket.parent.mkdir(parents=True, exist_ok=True)
            args.socket.unlink(missing_ok=True)   # left by a service that was killed
        service = FeedService(socket_path=str(args.socket) if args.socket else None, host=args.host, port=args.port,
                              linger=args.linger)
        await service.start()
        if args.socket is not None:   # who may connect is said by the folder it is in (its mode, who is shown it)
            os.chmod(args.socket, 0o666)
        if args.pid_file is not None:
            args.pid_file.write_text(f"{os.getpid()}\n")
        print(f"listening on {', '.join(service.addresses)}", flush=True)
        ends = [asyncio.ensure_future(stop_signalled())]
        if args.socket is not None:
            ends.append(asyncio.ensure_future(socket_gone(args.socket, os.stat(args.socket).st_ino)))
        try:
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for end in ends:
                end.cancel()
            await service.stop()
            if args.pid_file is not None:
                args.pid_file.unlink(missing_ok=True)

    asyncio.run(run())
    return 0


async def socket_gone(path: Path, inode: int, every: float = SOCKET_CHECK_S) -> None:
    """Returns once `path` is no longer the socket this service made (its folder deleted, another service's socket
    there): no instance can find this service any more, so it ends instead of running on unseen."""
    while True:
        await asyncio.sleep(every)
        try:
            if os.stat(path).st_ino == inode:
                continue
        except OSError:
            pass
        logging.getLogger("hive.feed").warning("its socket %s is gone: stopping", path)
        return


if __name__ == "__main__":
    raise SystemExit(main())
