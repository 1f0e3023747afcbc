"""The dependency lists: compatible ranges in pyproject.toml, one extra per part covering that part's imports,
environment.yml in step with them, and requirements.lock pinning a version of everything inside the ranges."""
from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
OWN_MODULES = {"hive_core", "backend", "frontend", "pages", "CONFIG", "main", "tests", "benchmarks"}
# The sources of each part, and the extra that installs what they import beyond the base (None: the base
# alone, which is exactly what an instance runs on). A file a part names one by one belongs to that part only, not
# to the part that names its folder.
PARTS: dict[str, tuple[list[str], str | None]] = {
    "hive_core": (["hive_core"], None),
    # only an instance with a ccxt venue imports these; the simulated venue's REST face serves ccxt's binance
    "ccxt venue": (["hive_core/market/ccxt_venue.py", "hive_core/market/ccxt_orders.py", "hive_core/sim/rest.py"],
                   "ccxt"),
    "benchmarks": (["benchmarks"], "bench"),
    "backend": (["backend"], "backend"),
    "dashboard": (["frontend", "pages", "main.py", "CONFIG.py"], "dashboard"),
}


def _requirements() -> list[str]:
    listed = list(PROJECT["dependencies"])
    for extra in PROJECT["optional-dependencies"].values():
        listed += [entry for entry in extra if entry not in listed]
    return listed


def _names(entries: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(entry).name) for entry in entries}


def _imported_distributions(sources: list[str]) -> set[str]:
    """The installed distributions that provide the top-level modules imported by `sources`."""
    named = {REPO_ROOT / path for paths, _extra in PARTS.values() for path in paths if path.endswith(".py")}
    files = [path for source in sources for path in
             ([REPO_ROOT / source] if source.endswith(".py") else
              [found for found in (REPO_ROOT / source).rglob("*.py") if found not in named])]
    modules: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = modules - OWN_MODULES - set(sys.stdlib_module_names) - {"__future__"}
    providers = importlib.metadata.packages_distributions()
    missing = sorted(module for module in third_party if module not in providers)
    assert missing == [], f"imported but installed by no distribution: {missing}"
    return {canonicalize_name(dist) for module in third_party for dist in providers[module]}


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO_ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin in requirements.lock: {line}"
            pins[canonicalize_name(name)] = version
    return pins


def test_every_dependency_is_a_compatible_range_not_a_pin() -> None:
    for entry in _requirements():
        operators = sorted(spec.operator for spec in Requirement(entry).specifier)
        assert operators == ["<", ">="], entry


def test_each_part_lists_what_its_code_imports() -> None:
    base = _names(PROJECT["dependencies"])
    for part, (sources, extra) in PARTS.items():
        listed = base | (_names(PROJECT["optional-dependencies"][extra]) if extra else set())
        assert _imported_distributions(sources) - listed == set(), part


def test_the_libraries_of_metrics_migrations_and_settings_are_in_their_parts() -> None:
    extras = {name: _names(entries) for name, entries in PROJECT["optional-dependencies"].items()}
    assert "prometheus-client" in _names(PROJECT["dependencies"])
    assert "alembic" in extras["backend"]
    assert "python-dotenv" in extras["backend"] and "python-dotenv" in extras["dashboard"]


def test_environment_yml_matches_pyproject() -> None:
    environment = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert sorted(line for line in pip_section if not line.startswith("-")) == sorted(_requirements())


def test_the_lock_pins_every_requirement_inside_its_range() -> None:
    locked = _locked()
    for entry in _requirements():
        requirement = Requirement(entry)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is missing from requirements.lock"
        assert requirement.specifier.contains(locked[name]), f"{name}=={locked[name]} is outside {entry}"


def test_nothing_in_the_lock_is_a_local_path() -> None:
    assert " @ file:" not in (REPO_ROOT / "requirements.lock").read_text()
