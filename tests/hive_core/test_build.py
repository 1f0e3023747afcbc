"""The compiled build: `setup.py build_ext --inplace` turns the pure-Python-mode modules into extensions
and `info` then reports the compiled clock; with HIVE_REQUIRE_COMPILED=1 (CI) a failed compile fails the
build and the installed modules must be the compiled ones. Elsewhere built in a copy, so the work tree is left as
it is."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import pytest

from hive_core import clock, scheduler
from hive_core.market import local_book, ws_frames
from hive_core.orders import rate_limit
from tests.conftest import REPO_ROOT
from tests.hive_core.conftest import REQUIRE_COMPILED, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]


NO_COMPILER = shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]) is None
needs_compiler = pytest.mark.skipif(NO_COMPILER and not REQUIRE_COMPILED,
                                    reason="no C compiler on this machine: install gcc "
                                           "(Debian: build-essential) to run it")


def _build_in_copy(tmp_path, *, generated_c: bool = False, **env: str) -> subprocess.CompletedProcess:
    """`setup.py build_ext --inplace` in a copy of hive_core. `generated_c`: Cython's C files of the work tree go along
    (Cython makes again only those older than their source), for a build whose compile is meant to fail anyway."""
    ignored = ("*.so", "__pycache__") if generated_c else ("*.so", "*.c", "__pycache__")
    shutil.copytree(REPO_ROOT / "hive_core", tmp_path / "hive_core", ignore=shutil.ignore_patterns(*ignored),
                    dirs_exist_ok=True)
    shutil.copy(REPO_ROOT / "setup.py", tmp_path / "setup.py")
    return subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=200, env={**os.environ, **env})


@pytest.mark.skipif(not REQUIRE_COMPILED, reason="runs where the build must compile: set HIVE_REQUIRE_COMPILED=1 "
                                                 "(as .ci/run does) and reinstall")
def test_the_compiled_modules_are_active_where_the_build_must_compile():
    modules = (clock, scheduler, rate_limit, local_book, ws_frames)
    assert [module.COMPILED for module in modules] == [True] * len(modules)
    info = run_cli("info", timeout=30).stdout.splitlines()
    assert info[0] == "hive_core 0.1.0: clock compiled (Cython)"
    assert {"scheduler: compiled (Cython)", "local order book: compiled (Cython)",
            "order rate limits: compiled (Cython)", "market stream frames: compiled (Cython)"} <= set(info)


@needs_compiler
def test_a_failed_compile_fails_the_build_only_where_compiled_modules_are_required(tmp_path):
    lenient = _build_in_copy(tmp_path, generated_c=True, CC="false", HIVE_REQUIRE_COMPILED="0")
    assert lenient.returncode == 0 and "using pure Python" in lenient.stdout, lenient.stdout + lenient.stderr
    assert not list((tmp_path / "hive_core").rglob("*.so"))
    strict = _build_in_copy(tmp_path, generated_c=True, CC="false", HIVE_REQUIRE_COMPILED="1")
    assert strict.returncode != 0, strict.stdout + strict.stderr
    assert not list((tmp_path / "hive_core").rglob("*.so"))


@needs_compiler
def test_the_compiled_clock_and_scheduler_behave_like_the_source(tmp_path):
    """Where the build must compile (CI), the install has just compiled the work tree with this setup.py and the test
    above checks what `info` says of it: the check runs on those modules. Elsewhere a copy is compiled first."""
    where = REPO_ROOT
    if not REQUIRE_COMPILED:
        where = tmp_path
        build = _build_in_copy(tmp_path, HIVE_REQUIRE_COMPILED="1")
        assert build.returncode == 0, build.stdout + build.stderr
        assert list((tmp_path / "hive_core").glob("clock*.so")) and list((tmp_path / "hive_core").glob("scheduler*.so"))
        info = subprocess.run([sys.executable, "-m", "hive_core", "info"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=30)
        assert info.stdout.splitlines()[0] == "hive_core 0.1.0: clock compiled (Cython)", info.stdout + info.stderr
        assert "scheduler: compiled (Cython)" in info.stdout

    # The compiled modules behave like the source: a short backtest with an overrun and a quarantine.
    check = textwrap.dedent("""
        import hive_core.clock as c, hive_core.scheduler as s
        assert c.COMPILED and s.COMPILED and c.__file__.endswith(".so")
        clock = c.Clock(realtime=False, start_time=0.0)
        sched = s.Scheduler(max_failures=2)
        def bad(now): raise ValueError("x")
        for job in (s.Job("ok", lambda now: None), s.Job("bad", bad)):
            sched.add(job); clock.add(1.0)
        clock.start()
        due = []
        for _ in range(6):
            due.clear(); now = clock.advance(due); sched.run_due(due, now)
        clock.set_time(10.0); due.clear(); clock.pop_due(10.0, due)
        assert sched.job(1).status == "error" and sched.job(0).ticks == 3
        assert clock.overruns(0) == 7, clock.overruns(0)
        print("compiled ok")
    """)
    run = subprocess.run([sys.executable, "-c", check], cwd=where, capture_output=True, text=True, timeout=30)
    assert run.stdout.strip() == "compiled ok", run.stdout + run.stderr
