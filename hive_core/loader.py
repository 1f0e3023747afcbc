"""Find strategy files by name, load their Strategy class, validate params, with clear errors.

A name `foo` resolves to the first `foo.py` in the config's `strategy_dirs`, then to the shipped
`hive_core/strategies/foo.py`. A file must define exactly one concrete `Strategy` subclass (one
defined in that file, not imported into it). Errors name what is wrong in one line, e.g.
`SyntaxError at line 3: invalid syntax` or `strategies.1.params.spread_bps: Input should be a
valid number`, so the CLI and the dashboard can show them as they are.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hive_core.config import ConfigError, InstanceConfig, StrategyEntry
from hive_core.strategy import INTERFACE_VERSION, Strategy
from hive_core.validation import describe_validation_error

SHIPPED_DIR = Path(__file__).resolve().parent / "strategies"
SHIPPED_PACKAGE = "hive_core.strategies"
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class StrategyLoadError(ValueError):
    """A strategy that cannot be used; the message is one line, ready to show."""


@dataclass(frozen=True)
class StrategySpec:
    """A loaded strategy class and where it came from."""

    name: str
    path: Path
    cls: type[Strategy]
    shipped: bool

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.cls.description(),
                "params_schema": self.cls.params_schema(), "interface_version": self.cls.interface_version}

    def validate_params(self, params: dict[str, Any], location: str = "params") -> BaseModel:
        """The validated Params instance, or StrategyLoadError naming the field under `location`."""
        try:
            return self.cls.Params.model_validate(params)
        except ValidationError as error:
            raise StrategyLoadError(describe_validation_error(error, under=location)) from None


@dataclass(frozen=True)
class ResolvedStrategy:
    """One config entry, ready to run: its spec and validated params."""

    entry: StrategyEntry
    spec: StrategySpec
    params: BaseModel
    trading_pair: str


class StrategyLoader:
    """Resolves strategy names against search dirs; caches loaded files per (path, mtime)."""

    def __init__(self, strategy_dirs: Iterable[Path] = ()) -> None:
        self.strategy_dirs = [Path(d) for d in strategy_dirs]
        self._cache: dict[tuple[Path, int], type[Strategy]] = {}

    def available(self) -> dict[str, Path]:
        """Every resolvable name and the file it resolves to (a user dir shadows a shipped name)."""
        found: dict[str, Path] = {}
        for directory in [*self.strategy_dirs, SHIPPED_DIR]:
            if not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.py")):
                if _NAME_RE.match(path.stem) and path.stem not in found:
                    found[path.stem] = path
        return found

    def find(self, name: str) -> Path:
        if not _NAME_RE.match(name):
            raise StrategyLoadError(f"invalid strategy name {name!r}: use letters, digits and '_'")
        for directory in self.strategy_dirs:
            candidate = directory / f"{name}.py"
            if candidate.is_file():
                return candidate
        shipped = SHIPPED_DIR / f"{name}.py"
        if shipped.is_file():
            return shipped
        names = ", ".join(sorted(self.available())) or "none"
        where = ", ".join(str(d) for d in self.strategy_dirs)
        searched = f" (searched {where} and the shipped examples)" if where else ""
        raise StrategyLoadError(f"unknown strategy {name!r}{searched}; available: {names}")

    def resolve(self, name: str) -> StrategySpec:
        path = self.find(name)
        return StrategySpec(name, path, self.load_file(path), shipped=path.parent == SHIPPED_DIR)

    def load_file(self, path: Path) -> type[Strategy]:
        path = Path(path).resolve()
        try:
            key = (path, path.stat().st_mtime_ns)
        except OSError as error:
            raise StrategyLoadError(f"cannot read {path}: {error.strerror}") from None
        if key not in self._cache:
            self._cache[key] = strategy_class_in(_import_file(path), path)
        return self._cache[key]

    def reload(self, spec: StrategySpec) -> StrategySpec:
        """The spec's file executed again, whatever the cache holds: a new version gives a new class.
        (A shipped strategy's module is re-imported in place.)"""
        path = Path(spec.path).resolve()
        if path.parent == SHIPPED_DIR:
            module = sys.modules.get(f"{SHIPPED_PACKAGE}.{path.stem}")
            if module is not None:
                try:
                    module = importlib.reload(module)
                except Exception as error:
                    raise StrategyLoadError(f"error while reloading {path.name}{_line_in(error, path)}: "
                                            f"{type(error).__name__}: {error}") from None
                return StrategySpec(spec.name, spec.path, strategy_class_in(module, path), shipped=True)
        for key in [key for key in self._cache if key[0] == path]:
            del self._cache[key]
        return StrategySpec(spec.name, spec.path, self.load_file(path), shipped=spec.shipped)

    def spec_for_file(self, path: Path) -> StrategySpec:
        path = Path(path)
        return StrategySpec(path.stem, path, self.load_file(path), shipped=False)

    def describe_all(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Descriptions of every available strategy, and one line per file that could not be loaded."""
        described, problems = [], []
        for name, path in self.available().items():
            try:
                spec = StrategySpec(name, path, self.load_file(path), shipped=path.parent == SHIPPED_DIR)
                described.append(spec.describe())
            except StrategyLoadError as error:
                problems.append(f"{path}: {error}")
        return described, problems


def _import_file(path: Path):
    """Execute a strategy file as a module; syntax and import-time errors become one line."""
    if path.parent == SHIPPED_DIR:
        return importlib.import_module(f"{SHIPPED_PACKAGE}.{path.stem}")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    module_name = f"hive_user_strategies.{path.stem}_{digest}"
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise StrategyLoadError(f"cannot read {path}: {error}") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as error:
        raise StrategyLoadError(f"SyntaxError at line {error.lineno}: {error.msg}") from None
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=str(path))
    assert spec is not None       # always a spec without a loader
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module  # pydantic resolves annotations through sys.modules
    try:
        exec(code, module.__dict__)
    except Exception as error:
        if previous is not None:
            sys.modules[module_name] = previous
        else:
            sys.modules.pop(module_name, None)
        line = _line_in(error, path)
        raise StrategyLoadError(f"error while loading {path.name}{line}: {type(error).__name__}: {error}") from None
    return module


def _line_in(error: BaseException, path: Path) -> str:
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == str(path)]
    return f" (line {frames[-1].lineno})" if frames else ""


def strategy_class_in(module, path: Path) -> type[Strategy]:
    """The one concrete Strategy subclass defined in `module`."""
    defined = [obj for obj in vars(module).values()
               if inspect.isclass(obj) and issubclass(obj, Strategy) and obj is not Strategy
               and obj.__module__ == module.__name__]
    concrete = [cls for cls in defined if not inspect.isabstract(cls)]
    if not concrete:
        if defined:
            missing = sorted(getattr(defined[0], "__abstractmethods__", ()))
            raise StrategyLoadError(f"{path.name}: {defined[0].__name__} is abstract "
                                    f"(implement {', '.join(missing)})")
        raise StrategyLoadError(f"{path.name}: no Strategy class (define one class deriving from "
                                f"hive_core.strategy.Strategy)")
    if len(concrete) > 1:
        names = ", ".join(cls.__name__ for cls in concrete)
        raise StrategyLoadError(f"{path.name}: several Strategy classes ({names}); a file must define exactly one")
    cls = concrete[0]
    if not (inspect.isclass(cls.Params) and issubclass(cls.Params, BaseModel)):
        raise StrategyLoadError(f"{path.name}: {cls.__name__}.Params must be a pydantic model "
                                f"(derive it from Strategy.Params)")
    version = getattr(cls, "interface_version", None)
    if version != INTERFACE_VERSION:
        raise StrategyLoadError(f"{path.name}: {cls.__name__} declares interface_version {version!r}; "
                                f"this hive_core supports {INTERFACE_VERSION}")
    return cls


def resolve_instance(config: InstanceConfig, base_dir: Path | None = None,
                     loader: StrategyLoader | None = None) -> list[ResolvedStrategy]:
    """Resolve and validate every strategy entry; ConfigError names the first bad field."""
    if loader is None:
        loader = StrategyLoader(strategy_search_dirs(config, base_dir))
    resolved = []
    for index, entry in enumerate(config.strategies):
        try:
            spec = loader.resolve(entry.strategy)
        except StrategyLoadError as error:
            raise ConfigError(f"strategies.{index}.strategy: {error}") from None
        try:
            params = spec.validate_params(entry.params, f"strategies.{index}.params")
        except StrategyLoadError as error:
            raise ConfigError(str(error)) from None
        resolved.append(ResolvedStrategy(entry, spec, params, config.pair_of(entry)))
    return resolved


def strategy_search_dirs(config: InstanceConfig, base_dir: Path | None) -> Sequence[Path]:
    """Relative strategy_dirs are taken relative to the config file's directory."""
    if base_dir is None:
        return list(config.strategy_dirs)
    return [d if d.is_absolute() else base_dir / d for d in config.strategy_dirs]

