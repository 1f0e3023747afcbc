"""Command line: the contract the backend relies on when it runs hive_core as a subprocess.

    run --config FILE        run the instance until SIGTERM/SIGINT (exit 0)
    check --config FILE      validate the config, its credentials file and every strategy's params;
                             prints `ok`
    describe [--strategy-dir DIR ...] [--file PATH]
                             JSON list of {name, description, params_schema, interface_version}
    info                     which clock is active (compiled or interpreted) and the Python version

A bad config (or strategy) is one line on stderr, `config error: <message naming the field>`,
and exit code 2. `describe --file` of an unusable file prints the error alone (e.g.
`SyntaxError at line 3: invalid syntax`) and exits 2.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import sys
from pathlib import Path

from hive_core import __version__

EXIT_USAGE = 2
EXIT_VENUE = 3  # the venue could not be reached at start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hive_core", description="Hive's multi-strategy bot runtime")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run an instance")
    run.add_argument("--config", required=True, type=Path, help="instance config file (YAML)")
    check = commands.add_parser("check", help="validate an instance config and its strategies")
    check.add_argument("--config", required=True, type=Path)
    describe = commands.add_parser("describe", help="describe the available strategies as JSON")
    describe.add_argument("--strategy-dir", action="append", default=[], type=Path, dest="strategy_dirs")
    describe.add_argument("--file", type=Path, help="describe this one strategy file")
    commands.add_parser("info", help="build and version information")
    args = parser.parse_args(argv)
    return {"run": cmd_run, "check": cmd_check, "describe": cmd_describe, "info": cmd_info}[args.command](args)


def _load(path: Path):
    """(config, resolved strategies), or a ConfigError naming the field; the credentials file, when the
    config names one, must exist and parse (its content is never printed)."""
    from hive_core.config import ConfigError, load_instance_config
    from hive_core.credentials import load_credentials
    from hive_core.loader import resolve_instance
    from hive_core.venues import check_credentials

    config = load_instance_config(path)
    credentials = None
    if config.credentials is not None:
        credentials = load_credentials(path.resolve().parent / config.credentials.file)
    try:
        check_credentials(config.venue, credentials)
        resolved = resolve_instance(config, base_dir=path.resolve().parent)
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from None
    return config, resolved, credentials


def _config_error(error: Exception) -> int:
    message = " ".join(str(error).split("\n"))
    print(f"config error: {message}", file=sys.stderr)
    return EXIT_USAGE


def cmd_check(args: argparse.Namespace) -> int:
    from hive_core.config import ConfigError
    try:
        _load(args.config)
    except ConfigError as error:
        return _config_error(error)
    print("ok")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from hive_core.config import ConfigError
    from hive_core.runtime import Runtime
    try:
        config, resolved, credentials = _load(args.config)
    except ConfigError as error:
        return _config_error(error)
    from hive_core.loader import StrategyLoader, strategy_search_dirs
    _setup_logging(config.log_level)
    loader = StrategyLoader(strategy_search_dirs(config, args.config.resolve().parent))
    try:
        runtime = Runtime(config, resolved, loader=loader, config_dir=args.config.resolve().parent,
                          credentials=credentials)
        asyncio.run(runtime.run())
    except ConfigError as error:
        return _config_error(error)
    except ConnectionError as error:   # the venue could not be reached at start (ccxt: its markets not loaded)
        print(f"venue unreachable: {error}", file=sys.stderr)
        return EXIT_VENUE
    return 0


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("hive").setLevel(level)


def cmd_describe(args: argparse.Namespace) -> int:
    from hive_core.loader import StrategyLoader, StrategyLoadError
    loader = StrategyLoader(args.strategy_dirs)
    if args.file is not None:
        try:
            described = [loader.spec_for_file(args.file).describe()]
        except StrategyLoadError as error:
            print(str(error), file=sys.stderr)
            return EXIT_USAGE
    else:
        described, problems = loader.describe_all()
        for problem in problems:
            print(f"skipped {problem}", file=sys.stderr)
    print(json.dumps(described, indent=2))
    return 0


def cmd_info(_args: argparse.Namespace) -> int:
    from hive_core import build_info, clock, scheduler

    print(f"hive_core {__version__}: clock {build_info.describe(clock)}")
    print(f"scheduler: {build_info.describe(scheduler)}")
    print(f"local order book: {build_info.describe(build_info.local_book)}")
    print(f"order rate limits: {build_info.describe(build_info.rate_limit)}")
    print(f"market stream frames: {build_info.describe(build_info.ws_frames)}")
    print(f"python: {platform.python_implementation()} {platform.python_version()}")
    for warning in build_info.stale_warnings():
        print(f"warning: {warning}", file=sys.stderr)
    return 0
