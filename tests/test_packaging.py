"""The dependency pins live in pyproject.toml; environment.yml must list exactly the same ones."""
from __future__ import annotations

import tomllib

import yaml

from tests.conftest import REPO_ROOT


def _pyproject_pins() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        pins.update(extra)
    return pins


def _environment_pins() -> set[str]:
    environment = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    return {line for line in pip_section if not line.startswith("-")}


def test_every_dependency_is_pinned_exactly() -> None:
    unpinned = sorted(pin for pin in _pyproject_pins() if "==" not in pin)
    assert unpinned == []


def test_environment_yml_matches_pyproject_pins() -> None:
    assert _environment_pins() == _pyproject_pins()
