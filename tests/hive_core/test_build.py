"""The compiled build: `setup.py build_ext --inplace` turns the pure-Python-mode modules into extensions
and `info` then reports the compiled clock. Built in a copy, so the work tree is left as it is."""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.mark.skipif(shutil.which(sysconfig.get_config_var("CC").split()[0] if sysconfig.get_config_var("CC") else "cc")
                    is None, reason="no C compiler on this machine: install gcc (Debian: build-essential) to run it")
def test_build_ext_inplace_compiles_the_clock_and_info_reports_it(tmp_path):
    shutil.copytree(REPO_ROOT / "hive_core", tmp_path / "hive_core",
                    ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"))
    shutil.copy(REPO_ROOT / "setup.py", tmp_path / "setup.py")
    build = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "--parallel", "2"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=200)
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
    run = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert run.stdout.strip() == "compiled ok", run.stdout + run.stderr
