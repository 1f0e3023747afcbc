"""ruff and mypy stay clean: `make test` runs them here, beside the other tests (mypy takes about a minute of one
core on a clean clone, mostly while the other workers wait on brokers and browsers). `make lint` runs them alone."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


# mypy's cache outside the checkout (beside the Docker tests' images in ~/.cache/hive): a clean clone on a machine
# that ran the tests before checks only what changed (mypy compares the files' hashes), in seconds instead of a minute
MYPY_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hive" / "mypy"


@pytest.mark.parametrize("tool", [["ruff", "check", "."], ["mypy", "--cache-dir", str(MYPY_CACHE)]],
                         ids=["ruff", "mypy"])
def test_the_code_passes(tool: list[str]) -> None:
    """The tool with the project's own settings (pyproject.toml), on what they name."""
    run = subprocess.run([sys.executable, "-m", *tool], cwd=REPO_ROOT, capture_output=True, text=True, timeout=380)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
