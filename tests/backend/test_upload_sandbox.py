"""Uploaded code is imported in the sandbox, never in the backend with its rights: what a module does at import
(write files, read the store, open sockets, sleep) happens in bubblewrap, or not at all."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from backend.client import BackendError, HiveClient
from tests.backend.conftest import REAL_CORE, RunningBackend

STRATEGY = '''

class Probe(Strategy):
    """Probes the sandbox."""

    def on_tick(self, now):
        pass
'''


def strategy_doing(first_lines: str) -> str:
    return f"{first_lines}\nfrom hive_core.strategy import Strategy\n{STRATEGY}"


def refused(call, *args) -> BackendError:
    with pytest.raises(BackendError) as raised:
        call(*args)
    return raised.value


@pytest.fixture
def backend(backend_factory) -> RunningBackend:
    return backend_factory(core_command=REAL_CORE)


@pytest.fixture
def real_client(backend: RunningBackend) -> HiveClient:
    return backend.client


def test_a_module_writing_files_at_import_writes_nothing_here(real_client: HiveClient, tmp_path: Path) -> None:
    in_test_dir, in_tmp = tmp_path / "written-at-import", Path(f"/tmp/hive-upload-{uuid.uuid4().hex}")
    source = strategy_doing(f"open({str(in_test_dir)!r}, 'w').close(); open({str(in_tmp)!r}, 'w').close()")
    error = refused(real_client.upload_strategy, "writer.py", source)
    assert (error.status, error.code) == (422, "invalid_strategy")
    assert "error while loading writer.py (line 1)" in error.message  # the sandbox sees no test folder
    assert not in_test_dir.exists() and not in_tmp.exists()

    only_tmp = strategy_doing(f"open({str(in_tmp)!r}, 'w').write('x')")  # /tmp is the sandbox's own tmpfs
    detail = real_client.upload_strategy("tmp_writer.py", only_tmp)
    assert detail["version"] == 1 and detail["validation"] == "imported in the bwrap sandbox"
    assert not in_tmp.exists()


def test_a_module_cannot_read_the_store_nor_reach_the_network(backend: RunningBackend) -> None:
    store = backend.settings.data_dir / "hive.db"
    assert store.is_file()
    error = refused(backend.client.upload_strategy, "reader.py", strategy_doing(f"open({str(store)!r}, 'rb').read()"))
    assert error.status == 422 and "FileNotFoundError" in error.message, error.message

    port = int(backend.url.rsplit(":", 1)[1])
    connect = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
    error = refused(backend.client.upload_strategy, "caller.py", strategy_doing(connect))
    assert error.status == 422 and "ConnectionRefusedError" in error.message, error.message


@pytest.mark.slow  # waits out the 5 s bound
def test_a_slow_import_is_cut_at_the_bound_and_the_previous_version_stays(real_client: HiveClient) -> None:
    real_client.upload_strategy("sleeper.py", strategy_doing("import time"))
    started = time.monotonic()
    error = refused(real_client.save_strategy, "sleeper", strategy_doing("import time\ntime.sleep(60)"))
    assert time.monotonic() - started < 15
    assert (error.status, error.code) == (422, "import_timeout")
    assert error.message.startswith("importing the module took longer than 5 s: the bwrap sandbox was stopped")
    detail = real_client.get_strategy("sleeper")
    assert detail["version"] == 1 and "sleep(60)" not in detail["source"]


def test_without_a_sandbox_nothing_is_imported(backend_factory, tmp_path: Path) -> None:
    client = backend_factory(core_command=REAL_CORE, validation_sandbox="none").client
    marker = tmp_path / "imported"
    detail = client.upload_strategy("unimported.py", strategy_doing(f"open({str(marker)!r}, 'w').close()"))
    assert detail["validation"].startswith("static checks only: the module was not imported")
    assert detail["description"] == "Probes the sandbox."
    assert not marker.exists()
