"""The project's dependencies point one way: pages -> frontend -> backend.client -> (HTTP) -> API layer -> services
-> runtimes and broker -> hive_core. Read from the sources' import statements (also those inside functions), so a
page that reaches past the client fails here rather than in the dashboard's image, which holds only the client."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

PROJECT = ("main", "CONFIG", "pages", "frontend", "backend", "hive_core")


def _sources(*parts: str) -> list[Path]:
    found: list[Path] = []
    for part in parts:
        path = REPO_ROOT / part
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return found


def _project_imports(path: Path) -> set[str]:
    """The dotted names of the project's modules `path` imports (a `from package import name` counts as
    package.name, which may be a module or a name in it)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name.split(".")[0] in PROJECT}


def _outside(parts: tuple[str, ...], allowed: tuple[str, ...]) -> dict[str, set[str]]:
    """For each source of `parts`, the project modules it imports that start with none of `allowed`."""
    reached = {}
    for path in _sources(*parts):
        wrong = {name for name in _project_imports(path)
                 if not any(name == prefix or name.startswith(f"{prefix}.") for prefix in allowed)}
        if wrong:
            reached[str(path.relative_to(REPO_ROOT))] = wrong
    return reached


def test_the_dashboard_reaches_the_backend_only_through_its_client() -> None:
    """The dashboard image holds backend/client.py and nothing else of the backend or of hive_core."""
    assert _outside(("main", "CONFIG", "pages", "frontend"),
                    ("CONFIG", "pages", "frontend", "backend.client")) == {}


def test_the_client_imports_nothing_of_the_project() -> None:
    assert _outside(("backend/client.py",), ()) == {}


def test_hive_core_never_imports_the_backend_or_the_dashboard() -> None:
    assert _outside(("hive_core",), ("hive_core",)) == {}


def test_the_services_never_import_the_api_layer() -> None:
    services = [str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "backend").iterdir()
                if path.name not in {"api", "__main__.py", "client.py", "__pycache__"}]
    assert _outside(tuple(services), ("backend", "hive_core")) == {}
    reaching_api = {path: names for path, names in
                    ((str(path.relative_to(REPO_ROOT)), _project_imports(path)) for path in _sources(*services))
                    if any(name == "backend.api" or name.startswith("backend.api.") for name in names)}
    assert reaching_api == {}
